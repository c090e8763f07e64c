/**
 * Signing a CLI in from a signed-in browser (the device authorization pattern of RFC 8628):
 * `appproxy login` asks for a pair of codes, prints a URL with the short user code, and polls with
 * the long device code; the user opens the URL in a browser where they are signed in, checks the
 * code and approves; the CLI's next poll gets a login session of its own, a child of the browser's
 * (so signing out in the browser signs the CLI out too).
 *
 * State lives in the counters role (shared by every manager, with TTLs): the device code's digest
 * → the pending request; the user code → that digest. The approved secret is kept there only
 * sealed to an X25519 key the CLI sent (`core/sealed-box.ts`), until the CLI picks it up.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { AppProxyError } from '../../contracts/errors.ts';
import { sealTo } from '../../core/sealed-box.ts';
import type { CounterStore } from '../../stores/types.ts';
import type { Principal } from './auth.ts';
import type { ClientInfo, LoginSessions } from './login-sessions.ts';

/** How long a CLI sign-in waits for approval. */
export const CLI_LOGIN_TTL_MS = 10 * 60_000;
/** How often the CLI should poll. */
export const CLI_LOGIN_INTERVAL_S = 1;
/** User codes avoid letters that read alike (0/O, 1/I/L). */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

interface Pending {
  userCode: string;
  /** The CLI's X25519 public key: the approved secret is sealed to it. */
  recipient: string;
  clientAddress: string | null;
  userAgent: string | null;
  /** The approved login session's secret, sealed to `recipient`. */
  sealed?: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

/** A user code as people type it: upper case, without separators. */
export function normalizeUserCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

export class CliLogins {
  constructor(
    private readonly counters: CounterStore,
    private readonly logins: LoginSessions,
  ) {}

  async start(
    client: ClientInfo & { publicKey: string },
  ): Promise<{ deviceCode: string; userCode: string; expiresInSeconds: number; intervalSeconds: number }> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(client.publicKey))
      throw new AppProxyError(
        'AP_ERR_VALIDATION',
        'publicKey must be an X25519 public key (base64url, 32 bytes).',
        [{ field: '/publicKey', in: 'body', message: 'not an X25519 public key' }],
      );
    const deviceCode = randomBytes(32).toString('base64url');
    let userCode = '';
    for (let i = 0; i < 8; i++) userCode += ALPHABET[randomInt(ALPHABET.length)];
    const pending: Pending = {
      userCode,
      recipient: client.publicKey,
      clientAddress: client.clientAddress ?? null,
      userAgent: client.userAgent ?? null,
    };
    await this.counters.set(
      `ap:cli-login:dev:${digest(deviceCode)}`,
      JSON.stringify(pending),
      CLI_LOGIN_TTL_MS,
    );
    await this.counters.set(`ap:cli-login:user:${userCode}`, digest(deviceCode), CLI_LOGIN_TTL_MS);
    return {
      deviceCode,
      userCode: `${userCode.slice(0, 4)}-${userCode.slice(4)}`,
      expiresInSeconds: CLI_LOGIN_TTL_MS / 1000,
      intervalSeconds: CLI_LOGIN_INTERVAL_S,
    };
  }

  /** The pending request a user code names (to show what is being approved), or null. */
  async pending(
    userCode: string,
  ): Promise<{ clientAddress: string | null; userAgent: string | null } | null> {
    const found = await this.find(userCode);
    return found && !found.pending.sealed
      ? { clientAddress: found.pending.clientAddress, userAgent: found.pending.userAgent }
      : null;
  }

  /** Approves a pending CLI sign-in from a signed-in browser. */
  async approve(p: Principal, userCode: string): Promise<void> {
    const found = await this.find(userCode);
    if (!found || found.pending.sealed)
      throw new AppProxyError(
        'AP_ERR_NOT_FOUND',
        'No CLI sign-in waits for this code (it may have expired).',
      );
    const created = await this.logins.createForCli(p, {
      clientAddress: found.pending.clientAddress,
      userAgent: found.pending.userAgent,
    });
    const pending: Pending = { ...found.pending, sealed: sealTo(found.pending.recipient, created.secret) };
    await this.counters.delete(`ap:cli-login:user:${normalizeUserCode(userCode)}`);
    await this.counters.set(found.key, JSON.stringify(pending), CLI_LOGIN_TTL_MS);
  }

  /** The CLI's poll: `pending`, or the sealed secret of its login session once approved (once). */
  async poll(deviceCode: string): Promise<{ state: 'pending' } | { state: 'approved'; sealedToken: string }> {
    const key = `ap:cli-login:dev:${digest(deviceCode)}`;
    const raw = await this.counters.get(key);
    if (raw === null)
      throw new AppProxyError(
        'AP_ERR_NOT_FOUND',
        'This CLI sign-in expired or was already completed; start again.',
      );
    const pending = JSON.parse(raw) as Pending;
    if (!pending.sealed) return { state: 'pending' };
    await this.counters.delete(key);
    return { state: 'approved', sealedToken: pending.sealed };
  }

  private async find(userCode: string): Promise<{ key: string; pending: Pending } | null> {
    const code = normalizeUserCode(userCode);
    if (code.length !== 8) return null;
    const dev = await this.counters.get(`ap:cli-login:user:${code}`);
    if (dev === null) return null;
    const key = `ap:cli-login:dev:${dev}`;
    const raw = await this.counters.get(key);
    return raw === null ? null : { key, pending: JSON.parse(raw) as Pending };
  }
}
