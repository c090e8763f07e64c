/**
 * Test harness for the worker: the real embedded stores, a real setup-token issuer whose public
 * keys are published to KV, a real upstream app (test/support/upstream.ts) and a worker, all on
 * 127.0.0.1. `addRoute` plays the manager: it puts a CircuitSpec and waits for the worker's
 * readiness mark.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { importJWK, type JWK, SignJWT } from 'jose';
import pino from 'pino';
import { Registry } from 'prom-client';
import { counterKeys } from '../../../src/contracts/activity.ts';
import type { Grant, RevocationRecord } from '../../../src/contracts/auth.ts';
import type { CircuitReadiness, CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import type { TcpAccessMode } from '../../../src/contracts/records.ts';
import { SETUP_TOKEN_ISSUER, SetupTokenIssuer } from '../../../src/core/setup-token.ts';
import { EmbeddedCounterStore } from '../../../src/stores/embedded/counters.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { createWorker, type Worker, type WorkerOptions } from '../../../src/worker/index.ts';
import type { AccessRecord } from '../../../src/worker/observe/access-log.ts';
import { until } from '../../support/poll.ts';
import { startUpstream, type Upstream } from '../../support/upstream.ts';

export const OWNER = 'user-1';
export const WILDCARD_DOMAIN = 'apps.localhost';

export interface Route {
  spec: CircuitSpec;
  /** Where to connect. */
  port: number;
  /** The Host header browsers would send. */
  host: string;
  /** Base URL for clients that resolve by themselves (port mode) or connect + Host (wildcard). */
  origin: string;
}

export interface Response {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface WorkerHarnessOptions {
  mode: 'port' | 'wildcard';
  worker?: Partial<WorkerOptions>;
  kv?: EmbeddedKvStore;
}

export class WorkerHarness {
  readonly kv: EmbeddedKvStore;
  readonly counters = new EmbeddedCounterStore();
  readonly registry = new Registry();
  readonly logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  readonly authority: string;
  readonly portRange: [number, number];
  issuer!: SetupTokenIssuer;
  privateJwk!: JWK;
  upstream!: Upstream;
  worker!: Worker;
  private nextPort: number;

  private constructor(readonly opts: WorkerHarnessOptions) {
    this.kv = opts.kv ?? new EmbeddedKvStore();
    this.authority = `${opts.mode}-${randomUUID().slice(0, 8)}`;
    // A random 50-port window below Linux's ephemeral range, so listen(0) never lands in it.
    const base = 20000 + Math.floor(Math.random() * (32700 - 20000 - 50));
    this.portRange = [base, base + 49];
    this.nextPort = base;
  }

  static async start(opts: WorkerHarnessOptions): Promise<WorkerHarness> {
    const h = new WorkerHarness(opts);
    const { issuer, privateJwk } = await SetupTokenIssuer.generate();
    h.issuer = issuer;
    h.privateJwk = privateJwk;
    await h.kv.put(kvKeys.setupTokenKeys(), JSON.stringify(issuer.publicKeySet()));
    h.upstream = await startUpstream();
    h.worker = h.newWorker();
    await h.worker.start();
    return h;
  }

  newWorker(extra: Partial<WorkerOptions> = {}): Worker {
    const o = this.opts;
    return createWorker({
      authority: this.authority,
      frontendMode: o.mode,
      protocols: ['http'],
      bindHost: '127.0.0.1',
      portRange: this.portRange,
      wildcardDomain: WILDCARD_DOMAIN,
      wildcardPort: 0,
      publicScheme: 'http',
      publicHost: '127.0.0.1',
      kv: this.kv,
      counters: this.counters,
      cookieSecret: Buffer.alloc(32, 7),
      activityFlushMs: 100,
      logger: this.logger,
      metrics: this.registry,
      ...o.worker,
      ...extra,
    });
  }

  async readiness(id: string): Promise<CircuitReadiness | undefined> {
    const e = await this.kv.get(kvKeys.ready(this.authority, id));
    return e ? (JSON.parse(e.value) as CircuitReadiness) : undefined;
  }

  /** A counter of the counters store as a number (0 while it is absent). */
  async counter(key: string): Promise<number> {
    return Number((await this.counters.get(key)) ?? 0);
  }

  /** Waits until the flushed byte counters of a circuit reached `bytes` in both directions. */
  async bytesFlushed(circuitId: string, bytes: number): Promise<void> {
    await until(
      async () =>
        (await this.counter(counterKeys.bytesIn(circuitId))) >= bytes &&
        (await this.counter(counterKeys.bytesOut(circuitId))) >= bytes,
      `${bytes} bytes flushed both ways for ${circuitId}`,
      { timeoutMs: 10_000 },
    );
  }

  /**
   * Resolves once `n` more activity flush passes of the worker completed, counted from now: after
   * two, every delta recorded before the call has been written (the first may have been running).
   */
  async flushPasses(n: number, timeoutMs = 5000): Promise<void> {
    const from = this.worker.status().activityPasses;
    await until(() => this.worker.status().activityPasses >= from + n, `${n} activity flush passes`, {
      timeoutMs,
    });
  }

