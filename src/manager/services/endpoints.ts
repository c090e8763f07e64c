/**
 * Inference endpoints: the one writer of endpoints and their routes. An endpoint owns one circuit
 * (its slot: the stable URL, opened at creation, on a worker in the mode asked for); its routes
 * are that circuit's backends, with their weights. Every change — routes replaced or changed,
 * a route's session ending, settings — writes SQL first, then republishes the circuit spec through
 * the circuit projection (which re-reads SQL), so the worker swaps the backend set in place: no
 * request in flight is cut, new ones go to the new set.
 *
 * A route is a session's service (its backend is wherever that service runs; while the session
 * is not running the route is `unresolved` and takes no traffic; the session's end removes the
 * route in the same flow that closes the session's circuits) or a fixed address.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  DEFAULT_ENDPOINT_SETTINGS,
  DEFAULT_ENGINE_METRICS,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_HOLD,
  DEFAULT_LIMITS,
  DEFAULT_PASSIVE_HEALTH,
  DEFAULT_RETRY,
  type Endpoint,
  type EndpointKey,
  type EndpointKeyRecord,
  type EndpointRoute,
  type EndpointSettings,
  endpointCounterKeys,
  type RouteHealthReport,
  type SpecBackend,
} from '../../contracts/endpoint.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import { kvKeys } from '../../contracts/kv-layout.ts';
import type { FrontendMode } from '../../contracts/records.ts';
import { readUsage, type UsageTotals } from '../../core/endpoint-usage.ts';
import { credentialState } from '../../core/lifetime.ts';
import { mergeRouteHealth } from '../../core/route-traffic.ts';
import { LatestWinsPublisher } from '../../stores/kv-sync.ts';
import type { CounterStore, KvStore } from '../../stores/types.ts';
import type { CircuitRepo, CircuitRow } from '../repos/circuits.ts';
import type { EndpointRepo, EndpointRow, KeyRow, NewRoute, RouteRow } from '../repos/endpoints.ts';
import type { EventLog } from '../repos/events.ts';
import type { Principal } from './auth.ts';
import { grantOfPrincipal } from './auth.ts';
import type { CircuitOpener } from './circuit-opener.ts';
import type { CircuitProjection } from './circuit-projection.ts';
import type { Lifecycle } from './lifecycle.ts';

export interface EndpointUsage {
  endpointId: string;
  total: UsageTotals;
  keys: ({ keyId: string | null; name: string | null } & UsageTotals)[];
}

/** A change of settings as a request gives it: any field, nested parts partial. */
export type SettingsChange = {
  [K in keyof EndpointSettings]?: NonNullable<EndpointSettings[K]> extends object
    ? Partial<NonNullable<EndpointSettings[K]>> | (null extends EndpointSettings[K] ? null : never)
    : EndpointSettings[K];
};

/** A route as a request gives it: a session's service, or an address. */
export interface RouteInput {
  id?: string;
  session?: string;
  service?: string;
  host?: string;
  port?: number;
  weight?: number;
}

export interface EndpointServiceDeps {
  repo: EndpointRepo;
  /** Where endpoint keys are projected for the workers (digests only). */
  kv: KvStore;
  circuits: CircuitRepo;
  opener: CircuitOpener;
  projection: CircuitProjection;
  lifecycle: Lifecycle;
  events: EventLog;
  logger: Logger;
  /** Whether endpoints may be public (no key): `endpoints.allowPublic` of the configuration. */
  allowPublic: boolean;
  /** Where workers report route health and usage (the Redis role). */
  counters: CounterStore;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ROUTE_ID = /^[A-Za-z0-9._-]{1,64}$/;

function invalid(field: string, message: string): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: 'body', message }]);
}

export function toRoute(r: RouteRow): EndpointRoute {
  const session = r.session_id !== null;
  const backend = session
    ? r.session_state === 'RUNNING' && r.backend_host && r.backend_port
      ? { host: r.backend_host, port: r.backend_port }
      : null
    : { host: r.host!, port: r.port! };
  return {
    id: r.id,
    kind: session ? 'session' : 'address',
    sessionId: r.session_id,
    service: r.service,
    backend,
    weight: r.weight,
    state: backend === null ? 'unresolved' : r.weight === 0 ? 'staged' : 'serving',
  };
}

