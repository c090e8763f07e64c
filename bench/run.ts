/**
 * `npm run bench`: AppProxy's worker (the data plane) against real peers, side by side on
 * loopback. See bench/README.md for what is measured and how; the latest summary goes to
 * docs/performance.md, every run's numbers to bench/results/.
 *
 * Options: --quick, --only http,ws,tcp,control,memory,leak, --rounds N, --duration 10s,
 *          --install (apt-get install missing peers), --no-write (leave docs/ alone)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { leakCheck, mib, workerStats } from './lib/leak.ts';
import { machine } from './lib/machine.ts';
import { httpGet, pool, wsOpen } from './lib/net.ts';
import {
  installMissing,
  type Peer,
  peerVersions,
  startChp,
  startHaproxy,
  startNginx,
  startNodeBaseline,
  startNodePipe,
} from './lib/peers.ts';
import {
  type Child,
  canPin,
  cpuSeconds,
  type Msg,
  NOFILE_HARD,
  pin,
  ROOT,
  rssBytes,
  run,
  sleep,
  start,
  tsArgv,
} from './lib/proc.ts';
import { type Report, type Results, renderMarkdown, renderTerminal } from './lib/report.ts';
import { Samples, spread } from './lib/stats.ts';
import { workerSupportsProcesses } from './lib/support.ts';

const SECTIONS = ['http', 'ws', 'tcp', 'control', 'memory', 'leak'] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    install: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
  process.exit(0);
}
const quick = args.quick!;
const only = new Set<Section>(
  args.only ? (args.only.split(',').map((s) => s.trim()) as Section[]) : [...SECTIONS],
);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s}`);
// --quick trades precision for a run under two minutes: one round, smaller counts.
const rounds = Number(args.rounds ?? (quick ? 1 : 3));
const duration = parseSeconds(args.duration ?? (quick ? '1s' : '10s'));
/** Rounds of the half-load p99 measurement (it needs a calibration run each). */
const halfRounds = quick ? 1 : rounds;
const CONNS = 50;
/** The proxy under test gets CPU 0; the load generator, the upstream and this script CPU 1. */
const PROXY_CPU = '0';
const LOAD_CPU = '1';
const counts = {
  tcpBytes: quick ? 128 * 1024 * 1024 : 1024 * 1024 * 1024,
  circuitLevels: quick ? [500] : [1000, 10_000],
  controlSamples: quick ? 15 : 200,
  terminateSamples: quick ? 8 : 100,
  // The proxy holds 2 fds per WebSocket and may not raise its limit past the hard one.
  idleWs: Math.min(quick ? 1000 : 10_000, Math.floor((NOFILE_HARD - 200) / 2)),
  idleCircuits: quick ? 1000 : 10_000,
  leakRequests: quick ? 2_000 : 100_000,
};

function parseSeconds(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`--duration: cannot read ${s}`);
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : v;
}

const log = (s: string) => console.log(`  ${s}`);
const results: Results = { http: {}, halfload: {}, ws: {}, tcp: {}, control: {}, memory: {}, leak: {} };
const notes: string[] = [];
const skipped: Record<string, string> = {};

function record(section: keyof Results, who: string, metric: string, v: number): void {
  const bySection = results[section];
  const s = bySection[who] ?? {};
  bySection[who] = s;
  const list = s[metric] ?? [];
  s[metric] = list;
  list.push(v);
}

// ---------------------------------------------------------------- set-up

