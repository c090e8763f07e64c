/**
 * AppProxy's data plane for the benchmark, in its own process: the real worker (`createWorker`)
 * over the embedded KV and counter stores, with setup-token keys published like the manager does.
 * It puts a circuit to the upstream, waits for the worker's readiness mark, runs the real setup
 * flow (`/_appproxy/setup`) and prints the app address and the real app cookie as one JSON line:
 *   {ready, pid, mode, port, host, cookie, processes}
 * Activity counting is always on in the worker (flushed every second, as configured by default).
 *
 * stdin takes JSON lines (answers are JSON lines on stdout):
 *   {cmd: 'stats'}              → {stats: {rss, heapUsed, heapTotal, external, fds, resources, routes}} (after a GC)
 *   {cmd: 'circuits', n}        → adds n idle wildcard circuits, progress lines, then {added}
 *   {cmd: 'circuit', backendPort, idleTimeoutMs?} → one more circuit + its cookie:
 *                                 {circuit: {port, host, cookie, id}}
 *   {cmd: 'tcp-circuit', backendPort, access?, idleTimeoutMs?, maxConnections?} → (port mode) a
 *                                 TCP circuit, by default in allow-list mode admitting 127.0.0.0/8
 *                                 (the load client binds 127.0.0.x addresses; the address check
 *                                 runs on every connection), or `access: 'tunnel'`:
 *                                 {tcpCircuit: {port, id}}
 *   {cmd: 'tunnel-tokens', circuitId, n?} → n (default 1) fresh single-use tunnel tokens for the
 *                                 circuit, valid 30 s: {tunnelTokens: [token, …]}
 * (`idleTimeoutMs` is the route's per-connection idle timeout; absent = the worker default.)
 *
 * Usage: node --import tsx bench/servers/appproxy.ts <port|wildcard> <upstreamPort> [processes]
 * BENCH_TUNNEL_PING_MS sets the worker's tunnel ping interval (default: the worker's, 30 s).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { CircuitSpec } from '../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../src/contracts/kv-layout.ts';
import { SetupTokenIssuer } from '../../src/core/setup-token.ts';
import { EmbeddedCounterStore } from '../../src/stores/embedded/counters.ts';
import { EmbeddedKvStore } from '../../src/stores/embedded/kv.ts';
import { createWorker, type WorkerOptions } from '../../src/worker/index.ts';
import { workerSupportsProcesses } from '../lib/support.ts';

const mode = process.argv[2] === 'wildcard' ? 'wildcard' : 'port';
const upstreamPort = Number(process.argv[3]);
const processes = Number(process.argv[4] ?? '1');
// `node-http`: every request through node:http (the fast path off), for the side-by-side row.
const fastPath = process.argv[5] !== 'node-http';
const DOMAIN = 'apps.localhost';
const OWNER = 'bench-user';

const kv = new EmbeddedKvStore();
const counters = new EmbeddedCounterStore();
const { issuer } = await SetupTokenIssuer.generate();
await kv.put(kvKeys.setupTokenKeys(), JSON.stringify(issuer.publicKeySet()));
const authority = `bench-${mode}`;
const base = 20000 + Math.floor(Math.random() * 10000);
const portRange: [number, number] = [base, base + 199];
let nextPort = base;
let nextSub = 0x100000;

const opts: WorkerOptions = {
  authority,
  frontendMode: mode,
  protocols: mode === 'port' ? ['http', 'tcp'] : ['http'],
  bindHost: '127.0.0.1',
  portRange,
  wildcardDomain: DOMAIN,
  wildcardPort: 0,
  publicScheme: 'http',
  publicHost: '127.0.0.1',
  kv,
  counters,
  cookieSecret: randomBytes(32),
  logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
  metrics: new Registry(),
  fastPath,
  ...(process.env.BENCH_TUNNEL_PING_MS
    ? { tunnelPingIntervalMs: Number(process.env.BENCH_TUNNEL_PING_MS) }
    : {}),
};
const multi = processes > 1 && workerSupportsProcesses();
const worker = createWorker(multi ? ({ ...opts, processes } as WorkerOptions) : opts);
await worker.start();

function spec(backendPort: number): CircuitSpec {
  return {
    id: randomUUID(),
    sessionId: 'bench-session',
    ownerId: OWNER,
    service: 'app',
    protocol: 'http',
    frontendMode: mode,
    port: mode === 'port' ? nextPort++ : null,
    subdomain: mode === 'wildcard' ? (nextSub++).toString(16) : null,
    backends: [{ host: '127.0.0.1', port: backendPort }],
  };
}

async function readiness(id: string): Promise<{ state: string; code?: string } | undefined> {
  const e = await kv.get(kvKeys.ready(authority, id));
  return e ? (JSON.parse(e.value) as { state: string }) : undefined;
}

async function waitReady(id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await readiness(id);
    if (r?.state === 'ready') return;
    if (r?.state === 'error') throw new Error(`circuit ${id} not ready: ${JSON.stringify(r)}`);
    if (Date.now() > deadline) throw new Error(`circuit ${id}: no readiness mark`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

function addressOf(s: CircuitSpec): { port: number; host: string } {
  if (mode === 'port') return { port: s.port!, host: `127.0.0.1:${s.port}` };
  const port = worker.wildcardPort!;
  return { port, host: `${s.subdomain}.${DOMAIN}:${port}` };
}

/** The real setup flow: a minted setup token → 302 with the app cookie. */
function login({ id, port, host }: { id: string; port: number; host: string }): Promise<string> {
  return issuer.issue({ circuitId: id, userId: OWNER, ttlMs: 30_000 }).then(
    ({ token }) =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: `/_appproxy/setup?token=${token}&next=/`,
            headers: { host },
            agent: false,
          },
          (res) => {
            res.resume();
            const c = res.headers['set-cookie']?.[0];
            if (res.statusCode !== 302 || !c) reject(new Error(`setup answered ${res.statusCode}`));
            else resolve(c.split(';')[0]!);
          },
        );
        req.on('error', reject);
        req.end();
      }),
  );
}