/** The backends an endpoint's circuit spec carries: every resolved route, staged ones with weight 0. */
export function specBackendsOf(routes: EndpointRoute[]): SpecBackend[] {
  const out: SpecBackend[] = [];
  for (const r of routes) if (r.backend) out.push({ ...r.backend, route: r.id, weight: r.weight });
  return out;
}

export function toKey(r: KeyRow): EndpointKey {
  const state = credentialState(r.revoked_at, r.expires_at);
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    name: r.name,
    models: r.models ?? [],
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
    state,
    rpm: r.rpm ?? null,
    tpm: r.tpm ?? null,
  };
}

function keyRecord(r: KeyRow): EndpointKeyRecord {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    digest: r.digest,
    expiresAt: r.expires_at?.getTime() ?? null,
    models: r.models ?? [],
    ...(r.rpm !== null && r.rpm !== undefined ? { rpm: r.rpm } : {}),
    ...(r.tpm !== null && r.tpm !== undefined ? { tpm: r.tpm } : {}),
  };
}

export class EndpointService {
  /** The one writer of endpoint keys' KV projection (latest wins, retried until KV takes it). */
  private readonly keys: LatestWinsPublisher;

  constructor(private readonly d: EndpointServiceDeps) {
    this.keys = new LatestWinsPublisher({ kv: d.kv, logger: d.logger, what: 'endpoint key' });
  }

  close(): void {
    this.keys.close();
  }

  // ------------------------------------------------------------------ keys

  /**
   * A bearer key for an endpoint (optionally limited to model names and a lifetime): its secret
   * is in this answer only; workers get its digest through KV and check it without a store call.
   */
  async createKey(
    p: Principal,
    id: string,
    input: {
      name: string;
      expiresInMs?: number;
      models?: string[];
      rpm?: number | null;
      tpm?: number | null;
    },
  ): Promise<EndpointKey & { key: string }> {
    const row = await this.visible(p, id);
    const name = input.name.trim();
    if (name === '' || name.length > 100) throw invalid('/name', 'A key name is 1–100 characters.');
    const secret = `apk_${randomBytes(32).toString('base64url')}`;
    const k = await this.d.repo.insertKey({
      id: randomUUID(),
      endpointId: row.id,
      name,
      digest: createHash('sha256').update(secret).digest('hex'),
      models: [...new Set(input.models ?? [])],
      createdBy: p.userId,
      expiresAt: input.expiresInMs ? new Date(Date.now() + input.expiresInMs) : null,
      rpm: input.rpm ?? null,
      tpm: input.tpm ?? null,
    });
    const key = kvKeys.endpointKey(row.id, k.id);
    this.keys.set(key, JSON.stringify(keyRecord(k)));
    await this.keys.settled(key, { failFast: true });
    return { ...toKey(k), key: secret };
  }

  async listKeys(p: Principal, id: string): Promise<EndpointKey[]> {
    const row = await this.visible(p, id);
    return (await this.d.repo.keys(row.id)).map(toKey);
  }

  /** Revokes a key: workers refuse it as soon as the deletion reaches them (their watch). */
  async revokeKey(p: Principal, id: string, keyId: string): Promise<EndpointKey> {
    const row = await this.visible(p, id);
    const revoked = await this.d.repo.revokeKeys(row.id, keyId);
    const all = await this.d.repo.keys(row.id);
    const k = revoked[0] ?? all.find((x) => x.id === keyId);
    if (!k) throw new AppProxyError('AP_ERR_TOKEN_NOT_FOUND', 'The endpoint has no such key.');
    await this.retractKeys(row.id, revoked);
    return toKey(k);
  }