const started = new Date();
const t0 = performance.now();
const loadAtStart = loadavg()[0]!;
if (loadAtStart > 0.5) {
  const msg = `The machine was not idle at the start (1-minute load average ${loadAtStart.toFixed(2)}): other work competes with the proxies and the load generator, so absolute numbers are low and noisy.`;
  console.log(msg);
  notes.push(msg);
}
if (canPin) await pin(process.pid, LOAD_CPU);
else notes.push('taskset is not available: nothing was pinned.');
let versions = peerVersions();
if (args.install) {
  installMissing(versions);
  versions = peerVersions();
}
const missing = [
  !versions.nginx && 'nginx',
  versions.nginx && !versions.nginxStream && 'libnginx-mod-stream',
  !versions.haproxy && 'haproxy',
  !versions.wrk && 'wrk',
].filter(Boolean);
if (missing.length) {
  const msg = `missing ${missing.join(', ')}: those measurements are skipped (npm run bench -- --install installs them)`;
  console.log(msg);
  notes.push(msg);
}
const multiProcess = workerSupportsProcesses();
console.log(
  `AppProxy benchmark${quick ? ' (quick)' : ''}: ${[...only].join(', ')}; ${rounds} rounds of ${duration} s; ` +
    `proxy on CPU ${PROXY_CPU}, load and upstream on CPU ${LOAD_CPU}`,
);

