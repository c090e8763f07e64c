/**
 * Per-connection idle closes and per-connection memory of the worker's long-lived connections,
 * against the real worker in its own process (bench/servers/appproxy.ts, port mode) and the bench
 * upstream (TCP echo, WebSocket echo).
 *
 * 1. Idle-close timing, route idleTimeoutMs 2000: 20 connections of each kind (raw TCP through an
 *    allow-list circuit, tunnels of a tunnel circuit, WebSockets proxied by an http circuit) each
 *    send one byte / message to the echo and then stay quiet. Lateness = close seen by the client
 *    − (last byte received + 2000 ms); a negative lateness is an early close. The worker pings
 *    tunnels (every 500 ms here) and WebSockets (a third of the timeout) while they are idle;
 *    pings must not count as activity, so the pings seen per connection are reported too.
 * 2. Memory: a fresh worker per kind, RSS and heap after GC before and after N idle connections
 *    (each bridged to the backend: its echo came back), for tunnels and for raw TCP.
 *
 * Usage: npx node --import tsx bench/profile/idle.ts [n=2000]
 * Bounded at ~3 minutes; prints a table, then one JSON line with every number.
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { WebSocket } from 'ws';
import { pool } from '../lib/net.ts';
import { type Child, canPin, type Msg, NOFILE_HARD, pin, sleep, start, tsArgv } from '../lib/proc.ts';
import { percentile } from '../lib/stats.ts';

const IDLE_MS = 2000;
const PER_KIND = 20;
/** The timing worker pings tunnels this often, so several pings fall inside the idle period. */
const TUNNEL_PING_MS = 500;
/** Connections opened and closed before the memory baseline (loads code, warms the JIT). */
const WARMUP = 50;
const OPEN_CONCURRENCY = 50;
/** Tunnel tokens live 30 s: fetch them in batches just before they are used. */
const TOKEN_BATCH = 250;
const WORKER_CPU = '0';
const LOAD_CPU = '1';
const DEADLINE_MS = 170_000;

/** This process's own soft fd limit (bash inherits it): it holds one fd per client connection. */
const ownNofile = Number(spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()) || 1024;
const requested = Number(process.argv[2] ?? '2000');
// The worker holds 2 fds per connection (client + backend), this process and the upstream 1 each;
// 256 are left for everything else.
const N = Math.max(0, Math.min(requested, Math.floor((NOFILE_HARD - 256) / 2), ownNofile - 256));

const children: Child[] = [];
async function cleanup(): Promise<void> {
  for (const c of children.splice(0).reverse()) await c.stop().catch(() => {});
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
const watchdog = setTimeout(() => {
  console.error(`idle.ts: still running after ${DEADLINE_MS / 1000} s, giving up`);
  void cleanup().then(() => process.exit(1));
}, DEADLINE_MS);

/** Sends a command to the appproxy child and returns the `key` field of its answer. */
async function ask<T = Msg>(c: Child, msg: Record<string, unknown>, key: string): Promise<T> {
  c.send(msg);
  const m = await c.next((x) => x[key] !== undefined || x.error !== undefined, 60_000);
  if (m.error !== undefined) throw new Error(`${String(msg.cmd)}: ${String(m.error)}`);
  return m[key] as T;
}

async function startWorker(name: string, env: NodeJS.ProcessEnv = {}): Promise<Child> {
  const c = await start(name, tsArgv('bench/servers/appproxy.ts', 'port', String(up.http)), {
    cpus: WORKER_CPU,
    env,
  });
  children.push(c);
  return c;
}

// ---------------------------------------------------------------- clients

/** One client connection that got its echo back; `closed` resolves when the worker ends it. */
interface Conn {
  /** performance.now() of the last byte received. */
  lastByte: number;
  /** Pings received from the worker (WebSocket kinds). */
  pings: number;
  closed: Promise<{ at: number; how: string }>;
  drop(): void;
}

/** Raw TCP to the echo backend: `E` selects echo mode, `x` comes back. */
function openTcp(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true });
    let done: (v: { at: number; how: string }) => void = () => {};
    const conn: Conn = {
      lastByte: 0,
      pings: 0,
      closed: new Promise((r) => {
        done = r;
      }),
      drop: () => s.destroy(),
    };
    let how = 'fin';
    s.on('data', () => {
      conn.lastByte = performance.now();
      resolve(conn);
    });
    // The worker destroys both sockets on an idle timeout: a FIN, or an RST if bytes were unread.
    s.once('end', () => done({ at: performance.now(), how }));
    s.on('error', (err: NodeJS.ErrnoException) => {
      how = err.code ?? 'error';
      reject(err);
    });
    s.once('close', () => done({ at: performance.now(), how }));
    s.write('Ex');
  });
}

