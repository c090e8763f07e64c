/**
 * Inference section: balancing policies of an inference endpoint compared on simulated engines.
 *
 * K llm-sim replicas (src/agent/apps/llm-sim, one process each, on the load CPU) sit behind
 * (a) AppProxy's embedded system, one endpoint whose routes are the replicas' addresses, its
 * `settings.balancing` changed between runs, and (b) nginx with a `least_conn` upstream over the
 * same replicas, side by side in one run. Before every run the replicas are restarted (a cold
 * prefix cache and zeroed counters) and the endpoint gets its routes again under new ids (no
 * balancer state, ejection or in-flight count carries over), so every policy starts cold; the
 * order of the rows alternates between rounds.
 *
 * Workloads (open loop, Poisson arrivals at a fixed rate, streaming chat completions):
 *   high-reuse    tenants share long system prompts (llm-d's B2B shape scaled down: the shared
 *                 prefixes need ~73 % of the replicas' KV cache, ~2.9× one replica's);
 *   low-reuse     long unique questions (GIE's long-questions shape): nothing to gain from
 *                 affinity, so a cache-aware policy must match P2C;
 *   slow-replica  high-reuse with one replica's steps 3× longer;
 *   replica-kill  high-reuse with one replica SIGKILLed mid-run and started again later.
 * Rates are fractions of the replicas' capacity measured at the start (closed loop, direct).
 * A few % of streams are dropped by the client mid-answer, to count what replicas generate for
 * nobody. Then the latency a hop adds at half load: a replica that answers at once (llm-sim at
 * time scale 0) direct, through an endpoint and through nginx, with wrk.
 *
 * The engine is simulated: only ratios between rows of the same run mean something.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult, LoadSpec, LoadTarget, Shape } from '../clients/openai-load.ts';
import { type Context, log, roundOrder } from '../context.ts';
import { abortLoad } from '../lib/aborts.ts';
import { checkedPolicy, IDEAL } from '../lib/inference-report.ts';
import { freePort, waitPort } from '../lib/peers.ts';
import {
  type Child,
  cpuSeconds,
  fdCount,
  type Msg,
  NODE,
  NOFILE_HARD,
  ROOT,
  run as runCommand,
  sleep,
  start,
  tsArgv,
} from '../lib/proc.ts';
import { parseWrk, type WrkOut } from '../lib/wrk.ts';
import { CONNS, INFERENCE_WORKLOADS, LOAD_CPU, PROXY_CPU } from '../options.ts';

const SIM = join(ROOT, 'src/agent/apps/llm-sim/server.mjs');

/**
 * Wall ms per simulated ms: real time. An unloaded request lasts ~0.3 s, so a run of a few
 * seconds holds a few hundred; faster would make the replicas and the client, which share one
 * CPU, the bottleneck (chunks then arrive batched and ITL reads 0).
 */
const TIME_SCALE = 1;
/** Tokens per SSE chunk: 4 divides the chunk rate, the CPU cost of every hop, by 4. */
const STREAM_INTERVAL = 4;
const SLOW_FACTOR = 3;
/** Replica index slowed in `slow-replica` and killed in `replica-kill` (different ones). */
const SLOW_REPLICA = 0;
const KILLED_REPLICA = 1;
/** Share of streams the client drops mid-answer (after a quarter of max_tokens). */
const ABORT_FRACTION = 0.03;
/**
 * Offered load. High reuse: a fraction of the capacity with ideal prefix routing; round-robin
 * carries a third to a half of that capacity here, so a policy blind to the cache runs over its
 * capacity (as at the top of llm-d's ramp) while one that keeps affinity has headroom. Low reuse:
 * a fraction of its own capacity (no policy can do better than spreading the load).
 */
const HIGH_LOAD = 0.6;
const LOW_LOAD = 0.7;
/**
 * 4 tenants per replica × 3000 tokens: 2.9× one replica's KV cache (llm-sim's default, 1024
 * blocks of 16 tokens), 73 % of all replicas' (llm-d: ~6× one pod of 8, 73 %).
 */
function highShape(k: number): Shape {
  const groups = 4 * k;
  return { kind: 'high', groups, systemTokens: 3000, questionTokens: 64, maxTokens: 32 };
}
const LOW: Shape = { kind: 'low', groups: 0, systemTokens: 0, questionTokens: 1200, maxTokens: 32 };

const WORKLOADS = INFERENCE_WORKLOADS;
type Workload = (typeof WORKLOADS)[number];
/** The policies ratios are taken against: always run. */
const REFERENCES = ['round-robin', 'least-inflight'];
const NGINX = 'nginx least_conn';