const children: { stop(): Promise<void> }[] = [];
async function cleanup(): Promise<void> {
  for (const c of children.splice(0).reverse()) await c.stop().catch(() => {});
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

const upstream = await start('upstream', tsArgv('bench/servers/upstream.ts'), { cpus: LOAD_CPU });
children.push(upstream);
const up = { http: Number(upstream.info.http), tcp: Number(upstream.info.tcp) };

/** An HTTP/WebSocket target: where wrk connects and with which headers; pid = whose CPU counts. */
interface Target {
  name: string;
  port: number;
  host: string;
  cookie: string | null;
  pid: number | null;
}

async function startAppProxy(mode: 'port' | 'wildcard', processes = 1): Promise<Child> {
  const c = await start(
    `appproxy-${mode}`,
    tsArgv('bench/servers/appproxy.ts', mode, String(up.http), String(processes)),
    { cpus: processes > 1 ? `${PROXY_CPU},${LOAD_CPU}` : PROXY_CPU },
  );
  children.push(c);
  return c;
}

function apTarget(name: string, c: Child): Target {
  return { name, port: c.info.port, host: c.info.host, cookie: c.info.cookie, pid: c.pid };
}

function peerTarget(p: Peer): Target {
  return { name: p.name, port: p.httpPort!, host: `127.0.0.1:${p.httpPort}`, cookie: null, pid: p.child.pid };
}

async function tryPeer(name: string, f: () => Promise<Peer>): Promise<Peer | null> {
  try {
    const p = await f();
    children.push(p);
    return p;
  } catch (err) {
    const msg = `${name} could not start: ${String(err).slice(0, 300)}`;
    console.log(msg);
    notes.push(msg);
    return null;
  }
}

// ---------------------------------------------------------------- HTTP (wrk)

interface WrkOut {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

function parseWrk(out: string): WrkOut {
  const lat = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) return Number.NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    p50Ms: lat('50'),
    p99Ms: lat('99'),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

async function wrk(t: Target, seconds: number, script?: string): Promise<WrkOut> {
  const argv = [
    'wrk',
    '-t1',
    `-c${CONNS}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    '--latency',
    '--timeout',
    '5s',
  ];
  if (t.cookie) argv.push('-H', `Cookie: ${t.cookie}`);
  argv.push('-H', `Host: ${t.host}`);
  if (script) argv.push('-s', script);
  argv.push(`http://127.0.0.1:${t.port}/`);
  return parseWrk(await run(argv, { cpus: LOAD_CPU, timeoutMs: (seconds + 30) * 1000 }));
}

/** A wrk script that waits `meanMs` on average between a connection's requests (1 ms steps). */
function delayScript(meanMs: number): string {
  const lo = Math.floor(meanMs);
  const p = meanMs - lo;
  const path = join(tmpdir(), `bench-delay-${process.pid}.lua`);
  writeFileSync(
    path,
    `function delay()\n  if math.random() < ${p.toFixed(4)} then return ${lo + 1} end\n  return ${lo}\nend\n`,
  );
  return path;
}

/** The direct row is the upstream's ceiling: it runs on the proxy's CPU for that run. */
async function asDirect<T>(t: Target, f: () => Promise<T>): Promise<T> {
  if (t.pid !== null) return f();
  await pin(upstream.pid, PROXY_CPU);
  try {
    return await f();
  } finally {
    await pin(upstream.pid, LOAD_CPU);
  }
}

async function httpSection(targets: Target[]): Promise<void> {
  console.log(`\n== HTTP: wrk c=${CONNS} keep-alive, 100-byte responses`);
  for (const t of targets) await asDirect(t, () => wrk(t, 1)); // warm-up (JIT, pools)
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...targets].reverse() : targets;
    for (const t of order) {
      const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
      const w = await asDirect(t, () => wrk(t, duration));
      const cpu = t.pid ? cpuSeconds(t.pid) - cpu0 : Number.NaN;
      record('http', t.name, 'rps', w.rps);
      record('http', t.name, 'p50Ms', w.p50Ms);
      record('http', t.name, 'p99Ms', w.p99Ms);
      if (t.pid) record('http', t.name, 'cpuPer100k', (cpu / w.requests) * 1e5);
      if (w.non2xx || w.errors) {
        record('http', t.name, 'bad', w.non2xx + w.errors);
        notes.push(`HTTP ${t.name} round ${r + 1}: ${w.non2xx} non-2xx answers, ${w.errors} socket errors.`);
      }
      log(
        `round ${r + 1} ${t.name.padEnd(22)} ${w.rps.toFixed(0).padStart(7)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  ` +
          `p99 ${w.p99Ms.toFixed(2)} ms${t.pid ? `  ${((cpu / w.requests) * 1e5).toFixed(2)} CPU-s/100k` : ''}`,
      );
    }
  }
  // p99 at half of nginx's rate (or of the fastest AppProxy row without nginx): closed-loop wrk
  // with a per-request delay calibrated so that the request rate is the same for every proxy.
  const ref = spread(results.http.nginx?.rps ?? results.http['appproxy-port']?.rps ?? [])?.median;
  if (!ref) return;
  const rate = ref / 2;
  console.log(
    `\n== HTTP p99 at half load: ${rate.toFixed(0)} req/s (half of ${results.http.nginx ? 'nginx' : 'AppProxy'})`,
  );
  const period = (CONNS / rate) * 1000;
  const calib = quick ? 1 : 2;
  for (let r = 0; r < halfRounds; r++) {
    const order = r % 2 ? [...targets].reverse() : targets;
    for (const t of order) {
      await asDirect(t, async () => {
        let d = Math.max(0, period - 0.3);
        const c = await wrk(t, calib, delayScript(d));
        d = Math.max(0, d + (period - (CONNS / c.rps) * 1000));
        const w = await wrk(t, duration, delayScript(d));
        record('halfload', t.name, 'rps', w.rps);
        record('halfload', t.name, 'p50Ms', w.p50Ms);
        record('halfload', t.name, 'p99Ms', w.p99Ms);
        log(
          `round ${r + 1} ${t.name.padEnd(22)} ${w.rps.toFixed(0).padStart(7)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms`,
        );
      });
    }
  }
}

// ---------------------------------------------------------------- WebSocket echo

async function wsSection(targets: Target[]): Promise<void> {
  console.log(`\n== WebSocket: echo over ${CONNS} connections, 100-byte messages, one in flight each`);
  const once = async (t: Target, seconds: number) => {
    const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
    const out = await run(
      tsArgv(
        'bench/clients/ws.ts',
        'echo',
        String(t.port),
        t.host,
        t.cookie ?? '-',
        String(CONNS),
        String(seconds),
      ),
      { cpus: LOAD_CPU, timeoutMs: (seconds + 60) * 1000 },
    );
    const cpu = t.pid ? cpuSeconds(t.pid) - cpu0 : Number.NaN;
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      messages: number;
      rate: number;
      p99Ms: number;
      p50Ms: number;
      errors: number;
      handshakeErrors: string[];
    };
    if (r.handshakeErrors?.length)
      notes.push(
        `WebSocket ${t.name}: ${r.handshakeErrors.length} failed handshakes (retried): ${r.handshakeErrors[0]}`,
      );
    return { ...r, cpu };
  };
  // A proxy that cannot carry WebSocket (configurable-http-proxy on this runtime sometimes answers
  // an upgrade as a plain request after sustained HTTP load) is reported and left out; the others
  // still run.
  const failed = new Set<string>();
  const tryOnce = async (t: Target, seconds: number) => {
    try {
      return await asDirect(t, () => once(t, seconds));
    } catch (err) {
      failed.add(t.name);
      const why = String(err).match(/handshake: [^\n]*/)?.[0] ?? String(err).slice(0, 200);
      notes.push(`WebSocket ${t.name}: failed and left out of this section (${why.slice(0, 200)}).`);
      return null;
    }
  };
  if (!quick) for (const t of targets) await tryOnce(t, 0.5); // warm-up (JIT)
  for (let r = 0; r < rounds; r++) {
    const order = (r % 2 ? [...targets].reverse() : targets).filter((t) => !failed.has(t.name));
    for (const t of order) {
      const w = await tryOnce(t, duration);
      if (!w) continue;
      record('ws', t.name, 'rate', w.rate);
      record('ws', t.name, 'p50Ms', w.p50Ms);
      record('ws', t.name, 'p99Ms', w.p99Ms);
      if (t.pid) record('ws', t.name, 'perCpuSecond', w.messages / w.cpu);
      log(
        `round ${r + 1} ${t.name.padEnd(22)} ${w.rate.toFixed(0).padStart(7)} msg/s  p99 ${w.p99Ms.toFixed(2)} ms` +
          (t.pid ? `  ${(w.messages / w.cpu).toFixed(0)} round trips per proxy CPU-s` : ''),
      );
    }
  }
}

