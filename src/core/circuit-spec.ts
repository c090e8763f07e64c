/**
 * Circuit specs (the KV value a worker serves a circuit from): one module that reads, checks and
 * compares them, so manager and workers agree on what a spec means and on its defaults.
 * - `parseCircuitSpec` is strict: a worker applies only a spec it can serve, and says why not
 *   (`AppProxyError`, published as the circuit's readiness error).
 * - `readCircuitSpec` is lenient: for comparing foreign data with SQL (reconciler, doctor).
 * - `sameCircuitSpec` compares field by field, absent fields read as the worker reads them.
 */

import type { Grant } from '../contracts/auth.ts';
import {
  type CircuitSpec,
  DEFAULT_CONNECTION_IDLE_TIMEOUT_MS,
  DEFAULT_TCP_MAX_CONNECTIONS,
} from '../contracts/circuit-spec.ts';
import { BALANCING_POLICIES, type BalancingPolicy, type EndpointSettings } from '../contracts/endpoint.ts';
import { AppProxyError } from '../contracts/errors.ts';
import type { FrontendMode, Protocol, TcpAccessMode } from '../contracts/records.ts';
import { AllowList } from './allow-list.ts';

/** What a strict parse checks a spec against: the worker that would serve it. */
export interface ServingWorker {
  frontendMode: FrontendMode;
  protocols: readonly Protocol[];
  portRange?: [number, number];
}

const SUBDOMAIN = /^[0-9a-f]{6}$/;
const BALANCING = BALANCING_POLICIES;
const ACCESS_MODES: readonly TcpAccessMode[] = ['tunnel', 'allow-list', 'public'];
/** Node timers cannot wait longer (≈ 24.8 days); a longer timeout would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function invalid(message: string): AppProxyError {
  return new AppProxyError('AP_ERR_ROUTE_INVALID', message);
}

/** Parses and checks one KV value against this worker; throws `AppProxyError` with the reason. */
export function parseCircuitSpec(id: string, raw: string, opts: ServingWorker): CircuitSpec {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid('The circuit spec is not valid JSON.');
  }
  if (typeof v !== 'object' || v === null) throw invalid('The circuit spec is not a JSON object.');
  const s = v as Partial<CircuitSpec>;
  if (s.id !== id) throw invalid(`The circuit spec id ${JSON.stringify(s.id)} does not match its key.`);
  if (typeof s.ownerId !== 'string' || s.ownerId === '') throw invalid('The circuit spec has no ownerId.');
  if (s.protocol !== 'http' && s.protocol !== 'tcp')
    throw invalid('The circuit spec protocol must be http or tcp.');
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
      `The circuit spec is for a ${s.frontendMode} worker; this worker is in ${opts.frontendMode} mode.`,
    );
  }
  if (s.endpointId !== undefined && (typeof s.endpointId !== 'string' || s.endpointId === ''))
    throw invalid('The circuit spec endpointId must be an id.');
  // An endpoint may have no route yet (its replicas are starting); a session's circuit has its service.
  if (!Array.isArray(s.backends) || (s.backends.length === 0 && s.endpointId === undefined))
    throw invalid('The circuit spec has no backend.');
  for (const b of s.backends) {
    if (
      typeof b?.host !== 'string' ||
      b.host === '' ||
      !Number.isInteger(b.port) ||
      b.port < 1 ||
      b.port > 65535
    ) {
      throw invalid('A backend of the circuit spec is not a valid host and port.');
    }
    if (b.weight !== undefined && (!Number.isInteger(b.weight) || b.weight < 0 || b.weight > 10_000))
      throw invalid('A backend weight of the circuit spec must be an integer from 0 to 10000.');
    if (b.route !== undefined && (typeof b.route !== 'string' || b.route === ''))
      throw invalid('A backend route of the circuit spec must be an id.');
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
      throw invalid('The circuit spec subdomain must be 6 hex digits.');
    }
    s.subdomain = s.subdomain.toLowerCase();
  }
  if (s.idleTimeoutMs === undefined) s.idleTimeoutMs = DEFAULT_CONNECTION_IDLE_TIMEOUT_MS;
  else if (!Number.isInteger(s.idleTimeoutMs) || s.idleTimeoutMs < 1 || s.idleTimeoutMs > MAX_TIMEOUT_MS) {
    throw invalid(`The circuit spec idleTimeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}.`);
  }
  if (s.protocol === 'tcp') s.tcp = parseTcp(s.tcp);
  if (s.grant !== undefined) s.grant = parseGrant(s.grant);
  if (s.endpoint !== undefined) {
    if (s.endpointId === undefined)
      throw invalid('The circuit spec has endpoint settings but no endpointId.');
    const e = s.endpoint as Partial<EndpointSettings>;
    if (e.access !== 'token' && e.access !== 'public')
      throw invalid('The circuit spec endpoint.access must be token or public.');
    if (!BALANCING.includes(e.balancing as BalancingPolicy))
      throw invalid(`The circuit spec endpoint.balancing must be one of ${BALANCING.join(', ')}.`);
    if (
      !Number.isInteger(e.headersTimeoutMs) ||
      e.headersTimeoutMs! < 1 ||
      e.headersTimeoutMs! > MAX_TIMEOUT_MS
    )
      throw invalid('The circuit spec endpoint.headersTimeoutMs must be a positive integer.');
  }
  if (s.grantedAt !== undefined && !Number.isFinite(s.grantedAt))
    throw invalid('The circuit spec grantedAt must be a time in epoch milliseconds.');
  return s as CircuitSpec;
}

