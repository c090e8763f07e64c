/**
 * What the manager and the workers agree on about authentication: the grant a credential was
 * issued under, and the revocation records workers enforce. Types and pure helpers only.
 *
 * A **grant** names the credential a request to the manager came with: the login session (a
 * browser's, a CLI's, or one a platform web server created for its user) and, for programs, the API
 * token. Every credential the manager mints for a data-plane origin — setup token → app cookie,
 * tunnel token → tunnel, and the circuit spec of a raw TCP circuit — carries the grant it was minted
 * under, so ending the login session or revoking the token reaches it.
 *
 * A **revocation** is a projection of SQL into KV (`kvKeys.revocation(id)`) that workers watch:
 * - `login-session` / `token`: every credential carrying that login session (or token) is refused,
 *   and every live connection opened under it is closed with reason `revoked`;
 * - `user` (disabled or deleted): credentials of that user issued before `at`;
 * - `circuit` (its owner or access changed): app cookies of that circuit issued before `at`.
 * A record expires (`expiresAt`) when no credential it can affect is valid any more — the longest
 * app cookie lifetime after `at` — so the set stays small; the manager deletes it then.
 */

export type RevocationKind = 'login-session' | 'token' | 'user' | 'circuit';

/** Value of `kvKeys.revocation(id)`. */
export interface RevocationRecord {
  id: string;
  kind: RevocationKind;
  /** The login session id, token id, user id or circuit id it applies to. */
  subject: string;
  /** Epoch ms. `user` and `circuit`: credentials issued before this are refused. */
  at: number;
  /** Epoch ms after which nothing it could refuse is still valid. */
  expiresAt: number;
  /** Why (`logout`, `token-revoked`, `user-disabled`, …), for logs. */
  reason: string;
}

/** The credential a token, cookie or circuit was minted under (short names: they ride in cookies). */
export interface Grant {
  /** Login session id. */
  l?: string;
  /** API token id (programs). */
  t?: string;
}

/** The credential a worker checks against the revocation set. */
export interface Credential {
  userId: string;
  circuitId: string;
  /** When it was issued (epoch ms). */
  issuedAt: number;
  grant: Grant;
}

/** Why a credential is refused by a set of records, or null when none applies. */
export function revokedBy(
  records: {
    loginSession(id: string): RevocationRecord | undefined;
    token(id: string): RevocationRecord | undefined;
    user(id: string): RevocationRecord | undefined;
    circuit(id: string): RevocationRecord | undefined;
  },
  c: Credential,
): RevocationRecord | null {
  if (c.grant.l !== undefined) {
    const r = records.loginSession(c.grant.l);
    if (r) return r;
  }
  if (c.grant.t !== undefined) {
    const r = records.token(c.grant.t);
    if (r) return r;
  }
  const u = records.user(c.userId);
  if (u && c.issuedAt < u.at) return u;
  const k = records.circuit(c.circuitId);
  if (k && c.issuedAt < k.at) return k;
  return null;
}

/** Whether one record refuses a credential (the same rules as `revokedBy`, for one record). */
export function refuses(r: RevocationRecord, c: Credential): boolean {
  switch (r.kind) {
    case 'login-session':
      return c.grant.l === r.subject;
    case 'token':
      return c.grant.t === r.subject;
    case 'user':
      return c.userId === r.subject && c.issuedAt < r.at;
    case 'circuit':
      return c.circuitId === r.subject && c.issuedAt < r.at;
  }
}

/** Checks a value read from KV; null when it is not a revocation record. */
export function parseRevocation(raw: string | null): RevocationRecord | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<RevocationRecord>;
    if (
      typeof v.id !== 'string' ||
      typeof v.subject !== 'string' ||
      typeof v.at !== 'number' ||
      typeof v.expiresAt !== 'number' ||
      (v.kind !== 'login-session' && v.kind !== 'token' && v.kind !== 'user' && v.kind !== 'circuit')
    )
      return null;
    return {
      id: v.id,
      kind: v.kind,
      subject: v.subject,
      at: v.at,
      expiresAt: v.expiresAt,
      reason: typeof v.reason === 'string' ? v.reason : '',
    };
  } catch {
    return null;
  }
}

/** The path every worker origin serves to drop its app cookies (and follow a manager-signed `next`). */
export const LOGOUT_PATH = '/_appproxy/logout';