// ---------------------------------------------------------------- TCP

async function tcpSection(): Promise<void> {
  console.log(`\n== TCP: bulk ${mib(counts.tcpBytes)} MiB each way, connection rate (c=${CONNS})`);
  notes.push(
    'TCP: `appproxy-tcp` is a real TCP circuit of a port-mode worker in allow-list mode (address check, idle timeout, keepalive, activity and access records on); `node-pipe` is a plain, circuit-less Node pipe (bench/servers/node-pipe.ts), the ceiling of a Node relay, for reference.',
  );
  const peers: { name: string; port: number; pid: number | null }[] = [
    { name: 'direct', port: up.tcp, pid: null },
  ];
  const ap = await tryPeer('appproxy-tcp', async () => {
    const child = await start('appproxy-tcp', tsArgv('bench/servers/appproxy.ts', 'port', String(up.http)), {
      cpus: PROXY_CPU,
    });
    child.send({ cmd: 'tcp-circuit', backendPort: up.tcp });
    const m = await child.next((x) => x.tcpCircuit !== undefined || x.error !== undefined, 30_000);
    if (m.error) throw new Error(String(m.error));
    const peer: Peer = {
      name: 'appproxy-tcp',
      child,
      httpPort: null,
      tcpPort: (m.tcpCircuit as { port: number }).port,
      stop: () => child.stop(),
    };
    return peer;
  });
  if (ap) peers.push({ name: 'appproxy-tcp', port: ap.tcpPort!, pid: ap.child.pid });
  const pipe = await tryPeer('node-pipe', () => startNodePipe(up, PROXY_CPU));
  if (pipe) peers.push({ name: 'node-pipe', port: pipe.tcpPort!, pid: pipe.child.pid });
  if (versions.haproxy) {
    const h = await tryPeer('haproxy', () => startHaproxy(up, PROXY_CPU));
    if (h) peers.push({ name: 'haproxy', port: h.tcpPort!, pid: h.child.pid });
  }
  if (versions.nginx && versions.nginxStream) {
    const n = await tryPeer('nginx stream', () => startNginx(up, PROXY_CPU, true));
    if (n) peers.push({ name: 'nginx-stream', port: n.tcpPort!, pid: n.child.pid });
  }
  const asT = (p: { name: string; port: number; pid: number | null }): Target => ({
    ...p,
    host: '',
    cookie: null,
  });
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...peers].reverse() : peers;
    for (const p of order) {
      await asDirect(asT(p), async () => {
        const line: string[] = [];
        for (const dir of ['up', 'down']) {
          const cpu0 = p.pid ? cpuSeconds(p.pid) : 0;
          const out = await run(
            tsArgv('bench/clients/tcp.ts', 'bulk', String(p.port), String(counts.tcpBytes), dir),
            {
              cpus: LOAD_CPU,
            },
          );
          const b = JSON.parse(out.trim()) as { gbit: number };
          record('tcp', p.name, `bulk_${dir}_gbit`, b.gbit);
          if (p.pid)
            record(
              'tcp',
              p.name,
              `bulk_${dir}_cpuPerGiB`,
              (cpuSeconds(p.pid) - cpu0) / (counts.tcpBytes / 2 ** 30),
            );
          line.push(`${dir} ${b.gbit.toFixed(2)} Gbit/s`);
        }
        const out = await run(
          tsArgv('bench/clients/tcp.ts', 'connrate', String(p.port), String(CONNS), String(duration)),
          {
            cpus: LOAD_CPU,
          },
        );
        const c = JSON.parse(out.trim()) as { rate: number; p99Ms: number; errors: number };
        record('tcp', p.name, 'connRate', c.rate);
        record('tcp', p.name, 'connP99Ms', c.p99Ms);
        log(
          `round ${r + 1} ${p.name.padEnd(14)} ${line.join(', ')}, ${c.rate.toFixed(0)} conn/s (p99 ${c.p99Ms.toFixed(2)} ms)`,
        );
      });
    }
  }
}