/** A WebSocket that sends `first` and resolves when the echo (any message) comes back. */
function openWs(
  url: string,
  protocol: string | undefined,
  headers: Record<string, string>,
  first: Buffer | string,
): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol, { headers, perMessageDeflate: false });
    let done: (v: { at: number; how: string }) => void = () => {};
    const conn: Conn = {
      lastByte: 0,
      pings: 0,
      closed: new Promise((r) => {
        done = r;
      }),
      drop: () => ws.terminate(),
    };
    ws.on('open', () => ws.send(first));
    ws.on('message', () => {
      conn.lastByte = performance.now();
      resolve(conn);
    });
    // `ws` answers pings itself; counted to show the idle period had some.
    ws.on('ping', () => conn.pings++);
    ws.on('unexpected-response', (_req, res) => {
      reject(new Error(`${url}: HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.on('error', reject);
    ws.on('close', (code) => done({ at: performance.now(), how: String(code) }));
  });
}

/** A circuit as the appproxy child describes it. */
type Circuit = { port: number; id: string };

/** Opens `n` tunnels on a tunnel circuit, `concurrency` at a time, with fresh single-use tokens. */
async function openTunnels(w: Child, circuit: Circuit, n: number, concurrency: number) {
  const conns: Conn[] = [];
  for (let i = 0; i < n; i += TOKEN_BATCH) {
    const tokens = await ask<string[]>(
      w,
      { cmd: 'tunnel-tokens', circuitId: circuit.id, n: Math.min(TOKEN_BATCH, n - i) },
      'tunnelTokens',
    );
    conns.push(
      ...(await pool(tokens, concurrency, (token) =>
        openWs(
          `ws://127.0.0.1:${circuit.port}/_appproxy/tunnel`,
          'appproxy-tunnel.v1',
          { authorization: `Bearer ${token}` },
          Buffer.from('Ex'),
        ),
      )),
    );
  }
  return conns;
}

// ---------------------------------------------------------------- 1. idle-close timing

interface Timing {
  kind: string;
  opened: number;
  closed: number;
  early: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  how: string;
  pingsPerConn: number;
}

/** Waits for every connection's close (bounded), then summarizes the lateness. */
async function timeCloses(kind: string, conns: Conn[]): Promise<Timing> {
  const limit = sleep(IDLE_MS + 5000).then(() => null);
  const late: number[] = [];
  const hows = new Map<string, number>();
  for (const c of conns) {
    const r = await Promise.race([c.closed, limit]);
    if (r === null) {
      c.drop();
      continue;
    }
    late.push(r.at - (c.lastByte + IDLE_MS));
    hows.set(r.how, (hows.get(r.how) ?? 0) + 1);
  }
  const r2 = (x: number) => Math.round(x * 10) / 10;
  return {
    kind,
    opened: conns.length,
    closed: late.length,
    early: late.filter((x) => x < 0).length,
    p50: r2(percentile(late, 50)),
    p99: r2(percentile(late, 99)),
    max: r2(Math.max(...late)),
    min: r2(Math.min(...late)),
    how: [...hows].map(([h, k]) => (hows.size > 1 ? `${h}×${k}` : h)).join(' '),
    pingsPerConn: r2(conns.reduce((a, c) => a + c.pings, 0) / conns.length),
  };
}

async function timing(): Promise<Timing[]> {
  const w = await startWorker('appproxy-idle', { BENCH_TUNNEL_PING_MS: String(TUNNEL_PING_MS) });
  const idle = { idleTimeoutMs: IDLE_MS };
  const tcp = await ask<Circuit>(w, { cmd: 'tcp-circuit', backendPort: up.tcp, ...idle }, 'tcpCircuit');
  const tun = await ask<Circuit>(
    w,
    { cmd: 'tcp-circuit', backendPort: up.tcp, access: 'tunnel', ...idle },
    'tcpCircuit',
  );
  const http = await ask(w, { cmd: 'circuit', backendPort: up.http, ...idle }, 'circuit');
  const each = (f: () => Promise<Conn>) => Promise.all(Array.from({ length: PER_KIND }, f));
  // One kind at a time, so that the closes of one do not delay the readings of another.
  const out: Timing[] = [];
  out.push(await timeCloses('tcp (allow-list)', await each(() => openTcp(tcp.port))));
  out.push(await timeCloses('tunnel', await openTunnels(w, tun, PER_KIND, PER_KIND)));
  const wsUrl = `ws://127.0.0.1:${http.port}/ws`;
  out.push(
    await timeCloses(
      'websocket (http)',
      await each(() => openWs(wsUrl, undefined, { cookie: http.cookie }, 'x')),
    ),
  );
  await w.stop();
  return out;
}