/** Puts a circuit (`extra` overrides the spec's fields) and waits until the worker serves it. */
async function putCircuit(
  backendPort: number,
  extra: Partial<CircuitSpec> = {},
): Promise<{ port: number; host: string; id: string }> {
  for (let attempt = 0; ; attempt++) {
    const s = { ...spec(backendPort), ...extra };
    await kv.put(kvKeys.circuit(authority, s.id), JSON.stringify(s));
    try {
      await waitReady(s.id);
    } catch (err) {
      // A port of the window that happens to be taken on this machine: take the next one.
      if (mode === 'port' && attempt < 10) continue;
      throw err;
    }
    return { ...addressOf(s), id: s.id };
  }
}

async function addCircuit(
  backendPort: number,
  extra: Partial<CircuitSpec> = {},
): Promise<{ port: number; host: string; cookie: string; id: string }> {
  const c = await putCircuit(backendPort, extra);
  return { ...c, cookie: await login(c) };
}

// A GC on demand, so that RSS readings are comparable (without --expose-gc on the command line).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function stats() {
  gc();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    fds: readdirSync('/proc/self/fd').length,
    resources,
    routes: worker.routeCount(),
  };
}

const main = await addCircuit(upstreamPort);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line) as {
    cmd: string;
    n?: number;
    backendPort?: number;
    idleTimeoutMs?: number;
    access?: 'allow-list' | 'tunnel';
    maxConnections?: number;
    circuitId?: string;
  };
  // JSON.stringify drops an undefined idleTimeoutMs, which leaves the worker default in force.
  const idle = { idleTimeoutMs: m.idleTimeoutMs };
  try {
    if (m.cmd === 'stats') console.log(JSON.stringify({ stats: stats() }));
    else if (m.cmd === 'circuit')
      console.log(JSON.stringify({ circuit: await addCircuit(m.backendPort ?? upstreamPort, idle) }));
    else if (m.cmd === 'tcp-circuit') {
      const access = m.access ?? 'allow-list';
      const { port, id } = await putCircuit(m.backendPort ?? upstreamPort, {
        ...idle,
        protocol: 'tcp',
        tcp: {
          access,
          allowFrom: access === 'allow-list' ? ['127.0.0.0/8'] : [],
          maxConnections: m.maxConnections ?? 4096,
        },
      });
      console.log(JSON.stringify({ tcpCircuit: { port, id } }));
    } else if (m.cmd === 'tunnel-tokens') {
      const tokens: string[] = [];
      for (let i = 0; i < (m.n ?? 1); i++) {
        const t = await issuer.issue({
          circuitId: m.circuitId!,
          userId: OWNER,
          ttlMs: 30_000,
          purpose: 'tunnel',
        });
        tokens.push(t.token);
      }
      console.log(JSON.stringify({ tunnelTokens: tokens }));
    } else if (m.cmd === 'circuits') {
      const n = m.n ?? 0;
      const target = worker.routeCount() + n;
      for (let i = 0; i < n; i += 500) {
        const batch: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(n, i + 500); j++) {
          const s = spec(upstreamPort);
          batch.push(kv.put(kvKeys.circuit(authority, s.id), JSON.stringify(s)));
        }
        await Promise.all(batch);
        console.log(JSON.stringify({ progress: Math.min(n, i + 500), of: n }));
      }
      const deadline = Date.now() + 120_000;
      while (worker.routeCount() < target && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      console.log(JSON.stringify({ added: n, routes: worker.routeCount() }));
    }
  } catch (err) {
    console.log(JSON.stringify({ error: String(err) }));
  }
});
process.stdin.on('end', () => void worker.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
console.log(
  JSON.stringify({
    ready: true,
    pid: process.pid,
    mode,
    port: main.port,
    host: main.host,
    cookie: main.cookie,
    processes: multi ? processes : 1,
  }),
);
