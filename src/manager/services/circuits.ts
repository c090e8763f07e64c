/**
 * Circuits as the API sees them: start-service (checks, then reuse of a live circuit of the same
 * session and service, or a new one), reads with ownership, closing one, changing a TCP circuit's
 * access, its activity and its tunnel tokens. Each job has its own service; this one checks the
 * caller may see the circuit and hands over:
 * - opening: `circuit-opener.ts` (allocation, the spec published, the worker's readiness awaited);
 * - access changes: `access-changes.ts`;
 * - activity and the idle policies that apply: `activity.ts`;
 * - setup and tunnel tokens: `tokens.ts`;
 * - closing: the lifecycle (`lifecycle.ts`).
 *
 * TCP circuits are port mode only (a wildcard frontend routes by the HTTP Host header) and carry an
 * access mode (`access.ts`): `tunnel` by default, `allow-list`, or `public` when configured. They
 * get no setup URL: raw TCP is reached at `tcp://host:port`, a tunnel with a tunnel token.
 */
import { AppProxyError } from '../../contracts/errors.ts';
import type {
  Circuit,
  CircuitActivity,
  CircuitFlow,
  CircuitState,
  FrontendMode,
  StartServiceResult,
  TunnelToken,
} from '../../contracts/records.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import type { ManagerMetrics } from '../metrics.ts';
import { accessOf, appUrlOf, type CircuitRepo, type CircuitRow, toCircuit } from '../repos/circuits.ts';
import { type AccessRequest, resolveAccess, type TcpPolicy } from './access.ts';
import type { AccessChanges } from './access-changes.ts';
import type { ActivityService } from './activity.ts';
import { grantOfPrincipal, type Principal } from './auth.ts';
import type { CircuitOpener } from './circuit-opener.ts';
import {
  type CircuitIdleRequest,
  checkIdleRequest,
  type IdlePolicyConfig,
  resolveCircuitIdle,
} from './idle-settings.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { SessionService } from './sessions.ts';
import type { TokenService } from './tokens.ts';

export interface CircuitServiceDeps {
  repo: CircuitRepo;
  sessions: SessionService;
  opener: CircuitOpener;
  access: AccessChanges;
  activity: ActivityService;
  tokens: TokenService;
  lifecycle: Lifecycle;
  metrics: ManagerMetrics;
  tcp: TcpPolicy;
  idle: IdlePolicyConfig;
  /** Tells the idle loop a policy may act at `at` (epoch ms), so it wakes on time. */
  idleDeadline?: (at: number) => void;
  /** The flow a new http circuit of this owner gets now (the `integratedFlow` flag); default integrated. */
  flowFor?: (ownerId: string) => CircuitFlow;
}

export interface StartServiceInput {
  service: string;
  frontend?: FrontendMode;
  next?: string;
  /** TCP services only. */
  access?: AccessRequest;
  idle?: CircuitIdleRequest;
}

function invalid(field: string, message: string): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: 'body', message }]);
}

export class CircuitService {
  /** One start-service at a time per session+service in this process (the second one reuses). */
  private readonly starting = new Map<string, Promise<unknown>>();

  constructor(private readonly d: CircuitServiceDeps) {}

