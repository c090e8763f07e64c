/** The state of a credential with an optional expiry that can be revoked (API tokens, endpoint keys). */
export function credentialState(
  revokedAt: Date | null,
  expiresAt: Date | null,
  now = Date.now(),
): 'live' | 'expired' | 'revoked' {
  if (revokedAt) return 'revoked';
  return expiresAt && expiresAt.getTime() <= now ? 'expired' : 'live';
}
