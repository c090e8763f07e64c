/** How the agent finds a port for a service and tells when the service is ready on it. */
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { sleep } from '../core/backoff.ts';
import type { Exit, ServiceProcess } from './service-process.ts';
import type { ServiceSpec } from './templates.ts';

const POLL_MS = 100;

/**
 * A free port on `host` that is not in `inUse` (and then is): bind port 0, read it, close. Another
 * program may take the port before the service binds it (a small race window); the agent retries
 * on EADDRINUSE, and services are told to fail rather than pick another port (Jupyter:
 * port_retries=0).
 */
export async function allocatePort(host: string, inUse: Set<number>): Promise<number> {
  for (let i = 0; ; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen({ port: 0, host, exclusive: true }, () => {
        const addr = srv.address();
        srv.close(() =>
          typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no address')),
        );
      });
    });
    if (!inUse.has(port) || i >= 20) {
      inUse.add(port);
      return port;
    }
  }
}

/** Probes until the service answers, exits, the deadline passes, or `signal` aborts the wait. */
export async function waitReady(
  proc: ServiceProcess,
  host: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<'ready' | 'timeout' | 'aborted' | Exit> {
  const deadline = Date.now() + timeoutMs;
  const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  while (true) {
    if (signal.aborted) return 'aborted';
    if (proc.exit) return proc.exit;
    if (await probe(proc.spec, host, proc.port)) {
      // Ready, unless it died right after answering.
      return proc.exit ?? 'ready';
    }
    if (Date.now() >= deadline) return 'timeout';
    // Wake early on exit or abort rather than sleeping the whole interval.
    await Promise.race([
      sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), { keepAlive: true }),
      proc.exited,
      aborted,
    ]);
  }
}

/** What the readiness check expected, for the reason of a service that never got ready. */
export function describeProbe(spec: ServiceSpec, host: string, port: number): string {
  return spec.readiness.kind === 'http'
    ? `HTTP GET ${spec.readiness.path} on ${host}:${port} answered no status < 500`
    : `TCP connect to ${host}:${port} failed`;
}

/** One readiness check: HTTP GET answering any status < 500, or a TCP connection accepted. */
export function probe(spec: ServiceSpec, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (spec.readiness.kind === 'tcp') {
      const sock = connect({ host, port });
      sock.setTimeout(1000, () => sock.destroy());
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
      sock.once('close', () => resolve(false));
      return;
    }
    const req = request(
      { host, port, path: spec.readiness.path, method: 'GET', agent: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}