  async startService(p: Principal, sessionId: string, input: StartServiceInput): Promise<StartServiceResult> {
    const t0 = performance.now();
    let outcome = 'error';
    try {
      const { session, idle: sessionIdle } = await this.d.sessions.getWithIdle(p, sessionId);
      if (session.state !== 'RUNNING') {
        throw new AppProxyError(
          'AP_ERR_SESSION_NOT_RUNNING',
          `The session is ${session.state}, not RUNNING.`,
          {
            state: session.state,
          },
        );
      }
      const svc = session.services.find((s) => s.name === input.service);
      if (!svc) {
        throw new AppProxyError(
          'AP_ERR_SERVICE_NOT_FOUND',
          `The session has no service "${input.service}".`,
          {
            service: input.service,
            available: session.services.map((s) => s.name),
          },
        );
      }
      if (!svc.backend) {
        throw new AppProxyError(
          'AP_ERR_SESSION_NOT_RUNNING',
          `The service "${svc.name}" has no backend address yet.`,
        );
      }
      const tcp = svc.protocol === 'tcp';
      if (!tcp && input.access !== undefined)
        throw invalid('/access', `access applies to TCP services only; "${svc.name}" is ${svc.protocol}.`);
      if (tcp && input.frontend === 'wildcard') {
        throw invalid(
          '/frontend',
          `TCP services need a port-mode worker (a wildcard frontend routes by the HTTP Host header); "${svc.name}" is tcp.`,
        );
      }
      checkIdleRequest(input.idle, this.d.idle);
      const frontend: FrontendMode | undefined = tcp ? 'port' : input.frontend;
      const key = `${sessionId}\u0000${svc.name}\u0000${frontend ?? ''}`;
      const previous = this.starting.get(key);
      if (previous) await previous.catch(() => {});
      const backend = svc.backend;
      const run = (async () => {
        const live = await this.d.repo.findLive(sessionId, svc.name, frontend);
        if (live) {
          let row = await this.d.opener.confirm(live);
          if (tcp && input.access !== undefined) row = await this.d.access.apply(p, row, input.access);
          else if (tcp) row = await this.d.access.regrant(p, row);
          return { row, reused: true };
        }
        const access = tcp ? resolveAccess(input.access, null, this.d.tcp) : null;
        const row = await this.d.opener.open({
          sessionId,
          ownerId: session.ownerId,
          service: svc.name,
          protocol: svc.protocol,
          backends: [backend],
          tcp: access ? { ...access, maxConnections: this.d.tcp.maxConnectionsPerCircuit } : null,
          idle: resolveCircuitIdle(input.idle, sessionIdle),
          grant: grantOfPrincipal(p),
          ...(frontend ? { frontend } : {}),
          // TCP circuits carry no cookie: the flow is an http matter.
          flow: tcp ? 'integrated' : (this.d.flowFor?.(session.ownerId) ?? 'integrated'),
        });
        return { row, reused: false };
      })();
      this.starting.set(key, run);
      const { row, reused } = await run.finally(() => {
        if (this.starting.get(key) === run) this.starting.delete(key);
      });
      // The session policy may act once this circuit (now its newest) has been idle long enough.
      const sessionTimeout = sessionIdle.session.value;
      if (sessionTimeout !== null && !reused)
        this.d.idleDeadline?.(row.created_at.getTime() + sessionTimeout);
      if (row.protocol === 'tcp') {
        outcome = reused ? 'reused' : 'opened';
        return { circuitId: row.id, appUrl: appUrlOf(row), setupUrl: null, expiresAt: null, reused };
      }
      // A reused circuit keeps the flow it was created under, whatever the flag says now.
      const setup =
        row.flow === 'legacy'
          ? await this.d.tokens.legacySetupUrl(row, input.next)
          : await this.d.tokens.setupUrl(p, row, input.next);
      outcome = reused ? 'reused' : 'opened';
      return { circuitId: row.id, appUrl: row.app_url, ...setup, reused };
    } finally {
      this.d.metrics.startServiceDuration.observe({ outcome }, (performance.now() - t0) / 1000);
    }
  }

  async list(p: Principal, filter: { sessionId?: string; state?: CircuitState }): Promise<Circuit[]> {
    const rows = await this.d.repo.list({ ...filter, ...(p.role === 'admin' ? {} : { ownerId: p.userId }) });
    return rows.map(toCircuit);
  }

  async get(p: Principal, id: string): Promise<Circuit> {
    return toCircuit(await this.visibleRow(p, id));
  }

  async close(p: Principal, id: string): Promise<Circuit> {
    await this.visibleRow(p, id);
    const row = await this.d.lifecycle.closeCircuitPromptly(id, `closed on request of ${p.userId}`);
    if (!row) throw new AppProxyError('AP_ERR_CIRCUIT_NOT_FOUND');
    return toCircuit(row);
  }

  /** `PATCH /v1/circuits/{id}/access`: a live TCP circuit's access, changed in place. */
  async updateAccess(p: Principal, id: string, req: AccessRequest): Promise<Circuit> {
    const row = await this.visibleRow(p, id);
    if (row.protocol !== 'tcp' || !accessOf(row))
      throw invalid('/', `Access applies to TCP circuits only; this circuit is ${row.protocol}.`);
    if (!isCircuitLive(row.state))
      throw new AppProxyError('AP_ERR_CIRCUIT_CLOSED', `The circuit is ${row.state}.`, { state: row.state });
    return toCircuit(await this.d.access.apply(p, row, req, ''));
  }

  /** `POST /v1/circuits/{id}/tunnel-token` (see `TokenService.tunnelToken`). */
  async tunnelToken(p: Principal, id: string): Promise<TunnelToken> {
    return this.d.tokens.tunnelToken(p, await this.visibleRow(p, id));
  }

  async activity(p: Principal, id: string): Promise<CircuitActivity> {
    return this.d.activity.of(await this.visibleRow(p, id));
  }

  private async visibleRow(p: Principal, id: string): Promise<CircuitRow> {
    const row = await this.d.repo.get(id);
    if (!row || (p.role !== 'admin' && row.owner_id !== p.userId))
      throw new AppProxyError('AP_ERR_CIRCUIT_NOT_FOUND');
    return row;
  }
}
