/**
 * The routing table: the one owner of circuit state. The route source hands it changes; the
 * frontends keep the slot indexes (port → circuit, subdomain → circuit) that requests read, and
 * only the table changes them. A change builds the new circuit fully, makes it reachable, then
 * retires the previous one; a circuit that cannot be served throws an `AppProxyError` that the
 * route source publishes as its readiness, and nothing else is touched.
 */
import { AppProxyError } from '../contracts/errors.ts';
import {
  DEFAULT_CONNECTION_IDLE_TIMEOUT_MS,
  DEFAULT_TCP_MAX_CONNECTIONS,
  type RouteSpec,
} from '../contracts/kv-layout.ts';
import type { FrontendMode, Protocol, TcpAccessMode } from '../contracts/records.ts';
import type { ActivityFlusher } from './activity.ts';
import { Circuit, type CircuitDeps } from './circuit.ts';
import { AllowList } from './tcp/allow-list.ts';

/** A frontend makes circuits reachable by their slot. */
export interface Frontend {
  /**
   * Makes `next` reachable, replacing `previous` (same circuit id) if given. Throws an
   * `AppProxyError` and leaves `previous` serving when it cannot.
   */
  attach(next: Circuit, previous: Circuit | undefined): Promise<void>;
  /** Makes the circuit unreachable (its live connections are the circuit's own business). */
  detach(circuit: Circuit): void;
  close(): Promise<void>;
}

export interface RoutingTableOptions {
  frontendMode: FrontendMode;
  protocols: Protocol[];
  portRange?: [number, number];
  frontend: Frontend;
  activity: ActivityFlusher;
  circuitDeps: (spec: RouteSpec) => CircuitDeps;
  onSizeChange: (size: number) => void;
}

const SUBDOMAIN = /^[0-9a-f]{6}$/;
const ACCESS_MODES: readonly TcpAccessMode[] = ['tunnel', 'allow-list', 'public'];
/** Node timers cannot wait longer (≈ 24.8 days); a longer timeout would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function invalid(message: string): AppProxyError {
  return new AppProxyError('AP_ERR_ROUTE_INVALID', message);
}

/** Parses and checks one KV value against this worker; throws `AppProxyError` with the reason. */
export function parseRouteSpec(
  id: string,
  raw: string,
  opts: Pick<RoutingTableOptions, 'frontendMode' | 'protocols' | 'portRange'>,
): RouteSpec {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid('The route is not valid JSON.');
  }
  if (typeof v !== 'object' || v === null) throw invalid('The route is not a JSON object.');
  const s = v as Partial<RouteSpec>;
  if (s.id !== id) throw invalid(`The route id ${JSON.stringify(s.id)} does not match its key.`);
  if (typeof s.ownerId !== 'string' || s.ownerId === '') throw invalid('The route has no ownerId.');
  if (s.protocol !== 'http' && s.protocol !== 'tcp') throw invalid('The route protocol must be http or tcp.');
  // TCP circuits need a port of their own: a wildcard worker (one listener, circuits told apart
  // by the Host header) cannot carry them.
  if (!opts.protocols.includes(s.protocol) || (s.protocol === 'tcp' && opts.frontendMode !== 'port')) {
    throw new AppProxyError(
      'AP_ERR_PROTOCOL_UNSUPPORTED',
      `This worker does not serve ${s.protocol} circuits.`,
    );
  }
  if (s.frontendMode !== opts.frontendMode) {
    throw invalid(
      `The route is for a ${s.frontendMode} worker; this worker is in ${opts.frontendMode} mode.`,
    );
  }
  if (!Array.isArray(s.backends) || s.backends.length === 0) throw invalid('The route has no backend.');
  for (const b of s.backends) {
    if (
      typeof b?.host !== 'string' ||
      b.host === '' ||
      !Number.isInteger(b.port) ||
      b.port < 1 ||
      b.port > 65535
    ) {
      throw invalid('A backend of the route is not a valid host and port.');
    }
  }
  if (opts.frontendMode === 'port') {
    const [lo, hi] = opts.portRange ?? [0, -1];
    if (!Number.isInteger(s.port) || s.port! < lo || s.port! > hi) {
      throw new AppProxyError(
        'AP_ERR_SLOT_UNAVAILABLE',
        `Port ${s.port} is outside this worker's range ${lo}-${hi}.`,
      );
    }
  } else {
    if (typeof s.subdomain !== 'string' || !SUBDOMAIN.test(s.subdomain.toLowerCase())) {
      throw invalid('The route subdomain must be 6 hex digits.');
    }
    s.subdomain = s.subdomain.toLowerCase();
  }
  if (s.idleTimeoutMs === undefined) s.idleTimeoutMs = DEFAULT_CONNECTION_IDLE_TIMEOUT_MS;
  else if (!Number.isInteger(s.idleTimeoutMs) || s.idleTimeoutMs < 1 || s.idleTimeoutMs > MAX_TIMEOUT_MS) {
    throw invalid(`The route idleTimeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}.`);
  }
  if (s.protocol === 'tcp') s.tcp = parseTcp(s.tcp);
  return s as RouteSpec;
}

