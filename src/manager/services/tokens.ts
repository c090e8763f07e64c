/**
 * Tokens of circuits, signed with the setup-token keys: setup tokens (start-service hands one out
 * in the setup URL; the worker trades it for an app cookie) and tunnel tokens (one per tunnelled
 * TCP connection). The manager signs; workers verify with the public keys, which this service
 * projects to KV (`kvKeys.setupTokenKeys()`) through a latest-wins publisher, so a manager that
 * starts while the store is away publishes them as soon as it returns.
 */
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import { kvKeys } from '../../contracts/kv-layout.ts';
import type { TunnelToken } from '../../contracts/records.ts';
import { setupUrlFor } from '../../core/allocation.ts';
import { sleep } from '../../core/backoff.ts';
import type { SetupTokenIssuer } from '../../core/setup-token.ts';
import { LatestWinsPublisher } from '../../stores/kv-sync.ts';
import type { KvStore } from '../../stores/types.ts';
import { appUrlOf, type CircuitRow, tunnelUrlOf } from '../repos/circuits.ts';
import type { Principal } from './auth.ts';

export interface TokenServiceDeps {
  kv: KvStore;
  issuer: SetupTokenIssuer;
  logger: Logger;
  /** Lifetime of setup and tunnel tokens (≤ 60 s). */
  ttlMs: number;
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
    await Promise.race([this.keys.settled(key), sleep(waitMs)]);
  }

  close(): void {
    this.keys.close();
  }

  /** The setup URL of an http circuit for its owner, and when its token expires. */
  async setupUrl(row: CircuitRow, next?: string): Promise<{ setupUrl: string; expiresAt: string }> {
    const { token, claims } = await this.d.issuer.issue({
      circuitId: row.id,
      userId: row.owner_id,
      ttlMs: this.d.ttlMs,
    });
    return {
      setupUrl: setupUrlFor(row.app_url, token, next),
      expiresAt: new Date(claims.expiresAt).toISOString(),
    };
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
    });
    this.d.logger.info(
      { circuit: row.id, user: p.userId, expiresAt: claims.expiresAt },
      'tunnel token issued',
    );
    return { token, expiresAt: new Date(claims.expiresAt).toISOString(), url: tunnelUrlOf(row) };
  }
}
