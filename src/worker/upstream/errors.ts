/**
 * What a failure to reach a circuit's backend is called, by the phase it happened in — one map
 * for HTTP requests, WebSocket upgrades and TCP connections, so the same backend fault gets the
 * same code whichever way the client came:
 *
 * | phase     | what failed                                          | HTTP answer                          |
 * |-----------|------------------------------------------------------|--------------------------------------|
 * | `connect` | no connection (refused, unreachable, connect timeout) | 502 AP_ERR_UPSTREAM_CONNECT          |
 * | `headers` | no response head within `upstreamHeadersTimeoutMs`    | 504 AP_ERR_UPSTREAM_HEADERS_TIMEOUT  |
 * | `reset`   | the connection broke before the response head         | 502 AP_ERR_UPSTREAM_RESET            |
 * | `body`    | the response broke after its head was relayed         | (too late to answer) AP_ERR_UPSTREAM_BODY, logged |
 *
 * Idleness is not an upstream error: HTTP has no body timeout (event streams and long polls may be
 * quiet for long), and an idle WebSocket, TCP relay or tunnel ends with the close reason
 * `idle-timeout`. A connection whose backend cannot be reached ends with `backend-unreachable`.
 */
import type { ErrorCode } from '../../contracts/errors.ts';

export type UpstreamPhase = 'connect' | 'headers' | 'reset' | 'body';

export const PHASE_CODES = {
  connect: 'AP_ERR_UPSTREAM_CONNECT',
  headers: 'AP_ERR_UPSTREAM_HEADERS_TIMEOUT',
  reset: 'AP_ERR_UPSTREAM_RESET',
  body: 'AP_ERR_UPSTREAM_BODY',
} as const satisfies Record<UpstreamPhase, ErrorCode>;

/** Socket and undici codes that mean "no connection was made". */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The phase an upstream error belongs to; `answered`: the response head was already relayed. */
export function failedPhase(err: Error, answered = false): UpstreamPhase {
  if (answered) return 'body';
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (CONNECT_ERRORS.has(code)) return 'connect';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'headers';
  return 'reset';
}

/** The registry code for an upstream error (no backend to pick at all: `AP_ERR_NO_ROUTE`). */
export function upstreamErrorCode(err: Error, answered = false): ErrorCode {
  if ((err as NodeJS.ErrnoException).code === 'AP_ERR_NO_ROUTE') return 'AP_ERR_NO_ROUTE';
  return PHASE_CODES[failedPhase(err, answered)];
}