/**
 * The TCP part of a route, with defaults: absent means a tunnel-only circuit (never open to the
 * world unless the route says so) with the default connection limit.
 */
function parseTcp(t: unknown): NonNullable<RouteSpec['tcp']> {
  if (t === undefined)
    return { access: 'tunnel', allowFrom: [], maxConnections: DEFAULT_TCP_MAX_CONNECTIONS };
  if (typeof t !== 'object' || t === null) throw invalid('The route tcp must be an object.');
  const v = t as Partial<NonNullable<RouteSpec['tcp']>>;
  if (!ACCESS_MODES.includes(v.access as TcpAccessMode)) {
    throw invalid(`The route tcp.access must be one of ${ACCESS_MODES.join(', ')}.`);
  }
  const allowFrom = v.allowFrom ?? [];
  try {
    AllowList.parse(allowFrom);
  } catch (err) {
    throw invalid(`The route tcp: ${(err as Error).message}`);
  }
  const maxConnections = v.maxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw invalid('The route tcp.maxConnections must be an integer of at least 1.');
  }
  return { access: v.access!, allowFrom: allowFrom as string[], maxConnections };
}

export class RoutingTable {
  private readonly circuits = new Map<string, Circuit>();

  constructor(private readonly opts: RoutingTableOptions) {}

  get size(): number {
    return this.circuits.size;
  }

  get(id: string): Circuit | undefined {
    return this.circuits.get(id);
  }

  ids(): IterableIterator<string> {
    return this.circuits.keys();
  }

  values(): IterableIterator<Circuit> {
    return this.circuits.values();
  }

  /** Returns true when something changed (false for an identical put). */
  async apply(id: string, raw: string): Promise<boolean> {
    const previous = this.circuits.get(id);
    if (previous?.raw === raw) return false;
    let spec: RouteSpec;
    try {
      spec = parseRouteSpec(id, raw, this.opts);
    } catch (err) {
      // A bad replacement must not leave the old version serving what the manager no longer wants.
      if (previous) this.remove(id);
      throw err;
    }
    const next = new Circuit(spec, raw, this.opts.circuitDeps(spec));
    try {
      await this.opts.frontend.attach(next, previous);
    } catch (err) {
      next.close();
      if (previous) this.remove(id);
      throw err;
    }
    this.circuits.set(id, next);
    if (previous) this.retire(previous);
    this.opts.onSizeChange(this.circuits.size);
    return true;
  }

  /** Closes the circuit: unreachable at once, live connections destroyed. */
  remove(id: string): boolean {
    const c = this.circuits.get(id);
    if (!c) return false;
    this.circuits.delete(id);
    this.opts.frontend.detach(c);
    this.retire(c);
    this.opts.onSizeChange(this.circuits.size);
    return true;
  }

  closeAll(): void {
    for (const id of [...this.circuits.keys()]) this.remove(id);
  }

  private retire(c: Circuit): void {
    this.opts.activity.retire(c);
    c.close();
  }
}
