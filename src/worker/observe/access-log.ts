/**
 * Access records of long-lived connections (raw TCP, tunnels, WebSockets): one JSON log line and
 * metric increments per connection when it ends. HTTP requests are counted by status class in
 * `metrics.ts` instead (one line per request would be the hot path's biggest cost).
 */
import type { Logger } from 'pino';
import type { Counter, Registry } from 'prom-client';
import type { CloseReason, TcpAccessMode } from '../../contracts/records.ts';
import { counter } from './metrics.ts';

export type ConnectionKind = 'tcp' | 'tunnel' | 'websocket';

export interface AccessRecord {
  kind: ConnectionKind;
  circuitId: string;
  /** null for an endpoint's circuit. */
  sessionId: string | null;
  userId: string;
  /** Client address as the worker saw it (`ip:port`; for tunnels, the WebSocket peer). */
  client: string;
  /** TCP access mode; `cookie` for WebSockets authenticated by the app cookie. */
  access: TcpAccessMode | 'cookie';
  /** Bytes from the client to the backend, and back. */
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  reason: CloseReason;
}

export class AccessLog {
  private readonly closed: Counter<'kind' | 'access' | 'reason'>;
  private readonly bytes: Counter<'kind' | 'direction'>;

  constructor(
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.closed = counter(
      registry,
      'appproxy_worker_connections_closed_total',
      'Long-lived connections (tcp, tunnel, websocket) ended, by access mode and close reason.',
      ['kind', 'access', 'reason'],
    );
    this.bytes = counter(
      registry,
      'appproxy_worker_connection_bytes_total',
      'Bytes carried by ended long-lived connections, by direction (in = client to backend).',
      ['kind', 'direction'],
    );
  }

  record(r: AccessRecord): void {
    this.closed.labels(r.kind, r.access, r.reason).inc();
    if (r.bytesIn > 0) this.bytes.labels(r.kind, 'in').inc(r.bytesIn);
    if (r.bytesOut > 0) this.bytes.labels(r.kind, 'out').inc(r.bytesOut);
    this.logger.info({ access: r }, `${r.kind} connection closed: ${r.reason}`);
  }
}
