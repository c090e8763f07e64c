/**
 * Process-level cluster harness: real PostgreSQL, etcd and Redis (one set per test file, from
 * test/support/infra/servers.ts), and AppProxy processes spawned as `node bin/appproxy.js <kind> --config
 * <file>` on free ports. Each process can be killed with SIGKILL, stopped and started again with the same
 * config (same authority, same ports).
 *
 * APPPROXY_TEST_LOG=1 echoes every process's output, prefixed with its name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AllServers, freePort, startAll } from '../../support/infra/servers.ts';
import { until } from '../../support/poll.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'bin/appproxy.js');
const ECHO = Boolean(process.env.APPPROXY_TEST_LOG);

export type ProcKind = 'manager' | 'worker' | 'agent';

/** One AppProxy process; restartable with the same arguments. */
export class Proc {
  child: ChildProcess | null = null;
  /** Output of the current and previous runs (bounded). */
  output = '';
  private exited: Promise<number | null> | null = null;

  constructor(
    readonly name: string,
    readonly args: string[],
    readonly env: NodeJS.ProcessEnv,
    /** Resolves truthy once the process serves (polled). */
    readonly ready: () => Promise<boolean>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is running`);
    const child = spawn(process.execPath, [BIN, ...this.args], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const take = (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      this.output = (this.output + s).slice(-200_000);
      if (ECHO) for (const line of s.split('\n')) if (line) process.stderr.write(`[${this.name}] ${line}\n`);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const state = await until(
      async () => (this.running ? (await this.ready()) && 'ready' : 'exited'),
      `${this.name} to be ready`,
      { timeoutMs, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}:\n${this.output.slice(-4000)}`);
    });
    if (state === 'exited') throw new Error(`${this.name} exited during start:\n${this.output.slice(-4000)}`);
  }

  /** SIGKILL; resolves when the process is gone. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

export interface ApiResult<T = any> {
  status: number;
  body: T;
}

export async function api<T = any>(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T };
}

async function httpOk(url: string): Promise<boolean> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await r.arrayBuffer();
  return r.ok;
}

export interface ProcessClusterOptions {
  managers?: number;
  /** Leader-election / registration lease TTL given to every process (default "3s"). */
  leaseTtl?: string;
  /** Start the port-mode and wildcard-mode workers (default true). */
  workers?: boolean;
  agent?: boolean;
}

export interface ProcessCluster {
  servers: AllServers;
  dir: string;
  token: string;
  leaseTtlMs: number;
  managers: Proc[];
  managerUrls: string[];
  portWorker: Proc;
  wildcardWorker: Proc;
  /** The workers' admin listeners (/healthz, /readyz, /metrics). */
  adminUrls: { port: string; wildcard: string };
  agent: Proc;
  portRange: [number, number];
  wildcardPort: number;
  /** The next manager URL, round robin (requests alternate between managers). */
  next(): string;
  /** API call to the next manager (round robin). */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
  /** API call to one manager. */
  apiAt<T = any>(url: string, method: string, path: string, body?: unknown): Promise<ApiResult<T>>;
  close(): Promise<void>;
}