// ---------------------------------------------------------------- control plane

async function controlSection(): Promise<void> {
  console.log('\n== Control plane: embedded system (manager + wildcard worker + embedded stores)');
  const sys = await start('embedded', tsArgv('bench/servers/embedded.ts'), { cpus: PROXY_CPU });
  children.push(sys);
  const url = sys.info.url as string;
  const token = sys.info.token as string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Msg };
  };
  const external = { services: [{ name: 'app', protocol: 'http', host: '127.0.0.1', port: up.http }] };
  const probe = await api('POST', '/v1/sessions', { external });
  if (probe.status !== 201) {
    skipped.control = `skipped: needs external sessions (POST /v1/sessions {external} answered ${probe.status})`;
    console.log(`  ${skipped.control}`);
    await sys.stop();
    return;
  }
  await api('DELETE', `/v1/sessions/${probe.body.id}?wait=true`);

  interface Opened {
    sessionId: string;
    port: number;
    host: string;
    path: string;
    cookie: string;
  }
  const newSession = async () => {
    const s = await api('POST', '/v1/sessions', { external });
    if (s.status !== 201) throw new Error(`create external session: ${s.status} ${JSON.stringify(s.body)}`);
    return s.body.id as string;
  };
  /** start-service → setup (cookie) → the first proxied 200; returns when it came and its cookie. */
  const openCircuit = async (sessionId: string): Promise<Opened> => {
    const r = await api('POST', `/v1/sessions/${sessionId}/start-service`, {
      service: 'app',
      frontend: 'wildcard',
    });
    if (r.status !== 200) throw new Error(`start-service: ${r.status} ${JSON.stringify(r.body)}`);
    const setup = new URL(r.body.setupUrl as string);
    const port = Number(setup.port);
    const s = await httpGet(port, setup.host, `${setup.pathname}${setup.search}`);
    const setCookie = s.headers['set-cookie'];
    if (s.status !== 302 || !setCookie) throw new Error(`setup answered ${s.status}`);
    const cookie = String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0]!;
    const app = new URL(r.body.appUrl as string);
    for (let i = 0; ; i++) {
      const g = await httpGet(port, app.host, app.pathname, cookie);
      if (g.status === 200) break;
      if (i > 1000) throw new Error(`no proxied 200 (last ${g.status})`);
      await sleep(1);
    }
    return { sessionId, port, host: app.host, path: app.pathname, cookie };
  };

  let live = 0;
  for (const level of counts.circuitLevels) {
    const add = level - live;
    console.log(`  opening ${add} circuits (to ${level} live), 16 at a time`);
    let done = 0;
    await pool(Array.from({ length: add }), 16, async () => {
      await openCircuit(await newSession());
      if (++done % 500 === 0) log(`${done}/${add}`);
    });
    live = level;
    const samples = new Samples();
    const opened: Opened[] = [];
    for (let i = 0; i < counts.controlSamples; i++) {
      const id = await newSession();
      const t = performance.now();
      opened.push(await openCircuit(id));
      samples.add(performance.now() - t);
    }
    live += counts.controlSamples;
    record('control', `${level}`, 'startP50Ms', samples.p(50));
    record('control', `${level}`, 'startP99Ms', samples.p(99));
    log(
      `${level} live: start-service → first proxied 200 p50 ${samples.p(50).toFixed(1)} ms, p99 ${samples.p(99).toFixed(1)} ms`,
    );

    const refused = new Samples();
    const closed = new Samples();
    for (const o of opened.slice(0, counts.terminateSamples)) {
      const ws = await wsOpen(o.port, o.host, o.cookie);
      const t = performance.now();
      const wsClosed = new Promise<number>((r) => ws.once('close', () => r(performance.now() - t)));
      ws.on('error', () => {});
      const del = api('DELETE', `/v1/sessions/${o.sessionId}`);
      let refusedAt = Number.NaN;
      for (let i = 0; i < 20_000; i++) {
        const g = await httpGet(o.port, o.host, o.path, o.cookie).catch(() => ({ status: 0 }));
        if (g.status !== 200) {
          refusedAt = performance.now() - t;
          break;
        }
      }
      const c = await Promise.race([wsClosed, sleep(10_000).then(() => Number.POSITIVE_INFINITY)]);
      await del;
      refused.add(refusedAt);
      closed.add(c);
      ws.destroy();
    }
    live -= counts.terminateSamples;
    record('control', `${level}`, 'refusedP50Ms', refused.p(50));
    record('control', `${level}`, 'refusedP99Ms', refused.p(99));
    record('control', `${level}`, 'wsClosedP50Ms', closed.p(50));
    record('control', `${level}`, 'wsClosedP99Ms', closed.p(99));
    log(
      `${level} live: terminate → refused p50 ${refused.p(50).toFixed(1)} / p99 ${refused.p(99).toFixed(1)} ms; ` +
        `WebSocket closed p50 ${closed.p(50).toFixed(1)} / p99 ${closed.p(99).toFixed(1)} ms`,
    );
  }
  await sys.stop();
}