function parseGrant(g: unknown): Grant {
  if (typeof g !== 'object' || g === null) throw invalid('The circuit spec grant must be an object.');
  const v = g as Record<string, unknown>;
  const out: Grant = {};
  for (const k of ['l', 't'] as const) {
    if (v[k] === undefined) continue;
    if (typeof v[k] !== 'string' || v[k] === '') throw invalid(`The circuit spec grant.${k} must be an id.`);
    out[k] = v[k];
  }
  return out;
}

/**
 * The TCP part of a spec, with defaults: absent means a tunnel-only circuit (never open to the
 * world unless the spec says so) with the default connection limit.
 */
function parseTcp(t: unknown): NonNullable<CircuitSpec['tcp']> {
  if (t === undefined)
    return { access: 'tunnel', allowFrom: [], maxConnections: DEFAULT_TCP_MAX_CONNECTIONS };
  if (typeof t !== 'object' || t === null) throw invalid('The circuit spec tcp must be an object.');
  const v = t as Partial<NonNullable<CircuitSpec['tcp']>>;
  if (!ACCESS_MODES.includes(v.access as TcpAccessMode)) {
    throw invalid(`The circuit spec tcp.access must be one of ${ACCESS_MODES.join(', ')}.`);
  }
  const allowFrom = v.allowFrom ?? [];
  try {
    AllowList.parse(allowFrom);
  } catch (err) {
    throw invalid(`The circuit spec tcp: ${(err as Error).message}`);
  }
  const maxConnections = v.maxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw invalid('The circuit spec tcp.maxConnections must be an integer of at least 1.');
  }
  return { access: v.access!, allowFrom: allowFrom as string[], maxConnections };
}

/**
 * The fields that make a circuit what it is (owner, session, service, protocol, slot): a spec that
 * keeps them can be applied to a served circuit in place; one that changes them is another circuit.
 */
export function sameCircuitIdentity(a: CircuitSpec, b: CircuitSpec): boolean {
  return (
    a.id === b.id &&
    a.sessionId === b.sessionId &&
    a.ownerId === b.ownerId &&
    a.service === b.service &&
    a.protocol === b.protocol &&
    a.frontendMode === b.frontendMode &&
    (a.port ?? null) === (b.port ?? null) &&
    (a.subdomain ?? null) === (b.subdomain ?? null)
  );
}

/** Field-by-field equality of two circuit specs (key order and unknown fields do not matter). */
export function sameCircuitSpec(a: CircuitSpec, b: CircuitSpec): boolean {
  return (
    sameCircuitIdentity(a, b) &&
    Array.isArray(b.backends) &&
    a.backends.length === b.backends.length &&
    a.backends.every((x, i) => {
      const y = b.backends[i];
      return (
        x.host === y?.host &&
        x.port === y.port &&
        (x.weight ?? null) === (y.weight ?? null) &&
        (x.route ?? null) === (y.route ?? null)
      );
    }) &&
    (a.endpointId ?? null) === (b.endpointId ?? null) &&
    stableJson(a.endpoint ?? null) === stableJson(b.endpoint ?? null) &&
    sameTcp(a, b) &&
    (a.grant?.l ?? null) === (b.grant?.l ?? null) &&
    (a.grant?.t ?? null) === (b.grant?.t ?? null) &&
    (a.grantedAt ?? null) === (b.grantedAt ?? null) &&
    (a.idleTimeoutMs ?? DEFAULT_CONNECTION_IDLE_TIMEOUT_MS) ===
      (b.idleTimeoutMs ?? DEFAULT_CONNECTION_IDLE_TIMEOUT_MS)
  );
}

/** JSON with object keys sorted: two settings objects compare by content, whatever their key order. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** TCP access of two specs, absent fields read as the worker reads them (tunnel, no list, default limit). */
function sameTcp(a: CircuitSpec, b: CircuitSpec): boolean {
  if (a.protocol !== 'tcp') return true;
  const ta = a.tcp;
  const tb = b.tcp;
  const allowA = ta?.allowFrom ?? [];
  const allowB = tb?.allowFrom ?? [];
  return (
    (ta?.access ?? 'tunnel') === (tb?.access ?? 'tunnel') &&
    (ta?.maxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS) ===
      (tb?.maxConnections ?? DEFAULT_TCP_MAX_CONNECTIONS) &&
    Array.isArray(allowB) &&
    allowA.length === allowB.length &&
    allowA.every((x, i) => x === allowB[i])
  );
}

/**
 * Lenient: the value as a spec, or null when it is not one at all. For reading what another process
 * wrote (the reconciler and the doctor compare it with SQL; they must not throw on a bad value).
 */
export function readCircuitSpec(value: string): CircuitSpec | null {
  try {
    const v = JSON.parse(value) as CircuitSpec;
    return v && typeof v === 'object' && typeof v.id === 'string' ? v : null;
  } catch {
    return null;
  }
}