  private async retractKeys(endpointId: string, rows: KeyRow[]): Promise<void> {
    const keys = rows.map((r) => kvKeys.endpointKey(endpointId, r.id));
    for (const key of keys) this.keys.set(key, null);
    await Promise.all(keys.map((key) => this.keys.settled(key)));
  }

  /** Creates an endpoint and opens its circuit (its URL) before answering. */
  async create(
    p: Principal,
    input: {
      /** Chosen by the caller (the legacy surface keeps Backend.AI's deployment id); default random. */
      id?: string;
      name: string;
      frontend?: FrontendMode;
      settings?: SettingsChange;
      routes?: RouteInput[];
    },
  ): Promise<Endpoint> {
    if (!NAME.test(input.name))
      throw invalid('/name', 'An endpoint name is 1–63 lowercase letters, digits, ".", "_" or "-".');
    const settings = this.settings(input.settings, DEFAULT_ENDPOINT_SETTINGS);
    const routes = await this.newRoutes(p, input.routes ?? [], '/routes');
    const row = await this.d.repo
      .insert({ id: input.id ?? randomUUID(), name: input.name, ownerId: p.userId, settings })
      .catch((err: unknown) => {
        if ((err as { name?: string }).name === 'UniqueViolation')
          throw new AppProxyError('AP_ERR_CONFLICT', `You have an endpoint named "${input.name}" already.`);
        throw err;
      });
    if (routes.length > 0) await this.d.repo.changeRoutes(row.id, { replace: routes });
    try {
      await this.d.opener.open({
        sessionId: null,
        endpointId: row.id,
        endpointSettings: settings,
        ownerId: p.userId,
        service: input.name,
        protocol: 'http',
        backends: specBackendsOf((await this.d.repo.routes(row.id)).map(toRoute)),
        tcp: null,
        idle: {
          connection: { value: settings.headersTimeoutMs * 2, source: 'config' },
          circuit: { value: null, source: 'config' },
        },
        grant: grantOfPrincipal(p),
        ...(input.frontend ? { frontend: input.frontend } : {}),
      });
    } catch (err) {
      await this.d.repo.setState(row.id, 'DELETED', ['ACTIVE']);
      throw err;
    }
    await this.d.events.record({ endpointId: row.id, kind: 'endpoint-created', detail: `by ${p.userId}` });
    this.d.logger.info({ endpoint: row.id, name: row.name, by: p.userId }, 'endpoint created');
    return this.view((await this.d.repo.get(row.id))!);
  }