/**
 * The rows of a run: AppProxy with one policy each, nginx, and (high reuse only) the client
 * sending each tenant straight to one replica — ideal affinity with no proxy, which shows how
 * much a cache-aware policy can gain on this workload and machine.
 */
interface Row {
  name: string;
  /** AppProxy's balancing policy; null for the others. */
  policy: string | null;
  targets: LoadTarget[];
  pick: LoadSpec['pick'];
  /** Whose CPU is counted (the embedded system's process, or nginx's tree); null: none. */
  pid: number | null;
  workloads: readonly Workload[];
}

/** The replicas: fixed ports, so that restarts keep the endpoint's routes and nginx valid. */
class Replicas {
  private readonly procs: (Child | null)[];

  constructor(readonly ports: number[]) {
    this.procs = ports.map(() => null);
  }

  static async create(k: number): Promise<Replicas> {
    const ports: number[] = [];
    for (let i = 0; i < k; i++) ports.push(await freePort());
    return new Replicas(ports);
  }

  async start(i: number, extra: string[] = []): Promise<void> {
    const argv = [
      NODE,
      SIM,
      '--port',
      String(this.ports[i]),
      '--time-scale',
      String(TIME_SCALE),
      '--stream-interval',
      String(STREAM_INTERVAL),
      '--seed',
      String(i),
      ...extra,
    ];
    this.procs[i] = await start(`llm-sim-${i}`, argv, { cpus: LOAD_CPU, ready: false });
    await waitPort(this.ports[i]!);
  }

  async stop(i: number): Promise<void> {
    const p = this.procs[i];
    this.procs[i] = null;
    await p?.stop();
  }

  /** SIGKILL: no close of its connections, as a crashed engine or a lost node does. */
  kill(i: number): void {
    this.procs[i]?.proc.kill('SIGKILL');
    this.procs[i] = null;
  }

  /** Every replica stopped and started again: empty caches, counters at 0; one slowed if asked. */
  async restart(slow: number | null = null): Promise<void> {
    await this.stopAll();
    await Promise.all(
      this.ports.map((_, i) => this.start(i, i === slow ? ['--fault', `slow:${SLOW_FACTOR}`] : [])),
    );
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.ports.map((_, i) => this.stop(i)));
  }

  targets(): LoadTarget[] {
    return this.ports.map((p) => ({ port: p, host: `127.0.0.1:${p}` }));
  }
}

/** The counters of one replica's /metrics that the section reads. */
interface SimCounters {
  queries: number;
  hits: number;
  generated: number;
  afterAbort: number;
}
const ZERO: SimCounters = { queries: 0, hits: 0, generated: 0, afterAbort: 0 };

function metric(text: string, name: string): number {
  // The names read here are [a-z_:] only: nothing to escape.
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function counters(port: number): Promise<SimCounters> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    return {
      queries: metric(text, 'vllm:prefix_cache_queries_total'),
      hits: metric(text, 'vllm:prefix_cache_hits_total'),
      generated: metric(text, 'vllm:generation_tokens_total'),
      afterAbort: metric(text, 'llmsim_tokens_after_abort_total'),
    };
  } catch {
    return ZERO;
  }
}

const add = (a: SimCounters, b: SimCounters): SimCounters => ({
  queries: a.queries + b.queries,
  hits: a.hits + b.hits,
  generated: a.generated + b.generated,
  afterAbort: a.afterAbort + b.afterAbort,
});
const sub = (a: SimCounters, b: SimCounters): SimCounters => ({
  queries: a.queries - b.queries,
  hits: a.hits - b.hits,
  generated: a.generated - b.generated,
  afterAbort: a.afterAbort - b.afterAbort,
});

async function allCounters(r: Replicas): Promise<SimCounters> {
  return (await Promise.all(r.ports.map(counters))).reduce(add, ZERO);
}

/** Requests the replicas hold (waiting or running), from their /_sim/state. */
async function inEngines(r: Replicas): Promise<number> {
  const held = await Promise.all(
    r.ports.map(async (p) => {
      try {
        const res = await fetch(`http://127.0.0.1:${p}/_sim/state`, { signal: AbortSignal.timeout(2000) });
        const st = (await res.json()) as { waiting: number; running: number };
        return st.waiting + st.running;
      } catch {
        return 0;
      }
    }),
  );
  return held.reduce((a, b) => a + b, 0);
}

/** Requests left in the replicas when every client had gone, and how long they took to leave. */
interface Left {
  requests: number;
  /** Until the replicas held none; IDLE_CAP_MS when they still did then. */
  ms: number;
}
const IDLE_CAP_MS = 5000;