// ---------------------------------------------------------------- memory

async function idleWs(name: string, t: Target, stats?: () => Promise<number>): Promise<void> {
  const rss = stats ?? (async () => rssBytes(t.pid!));
  const before = await rss();
  const client = await start(
    `ws-idle-${name}`,
    tsArgv('bench/clients/ws.ts', 'idle', String(t.port), t.host, t.cookie ?? '-', String(counts.idleWs)),
    { cpus: LOAD_CPU, ready: false },
  );
  children.push(client);
  const opened = await client.next((m) => m.open !== undefined, 300_000);
  await sleep(1000);
  const after = await rss();
  if (opened.failed > 0) {
    const msg = `Idle WebSockets through ${name}: ${opened.failed} of ${counts.idleWs} failed to open (${opened.firstError}).`;
    notes.push(msg);
    log(msg);
  }
  if (opened.open < counts.idleWs * 0.9) {
    await client.stop();
    return;
  }
  const per = (after - before) / opened.open;
  record('memory', name, 'wsIdleBytesPerConn', per);
  record('memory', name, 'wsIdleOpen', opened.open);
  log(
    `${name.padEnd(22)} ${opened.open} idle WebSockets: RSS ${mib(before)} → ${mib(after)} MiB, ${(per / 1024).toFixed(1)} KiB each`,
  );
  await client.stop();
  await sleep(500);
}

