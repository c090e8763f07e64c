/**
 * Composition root of `appproxy worker`: config → cookie secret → etcd + Redis → worker → admin
 * listener (/healthz, /readyz, /metrics). The worker never touches PostgreSQL and never holds the
 * manager's signing key; it keeps serving what it last knew while the stores are away.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { WorkerConfig } from '../config/schema.ts';
import { AppProxyError } from '../contracts/errors.ts';
import type { Protocol } from '../contracts/records.ts';
import { parseDurationMs } from '../core/duration.ts';
import type { Logger } from '../core/logger.ts';
import { ShutdownSequence } from '../core/shutdown.ts';
import { createWorker, type Worker, type WorkerReadiness } from '../worker/index.ts';
import { openCounters, openKv } from './stores.ts';

export interface WorkerProcess {
  worker: Worker;
  /** URL of the admin listener (/healthz, /readyz, /metrics). */
  adminUrl: string;
  close(): Promise<void>;
}

/** The app-cookie secret: env APPPROXY_COOKIE_SECRET, else the configured file; ≥ 32 bytes. */
export function readCookieSecret(config: WorkerConfig, env: NodeJS.ProcessEnv): Buffer {
  let value = env.APPPROXY_COOKIE_SECRET;
  if (!value && config.cookieSecretFile) {
    try {
      value = readFileSync(config.cookieSecretFile, 'utf8').trim();
    } catch (err) {
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        `Cannot read the cookie secret from ${config.cookieSecretFile}: ${(err as Error).message}`,
      );
    }
  }
  if (!value) {
    throw new AppProxyError(
      'AP_ERR_CONFIG_INVALID',
      'No cookie secret: set APPPROXY_COOKIE_SECRET or cookieSecretFile (workers of one authority must share it).',
    );
  }
  const secret = Buffer.from(value, 'utf8');
  if (secret.length < 32)
    throw new AppProxyError('AP_ERR_CONFIG_INVALID', 'The cookie secret must be at least 32 bytes.');
  return secret;
}

export async function startWorkerProcess(
  config: WorkerConfig,
  opts: { logger: Logger; env?: NodeJS.ProcessEnv },
): Promise<WorkerProcess> {
  const env = opts.env ?? process.env;
  const log = opts.logger;
  const cookieSecret = readCookieSecret(config, env);
  const cleanup = new ShutdownSequence(log);
  const shutdown = () => cleanup.run();
  try {
    const kv = openKv(config.stores.kv);
    cleanup.push(() => kv.close());
    const counters = await openCounters(config.stores.counters, log);
    cleanup.push(() => counters.close());
    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics });

    const common = {
      authority: config.authority,
      // Port-mode workers carry TCP circuits too (one port each); wildcard mode routes by Host: HTTP only.
      protocols: (config.frontendMode === 'port' ? ['http', 'tcp'] : ['http']) as Protocol[],
      bindHost: config.bindHost,
      publicScheme: config.publicScheme,
      kv,
      counters,
      cookieSecret,
      cookieTtlMs: parseDurationMs(config.cookieTtl),
      leaseTtlMs: parseDurationMs(config.leaseTtl),
      activityFlushMs: parseDurationMs(config.activityFlushInterval),
      upstreamHeadersTimeoutMs: parseDurationMs(config.upstreamHeadersTimeout),
      fastPath: config.fastPath,
      revocationStaleAfterMs: parseDurationMs(config.revocationStaleAfter),
      revocationConfirmIntervalMs: parseDurationMs(config.revocationConfirmInterval),
      trustedProxies: [...config.trustedProxies],
      logger: log,
      metrics,
    };
    const worker =
      config.frontendMode === 'port'
        ? createWorker({
            ...common,
            frontendMode: 'port',
            portRange: [config.portRange[0], config.portRange[1]],
            publicHost: config.publicHost,
          })
        : createWorker({
            ...common,
            frontendMode: 'wildcard',
            wildcardDomain: config.wildcardDomain,
            wildcardPort: config.port,
            publicHost: config.wildcardDomain,
            ...(config.publicPort === null ? {} : { publicPort: config.publicPort }),
          });
    const admin = adminServer(metrics, () => worker.readiness());
    cleanup.push(() => new Promise<void>((r) => admin.close(() => r())));
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(config.admin.port, config.admin.host, () => {
        admin.off('error', reject);
        resolve();
      });
    });
    cleanup.push(() => worker.close());
    await worker.start();
    const a = admin.address() as AddressInfo;
    let closing: Promise<void> | undefined;
    return {
      worker,
      adminUrl: `http://${config.admin.host}:${a.port}`,
      close() {
        closing ??= shutdown();
        return closing;
      },
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}

function adminServer(metrics: Registry, readiness: () => Promise<WorkerReadiness>): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      // Degraded still answers 200: the worker keeps serving what it knows (see WorkerReadiness).
      readiness().then(
        (r) =>
          res
            .writeHead(r.status === 'starting' ? 503 : 200, { 'content-type': 'application/json' })
            .end(JSON.stringify(r)),
        () => res.writeHead(500).end(),
      );
    } else if (path === '/metrics') {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"AP_ERR_NOT_FOUND"}');
    }
  });
}