/**
 * When a run ends every client has gone (answered, dropped or timed out), so a request the
 * replicas still hold is one whose abort the proxy has not passed on. Waits until there is none
 * (at most IDLE_CAP_MS): restarting a replica under such requests fails them, and the worker
 * counted those failures against the route (the next run started with half the routes ejected).
 */
async function untilIdle(r: Replicas): Promise<Left> {
  const t0 = performance.now();
  const requests = await inEngines(r);
  let n = requests;
  while (n > 0 && performance.now() - t0 < IDLE_CAP_MS) {
    await sleep(50);
    n = await inEngines(r);
  }
  return { requests, ms: n > 0 ? IDLE_CAP_MS : requests > 0 ? performance.now() - t0 : 0 };
}

/** The embedded system's REST API with the admin token it printed. */
class Api {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<Msg> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : {}) as Msg;
  }
}

interface Endpoint {
  id: string;
  target: LoadTarget;
}

/** An endpoint over address routes, with a key: what the rows send their requests to. */
async function createEndpoint(api: Api, name: string, port: number, ports: number[]): Promise<Endpoint> {
  const e = await api.call('POST', '/v1/endpoints', {
    name,
    frontend: 'wildcard',
    routes: ports.map((p, i) => ({ id: `r${i}`, host: '127.0.0.1', port: p })),
  });
  const key = await api.call('POST', `/v1/endpoints/${e.id as string}/tokens`, { name: 'bench' });
  return {
    id: e.id as string,
    target: { port, host: new URL(e.url as string).host, authorization: `Bearer ${key.key as string}` },
  };
}

/**
 * The policy set, on routes the worker sees as new. The worker keeps a route's pool, in-flight
 * count, health (ejections) and picker state by host:port, so putting the same addresses again,
 * even under new ids, would carry the previous run's state over (a replica ejected while it was
 * restarted stayed out for the next run); a set without them in between drops all of it.
 */
async function configure(api: Api, ep: Endpoint, ports: number[], policy: string): Promise<void> {
  const path = `/v1/endpoints/${ep.id}/routes`;
  await api.call('PUT', path, { routes: [] });
  // Long enough for the worker to apply the empty set before the next one (its watch is ms).
  await sleep(300);
  await api.call('PATCH', `/v1/endpoints/${ep.id}`, { settings: { balancing: policy } });
  await api.call('PUT', path, { routes: ports.map((p, i) => ({ id: `r${i}`, host: '127.0.0.1', port: p })) });
}

interface Nginx {
  child: Child;
  lbPort: number;
  fixedPort: number;
  stop(): Promise<void>;
}

/**
 * nginx as an LLM gateway is usually configured: `least_conn` over the replicas, upstream
 * keep-alive, and `proxy_buffering off` so that SSE chunks are passed on as they come (with
 * buffering nginx holds them and TTFT/ITL would measure its buffers). A second server proxies the
 * instant replica for the added-latency rows.
 */
