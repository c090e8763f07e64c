/**
 * Header policy between client and upstream, both ways:
 * - hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade,
 *   and any header named in Connection) are stripped; an upgrade's `Upgrade` and
 *   `Connection: upgrade` are written by the upstream pool itself (transport/upgrade.ts);
 * - the client's Host goes upstream unchanged (apps compare Origin with Host);
 * - X-Forwarded-For/-Proto/-Host and Forwarded (RFC 7239) are replaced, unless the peer is a
 *   trusted proxy, whose chain is kept and extended;
 * - AppProxy's app cookies are removed from Cookie: the app never sees the credential.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { BlockList, isIPv6 } from 'node:net';
import { stripAppCookies } from '../access/app-cookie.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node answers Expect: 100-continue itself; undici refuses to forward it.
  'expect',
]);
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

/** Hop-by-hop headers (never relayed; the fast path uses the same list). */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-');
}

/** Names listed in a Connection header value (lower case). */
function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (!value) return null;
  const out = new Set<string>();
  for (const t of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const n = t.trim().toLowerCase();
    if (n) out.add(n);
  }
  return out;
}

export function clientIp(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function forwardedFor(ip: string): string {
  // An IPv6 address always contains ':', an IPv4 one never (cheaper than net.isIPv6's regex).
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * What the forwarding headers need from a connection, computed once per connection (peer address
 * and trust) and once per distinct Host / Cookie header on it (a keep-alive connection repeats
 * them), so a repeat request builds its upstream headers with string comparisons only.
 */
interface ConnForwarding {
  ip: string;
  trusted: boolean;
  host: string | undefined;
  /** The RFC 7239 element for `host`. */
  element: string;
  cookie: string | undefined;
  /** `cookie` without app cookies. */
  keptCookie: string | undefined;
}

export class ForwardingPolicy {
  private readonly trusted: BlockList | null;
  private readonly byConn = new WeakMap<object, ConnForwarding>();

  constructor(
    trustedProxies: string[],
    private readonly scheme: 'http' | 'https',
  ) {
    if (trustedProxies.length === 0) {
      this.trusted = null;
      return;
    }
    this.trusted = new BlockList();
    for (const entry of trustedProxies) {
      const [addr = '', bits] = entry.split('/');
      const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.trusted.addAddress(addr, type);
      else this.trusted.addSubnet(addr, Number(bits), type);
    }
  }

  isTrusted(ip: string): boolean {
    return this.trusted !== null && ip !== '' && this.trusted.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
  }

  private connOf(req: IncomingMessage): ConnForwarding {
    const socket = req.socket;
    let c = this.byConn.get(socket);
    if (c === undefined) {
      const ip = clientIp(req);
      c = {
        ip,
        trusted: this.isTrusted(ip),
        host: undefined,
        element: '',
        cookie: undefined,
        keptCookie: undefined,
      };
      this.byConn.set(socket, c);
    }
    const host = req.headers.host;
    if (c.host !== host || c.element === '') {
      c.host = host;
      c.element = `for=${forwardedFor(c.ip)};host=${quoted(host ?? '')};proto=${this.scheme}`;
    }
    return c;
  }

  /** Headers for the upstream request (or upgrade handshake). */
  upstreamHeaders(req: IncomingMessage): Record<string, string | string[]> {
    const src = req.headers;
    const conn = this.connOf(req);
    const named = src.connection === undefined ? null : connectionTokens(src.connection);
    const out: Record<string, string | string[]> = {};
    for (const name in src) {
      const v = src[name];
      if (v === undefined || isHopByHop(name) || FORWARDING.has(name) || named?.has(name)) continue;
      if (name === 'cookie') {
        if (conn.cookie !== v) {
          conn.cookie = v as string;
          conn.keptCookie = stripAppCookies(v as string);
        }
        if (conn.keptCookie !== undefined) out.cookie = conn.keptCookie;
        continue;
      }
      out[name] = v;
    }
    const { ip, element } = conn;
    const host = src.host ?? '';
    if (conn.trusted) {
      out['x-forwarded-for'] = src['x-forwarded-for'] ? `${joined(src['x-forwarded-for'])}, ${ip}` : ip;
      out['x-forwarded-proto'] = first(src['x-forwarded-proto']) ?? this.scheme;
      out['x-forwarded-host'] = first(src['x-forwarded-host']) ?? host;
      out.forwarded = src.forwarded ? `${joined(src.forwarded)}, ${element}` : element;
    } else {
      out['x-forwarded-for'] = ip;
      out['x-forwarded-proto'] = this.scheme;
      out['x-forwarded-host'] = host;
      out.forwarded = element;
    }
    return out;
  }
}

function joined(v: string | string[]): string {
  return Array.isArray(v) ? v.join(', ') : v;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Response headers for the client as a flat [name, value, …] list (keeps repeated Set-Cookie). */
export function downstreamHeaders(
  src: Record<string, string | string[] | undefined> | IncomingHttpHeaders,
): string[] {
  const named = connectionTokens(src.connection);
  const out: string[] = [];
  for (const name in src) {
    const v = src[name];
    if (v === undefined || isHopByHop(name) || named?.has(name)) continue;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}