async function memorySection(peers: Target[]): Promise<void> {
  console.log(
    `\n== Memory: RSS per idle WebSocket (${counts.idleWs}) and per idle circuit (${counts.idleCircuits})`,
  );
  if (counts.idleWs < (quick ? 1000 : 10_000))
    notes.push(
      `Idle WebSockets capped at ${counts.idleWs}: the hard fd limit here is ${NOFILE_HARD} and the proxy holds 2 fds per connection.`,
    );
  const viaStats = (c: Child) => async () => {
    await workerStats(c); // GC first
    return rssBytes(c.pid);
  };
  // A fresh worker process: one that has carried the HTTP and WebSocket load keeps freed memory
  // in its heap and allocator, and new connections would reuse it (RSS per connection too low).
  const fresh = await startAppProxy('port');
  await idleWs('appproxy-port', apTarget('appproxy-port', fresh), viaStats(fresh));
  await fresh.stop();
  for (const p of peers) {
    // A peer that cannot hold that many idle connections is reported; the circuits part still runs.
    try {
      await idleWs(p.name, p);
    } catch (err) {
      notes.push(`Idle WebSockets through ${p.name}: failed (${String(err).slice(0, 160)}).`);
      log(`${p.name}: idle WebSockets failed`);
    }
  }

  // A fresh wildcard worker too, for the same reason: circuits added to a process that carried
  // the load would fit into memory it already holds.
  const w = await startAppProxy('wildcard');
  const before = await workerStats(w);
  w.send({ cmd: 'circuits', n: counts.idleCircuits });
  for (;;) {
    const m = await w.next(
      (x) => x.progress !== undefined || x.added !== undefined || x.error !== undefined,
      300_000,
    );
    if (m.error) throw new Error(m.error);
    if (m.added !== undefined) break;
    if (m.progress % 5000 === 0 || m.progress === m.of) log(`circuits ${m.progress}/${m.of}`);
  }
  await sleep(1000);
  const after = await workerStats(w);
  const per = (after.rss - before.rss) / counts.idleCircuits;
  const handles: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.resources)) {
    const d = v - (before.resources[k] ?? 0);
    if (d !== 0) handles[k] = d;
  }
  const handleDelta = Object.values(handles).reduce((a, b) => a + b, 0);
  record('memory', 'appproxy-wildcard', 'circuitBytesPerIdle', per);
  record('memory', 'appproxy-wildcard', 'circuitHandlesAdded', handleDelta);
  record('memory', 'appproxy-wildcard', 'circuitFdsAdded', after.fds - before.fds);
  log(
    `appproxy-wildcard: ${after.routes - before.routes} idle circuits: RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, ` +
      `${(per / 1024).toFixed(2)} KiB each; handles added ${JSON.stringify(handles)}, fds ${before.fds} → ${after.fds}`,
  );
  await w.stop();
}

// ---------------------------------------------------------------- leak

async function leakSection(): Promise<void> {
  console.log(
    `\n== Leak check: ${counts.leakRequests} requests with aborted clients, a stopped upstream, half-open sockets`,
  );
  const ap = await start('appproxy-leak', tsArgv('bench/servers/appproxy.ts', 'port', String(up.http)), {
    cpus: PROXY_CPU,
  });
  children.push(ap);
  const r = await leakCheck({
    ap,
    upstream,
    target: { port: ap.info.port, host: ap.info.host, cookie: ap.info.cookie },
    total: counts.leakRequests,
    log,
  });
  record('leak', 'appproxy-port', 'requests', r.requests);
  record('leak', 'appproxy-port', 'fdGrowth', r.fdGrowth);
  record('leak', 'appproxy-port', 'rssGrowthBytes', r.rssGrowthBytes);
  record('leak', 'appproxy-port', 'rssGrowthFromFirstBytes', r.rssGrowthFromFirstBytes);
  log(`RSS after GC at the end of each cycle (MiB): ${r.rssByCycle.map(mib).join(', ')}`);
  record('leak', 'appproxy-port', 'heapGrowthBytes', r.heapGrowthBytes);
  record(
    'leak',
    'appproxy-port',
    'extraHandles',
    Object.values(r.extraResources).reduce((a, b) => a + b, 0),
  );
  log(`outcomes ${JSON.stringify(r.outcomes)}; extra handles ${JSON.stringify(r.extraResources)}`);
  await ap.stop();
}

