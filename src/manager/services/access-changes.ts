/**
 * Changing the access of a live TCP circuit in place (start-service again with another access, or
 * `PATCH /v1/circuits/{id}/access`): SQL first (the truth), then the circuit spec, republished from
 * SQL by the projection. The worker moves the live connections the new access still admits to the
 * new spec and ends the others with reason `revoked`. The idle clock restarts at the change.
 */
import type { Logger } from 'pino';
import type { Grant } from '../../contracts/auth.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import {
  accessOf,
  type CircuitRepo,
  type CircuitRow,
  circuitIdleDeadline,
  grantOf,
} from '../repos/circuits.ts';
import type { EventLog } from '../repos/events.ts';
import { type AccessRequest, resolveAccess, sameAccess, type TcpAccess, type TcpPolicy } from './access.ts';
import { grantOfPrincipal, type Principal } from './auth.ts';
import type { CircuitProjection } from './circuit-projection.ts';

export interface AccessChangesDeps {
  repo: CircuitRepo;
  projection: CircuitProjection;
  events: EventLog;
  logger: Logger;
  tcp: TcpPolicy;
  /** Tells the idle loop a policy may act at `at` (epoch ms), so it wakes on time. */
  idleDeadline?: (at: number) => void;
}

export class AccessChanges {
  constructor(private readonly d: AccessChangesDeps) {}

  /**
   * The access `req` asks of a live TCP circuit, applied when it differs from the current one;
   * `field` prefixes the JSON pointers of validation errors (see `resolveAccess`).
   */
  async apply(p: Principal, row: CircuitRow, req: AccessRequest, field?: string): Promise<CircuitRow> {
    const current = accessOf(row);
    if (!current) throw new Error(`circuit ${row.id} is not a TCP circuit`);
    const wanted = resolveAccess(req, current, this.d.tcp, field);
    if (sameAccess(current, wanted) && sameGrant(grantOf(row), grantOfPrincipal(p))) return row;
    return this.change(p, row, current, wanted);
  }

  /**
   * Start-service again on a raw TCP circuit under another grant (a new sign-in, say): its access
   * is given again under the caller's grant, so that the previous one's end no longer refuses it.
   */
  async regrant(p: Principal, row: CircuitRow): Promise<CircuitRow> {
    const current = accessOf(row);
    if (!current || current.mode === 'tunnel' || sameGrant(grantOf(row), grantOfPrincipal(p))) return row;
    return this.change(p, row, current, current);
  }

  private async change(
    p: Principal,
    row: CircuitRow,
    before: TcpAccess,
    access: TcpAccess,
  ): Promise<CircuitRow> {
    const { repo, projection, logger, events } = this.d;
    const updated = await repo.updateAccess(row.id, access, grantOfPrincipal(p));
    if (!updated) throw closedMeanwhile();
    const now =
      (await projection.republish(updated.id)) === 'published' ? await repo.get(updated.id) : undefined;
    if (!now || !isCircuitLive(now.state)) throw closedMeanwhile();
    const detail = `access ${describeAccess(before)} → ${describeAccess(access)} by ${p.userId}`;
    logger.info({ circuit: row.id, from: before, to: access, by: p.userId }, 'circuit access changed');
    await events.record({
      sessionId: row.session_id,
      endpointId: row.endpoint_id,
      circuitId: row.id,
      kind: 'circuit-access-changed',
      detail,
    });
    const at = circuitIdleDeadline(now);
    if (at !== null) this.d.idleDeadline?.(at);
    return now;
  }
}

function sameGrant(a: Grant, b: Grant): boolean {
  return (a.l ?? null) === (b.l ?? null) && (a.t ?? null) === (b.t ?? null);
}

function closedMeanwhile(): AppProxyError {
  return new AppProxyError('AP_ERR_CIRCUIT_CLOSED', 'The circuit was closed meanwhile.');
}

function describeAccess(a: TcpAccess): string {
  return a.mode === 'allow-list' ? `allow-list [${a.allowFrom.join(', ')}]` : a.mode;
}