/** Starts the real servers and the AppProxy processes: managers, a port and a wildcard worker, the agent. */
export async function startProcessCluster(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'appproxy-cluster-'));
  // PostgreSQL runs as the postgres user when we are root: it must be able to traverse this folder.
  chmodSync(dir, 0o711);
  const servers = await startAll({ dir: join(dir, 'servers') });
  const dbUrl = await servers.postgres.createDatabase('appproxy');
  const token = `ap_test_${randomBytes(12).toString('hex')}`;
  const cookieSecret = randomBytes(32).toString('base64url');
  const leaseTtl = opts.leaseTtl ?? '3s';
  const leaseTtlMs = Number.parseFloat(leaseTtl) * 1000;
  const stores = {
    sql: { url: dbUrl, poolSize: 5 },
    kv: { endpoints: servers.etcd.endpoints },
    counters: { url: servers.redis.url },
  };
  const logLevel = process.env.APPPROXY_TEST_LOG_LEVEL ?? 'info';
  const env = { APPPROXY_ADMIN_TOKEN: token, APPPROXY_COOKIE_SECRET: cookieSecret, APPPROXY_CONFIG: '' };
  const write = (name: string, config: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(config, null, 2));
    return p;
  };

  const managers: Proc[] = [];
  const managerUrls: string[] = [];
  const keyFile = join(dir, 'setup-token-key.jwk');
  for (let i = 0; i < (opts.managers ?? 2); i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const file = write(`manager-${i + 1}.json`, {
      logLevel,
      listen: { host: '127.0.0.1', port },
      stores,
      setupTokenKeyFile: keyFile,
      agent: { kind: 'remote', name: 'agent-1', terminateTimeout: '20s' },
      leaseTtl,
      routeReadyTimeout: '10s',
      circuitCloseTimeout: '5s',
    });
    managerUrls.push(url);
    // The first manager creates the key (--init) and migrates the fresh database (--migrate).
    managers.push(
      new Proc(
        `manager-${i + 1}`,
        ['manager', '--config', file, ...(i === 0 ? ['--init', '--migrate'] : [])],
        env,
        () => httpOk(`${url}/readyz`),
      ),
    );
  }

  // Below Linux's ephemeral range (32768+), so no outgoing connection holds one of these ports.
  const first = randomInt(20_000, 32_000);
  const portRange: [number, number] = [first, first + 119];
  const wildcardPort = await freePort();
  const portAdmin = await freePort();
  const wildcardAdmin = await freePort();
  const portWorker = new Proc(
    'worker-port',
    [
      'worker',
      '--config',
      write('worker-port.json', {
        logLevel,
        authority: 'port-1',
        frontendMode: 'port',
        portRange,
        stores: { kv: stores.kv, counters: stores.counters },
        admin: { port: portAdmin },
        leaseTtl,
      }),
    ],
    env,
    () => httpOk(`http://127.0.0.1:${portAdmin}/readyz`),
  );
  const wildcardWorker = new Proc(
    'worker-wildcard',
    [
      'worker',
      '--config',
      write('worker-wildcard.json', {
        logLevel,
        authority: 'wildcard-1',
        frontendMode: 'wildcard',
        wildcardDomain: 'apps.localhost',
        port: wildcardPort,
        stores: { kv: stores.kv, counters: stores.counters },
        admin: { port: wildcardAdmin },
        leaseTtl,
      }),
    ],
    env,
    () => httpOk(`http://127.0.0.1:${wildcardAdmin}/readyz`),
  );
  const agent: Proc = new Proc(
    'agent',
    [
      'agent',
      '--config',
      write('agent.json', {
        // Info at least: tests count the agent's "terminating session" lines.
        logLevel: logLevel === 'warn' || logLevel === 'error' ? 'info' : logLevel,
        name: 'agent-1',
        stores: { kv: stores.kv },
        dataDir: join(dir, 'agent'),
        leaseTtl,
        terminateGrace: '3s',
      }),
    ],
    env,
    async () => agent.output.includes('appproxy agent agent-1:'),
  );

  let rr = 0;
  const cluster: ProcessCluster = {
    servers,
    dir,
    token,
    leaseTtlMs,
    managers,
    managerUrls,
    portWorker,
    wildcardWorker,
    adminUrls: { port: `http://127.0.0.1:${portAdmin}`, wildcard: `http://127.0.0.1:${wildcardAdmin}` },
    agent,
    portRange,
    wildcardPort,
    next() {
      return managerUrls[rr++ % managerUrls.length]!;
    },
    api(method, path, body) {
      return api(cluster.next(), token, method, path, body);
    },
    apiAt(url, method, path, body) {
      return api(url, token, method, path, body);
    },
    async close() {
      const all = [agent, portWorker, wildcardWorker, ...managers];
      await Promise.all(all.map((p) => p.stop().catch(() => {})));
      await servers.dispose().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // The first manager migrates and creates the key; the others then start in parallel.
    await managers[0]!.start();
    const rest: Promise<void>[] = managers.slice(1).map((m) => m.start());
    if (opts.workers !== false) rest.push(portWorker.start(), wildcardWorker.start());
    if (opts.agent !== false) rest.push(agent.start());
    await Promise.all(rest);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Violations reported by GET /v1/doctor, or null when the manager has no doctor endpoint (yet). */
export async function doctor(c: ProcessCluster): Promise<unknown[] | null> {
  const r = await c.api('GET', '/v1/doctor');
  if (
    r.status === 404 &&
    (r.body as { code?: string })?.code !== undefined &&
    !('violations' in (r.body ?? {}))
  )
    return null;
  if (r.status !== 200) throw new Error(`doctor: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { violations: unknown[] }).violations;
}
