/**
 * Idle settings: which timeouts apply to a session and its circuits, and where each came from.
 *
 * They are resolved once, when the session or the circuit is created, and stored with it (so a
 * later change of the configuration or of a template does not silently change a running session):
 *
 * - a session's settings: its create request (`idle` of `POST /v1/sessions`, source `session`) >
 *   its template's defaults (`TemplateInfo.idle`, source `template`) > the configuration
 *   (`idlePolicy.default*`, source `config`);
 * - a circuit's settings: its start-service request (source `request`) > the session's settings.
 *
 * API callers must stay within the administrator's limits (`idlePolicy.minTimeout`, `maxTimeout`,
 * `allowNever`), else AP_ERR_POLICY_OUT_OF_RANGE. Template and configuration defaults are the
 * administrator's own and are not bounded by them. Pure functions; no I/O.
 */
import type { TemplateIdleDefaults } from '../../contracts/agent.ts';
import { DEFAULT_CONNECTION_IDLE_TIMEOUT_MS } from '../../contracts/circuit-spec.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { IdlePolicyExplanation } from '../../contracts/records.ts';

export type IdleSource = IdlePolicyExplanation['source'];

/** The configuration's idle defaults and limits, in milliseconds (null = never). */
export interface IdlePolicyConfig {
  defaultConnectionIdleTimeoutMs: number;
  defaultCircuitIdleTimeoutMs: number | null;
  defaultSessionIdleTimeoutMs: number | null;
  /** Shortest timeout an API request may ask for. */
  minTimeoutMs: number;
  /** Longest timeout an API request may ask for. */
  maxTimeoutMs: number;
  /** Whether an API request may ask for "never" (null) for the circuit or session policy. */
  allowNever: boolean;
  /** Period of the leader's idle loop. */
  checkIntervalMs: number;
}

export const DEFAULT_IDLE_POLICY: Readonly<IdlePolicyConfig> = Object.freeze({
  defaultConnectionIdleTimeoutMs: DEFAULT_CONNECTION_IDLE_TIMEOUT_MS,
  defaultCircuitIdleTimeoutMs: null,
  defaultSessionIdleTimeoutMs: null,
  minTimeoutMs: 1000,
  maxTimeoutMs: 7 * 24 * 3600 * 1000,
  allowNever: true,
  checkIntervalMs: 5000,
});

/** `idle` of `POST /v1/sessions`. */
export interface SessionIdleRequest {
  sessionIdleTimeoutMs?: number | null;
  circuitIdleTimeoutMs?: number | null;
  connectionIdleTimeoutMs?: number;
}

/** `idle` of start-service. */
export interface CircuitIdleRequest {
  circuitIdleTimeoutMs?: number | null;
  connectionIdleTimeoutMs?: number;
}

export interface Resolved<T> {
  value: T;
  source: IdleSource;
}

/** A session's settings: its own policy, and what its circuits inherit. */
export interface SessionIdleSettings {
  session: Resolved<number | null>;
  circuit: Resolved<number | null>;
  connection: Resolved<number>;
}

export interface CircuitIdleSettings {
  circuit: Resolved<number | null>;
  connection: Resolved<number>;
}

/**
 * Throws AP_ERR_POLICY_OUT_OF_RANGE (400) for the first requested timeout outside the limits;
 * `detail` = `{field, min, max, allowNever}` (`field` a JSON pointer into the request body).
 */
export function checkIdleRequest(
  req: SessionIdleRequest | CircuitIdleRequest | undefined,
  limits: IdlePolicyConfig,
): void {
  if (!req) return;
  for (const [name, value] of Object.entries(req) as [string, number | null | undefined][]) {
    if (value === undefined) continue;
    const field = `/idle/${name}`;
    const detail = {
      field,
      min: limits.minTimeoutMs,
      max: limits.maxTimeoutMs,
      allowNever: limits.allowNever,
    };
    if (value === null) {
      if (name === 'connectionIdleTimeoutMs' || !limits.allowNever) {
        throw new AppProxyError(
          'AP_ERR_POLICY_OUT_OF_RANGE',
          name === 'connectionIdleTimeoutMs'
            ? 'Connections always have an idle timeout; give a number of milliseconds.'
            : `${name}: "never" (null) is not allowed here; give a timeout between ${limits.minTimeoutMs} and ${limits.maxTimeoutMs} ms.`,
          detail,
        );
      }
      continue;
    }
    if (value < limits.minTimeoutMs || value > limits.maxTimeoutMs) {
      throw new AppProxyError(
        'AP_ERR_POLICY_OUT_OF_RANGE',
        `${name} must be between ${limits.minTimeoutMs} and ${limits.maxTimeoutMs} ms (got ${value}).`,
        detail,
      );
    }
  }
}

/** First defined of the candidates (a `null` value is defined: it means never). */
function pick<T>(...candidates: [T | undefined, IdleSource][]): Resolved<T> {
  for (const [value, source] of candidates) if (value !== undefined) return { value, source };
  throw new Error('no idle setting candidate'); // the config candidate is always defined
}

/** A new session's settings (call `checkIdleRequest` on `req` first). */
export function resolveSessionIdle(
  req: SessionIdleRequest | undefined,
  template: TemplateIdleDefaults | undefined,
  config: IdlePolicyConfig,
): SessionIdleSettings {
  return {
    session: pick<number | null>(
      [req?.sessionIdleTimeoutMs, 'session'],
      [template?.sessionIdleTimeoutMs, 'template'],
      [config.defaultSessionIdleTimeoutMs, 'config'],
    ),
    circuit: pick<number | null>(
      [req?.circuitIdleTimeoutMs, 'session'],
      [template?.circuitIdleTimeoutMs, 'template'],
      [config.defaultCircuitIdleTimeoutMs, 'config'],
    ),
    connection: pick<number>(
      [req?.connectionIdleTimeoutMs, 'session'],
      [template?.connectionIdleTimeoutMs, 'template'],
      [config.defaultConnectionIdleTimeoutMs, 'config'],
    ),
  };
}

/** A new circuit's settings: the request's, else its session's (call `checkIdleRequest` first). */
export function resolveCircuitIdle(
  req: CircuitIdleRequest | undefined,
  session: Pick<SessionIdleSettings, 'circuit' | 'connection'>,
): CircuitIdleSettings {
  return {
    circuit:
      req?.circuitIdleTimeoutMs !== undefined
        ? { value: req.circuitIdleTimeoutMs, source: 'request' }
        : session.circuit,
    connection:
      req?.connectionIdleTimeoutMs !== undefined
        ? { value: req.connectionIdleTimeoutMs, source: 'request' }
        : session.connection,
  };
}