  /** Builds a spec (port or subdomain chosen like the manager would) without publishing it. */
  makeSpec(o: Partial<CircuitSpec> = {}): CircuitSpec {
    const id = o.id ?? randomUUID();
    return {
      id,
      sessionId: 'session-1',
      ownerId: OWNER,
      service: 'app',
      protocol: 'http',
      frontendMode: this.opts.mode,
      port: this.opts.mode === 'port' ? this.nextPort++ : null,
      subdomain: this.opts.mode === 'wildcard' ? randomBytes(3).toString('hex') : null,
      backends: [{ host: '127.0.0.1', port: this.upstream.port }],
      ...o,
    };
  }

  /** Puts the route and waits for its readiness mark (`expect` = the state wanted). */
  async putRoute(spec: CircuitSpec, expect: 'ready' | 'error' = 'ready'): Promise<CircuitReadiness> {
    const before = await this.readiness(spec.id);
    await this.kv.put(kvKeys.circuit(this.authority, spec.id), JSON.stringify(spec));
    return until(
      async () => {
        const r = await this.readiness(spec.id);
        return r && r !== before && r.at !== before?.at && r.state === expect ? r : undefined;
      },
      `readiness ${expect} of ${spec.id}`,
      { timeoutMs: 5000 },
    );
  }

  /** Adds a served route (retrying the next port when one happens to be taken on this machine). */
  async addRoute(o: Partial<CircuitSpec> = {}): Promise<Route> {
    for (let attempt = 0; ; attempt++) {
      const spec = this.makeSpec(o);
      await this.kv.put(kvKeys.circuit(this.authority, spec.id), JSON.stringify(spec));
      const r = await until(() => this.readiness(spec.id), `readiness of ${spec.id}`, { timeoutMs: 5000 });
      if (r.state === 'ready') return this.routeOf(spec);
      if (r.code !== 'AP_ERR_SLOT_UNAVAILABLE' || o.port !== undefined || attempt > 5) {
        throw new Error(`route not ready: ${JSON.stringify(r)}`);
      }
      await this.kv.delete(kvKeys.circuit(this.authority, spec.id));
    }
  }

  routeOf(spec: CircuitSpec): Route {
    if (this.opts.mode === 'port') {
      return {
        spec,
        port: spec.port!,
        host: `127.0.0.1:${spec.port}`,
        origin: `http://127.0.0.1:${spec.port}`,
      };
    }
    const port = this.worker.wildcardPort!;
    const host = `${spec.subdomain}.${WILDCARD_DOMAIN}:${port}`;
    return { spec, port, host, origin: `http://${host}` };
  }

  async deleteRoute(route: Route): Promise<void> {
    await this.kv.delete(kvKeys.circuit(this.authority, route.spec.id));
    await until(async () => (await this.readiness(route.spec.id)) === undefined, 'readiness mark removed', {
      timeoutMs: 5000,
    });
  }

  async token(
    route: Route,
    userId = OWNER,
    o: { grant?: Grant; cookieExpiresAt?: number } = {},
  ): Promise<string> {
    return (await this.issuer.issue({ circuitId: route.spec.id, userId, ttlMs: 30_000, ...o })).token;
  }

  /**
   * Puts a revocation record as a manager would and waits until the worker has seen its revision
   * (`at` defaults to now, `expiresAt` to an hour later).
   */
  async revoke(
    o: Pick<RevocationRecord, 'kind' | 'subject'> & Partial<RevocationRecord>,
    worker: Worker = this.worker,
  ): Promise<RevocationRecord> {
    const now = Date.now();
    const record: RevocationRecord = {
      id: randomUUID(),
      at: now,
      expiresAt: now + 3600_000,
      reason: 'test',
      ...o,
    };
    const revision = await this.kv.put(kvKeys.revocation(record.id), JSON.stringify(record));
    await until(() => worker.status().revocations.revision >= revision, `revocation ${record.id} seen`, {
      timeoutMs: 5000,
    });
    return record;
  }

  /** A correctly signed token whose expiry is in the past. */
  async expiredToken(route: Route): Promise<string> {
    const key = await importJWK(this.privateJwk, 'EdDSA');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: this.privateJwk.kid!, typ: 'appproxy-setup+jwt' })
      .setIssuer(SETUP_TOKEN_ISSUER)
      .setAudience(route.spec.id)
      .setSubject(OWNER)
      .setJti(randomUUID())
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(key);
  }

  /** Runs the setup flow (with a token minted under `grant`); returns the app cookie as `name=value`. */
  async login(
    route: Route,
    o: { userId?: string; grant?: Grant; cookieExpiresAt?: number } = {},
  ): Promise<string> {
    const { userId = route.spec.ownerId, ...claims } = o;
    const res = await this.request(route, {
      path: `/_appproxy/setup?token=${await this.token(route, userId, claims)}&next=/`,
    });
    if (res.status !== 302) throw new Error(`setup answered ${res.status}: ${res.body.toString()}`);
    return String(res.headers['set-cookie']?.[0]).split(';')[0]!;
  }

  request(
    route: Route,
    o: {
      path?: string;
      method?: string;
      headers?: Record<string, string>;
      cookie?: string;
      body?: Buffer | string;
    } = {},
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { host: route.host, ...o.headers };
      if (o.cookie) headers.cookie = o.cookie;
      const req = request({
        host: '127.0.0.1',
        port: route.port,
        path: o.path ?? '/',
        method: o.method ?? 'GET',
        headers,
        agent: false,
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.end(o.body);
    });
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.upstream.close();
    await this.counters.close();
    await this.kv.close();
  }
}

