/**
 * Access to TCP circuits: which mode a circuit gets and which client addresses an allow-list
 * holds. The design's rule is "never open to the world unless the circuit says so": the default is
 * `tunnel` (only authenticated WebSocket tunnels reach the port), `public` needs the configuration
 * to permit it, and an allow-list that covers every address (`0.0.0.0/0`, `::/0`) is public in all
 * but name, so it needs the same permission. Pure functions; no I/O.
 */
import { DEFAULT_TCP_MAX_CONNECTIONS } from '../../contracts/circuit-spec.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { TcpAccessMode } from '../../contracts/records.ts';
import { AllowList } from '../../core/allow-list.ts';

/** The configuration's TCP settings (`tcp.*`). */
export interface TcpPolicy {
  defaultAccess: TcpAccessMode;
  allowPublic: boolean;
  maxConnectionsPerCircuit: number;
}

export const DEFAULT_TCP_POLICY: Readonly<TcpPolicy> = Object.freeze({
  defaultAccess: 'tunnel',
  allowPublic: false,
  maxConnectionsPerCircuit: DEFAULT_TCP_MAX_CONNECTIONS,
});

export interface AccessRequest {
  mode?: TcpAccessMode;
  allowFrom?: string[];
}

export interface TcpAccess {
  mode: TcpAccessMode;
  allowFrom: string[];
}

/**
 * The access a circuit gets from a request: the requested mode; else allow-list when the request
 * lists addresses; else the current one (a live circuit's); else the configured default.
 * `allowFrom` is kept from the current access when the mode stays allow-list and the request does
 * not list addresses. `field` prefixes the JSON pointers of validation errors (`/access` for
 * start-service, `` for PATCH …/access).
 */
export function resolveAccess(
  req: AccessRequest | undefined,
  current: TcpAccess | null,
  policy: TcpPolicy,
  field = '/access',
): TcpAccess {
  const listed = req?.allowFrom !== undefined && req.allowFrom.length > 0;
  const mode = req?.mode ?? (listed ? 'allow-list' : (current?.mode ?? policy.defaultAccess));
  let allowFrom: string[];
  if (req?.allowFrom !== undefined) allowFrom = req.allowFrom;
  else if (current && current.mode === mode) allowFrom = current.allowFrom;
  else allowFrom = [];
  const invalid = (message: string, at = `${field}/allowFrom`) =>
    new AppProxyError('AP_ERR_VALIDATION', message, [{ field: at, in: 'body', message }]);

  if (mode !== 'allow-list') {
    if (allowFrom.length > 0 && req?.allowFrom !== undefined)
      throw invalid(`allowFrom applies to access mode "allow-list" only (the mode is "${mode}").`);
    allowFrom = [];
  } else {
    if (allowFrom.length === 0)
      throw invalid('Access mode "allow-list" needs at least one client address or CIDR in allowFrom.');
    allowFrom = normaliseAllowFrom(allowFrom, invalid);
  }
  const everyone = mode === 'public' || allowFrom.some(coversEveryAddress);
  if (everyone && !policy.allowPublic) {
    throw new AppProxyError(
      'AP_ERR_ACCESS_NOT_PERMITTED',
      mode === 'public'
        ? 'Public TCP circuits are not permitted by the configuration (tcp.allowPublic); use "tunnel" or "allow-list".'
        : 'An allow-list that admits every address is public access, which the configuration does not permit (tcp.allowPublic).',
      { mode, allowPublic: false },
    );
  }
  return { mode, allowFrom };
}

/** Same mode and the same set of addresses. */
export function sameAccess(a: TcpAccess, b: TcpAccess): boolean {
  if (a.mode !== b.mode || a.allowFrom.length !== b.allowFrom.length) return false;
  const set = new Set(a.allowFrom);
  return b.allowFrom.every((x) => set.has(x));
}

/**
 * Trimmed, de-duplicated, each accepted by the workers' own allow-list parser (so a list the API
 * accepts is one every worker can serve); throws through `invalid` otherwise.
 */
function normaliseAllowFrom(list: string[], invalid: (m: string) => AppProxyError): string[] {
  const out: string[] = [];
  for (const raw of list) {
    const entry = raw.trim();
    try {
      AllowList.parse([entry]);
    } catch {
      throw invalid(`"${raw}" is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32).`);
    }
    if (!out.includes(entry)) out.push(entry);
  }
  return out;
}

function coversEveryAddress(entry: string): boolean {
  return entry.endsWith('/0');
}
