/**
 * What the sections of `npm run bench` share, as one object that bench/run.ts builds and passes
 * to each section's `run(ctx)`: the options, the peers found on this machine, the upstream, the
 * processes to stop at the end, the HTTP/WebSocket rows and the collector of results and notes.
 * Also the functions the sections start and measure those rows with.
 */
import { loadavg } from 'node:os';
import {
  installMissing,
  type Peer,
  type PeerVersions,
  peerVersions,
  startChp,
  startNginx,
} from './lib/peers.ts';
import { type Child, canPin, pin, start, tsArgv } from './lib/proc.ts';
import type { Results } from './lib/report.ts';
import { workerSupportsProcesses } from './lib/support.ts';
import { LOAD_CPU, type Options, PROXY_CPU } from './options.ts';

export const log = (s: string) => console.log(`  ${s}`);

/** A run's numbers, notes and skipped sections: what the report is made of besides the options. */
export class Collector {
  readonly results: Results = {
    http: {},
    halfload: {},
    ws: {},
    tcp: {},
    control: {},
    revocation: {},
    inference: {},
    inferenceAdded: {},
    inferenceAborts: {},
    memory: {},
    leak: {},
  };
  readonly notes: string[] = [];
  readonly skipped: Record<string, string> = {};

  /** One value of `metric` for `who` (a proxy, or a circuit count); one per round. */
  record(section: keyof Results, who: string, metric: string, v: number): void {
    const bySection = this.results[section];
    const s = bySection[who] ?? {};
    bySection[who] = s;
    const list = s[metric] ?? [];
    s[metric] = list;
    list.push(v);
  }

  note(msg: string): void {
    this.notes.push(msg);
  }
}

/** The processes a run started; stopped in reverse order at the end, or on Ctrl-C. */
export class Children {
  readonly #list: { stop(): Promise<void> }[] = [];

  add<T extends { stop(): Promise<void> }>(c: T): T {
    this.#list.push(c);
    return c;
  }