// ---------------------------------------------------------------- 2. memory per idle connection

interface Memory {
  kind: string;
  n: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  kibPerConn: number;
  heapKibPerConn: number;
  fdsPerConn: number;
  /** Heap still held per connection once all are closed (tunnels: the used-token marks). */
  heapLeftKibPerConn: number;
}

async function memory(kind: 'tunnel' | 'tcp', n: number): Promise<Memory> {
  const w = await startWorker(`appproxy-mem-${kind}`);
  const c = await ask<Circuit>(
    w,
    {
      cmd: 'tcp-circuit',
      backendPort: up.tcp,
      access: kind === 'tunnel' ? 'tunnel' : 'allow-list',
      maxConnections: n + WARMUP,
    },
    'tcpCircuit',
  );
  const open = (k: number) =>
    kind === 'tunnel'
      ? openTunnels(w, c, k, OPEN_CONCURRENCY)
      : pool(Array.from({ length: k }), OPEN_CONCURRENCY, () => openTcp(c.port));
  const closeAll = async (conns: Conn[]) => {
    for (const x of conns) x.drop();
    await sleep(1000);
  };
  await closeAll(await open(WARMUP));
  const before = await ask(w, { cmd: 'stats' }, 'stats');
  const conns = await open(n);
  await sleep(1000);
  const after = await ask(w, { cmd: 'stats' }, 'stats');
  await closeAll(conns);
  const left = await ask(w, { cmd: 'stats' }, 'stats');
  await w.stop();
  const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  const kib = (b: number) => Math.round((b / 1024 / n) * 100) / 100;
  return {
    kind,
    n,
    rssBeforeMiB: mib(before.rss),
    rssAfterMiB: mib(after.rss),
    kibPerConn: kib(after.rss - before.rss),
    heapKibPerConn: kib(after.heapUsed - before.heapUsed),
    fdsPerConn: Math.round(((after.fds - before.fds) / n) * 100) / 100,
    heapLeftKibPerConn: kib(left.heapUsed - before.heapUsed),
  };
}

// ---------------------------------------------------------------- run

const load = loadavg()[0]!;
const machineLine =
  `machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, ` +
  `1-min load ${load.toFixed(2)} at start, fd limit ${ownNofile} (hard ${NOFILE_HARD})` +
  (canPin ? `; worker on CPU ${WORKER_CPU}, clients and upstream on CPU ${LOAD_CPU}` : '; unpinned');
console.log(machineLine);
if (N < requested) console.log(`N capped at ${N} by the fd limits (asked for ${requested})`);
if (canPin) await pin(process.pid, LOAD_CPU);

const upstream = await start('upstream', tsArgv('bench/servers/upstream.ts'), { cpus: LOAD_CPU });
children.push(upstream);
const up = { http: Number(upstream.info.http), tcp: Number(upstream.info.tcp) };

const t0 = performance.now();
let timings: Timing[] = [];
let mem: Memory[] = [];
try {
  timings = await timing();
  console.log(
    `\nidle close, route idleTimeoutMs ${IDLE_MS}, ${PER_KIND} connections each; ` +
      `lateness = close seen by the client − (last byte + ${IDLE_MS} ms), in ms`,
  );
  console.table(
    timings.map((t) => ({
      kind: t.kind,
      closed: `${t.closed}/${t.opened}`,
      early: t.early,
      p50: t.p50,
      p99: t.p99,
      max: t.max,
      min: t.min,
      close: t.how,
      'pings/conn': t.pingsPerConn,
    })),
  );
  mem = [await memory('tunnel', N), await memory('tcp', N)];
  console.log(`\nmemory per idle connection, fresh worker each, N=${N}, after GC`);
  console.table(
    mem.map((m) => ({
      kind: m.kind,
      N: m.n,
      'RSS before MiB': m.rssBeforeMiB,
      'RSS after MiB': m.rssAfterMiB,
      'RSS KiB/conn': m.kibPerConn,
      'heap KiB/conn': m.heapKibPerConn,
      'fds/conn': m.fdsPerConn,
      'heap left after close KiB/conn': m.heapLeftKibPerConn,
    })),
  );
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
} finally {
  clearTimeout(watchdog);
  await cleanup();
}
console.log(JSON.stringify({ machine: machineLine, idleTimeoutMs: IDLE_MS, timings, memory: mem }));
// Client sockets the worker already closed may still sit in the loop for a moment: do not wait.
process.exit(0);