// ---------------------------------------------------------------- main

try {
  const needData = only.has('http') || only.has('ws') || only.has('memory');
  let ap: { port: Child; wildcard: Child } | null = null;
  const peers: Target[] = [];
  const targets: Target[] = [
    { name: 'direct', port: up.http, host: `127.0.0.1:${up.http}`, cookie: null, pid: null },
  ];
  if (needData) {
    ap = { port: await startAppProxy('port'), wildcard: await startAppProxy('wildcard') };
    targets.push(apTarget('appproxy-port', ap.port), apTarget('appproxy-wildcard', ap.wildcard));
    if (multiProcess) targets.push(apTarget('appproxy-port-2proc', await startAppProxy('port', 2)));
    else
      notes.push('1→2 process scaling: not measured (single process; the worker has no `processes` option).');
    const chp = await tryPeer('configurable-http-proxy', () => startChp(up, PROXY_CPU));
    if (chp) peers.push(peerTarget(chp));
    if (versions.nginx) {
      const n = await tryPeer('nginx', () => startNginx(up, PROXY_CPU, false));
      if (n) peers.push(peerTarget(n));
    }
    targets.push(...peers);
  }
  // A section that fails is reported as failed; the others still run.
  const guard = async (name: Section, f: () => Promise<void>) => {
    if (!only.has(name)) return;
    const ts = performance.now();
    try {
      await f();
      console.log(`  (${name}: ${((performance.now() - ts) / 1000).toFixed(0)} s)`);
    } catch (err) {
      skipped[name] = `failed: ${String(err).replace(/\s+/g, ' ').slice(0, 400)}`;
      console.log(`  ${name} ${skipped[name]}`);
    }
  };
  await guard('http', async () => {
    // The plain Node proxy is an HTTP-only reference row (it has no WebSocket path).
    const baseline = needData ? await tryPeer('node-baseline', () => startNodeBaseline(up, PROXY_CPU)) : null;
    const httpTargets = baseline ? [...targets, peerTarget(baseline)] : targets;
    if (versions.wrk) await httpSection(httpTargets);
    else skipped.http = 'skipped: wrk is not installed';
  });
  await guard('ws', () => wsSection(targets));
  await guard('tcp', () => tcpSection());
  await guard('memory', async () => {
    if (ap) await memorySection(peers);
  });
  await guard('control', () => controlSection());
  await guard('leak', () => leakSection());
} finally {
  await cleanup();
}

const report: Report = {
  date: started.toISOString(),
  quick,
  rounds,
  durationS: duration,
  elapsedS: (performance.now() - t0) / 1000,
  sections: [...only],
  machine: machine(versions),
  pinning: canPin ? { proxy: PROXY_CPU, load: LOAD_CPU } : null,
  counts,
  results,
  skipped,
  notes,
};
console.log(`\n${renderTerminal(report)}`);
const dir = join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const json = `${JSON.stringify(report, null, 2)}\n`;
const stamp = started.toISOString().replace(/[:.]/g, '-');
writeFileSync(join(dir, `${stamp}${quick ? '-quick' : ''}.json`), json);
console.log(`results: bench/results/${stamp}${quick ? '-quick' : ''}.json`);
// latest.json is kept in git beside docs/performance.md: both come from the same run.
if (!args['no-write']) {
  writeFileSync(join(dir, 'latest.json'), json);
  writeFileSync(join(ROOT, 'docs/performance.md'), renderMarkdown(report));
  console.log('summary: docs/performance.md');
}
console.log(`done in ${report.elapsedS.toFixed(0)} s`);
process.exit(0);