  async stopAll(): Promise<void> {
    for (const c of this.#list.splice(0).reverse()) await c.stop().catch(() => {});
  }
}

/** An HTTP/WebSocket target: where wrk connects and with which headers; pid = whose CPU counts. */
export interface Target {
  name: string;
  port: number;
  host: string;
  cookie: string | null;
  pid: number | null;
}

export interface Context {
  opts: Options;
  versions: PeerVersions;
  /** Whether the worker has a `processes` option (then a 2-process row is measured). */
  multiProcess: boolean;
  /** The upstream process (HTTP, WebSocket echo, TCP sink/source/echo) and its ports. */
  upstream: { child: Child; http: number; tcp: number };
  children: Children;
  out: Collector;
  /** The HTTP/WebSocket rows: direct, then (after `startTargets`) AppProxy and the peers. */
  targets: Target[];
  /** The HTTP peers among the targets (configurable-http-proxy, nginx). */
  peers: Target[];
}

/** Set-up: notes on the machine, this process pinned, the peers' versions, the upstream started. */
export async function createContext(opts: Options, children: Children): Promise<Context> {
  const out = new Collector();
  const loadAtStart = loadavg()[0]!;
  if (loadAtStart > 0.5) {
    const msg = `The machine was not idle at the start (1-minute load average ${loadAtStart.toFixed(2)}): other work competes with the proxies and the load generator, so absolute numbers are low and noisy.`;
    console.log(msg);
    out.note(msg);
  }
  if (canPin) await pin(process.pid, LOAD_CPU);
  else out.note('taskset is not available: nothing was pinned.');
  let versions = peerVersions();
  if (opts.install) {
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
    out.note(msg);
  }
  const multiProcess = workerSupportsProcesses();
  console.log(
    `AppProxy benchmark${opts.quick ? ' (quick)' : ''}: ${[...opts.only].join(', ')}; ${opts.rounds} rounds of ${opts.duration} s; ` +
      `proxy on CPU ${PROXY_CPU}, load and upstream on CPU ${LOAD_CPU}`,
  );
  const child = children.add(
    await start('upstream', tsArgv('bench/servers/upstream.ts'), { cpus: LOAD_CPU }),
  );
  const upstream = { child, http: Number(child.info.http), tcp: Number(child.info.tcp) };
  return {
    opts,
    versions,
    multiProcess,
    upstream,
    children,
    out,
    targets: [
      { name: 'direct', port: upstream.http, host: `127.0.0.1:${upstream.http}`, cookie: null, pid: null },
    ],
    peers: [],
  };
}

/** The HTTP/WebSocket rows after direct: AppProxy in port and wildcard mode, then the peers. */
export async function startTargets(ctx: Context): Promise<void> {
  const port = await startAppProxy(ctx, 'port');
  const wildcard = await startAppProxy(ctx, 'wildcard');
  ctx.targets.push(apTarget('appproxy-port', port), apTarget('appproxy-wildcard', wildcard));
  // The same worker with the HTTP/1.1 fast path off: what node:http per request costs, side by side.
  if (ctx.opts.only.has('http'))
    ctx.targets.push(
      apTarget(
        'appproxy-port-nodehttp',
        await startAppProxy(ctx, 'port', 1, 'appproxy-port-nodehttp', 'node-http'),
      ),
    );
  if (ctx.multiProcess)
    ctx.targets.push(apTarget('appproxy-port-2proc', await startAppProxy(ctx, 'port', 2)));
  else
    ctx.out.note('1→2 process scaling: not measured (single process; the worker has no `processes` option).');
  const chp = await tryPeer(ctx, 'configurable-http-proxy', () => startChp(ctx.upstream, PROXY_CPU));
  if (chp) ctx.peers.push(peerTarget(chp));
  if (ctx.versions.nginx) {
    const n = await tryPeer(ctx, 'nginx', () => startNginx(ctx.upstream, PROXY_CPU, false));
    if (n) ctx.peers.push(peerTarget(n));
  }
  ctx.targets.push(...ctx.peers);
}

/** The real worker (bench/servers/appproxy.ts) on the proxy's CPU (both CPUs for 2 processes). */
export async function startAppProxy(
  ctx: Context,
  mode: 'port' | 'wildcard',
  processes = 1,
  name = `appproxy-${mode}`,
  path: 'fast' | 'node-http' = 'fast',
): Promise<Child> {
  const c = await start(
    name,
    tsArgv('bench/servers/appproxy.ts', mode, String(ctx.upstream.http), String(processes), path),
    { cpus: processes > 1 ? `${PROXY_CPU},${LOAD_CPU}` : PROXY_CPU },
  );
  return ctx.children.add(c);
}

export function apTarget(name: string, c: Child): Target {
  return { name, port: c.info.port, host: c.info.host, cookie: c.info.cookie, pid: c.pid };
}

export function peerTarget(p: Peer): Target {
  return { name: p.name, port: p.httpPort!, host: `127.0.0.1:${p.httpPort}`, cookie: null, pid: p.child.pid };
}

/** Starts a peer; one that cannot start is noted and its rows are left out (null). */
export async function tryPeer(ctx: Context, name: string, f: () => Promise<Peer>): Promise<Peer | null> {
  try {
    return ctx.children.add(await f());
  } catch (err) {
    const msg = `${name} could not start: ${String(err).slice(0, 300)}`;
    console.log(msg);
    ctx.out.note(msg);
    return null;
  }
}

/** The direct row (no pid) is the upstream's ceiling: it runs on the proxy's CPU for that run. */
export async function asDirect<T>(ctx: Context, t: { pid: number | null }, f: () => Promise<T>): Promise<T> {
  if (t.pid !== null) return f();
  await pin(ctx.upstream.child.pid, PROXY_CPU);
  try {
    return await f();
  } finally {
    await pin(ctx.upstream.child.pid, LOAD_CPU);
  }
}

/** Rounds run the rows in alternating order: every other round backwards. */
export function roundOrder<T>(rows: T[], round: number): T[] {
  return round % 2 ? [...rows].reverse() : rows;
}