async function startNginx(replicaPorts: number[], fixedUpstream: number): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-llm-'));
  const lbPort = await freePort();
  const fixedPort = await freePort();
  const location = `
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;`;
  const conf = `
user root;
worker_processes 1;
worker_rlimit_nofile ${NOFILE_HARD};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${Math.max(1024, NOFILE_HARD - 64)}; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream replicas {
    least_conn;
${replicaPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 128;
    keepalive_requests 1000000;
  }
  upstream fixed { server 127.0.0.1:${fixedUpstream}; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:${lbPort} backlog=4096; location / { proxy_pass http://replicas;${location} } }
  server { listen 127.0.0.1:${fixedPort} backlog=4096; location / { proxy_pass http://fixed;${location} } }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = await start('nginx-llm', ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf')], {
    cpus: PROXY_CPU,
    ready: false,
  });
  try {
    await waitPort(lbPort);
    await waitPort(fixedPort);
  } catch (err) {
    await child.stop();
    let errLog = '';
    try {
      errLog = readFileSync(join(dir, 'error.log'), 'utf8').slice(-1000);
    } catch {}
    throw new Error(`nginx did not start: ${String(err)}; ${errLog}`);
  }
  return {
    child,
    lbPort,
    fixedPort,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The load client process (bench/clients/openai-load.ts), one for the whole section. */
class Load {
  private n = 0;
  constructor(private readonly child: Child) {}

  stop(): Promise<void> {
    return this.child.stop();
  }

  /** Runs a spec; `onStart` runs when its first request leaves (for timed faults). */
  async run(spec: Omit<LoadSpec, 'id'>, onStart?: () => void): Promise<LoadResult> {
    const id = `r${++this.n}`;
    this.child.send({ cmd: 'run', spec: { ...spec, id } });
    const bound = (spec.durationS + spec.timeoutS + 60) * 1000;
    await this.child.next((m) => m.started === id, bound);
    onStart?.();
    const r = await this.child.next((m) => m.result === id, bound);
    if (r.error) throw new Error(`load client: ${r.error as string}`);
    return r as unknown as LoadResult;
  }
}

interface Setting {
  k: number;
  runS: number;
  /** The first part of a run, left out of latencies and tokens/s (every policy starts cold). */
  warmS: number;
  timeoutS: number;
  highRate: number;
  lowRate: number;
  high: Shape;
}

export async function run(ctx: Context): Promise<void> {
  const { counts } = ctx.opts;
  const k = counts.inferenceReplicas;
  const policies = [...new Set([...REFERENCES, ...ctx.opts.policies])];
  const rounds = counts.inferenceRounds;
  const workloads = WORKLOADS.filter((w) => ctx.opts.workloads.includes(w));
  console.log(
    `\n== Inference: ${k} llm-sim replicas (time scale ${TIME_SCALE}), policies ${policies.join(', ')}` +
      `${ctx.versions.nginx ? ` + ${NGINX}` : ''}; ${rounds} round(s) × ${workloads.length} workloads × ${counts.inferenceRunS} s`,
  );
  const replicas = await Replicas.create(k);
  ctx.children.add({ stop: () => replicas.stopAll() });
  const fixed = new Replicas([await freePort()]);
  ctx.children.add({ stop: () => fixed.stopAll() });
  // The added-latency upstream answers at once (time scale 0: a step is a setImmediate).
  await fixed.start(0, ['--time-scale', '0']);

  const sys = ctx.children.add(
    await start('embedded-llm', tsArgv('bench/servers/embedded.ts'), { cpus: PROXY_CPU }),
  );
  const api = new Api(sys.info.url as string, sys.info.token as string);
  const wildcardPort = sys.info.wildcardPort as number;
  const llmEp = await createEndpoint(api, 'bench-llm', wildcardPort, replicas.ports);
  const fixedEp = await createEndpoint(api, 'bench-fixed', wildcardPort, fixed.ports);

  let nginx: Nginx | null = null;
  if (ctx.versions.nginx) {
    try {
      nginx = ctx.children.add(await startNginx(replicas.ports, fixed.ports[0]!));
    } catch (err) {
      ctx.out.note(`Inference: nginx could not start (${String(err).slice(0, 200)}); its row is left out.`);
    }
  } else ctx.out.note('Inference: nginx is not installed; its row is left out.');

  const load = new Load(
    ctx.children.add(await start('openai-load', tsArgv('bench/clients/openai-load.ts'), { cpus: LOAD_CPU })),
  );

  const rows: Row[] = policies.map((p) => ({
    name: p,
    policy: p,
    targets: [llmEp.target],
    pick: 'rr',
    pid: sys.pid,
    workloads,
  }));
  if (nginx)
    rows.push({
      name: NGINX,
      policy: null,
      targets: [{ port: nginx.lbPort, host: `127.0.0.1:${nginx.lbPort}` }],
      pick: 'rr',
      pid: nginx.child.pid,
      workloads,
    });
  rows.push({
    name: IDEAL,
    policy: null,
    targets: replicas.targets(),
    pick: 'group',
    pid: null,
    workloads: workloads.filter((w) => w === 'high-reuse'),
  });

  // The embedded process also runs the manager; its CPU while only the replicas are busy (the
  // calibration goes direct) is the background that AppProxy's CPU per request includes.
  const idle0 = cpuSeconds(sys.pid);
  const idleT = performance.now();
  const s = await calibrate(ctx, load, replicas, k);
  const idleRate = (cpuSeconds(sys.pid) - idle0) / ((performance.now() - idleT) / 1000);
  ctx.out.note(
    `Inference: AppProxy's CPU is its embedded process (manager + worker), idle at ${idleRate.toFixed(3)} CPU-s/s during the calibration; nginx's is its master and worker.`,
  );
  for (let r = 0; r < rounds; r++) {
    const byRow = new Map<string, Map<Workload, Measured>>();
    for (const row of roundOrder(rows, r)) {
      const m = new Map<Workload, Measured>();
      byRow.set(row.name, m);
      // Kill last: whatever a kill leaves behind (nginx marks the replica failed for 10 s) has
      // time to pass before the next row.
      for (const w of row.workloads) {
        const t0 = performance.now();
        const x = await runOne({ load, replicas, api, ep: llmEp, s }, row, w);
        x.wallS = (performance.now() - t0) / 1000;
        m.set(w, x);
        record(ctx, w, row.name, x);
        log(`round ${r + 1} ${line(w, row.name, x)}`);
      }
    }
    ratios(ctx, byRow);
  }
  await clientAborts(ctx, api, llmEp, replicas, sys.pid);
  await replicas.stopAll();

  if (ctx.versions.wrk) await addedLatency(ctx, api, fixedEp, fixed, nginx, policies);
  else ctx.out.note('Inference added latency: not measured (wrk is not installed).');
  // Nothing of this section outlives it (the harness would stop them at the end anyway).
  await load.stop();
  await nginx?.stop();
  await fixed.stopAll();
  await sys.stop();
}

/**
 * Capacity, direct to the replicas, closed loop with every running set full (1.5 × max-num-seqs
 * in flight per replica): high reuse with each tenant sent to one replica (an ideal prefix
 * router), low reuse in turn. The section's rates are fractions of these.
 */
async function calibrate(ctx: Context, load: Load, replicas: Replicas, k: number): Promise<Setting> {
  const quick = ctx.opts.quick;
  const runS = ctx.opts.counts.inferenceRunS;
  const high = highShape(k);
  const base = {
    targets: replicas.targets(),
    mode: 'closed' as const,
    concurrency: k * 24,
    warmS: quick ? 0.6 : 1.5,
    durationS: quick ? 2 : 4,
    timeoutS: 30,
    seed: 1,
    abortFraction: 0,
  };
  await replicas.restart();
  const ideal = await load.run({ ...base, pick: 'group', shape: high });
  await replicas.restart();
  const low = await load.run({ ...base, pick: 'rr', shape: LOW });
  const s: Setting = {
    k,
    runS,
    warmS: runS / 4,
    // A request's budget, ~10× an unloaded one (~0.3 s): a policy whose queue grows past it gets
    // timeouts; it also bounds how long an overloaded row's run lasts.
    timeoutS: 3,
    highRate: HIGH_LOAD * ideal.completedPerS,
    lowRate: LOW_LOAD * low.completedPerS,
    high,
  };
  const msg =
    `Inference capacity (direct, closed loop): high reuse with ideal prefix routing ${ideal.completedPerS.toFixed(1)} req/s ` +
    `(cache hits ${pct(ideal.cachedTokens, ideal.promptTokens)} %), low reuse ${low.completedPerS.toFixed(1)} req/s; ` +
    `offered: high reuse ${s.highRate.toFixed(1)} req/s (×${HIGH_LOAD}), low reuse ${s.lowRate.toFixed(1)} req/s (×${LOW_LOAD}).`;
  log(msg);
  ctx.out.note(msg);
  ctx.out.record('inference', 'capacity', 'idealHighReqPerS', ideal.completedPerS);
  ctx.out.record('inference', 'capacity', 'lowReqPerS', low.completedPerS);
  return s;
}

const pct = (a: number, b: number) => (b > 0 ? ((100 * a) / b).toFixed(0) : 'n/a');

interface Measured {
  res: LoadResult;
  sim: SimCounters;
  cpuS: number;
  left: Left;
  /** The whole run: restart, warm-up, load. */
  wallS?: number;
}

async function runOne(
  env: { load: Load; replicas: Replicas; api: Api; ep: Endpoint; s: Setting },
  row: Row,
  w: Workload,
): Promise<Measured> {
  const { load, replicas, api, ep, s } = env;
  await replicas.restart(w === 'slow-replica' ? SLOW_REPLICA : null);
  // After the restart: requests a proxy still had upstream (see untilIdle) fail with it, and the
  // route state they leave behind goes with the reset. Other rows leave the endpoint on a
  // load-only policy, so that a previous policy's scraper of the engines' /metrics does not poll
  // the replicas during their runs.
  await configure(api, ep, replicas.ports, row.policy ?? 'round-robin');
  // Warm-up: connections through the row to every replica (stale ones from before the restart
  // fail here, not in the run); prompts this short fill no cache block.
  await load
    .run({
      targets: row.targets,
      pick: 'rr',
      shape: { kind: 'tiny', groups: 0, systemTokens: 0, questionTokens: 0, maxTokens: 1 },
      mode: 'closed',
      concurrency: 2,
      maxRequests: 4 * s.k,
      durationS: 10,
      timeoutS: 5,
      seed: 99,
      abortFraction: 0,
    })
    .catch(() => undefined);
  // A proxy that replayed such failed requests to the fresh replicas must not start the run with
  // them there.
  await untilIdle(replicas);
  const sim0 = await allCounters(replicas);
  const cpu0 = row.pid ? cpuSeconds(row.pid) : 0;
  let killedPart = ZERO;
  const timers: NodeJS.Timeout[] = [];
  let restarted: Promise<void> = Promise.resolve();
  const onStart = () => {
    if (w !== 'replica-kill') return;
    timers.push(
      setTimeout(() => {
        // Its counters die with it: read them first (what it generates after this read is lost).
        void counters(replicas.ports[KILLED_REPLICA]!).then((c) => {
          killedPart = c;
          replicas.kill(KILLED_REPLICA);
        });
      }, s.runS * 400),
      setTimeout(() => {
        restarted = replicas.start(KILLED_REPLICA).catch(() => {});
      }, s.runS * 700),
    );
  };
  const high = w !== 'low-reuse';
  const res = await load.run(
    {
      targets: row.targets,
      pick: row.pick,
      shape: high ? s.high : LOW,
      mode: 'open',
      rate: high ? s.highRate : s.lowRate,
      durationS: s.runS,
      warmS: s.warmS,
      timeoutS: s.timeoutS,
      // The same requests for every row of a workload, different ones per workload.
      seed: 1000 + WORKLOADS.indexOf(w),
      abortFraction: ABORT_FRACTION,
    },
    onStart,
  );
  for (const t of timers) clearTimeout(t);
  await restarted;
  // What the replicas generate for requests left behind counts in this run, and so does the CPU
  // the proxy spends ending them.
  const left = await untilIdle(replicas);
  const cpuS = row.pid ? cpuSeconds(row.pid) - cpu0 : Number.NaN;
  // The killed replica's counters restarted from 0: its share is what it had counted before the
  // kill (killedPart) plus everything since its restart, which the difference already holds.
  const sim = add(sub(await allCounters(replicas), sim0), killedPart);
  return { res, sim, cpuS, left };
}

function successPct(r: LoadResult): number {
  const asked = r.sent - r.aborted;
  return asked > 0 ? (100 * r.completed) / asked : Number.NaN;
}

function record(ctx: Context, w: Workload, rowName: string, x: Measured): void {
  const who = `${w} · ${rowName}`;
  const rec = (metric: string, v: number) => ctx.out.record('inference', who, metric, v);
  const { res, sim } = x;
  rec('ttftP50Ms', res.ttftMs.p50);
  rec('ttftP90Ms', res.ttftMs.p90);
  rec('ttftP99Ms', res.ttftMs.p99);
  rec('itlP50Ms', res.itlMs.p50);
  rec('itlP99Ms', res.itlMs.p99);
  rec('e2eP50Ms', res.e2eMs.p50);
  rec('e2eP99Ms', res.e2eMs.p99);
  rec('requests', res.sent);
  rec('successPct', successPct(res));
  rec('failedBeforeFirstToken', res.failedBeforeFirstToken);
  rec('failedMidStream', res.failedMidStream);
  rec('timeouts', res.failures.timeout ?? 0);
  rec('cacheHitPct', sim.queries > 0 ? (100 * sim.hits) / sim.queries : Number.NaN);
  rec('tokensPerS', res.tokensPerS);
  rec('cpuPer1k', res.sent > 0 ? (x.cpuS / res.sent) * 1000 : Number.NaN);
  // Tokens the replicas generated that no client received, per stream the client closed (dropped
  // on purpose or timed out): what a late (or missing) close of the upstream costs. A few per
  // stream are in flight when it closes (a chunk on the wire, up to 3 not yet sent); streams cut
  // by the kill add theirs in that workload.
  rec(
    'undeliveredPerClose',
    res.clientClosed > 0 ? Math.max(0, sim.generated - res.tokens) / res.clientClosed : Number.NaN,
  );
  rec('tokensAfterAbort', sim.afterAbort);
  rec('leftUpstream', x.left.requests);
  rec('leftForMs', x.left.ms);
  const failures = Object.entries(res.failures);
  if (failures.length)
    ctx.out.note(
      `Inference ${who}: ${failures.map(([f, n]) => `${n} ${f}`).join(', ')} of ${res.sent - res.aborted} requests.`,
    );
}

function line(w: Workload, rowName: string, x: Measured): string {
  const { res, sim } = x;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
  return (
    `${w.padEnd(12)} ${rowName.padEnd(16)} TTFT p50/p90/p99 ${f(res.ttftMs.p50)}/${f(res.ttftMs.p90)}/${f(res.ttftMs.p99)} ms  ` +
    `ITL p50 ${res.itlMs.p50.toFixed(1)} ms  e2e p99 ${f(res.e2eMs.p99)} ms  ok ${successPct(res).toFixed(1)} %  ` +
    `hits ${pct(sim.hits, sim.queries)} %  ${f(res.tokensPerS)} tok/s  ${res.sent} req  ` +
    (x.left.requests ? `${x.left.requests} left upstream for ${f(x.left.ms)} ms  ` : '') +
    (Number.isFinite(x.cpuS) ? `CPU ${((x.cpuS / Math.max(1, res.sent)) * 1000).toFixed(2)} s/1k  ` : '') +
    `(${(x.wallS ?? 0).toFixed(1)} s)`
  );
}

/**
 * Ratios within the round just run, against round-robin and least-inflight (P2C): taken per
 * round so that the machine's drift between rounds cancels out; the report gives their medians.
 */
function ratios(ctx: Context, byRow: Map<string, Map<Workload, Measured>>): void {
  const rr = byRow.get('round-robin');
  const p2c = byRow.get('least-inflight');
  for (const [name, m] of byRow) {
    for (const [w, x] of m) {
      const who = `${w} · ${name}`;
      const rec = (metric: string, v: number | undefined) => {
        if (v !== undefined && Number.isFinite(v)) ctx.out.record('inference', who, metric, v);
      };
      const ref = (t?: Map<Workload, Measured>) => t?.get(w)?.res;
      rec('ttftP90xRR', ratio(ref(rr)?.ttftMs.p90, x.res.ttftMs.p90));
      rec('ttftP90xP2C', ratio(ref(p2c)?.ttftMs.p90, x.res.ttftMs.p90));
      rec('tpsVsRR', ratio(x.res.tokensPerS, ref(rr)?.tokensPerS));
      rec('tpsVsP2C', ratio(x.res.tokensPerS, ref(p2c)?.tokensPerS));
      if (w === 'slow-replica')
        rec('slowP99VsFast', ratio(x.res.ttftMs.p99, m.get('high-reuse')?.res.ttftMs.p99));
    }
  }
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !(b > 0)) return undefined;
  return a / b;
}

// ---------------------------------------------------------------- client aborts

/**
 * `counts.endpointAborts` streaming requests to the endpoint (the checked policy, the four
 * replicas), each closed by its client right after sending, or after 1–4 chunks of its stream,
 * 64 at a time; then, once the engines are idle, the embedded process's open descriptors against
 * their count before (after a warm-up), and the tokens the engines generated after an abort.
 */
async function clientAborts(
  ctx: Context,
  api: Api,
  ep: Endpoint,
  replicas: Replicas,
  pid: number,
): Promise<void> {
  const total = ctx.opts.counts.endpointAborts;
  await replicas.restart(null);
  await configure(api, ep, replicas.ports, checkedPolicy(ctx.opts.policies));
  const target = { port: ep.target.port, host: ep.target.host, authorization: ep.target.authorization! };
  // Warm-up: pools to every replica, JIT, the worker's per-key and per-route state.
  await abortLoad({ ...target, total: 500, concurrency: 64, maxS: 30, seed: 7 });
  await untilIdle(replicas);
  await sleep(500);
  const fd0 = fdCount(pid);
  const sim0 = await allCounters(replicas);
  const r = await abortLoad({ ...target, total, concurrency: 64, maxS: 240, seed: 8 });
  const left = await untilIdle(replicas);
  // Sockets the proxy closed linger in its table until their close callbacks ran.
  let fds = fdCount(pid);
  const t0 = performance.now();
  while (fds > fd0 && performance.now() - t0 < 10_000) {
    await sleep(100);
    fds = fdCount(pid);
  }
  const sim = sub(await allCounters(replicas), sim0);
  const rec = (m: string, v: number) => ctx.out.record('inferenceAborts', 'llm-sim ×4', m, v);
  rec('requests', r.sent);
  rec('beforeHead', r.beforeHead);
  rec('afterBytes', r.afterBytes);
  rec('completed', r.completed);
  rec('errors', r.errors);
  rec('perS', r.sent / r.seconds);
  rec('fdGrowth', fds - fd0);
  rec('tokensAfterAbort', sim.afterAbort);
  rec('leftUpstream', left.requests);
  log(
    `client aborts: ${r.sent} requests in ${r.seconds.toFixed(1)} s (${(r.sent / r.seconds).toFixed(0)}/s): ` +
      `${r.beforeHead} closed before any byte, ${r.afterBytes} after the first bytes, ${r.completed} completed first, ` +
      `${r.errors} errors; proxy fds ${fd0} → ${fds}; engines: ${sim.afterAbort} tokens after an abort, ` +
      `${left.requests} requests still in them when the load stopped (gone in ${left.ms.toFixed(0)} ms)`,
  );
}

// ---------------------------------------------------------------- added latency

/** A wrk script: a small non-streaming completion, and `delayMs` on average between requests. */
function script(delayMs: number | null): string {
  const path = join(tmpdir(), `bench-llm-${process.pid}-${delayMs === null ? 'full' : 'delay'}.lua`);
  const body = JSON.stringify({
    model: 'sim-model',
    messages: [{ role: 'user', content: 'ping' }],
    max_tokens: 1,
  });
  let lua = `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\n`;
  if (delayMs !== null) {
    const lo = Math.floor(delayMs);
    lua += `function delay()\n  if math.random() < ${(delayMs - lo).toFixed(4)} then return ${lo + 1} end\n  return ${lo}\nend\n`;
  }
  writeFileSync(path, lua);
  return path;
}

async function wrk(t: LoadTarget, seconds: number, delayMs: number | null): Promise<WrkOut> {
  const argv = ['wrk', '-t1', `-c${CONNS}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency'];
  argv.push('--timeout', '5s', '-H', `Host: ${t.host}`);
  if (t.authorization) argv.push('-H', `Authorization: ${t.authorization}`);
  argv.push('-s', script(delayMs), `http://127.0.0.1:${t.port}/v1/chat/completions`);
  return parseWrk(await runCommand(argv, { cpus: LOAD_CPU, timeoutMs: (seconds + 30) * 1000 }));
}