  async list(p: Principal): Promise<Endpoint[]> {
    const rows = await this.d.repo.list({ live: true, ...(p.role === 'admin' ? {} : { ownerId: p.userId }) });
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(p: Principal, id: string): Promise<Endpoint> {
    return this.view(await this.visible(p, id));
  }

  async update(
    p: Principal,
    id: string,
    input: { name?: string; settings?: SettingsChange },
  ): Promise<Endpoint> {
    const row = await this.visible(p, id);
    if (input.name !== undefined && !NAME.test(input.name))
      throw invalid('/name', 'An endpoint name is 1–63 lowercase letters, digits, ".", "_" or "-".');
    const settings = input.settings ? this.settings(input.settings, row.settings) : undefined;
    const updated = await this.d.repo
      .update(row.id, {
        ...(input.name ? { name: input.name } : {}),
        ...(settings ? { settings } : {}),
      })
      .catch((err: unknown) => {
        if ((err as { name?: string }).name === 'UniqueViolation')
          throw new AppProxyError('AP_ERR_CONFLICT', `You have an endpoint named "${input.name}" already.`);
        throw err;
      });
    if (!updated) throw new AppProxyError('AP_ERR_ENDPOINT_NOT_FOUND');
    await this.republish(updated.id, updated);
    return this.view(updated);
  }

  /** Deletes an endpoint: its circuit closes (the URL stops answering), then it is DELETED. */
  async delete(p: Principal, id: string): Promise<Endpoint> {
    return this.end(await this.visible(p, id), `by ${p.userId}`);
  }

  /** Their owner was deleted: every endpoint of theirs ends (URL closed, keys revoked). */
  async endOwnedBy(userId: string, why: string): Promise<void> {
    for (const row of await this.d.repo.list({ live: true, ownerId: userId })) await this.end(row, why);
  }

  private async end(row: EndpointRow, why: string): Promise<Endpoint> {
    const deleting = await this.d.repo.setState(row.id, 'DELETING', ['ACTIVE']);
    if (!deleting) return this.view(row);
    await this.retractKeys(row.id, await this.d.repo.revokeKeys(row.id));
    const circuit = await this.circuitOf(row.id);
    if (circuit) await this.d.lifecycle.closeCircuitPromptly(circuit.id, `endpoint deleted ${why}`);
    const deleted = (await this.d.repo.setState(row.id, 'DELETED', ['DELETING'])) ?? deleting;
    await this.d.events.record({ endpointId: row.id, kind: 'endpoint-deleted', detail: why });
    return this.view(deleted);
  }

  /**
   * The routes of an endpoint: `replace` is the whole desired set (declarative, idempotent; with
   * `ifRevision` only when nothing changed since), `add`/`remove` are deltas.
   */
  async changeRoutes(
    p: Principal,
    id: string,
    change: { replace?: RouteInput[]; add?: RouteInput[]; remove?: string[]; ifRevision?: number },
  ): Promise<Endpoint> {
    const row = await this.visible(p, id);
    const replace = change.replace ? await this.newRoutes(p, change.replace, '/routes') : undefined;
    const add = change.add ? await this.newRoutes(p, change.add, '') : undefined;
    if (change.remove) {
      const have = new Set((await this.d.repo.routes(row.id)).map((r) => r.id));
      const missing = change.remove.filter((r) => !have.has(r));
      if (missing.length > 0)
        throw new AppProxyError('AP_ERR_ROUTE_NOT_FOUND', undefined, { routes: missing });
    }
    const out = await this.d.repo
      .changeRoutes(row.id, {
        ...(replace ? { replace } : {}),
        ...(add ? { add } : {}),
        ...(change.remove ? { remove: change.remove } : {}),
        ...(change.ifRevision !== undefined ? { ifRevision: change.ifRevision } : {}),
      })
      .catch((err: unknown) => {
        if ((err as { name?: string }).name === 'UniqueViolation')
          throw new AppProxyError('AP_ERR_CONFLICT', 'The endpoint has a route with that id already.');
        throw err;
      });
    if (out === 'gone') throw new AppProxyError('AP_ERR_ENDPOINT_NOT_FOUND');
    if (out === 'conflict')
      throw new AppProxyError('AP_ERR_REVISION_MISMATCH', undefined, { revision: Number(row.revision) });
    await this.republish(row.id, out);
    await this.d.events.record({
      endpointId: row.id,
      kind: 'endpoint-routes-changed',
      detail: `revision ${out.revision} by ${p.userId}`,
    });
    return this.view(out);
  }

  /**
   * A session left RUNNING: its routes leave every endpoint, in the same flow that closes its
   * circuits (the lifecycle calls this), so no new request reaches the replica.
   */
  async sessionEnded(sessionId: string): Promise<void> {
    const endpoints = await this.d.repo.removeRoutesOf(sessionId);
    for (const id of endpoints) await this.republish(id);
  }

  /** A session became RUNNING (its backends are known): endpoints routing to it serve it. */
  async sessionRunning(sessionId: string): Promise<void> {
    for (const id of await this.d.repo.endpointsRoutingTo(sessionId)) await this.republish(id);
  }

  /** The endpoint's circuit gets its routes and settings now; `endpoint`: its row, when just read. */
  private async republish(endpointId: string, endpoint?: EndpointRow): Promise<void> {
    const circuit = await this.circuitOf(endpointId);
    endpoint ??= await this.d.repo.get(endpointId);
    if (!circuit || !endpoint) return;
    const backends = specBackendsOf((await this.d.repo.routes(endpointId)).map(toRoute));
    await this.d.circuits.setEndpoint(circuit.id, backends, endpoint.settings);
    await this.d.projection.republish(circuit.id);
  }

  private async circuitOf(endpointId: string): Promise<CircuitRow | undefined> {
    return this.d.circuits.liveOfEndpoint(endpointId);
  }

  private async visible(p: Principal, id: string): Promise<EndpointRow> {
    const row = await this.d.repo.get(id);
    if (!row || row.state === 'DELETED' || (p.role !== 'admin' && row.owner_id !== p.userId))
      throw new AppProxyError('AP_ERR_ENDPOINT_NOT_FOUND');
    return row;
  }

  private async view(row: EndpointRow): Promise<Endpoint> {
    const [routes, circuit] = await Promise.all([this.d.repo.routes(row.id), this.circuitOf(row.id)]);
    const { health, traffic } = await this.routeReports(row.id, circuit?.worker);
    return {
      id: row.id,
      name: row.name,
      ownerId: row.owner_id,
      state: row.state,
      url: circuit?.app_url ?? null,
      circuitId: circuit?.id ?? null,
      settings: row.settings,
      routes: routes.map((r) => {
        const route = toRoute(r);
        const address = route.backend ? `${route.backend.host}:${route.backend.port}` : undefined;
        const h = health.get(route.id) ?? (address ? health.get(address) : undefined);
        const t = traffic.get(route.id) ?? (address ? traffic.get(address) : undefined);
        return { ...route, ...(h ? { health: h } : {}), ...(t ? { traffic: t } : {}) };
      }),
      revision: Number(row.revision),
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  }

  /**
   * The settings after a change: nested parts merge field by field over what the endpoint has (a
   * PATCH of `{ retry: { attempts: 0 } }` keeps the other retry fields); `healthCheck: null` turns
   * probing off, a partial one fills the rest from the defaults.
   */
  /**
   * Token usage of an endpoint as the workers recorded it (cumulative; per key, with the key's
   * name; requests without a key — public endpoints — under `keyId: null`).
   */
  async usage(p: Principal, id: string): Promise<EndpointUsage> {
    const row = await this.visible(p, id);
    const [u, keys] = await Promise.all([readUsage(this.d.counters, row.id), this.d.repo.keys(row.id)]);
    const names = new Map(keys.map((k) => [k.id, k.name]));
    return {
      endpointId: row.id,
      total: u.total,
      keys: u.keys.map((k) => ({
        keyId: k.keyId,
        name: k.keyId ? (names.get(k.keyId) ?? null) : null,
        ...k.totals,
      })),
    };
  }

  /**
   * Route health and traffic as the processes of the worker serving the endpoint last reported
   * them (a stale report has expired; one that does not parse is left out).
   */
  private async routeReports(
    endpointId: string,
    worker: string | undefined,
  ): Promise<ReturnType<typeof mergeRouteHealth>> {
    if (worker === undefined) return mergeRouteHealth([]);
    try {
      const keys = await this.d.counters.keys(endpointCounterKeys.healthReportsOf(endpointId, worker));
      const values = keys.length ? await this.d.counters.mget(keys) : [];
      const reports: { routes: RouteHealthReport[] }[] = [];
      for (const v of values) {
        if (v === null) continue;
        try {
          const parsed = JSON.parse(v) as { routes?: RouteHealthReport[] };
          if (Array.isArray(parsed.routes)) reports.push({ routes: parsed.routes });
        } catch {
          // A report cut short or written by another version: the others still count.
        }
      }
      return mergeRouteHealth(reports);
    } catch (err) {
      // Health is advisory in this answer: the endpoint is still described without it.
      this.d.logger.warn({ err, endpointId }, 'route health not read');
      return mergeRouteHealth([]);
    }
  }

  private settings(given: SettingsChange | undefined, base: EndpointSettings): EndpointSettings {
    const g = given ?? {};
    const s: EndpointSettings = { ...base };
    if (g.access !== undefined) s.access = g.access;
    if (g.balancing !== undefined) s.balancing = g.balancing;
    if (g.headersTimeoutMs !== undefined) s.headersTimeoutMs = g.headersTimeoutMs;
    if (g.healthCheck !== undefined)
      s.healthCheck =
        g.healthCheck === null ? null : { ...(base.healthCheck ?? DEFAULT_HEALTH_CHECK), ...g.healthCheck };
    if (g.retry) s.retry = { ...DEFAULT_RETRY, ...base.retry, ...g.retry };
    if (g.passive) s.passive = { ...DEFAULT_PASSIVE_HEALTH, ...base.passive, ...g.passive };
    if (g.hold) s.hold = { ...DEFAULT_HOLD, ...base.hold, ...g.hold };
    if (g.limits) s.limits = { ...DEFAULT_LIMITS, ...base.limits, ...g.limits };
    if (g.engineMetrics !== undefined)
      s.engineMetrics =
        g.engineMetrics === null
          ? null
          : { ...DEFAULT_ENGINE_METRICS, ...base.engineMetrics, ...g.engineMetrics };
    for (const k of [
      'streamIdleTimeoutMs',
      'maxBodyBytes',
      'slowStartMs',
      'drainGraceMs',
      'affinityHeader',
    ] as const)
      if (g[k] !== undefined) (s as unknown as Record<string, unknown>)[k] = g[k];
    const hc = s.healthCheck;
    if (hc && hc.timeoutMs > hc.intervalMs)
      throw invalid(
        '/settings/healthCheck/timeoutMs',
        'A probe timeout longer than the interval would overlap probes.',
      );
    if (s.passive && s.passive.maxEjectionMs < s.passive.baseEjectionMs)
      throw invalid('/settings/passive/maxEjectionMs', 'The longest ejection is shorter than the first one.');
    if (s.access === 'public' && !this.d.allowPublic)
      throw new AppProxyError(
        'AP_ERR_ACCESS_NOT_PERMITTED',
        'Public endpoints are not permitted by the configuration (endpoints.allowPublic); use access "token".',
      );
    return s;
  }

  /** Checks routes a caller gives: ids, one kind each, sessions they may route to. */
  private async newRoutes(p: Principal, input: RouteInput[], at: string): Promise<NewRoute[]> {
    const ids = new Set<string>();
    const out: NewRoute[] = [];
    for (const [i, r] of input.entries()) {
      const field = `${at}/${i}`;
      const id = r.id ?? randomUUID();
      if (!ROUTE_ID.test(id))
        throw invalid(`${field}/id`, 'A route id is 1–64 letters, digits, ".", "_" or "-".');
      if (ids.has(id)) throw invalid(`${field}/id`, `Route id "${id}" is given twice.`);
      ids.add(id);
      const weight = r.weight ?? 100;
      const bySession = r.session !== undefined || r.service !== undefined;
      const byAddress = r.host !== undefined || r.port !== undefined;
      if (bySession === byAddress)
        throw invalid(
          field,
          "A route is either a session's service (session, service) or an address (host, port).",
        );
      if (bySession) {
        if (!r.session || !r.service) throw invalid(field, 'A session route needs both session and service.');
        const owner = await this.d.repo.sessionOwner(r.session);
        if (!owner || (p.role !== 'admin' && owner !== p.userId))
          throw new AppProxyError('AP_ERR_SESSION_NOT_FOUND', undefined, { session: r.session });
        out.push({ id, sessionId: r.session, service: r.service, host: null, port: null, weight });
      } else {
        // An address is where the proxy connects on the caller's behalf: admins only, as for external sessions.
        if (p.role !== 'admin')
          throw new AppProxyError(
            'AP_ERR_FORBIDDEN',
            "Only admins may route an endpoint to an address; route to a session's service.",
          );
        if (!r.host || !r.port) throw invalid(field, 'An address route needs host and port.');
        out.push({ id, sessionId: null, service: null, host: r.host, port: r.port, weight });
      }
    }
    return out;
  }
}
