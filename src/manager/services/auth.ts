/**
 * API token authentication. Tokens are stored as SHA-256 digests only; a presented token is
 * hashed, looked up by digest, and the stored digest is compared in constant time.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { AppProxyError } from '../../contracts/errors.ts';
import type { Role, UserRepo } from '../repos/users.ts';

export interface Principal {
  userId: string;
  role: Role;
}

/** Admin-only operations call this first; everyone else gets AP_ERR_FORBIDDEN. */
export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new AppProxyError('AP_ERR_FORBIDDEN', 'Only admins may do this.');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class AuthService {
  constructor(private readonly users: UserRepo) {}

  async ensureAdmin(adminToken: string): Promise<void> {
    if (adminToken.trim() === '')
      throw new AppProxyError('AP_ERR_CONFIG_INVALID', 'The admin token must not be empty.');
    await this.users.ensureAdmin(randomUUID(), hashToken(adminToken));
  }

  /** Resolves the `Authorization` header to a principal, or throws 401 with a stable code. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw new AppProxyError('AP_ERR_UNAUTHENTICATED');
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m)
      throw new AppProxyError('AP_ERR_UNAUTHENTICATED', 'Use the header "Authorization: Bearer <token>".');
    const digest = hashToken(m[1]!);
    const owner = await this.users.findByTokenHash(digest);
    if (!owner || !timingSafeEqual(Buffer.from(owner.tokenHash, 'hex'), Buffer.from(digest, 'hex'))) {
      throw new AppProxyError('AP_ERR_TOKEN_INVALID');
    }
    return { userId: owner.userId, role: owner.role };
  }
}
