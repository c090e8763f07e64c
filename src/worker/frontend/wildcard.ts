/**
 * Wildcard mode: one listener; the circuit is chosen by the Host header `<6 hex>.<wildcardDomain>`
 * (case-insensitive, port ignored) with one Map lookup. A keep-alive socket is adopted by the
 * circuit of each request it carries. Recently closed subdomains answer 410 instead of 404. With
 * the HTTP/1.1 fast path on, a TCP listener reads every connection first (fastpath/listener.ts)
 * and hands what it does not serve to the node:http server.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppProxyError } from '../../contracts/errors.ts';
import { FastListener, type FastPathSettings } from '../fastpath/listener.ts';
import type { Circuit } from '../routing/circuit.ts';
import type { Frontend } from '../routing/routing-table.ts';
import type { Dispatch, Resolved } from './dispatch.ts';
import { createFrontendServer, listen, shutDown } from './server.ts';

const CLOSED_MEMORY = 1024;
const UNKNOWN: Resolved = { miss: 'AP_ERR_CIRCUIT_UNKNOWN' };
const CLOSED: Resolved = { miss: 'AP_ERR_CIRCUIT_CLOSED' };

/** The 6-hex label of `host` under `suffix` (`.<domain>`, lower case), or undefined. */
export function subdomainOf(host: string | undefined, suffix: string): string | undefined {
  if (!host) return undefined;
  let h = host.toLowerCase();
  if (h.charCodeAt(0) === 91 /* [ */) return undefined;
  const colon = h.lastIndexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  if (h.charCodeAt(h.length - 1) === 46 /* . */) h = h.slice(0, -1);
  if (h.length !== suffix.length + 6 || !h.endsWith(suffix)) return undefined;
  return h.slice(0, 6);
}

export class WildcardFrontend implements Frontend {
  /** Subdomain → what its requests resolve to (one object per circuit, not one per request). */
  private readonly bySubdomain = new Map<string, { circuit: Circuit }>();
  private readonly closedRecently = new Map<string, true>();
  private readonly suffix: string;
  private readonly server: Server;
  /** The HTTP/1.1 fast path in front of `server` (null: off). */
  private readonly fast: FastListener | null = null;
  private boundPort: number | null = null;

  constructor(
    domain: string,
    private readonly bindHost: string,
    private readonly port: number,
    dispatch: Dispatch,
    private readonly reusePort = false,
    fastPath: FastPathSettings | null = null,
  ) {
    this.suffix = `.${domain.toLowerCase().replace(/\.$/, '')}`;
    this.server = createFrontendServer(
      (req: IncomingMessage, res: ServerResponse) => dispatch.request(this.resolve(req), req, res),
      (req: IncomingMessage, socket: Duplex, head: Buffer) =>
        dispatch.upgrade(this.resolve(req), req, socket, head),
    );
    // Unknown and recently closed subdomains (null) are node:http's to answer (404, 410).
    if (fastPath) {
      this.fast = new FastListener(this.server, dispatch.context, fastPath, (host) => {
        const label = subdomainOf(host, this.suffix);
        return label === undefined ? null : (this.bySubdomain.get(label)?.circuit ?? null);
      });
    }
  }

  get listenPort(): number | null {
    return this.boundPort;
  }

  async start(): Promise<number> {
    this.boundPort = await listen(this.fast?.server ?? this.server, this.port, this.bindHost, this.reusePort);
    return this.boundPort;
  }

  resolve(req: IncomingMessage): Resolved {
    const label = subdomainOf(req.headers.host, this.suffix);
    if (label === undefined) return UNKNOWN;
    return this.bySubdomain.get(label) ?? (this.closedRecently.has(label) ? CLOSED : UNKNOWN);
  }

  async attach(next: Circuit, previous: Circuit | undefined): Promise<void> {
    const label = next.spec.subdomain!;
    const holder = this.bySubdomain.get(label)?.circuit;
    if (holder && holder.id !== next.id) {
      throw new AppProxyError(
        'AP_ERR_SLOT_UNAVAILABLE',
        `Subdomain ${label} is held by circuit ${holder.id}.`,
      );
    }
    if (previous && previous.spec.subdomain !== label) this.detach(previous);
    this.bySubdomain.set(label, { circuit: next });
    this.closedRecently.delete(label);
  }

  /** Nothing to follow: the subdomain stays, and wildcard circuits are http only. */
  async reattach(): Promise<void> {}

  detach(circuit: Circuit): void {
    const label = circuit.spec.subdomain!;
    if (this.bySubdomain.get(label)?.circuit !== circuit) return;
    this.bySubdomain.delete(label);
    if (this.closedRecently.size >= CLOSED_MEMORY) {
      this.closedRecently.delete(this.closedRecently.keys().next().value!);
    }
    this.closedRecently.set(label, true);
  }

  async close(): Promise<void> {
    this.fast?.close();
    shutDown(this.server);
  }
}