// ------------------------------------------------------------------ TCP circuits and tunnels

/** A pino logger that keeps every access record it logs (and echoes lines when LOG_LEVEL is set). */
export function captureAccessLog(): { logger: pino.Logger; access: AccessRecord[] } {
  const access: AccessRecord[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const o = JSON.parse(line) as { access?: AccessRecord };
        if (o.access) access.push(o.access);
        if (process.env.LOG_LEVEL) process.stdout.write(line);
      },
    },
  );
  return { logger, access };
}

/**
 * A raw TCP backend: `echo` sends every byte back and ends when the client ends; `answer-at-eof`
 * reads until EOF, then answers `got <n> bytes <sha256>` and ends; `flood` writes as fast as the
 * connection takes it and never reads.
 */
export interface TcpBackend {
  port: number;
  /** Live server-side sockets. */
  sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function startTcpBackend(mode: 'echo' | 'answer-at-eof' | 'flood'): Promise<TcpBackend> {
  const sockets = new Set<Socket>();
  const server = createTcpServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (mode === 'echo') {
      s.pipe(s);
    } else if (mode === 'answer-at-eof') {
      const h = createHash('sha256');
      let n = 0;
      s.on('data', (c: Buffer) => {
        n += c.length;
        h.update(c);
      });
      s.on('end', () => s.end(`got ${n} bytes ${h.digest('hex')}`));
    } else {
      const block = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (!s.destroyed && s.write(block));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port-mode worker that serves tcp, the access records it writes, an echo and an answer-at-eof backend. */
export interface TcpWorker {
  h: WorkerHarness;
  access: AccessRecord[];
  echo: TcpBackend;
  atEof: TcpBackend;
  close(): Promise<void>;
}

export async function startTcpWorker(worker: Partial<WorkerOptions> = {}): Promise<TcpWorker> {
  const log = captureAccessLog();
  const h = await WorkerHarness.start({
    mode: 'port',
    worker: { protocols: ['http', 'tcp'], logger: log.logger, ...worker },
  });
  const echo = await startTcpBackend('echo');
  const atEof = await startTcpBackend('answer-at-eof');
  return {
    h,
    access: log.access,
    echo,
    atEof,
    async close() {
      await h.close();
      await echo.close();
      await atEof.close();
    },
  };
}

/** Publishes a tcp route on a port-mode worker that serves tcp (see `WorkerHarnessOptions.worker.protocols`). */
export function addTcpRoute(
  h: WorkerHarness,
  o: {
    backendPort: number;
    access?: TcpAccessMode;
    allowFrom?: string[];
    maxConnections?: number;
    idleTimeoutMs?: number;
    /** Raw TCP access: the grant it was given under, and when. */
    grant?: Grant;
    grantedAt?: number;
  },
): Promise<Route> {
  return h.addRoute({
    protocol: 'tcp',
    backends: [{ host: '127.0.0.1', port: o.backendPort }],
    tcp: {
      access: o.access ?? 'tunnel',
      allowFrom: o.allowFrom ?? [],
      maxConnections: o.maxConnections ?? 16,
    },
    ...(o.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: o.idleTimeoutMs }),
    ...(o.grant === undefined ? {} : { grant: o.grant }),
    ...(o.grantedAt === undefined ? {} : { grantedAt: o.grantedAt }),
  });
}

/** A tunnel token as the manager mints it (`POST /v1/circuits/{id}/tunnel-token`). */
export async function tunnelToken(
  h: WorkerHarness,
  route: Route,
  o: { userId?: string; purpose?: 'setup' | 'tunnel'; grant?: Grant } = {},
): Promise<string> {
  const issued = await h.issuer.issue({
    circuitId: route.spec.id,
    userId: o.userId ?? OWNER,
    ttlMs: 30_000,
    purpose: o.purpose ?? 'tunnel',
    ...(o.grant ? { grant: o.grant } : {}),
  });
  return issued.token;
}

/** A correctly signed tunnel token whose expiry is in the past. */
export async function expiredTunnelToken(h: WorkerHarness, route: Route): Promise<string> {
  const key = await importJWK(h.privateJwk, 'EdDSA');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ use: 'tunnel' })
    .setProtectedHeader({ alg: 'EdDSA', kid: h.privateJwk.kid!, typ: 'appproxy-tunnel+jwt' })
    .setIssuer(SETUP_TOKEN_ISSUER)
    .setAudience(route.spec.id)
    .setSubject(OWNER)
    .setJti(randomUUID())
    .setIssuedAt(now - 120)
    .setExpirationTime(now - 60)
    .sign(key);
}
