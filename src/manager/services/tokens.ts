/**
 * Tokens of circuits, signed with the setup-token keys: setup tokens (start-service hands one out
 * in the setup URL; the worker trades it for an app cookie) and tunnel tokens (one per tunnelled
 * TCP connection). The manager signs; workers verify with the public keys, which this service
 * projects to KV (`kvKeys.setupTokenKeys()`, with `kvKeys.managerInfo()`: where workers send
 * browsers to sign in) through a latest-wins publisher, so a manager that starts while the store
 * is away publishes them as soon as it returns.
 */
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { kvKeys, type ManagerInfo } from '../../contracts/kv-layout.ts';
import type { TunnelToken } from '../../contracts/records.ts';
import { setupUrlFor } from '../../core/allocation.ts';
import { sleep } from '../../core/backoff.ts';
import type { SetupTokenIssuer } from '../../core/setup-token.ts';
import { LatestWinsPublisher } from '../../stores/kv-sync.ts';
import type { KvStore } from '../../stores/types.ts';
import { appUrlOf, type CircuitRow, tunnelUrlOf } from '../repos/circuits.ts';
import type { LogoutRepo } from '../repos/logout.ts';
import { grantOfPrincipal, type Principal } from './auth.ts';

export interface TokenServiceDeps {
  kv: KvStore;
  issuer: SetupTokenIssuer;
  logger: Logger;
  /** Lifetime of setup and tunnel tokens (≤ 60 s). */
  ttlMs: number;
  /** The longest an app cookie may live (never past the grant's own end). */
  appCookieTtlMs: number;
  /** Where browsers reach the manager, published for workers (their pages link to the sign-in). */
  info: () => ManagerInfo;
  /** Records which grant got a setup link for which circuit (the origins a logout visits). */
  logout: Pick<LogoutRepo, 'recordGrant'>;
}

export class TokenService {
  private readonly keys: LatestWinsPublisher;

  constructor(private readonly d: TokenServiceDeps) {
    this.keys = new LatestWinsPublisher({ kv: d.kv, logger: d.logger, what: 'setup-token keys' });
  }

  /**
   * Publishes the public keys; waits at most `waitMs` for the store to take them (a store outage
   * must not hold the manager's start up: the write goes on until it lands).
   */
  async start(waitMs: number): Promise<void> {
    const key = kvKeys.setupTokenKeys();
    this.keys.set(key, JSON.stringify(this.d.issuer.publicKeySet()));
    this.republishInfo();
    await Promise.race([this.keys.settled(key), sleep(waitMs)]);
  }

  /** Publishes where browsers reach the manager again (its public URL became known or changed). */
  republishInfo(): void {
    this.keys.set(kvKeys.managerInfo(), JSON.stringify(this.d.info()), { force: true });
  }

  close(): void {
    this.keys.close();
  }

  /**
   * The setup URL of an http circuit for its owner, minted under the caller's grant: the cookie it
   * buys is bound to that login session or API token (ending either revokes it) and lives no
   * longer than it. Where the grant got a link is recorded, for the logout to visit.
   */
  async setupUrl(
    p: Principal,
    row: CircuitRow,
    next?: string,
  ): Promise<{ setupUrl: string; expiresAt: string }> {
    const grant = grantOfPrincipal(p);
    const now = Date.now();
    const cookieExpiresAt = Math.min(
      now + this.d.appCookieTtlMs,
      p.grantExpiresAt ?? Number.POSITIVE_INFINITY,
    );
    const { token, claims } = await this.d.issuer.issue({
      circuitId: row.id,
      userId: row.owner_id,
      ttlMs: this.d.ttlMs,
      grant,
      cookieExpiresAt,
    });
    if (grant.l !== undefined || grant.t !== undefined)
      await this.d.logout.recordGrant({
        grantKey: grant.l !== undefined ? `l:${grant.l}` : `t:${grant.t}`,
        circuitId: row.id,
        userId: p.userId,
        loginSessionId: grant.l ?? null,
        tokenId: grant.t ?? null,
        expiresAt: new Date(cookieExpiresAt),
      });
    return {
      setupUrl: setupUrlFor(row.app_url, token, next),
      expiresAt: new Date(claims.expiresAt).toISOString(),
    };
  }

  /**
   * The setup URL of a legacy-flow circuit (see `CircuitFlow`): Backend.AI's `/setup?token=…`
   * on the app's own origin, with its `redirect` parameter. The token is as short-lived and single
   * use as any setup token, but bound to no sign-in: the `appproxy_permit` cookie it buys is the
   * user's, as Backend.AI's is, and ends with its expiry or the user's disabling.
   */
  async legacySetupUrl(row: CircuitRow, next?: string): Promise<{ setupUrl: string; expiresAt: string }> {
    const { token, claims } = await this.d.issuer.issue({
      circuitId: row.id,
      userId: row.owner_id,
      ttlMs: this.d.ttlMs,
      grant: {},
      cookieExpiresAt: Date.now() + this.d.appCookieTtlMs,
    });
    const u = new URL('/setup', row.app_url);
    u.searchParams.set('token', token);
    if (next !== undefined && next !== '/') u.searchParams.set('redirect', next);
    return { setupUrl: u.toString(), expiresAt: new Date(claims.expiresAt).toISOString() };
  }

  /**
   * A single-use token for one tunnelled connection to an ACTIVE TCP circuit in tunnel mode. Like
   * a setup token it is bound to the circuit's owner (the worker checks the owner, and the access
   * record names them); an admin may mint one for any circuit, which is logged with the admin's id.
   */
  async tunnelToken(p: Principal, row: CircuitRow): Promise<TunnelToken> {
    if (row.protocol !== 'tcp' || row.access_mode !== 'tunnel' || row.state !== 'ACTIVE') {
      const why =
        row.protocol !== 'tcp'
          ? `it is an ${row.protocol} circuit`
          : row.access_mode !== 'tunnel'
            ? `its access mode is "${row.access_mode}" (connect to ${appUrlOf(row)} directly)`
            : `it is ${row.state}`;
      throw new AppProxyError('AP_ERR_TUNNEL_NOT_AVAILABLE', `No tunnel to this circuit: ${why}.`, {
        protocol: row.protocol,
        access: row.access_mode,
        state: row.state,
      });
    }
    const { token, claims } = await this.d.issuer.issue({
      circuitId: row.id,
      userId: row.owner_id,
      ttlMs: this.d.ttlMs,
      purpose: 'tunnel',
      grant: grantOfPrincipal(p),
    });
    this.d.logger.info(
      { circuit: row.id, user: p.userId, expiresAt: claims.expiresAt },
      'tunnel token issued',
    );
    return { token, expiresAt: new Date(claims.expiresAt).toISOString(), url: tunnelUrlOf(row) };
  }
}