/**
 * Latency a hop adds at half load: wrk (c=50, closed loop with a per-request delay calibrated so
 * that every row carries the same rate) against the instant replica, direct, through an endpoint
 * (each policy) and through nginx. Half of the endpoint's own capacity, measured first.
 */
async function addedLatency(
  ctx: Context,
  api: Api,
  ep: Endpoint,
  fixed: Replicas,
  nginx: Nginx | null,
  policies: string[],
): Promise<void> {
  const quick = ctx.opts.quick;
  const secs = quick ? 1 : 2;
  await configure(api, ep, fixed.ports, 'least-inflight');
  await wrk(ep.target, 1, null); // warm-up (JIT, pools)
  const full = await wrk(ep.target, quick ? 1 : 2, null);
  const rate = full.rps / 2;
  console.log(
    `\n== Inference: added latency at half of the endpoint's capacity (${rate.toFixed(0)} of ${full.rps.toFixed(0)} req/s), instant replica`,
  );
  // The load-only policies cost the same per request (no body is read to pick): least-inflight,
  // the default, stands for them; the policy the goals are checked on (which may parse and hash
  // the prompt) beside it. Quick: that one only.
  const checked = checkedPolicy(policies);
  const measured = quick || checked === 'least-inflight' ? [checked] : ['least-inflight', checked];
  const rows: { name: string; policy: string | null; target: LoadTarget }[] = [
    { name: 'direct', policy: null, target: fixed.targets()[0]! },
    ...measured.map((p) => ({ name: p, policy: p, target: ep.target })),
  ];
  if (nginx)
    rows.push({
      name: NGINX,
      policy: null,
      target: { port: nginx.fixedPort, host: `127.0.0.1:${nginx.fixedPort}` },
    });
  const period = (CONNS / rate) * 1000;
  for (let r = 0; r < ctx.opts.counts.inferenceRounds; r++) {
    const byRow = new Map<string, WrkOut>();
    for (const row of roundOrder(rows, r)) {
      if (row.policy) {
        await configure(api, ep, fixed.ports, row.policy);
        await sleep(300);
      }
      let d = Math.max(0, period - 0.3);
      const c = await wrk(row.target, 1, d);
      d = Math.max(0, d + (period - (CONNS / c.rps) * 1000));
      const w = await wrk(row.target, secs, d);
      byRow.set(row.name, w);
      if (w.non2xx + w.errors)
        ctx.out.note(`Inference added latency ${row.name}: ${w.non2xx + w.errors} failed requests.`);
    }
    const dir = byRow.get('direct')!;
    for (const [name, w] of byRow) {
      const rec = (m: string, v: number) => ctx.out.record('inferenceAdded', name, m, v);
      rec('rps', w.rps);
      rec('p50Ms', w.p50Ms);
      rec('p99Ms', w.p99Ms);
      if (name !== 'direct') {
        rec('addedP50Ms', w.p50Ms - dir.p50Ms);
        rec('addedP99Ms', w.p99Ms - dir.p99Ms);
      }
      log(
        `round ${r + 1} ${name.padEnd(16)} ${w.rps.toFixed(0).padStart(6)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms` +
          (name === 'direct'
            ? ''
            : `  added p50 ${(w.p50Ms - dir.p50Ms).toFixed(2)} ms, p99 ${(w.p99Ms - dir.p99Ms).toFixed(2)} ms`),
      );
    }
  }
}
