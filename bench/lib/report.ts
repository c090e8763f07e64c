/**
 * Rendering of a benchmark run: the ratios-vs-targets checks, a terminal table and
 * docs/performance.md (ratios first, absolute numbers second, then the method).
 */
import { inferenceChecks } from './inference-report.ts';
import type { Machine } from './machine.ts';
import { type Spread, spread } from './stats.ts';

/** section → who (proxy, or circuit count) → metric → one value per round. */
export type Results = Record<
  | 'http'
  | 'halfload'
  | 'ws'
  | 'tcp'
  | 'control'
  | 'revocation'
  | 'inference'
  | 'inferenceAdded'
  | 'inferenceAborts'
  | 'memory'
  | 'leak',
  Record<string, Record<string, number[]>>
>;

export interface Report {
  date: string;
  quick: boolean;
  rounds: number;
  durationS: number;
  elapsedS: number;
  sections: string[];
  machine: Machine;
  pinning: { proxy: string; load: string } | null;
  counts: Record<string, number | number[]>;
  results: Results;
  skipped: Record<string, string>;
  notes: string[];
}

export interface Check {
  target: string;
  measured: string;
  goal: string;
  ok: boolean | null;
}

function med(r: Results, section: keyof Results, who: string, metric: string): number | undefined {
  return spread(r[section][who]?.[metric] ?? [])?.median;
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

export function checks(rep: Report): Check[] {
  const r = rep.results;
  const out: Check[] = [];
  const aps = Object.keys(r.http)
    .concat(Object.keys(r.ws))
    .filter((k, i, a) => k.startsWith('appproxy') && a.indexOf(k) === i);
  const ratio = (
    section: keyof Results,
    metric: string,
    peer: string,
    goal: number,
    label: string,
    ap: string,
  ): void => {
    const a = med(r, section, ap, metric);
    const b = med(r, section, peer, metric);
    if (a === undefined) return;
    if (b === undefined) {
      out.push({
        target: `${label} (${ap})`,
        measured: `${peer} not measured`,
        goal: `≥ ${goal}×`,
        ok: null,
      });
      return;
    }
    out.push({ target: `${label} (${ap})`, measured: `${f(a / b)}×`, goal: `≥ ${goal}×`, ok: a / b >= goal });
  };
  for (const ap of aps.filter((a) => r.http[a])) {
    ratio('http', 'rps', 'nginx', 0.8, 'HTTP req/s vs nginx', ap);
    ratio('http', 'rps', 'configurable-http-proxy', 3.5, 'HTTP req/s vs configurable-http-proxy', ap);
    const p = med(r, 'halfload', ap, 'p99Ms');
    const n = med(r, 'halfload', 'nginx', 'p99Ms');
    if (p !== undefined)
      out.push({
        target: `HTTP p99 at half of nginx's rate (${ap})`,
        measured: n === undefined ? `${f(p)} ms (nginx not measured)` : `${f(p)} ms vs nginx ${f(n)} ms`,
        goal: '≤ nginx + 1 ms',
        ok: n === undefined ? null : p <= n + 1,
      });
  }
  for (const ap of aps.filter((a) => r.ws[a])) {
    ratio('ws', 'rate', 'nginx', 0.8, 'WebSocket echo round trips/s vs nginx', ap);
    ratio('ws', 'perCpuSecond', 'nginx', 0.8, 'WebSocket round trips per proxy CPU-second vs nginx', ap);
  }
  const tcpRow = r.tcp['appproxy-tcp'] ? 'appproxy-tcp' : r.tcp['node-pipe'] ? 'node-pipe' : null;
  if (tcpRow) {
    for (const dir of ['up', 'down'])
      ratio('tcp', `bulk_${dir}_gbit`, 'haproxy', 0.9, `TCP bulk ${dir} vs haproxy`, tcpRow);
  }
  const levels = Object.keys(r.control)
    .map(Number)
    .sort((a, b) => a - b);
  const top = levels[levels.length - 1];
  if (top !== undefined) {
    const at = String(top);
    const s = med(r, 'control', at, 'startP99Ms')!;
    out.push({
      target: `Route live after start-service, p99, ${top} circuits`,
      measured: `${f(s, 1)} ms`,
      goal: '≤ 50 ms (at 10k)',
      ok: s <= 50,
    });
    const ref = med(r, 'control', at, 'refusedP99Ms')!;
    out.push({
      target: 'Terminate → first refused request, p99',
      measured: `${f(ref, 1)} ms`,
      goal: '≤ 500 ms',
      ok: ref <= 500,
    });
    const wc = med(r, 'control', at, 'wsClosedP99Ms')!;
    out.push({
      target: 'Terminate → live WebSocket closed, p99',
      measured: `${f(wc, 1)} ms`,
      goal: '≤ 500 ms',
      ok: wc <= 500,
    });
    const added = med(r, 'control', at, 'routeAddedP99Ms');
    if (added !== undefined)
      out.push({
        target: `Endpoint route added → its first request, p99, ${top} circuits`,
        measured: `${f(added, 1)} ms (the PUT's own answer p99 ${f(med(r, 'control', at, 'routePutP99Ms') ?? Number.NaN, 1)} ms)`,
        goal: '≤ 50 ms (at 10k)',
        ok: added <= 50,
      });
    const removed = med(r, 'control', at, 'routeRemovedP99Ms');
    if (removed !== undefined)
      out.push({
        target: 'Endpoint route removed → no new request after, p99',
        measured: `${f(removed, 1)} ms`,
        goal: '≤ 20 ms',
        ok: removed <= 20,
      });
  } else if (rep.skipped.control) {
    out.push({ target: 'Control plane', measured: rep.skipped.control, goal: '', ok: null });
  }
  for (const who of Object.keys(r.revocation ?? {})) {
    const n = med(r, 'revocation', who, 'sessions');
    const ref = med(r, 'revocation', who, 'refusedP99Ms')!;
    const wc = med(r, 'revocation', who, 'wsClosedP99Ms')!;
    out.push({
      target: `Login session ended → its cookie refused, p99 (${who}, ${n} live)`,
      measured: `${f(ref, 1)} ms`,
      goal: '≤ 500 ms',
      ok: ref <= 500,
    });
    out.push({
      target: `Login session ended → its WebSocket closed, p99 (${who}, ${n} live)`,
      measured: `${f(wc, 1)} ms`,
      goal: '≤ 500 ms',
      ok: wc <= 500,
    });
  }
  out.push(...inferenceChecks(r.inference ?? {}, r.inferenceAdded ?? {}, r.inferenceAborts ?? {}));
  const ws = med(r, 'memory', 'appproxy-port', 'wsIdleBytesPerConn');
  if (ws !== undefined) {
    const n = med(r, 'memory', 'appproxy-port', 'wsIdleOpen');
    out.push({
      target: `RSS per idle WebSocket (${n} connections)`,
      measured: `${f(ws / 1024, 1)} KiB`,
      goal: '≤ 16 KiB',
      ok: ws <= 16 * 1024,
    });
  }
  const h = med(r, 'memory', 'appproxy-wildcard', 'circuitHandlesAdded');
  if (h !== undefined) {
    const per = med(r, 'memory', 'appproxy-wildcard', 'circuitBytesPerIdle')!;
    out.push({
      target: `Idle circuits in wildcard mode (${rep.counts.idleCircuits}): timers/listeners/fds added`,
      measured: `${h} handles, ${med(r, 'memory', 'appproxy-wildcard', 'circuitFdsAdded')} fds; ${f(per / 1024, 2)} KiB RSS each`,
      goal: 'none per circuit',
      ok: h <= 2,
    });
  }
  const fd = med(r, 'leak', 'appproxy-port', 'fdGrowth');
  if (fd !== undefined) {
    const n = med(r, 'leak', 'appproxy-port', 'requests');
    const rss = med(r, 'leak', 'appproxy-port', 'rssGrowthBytes')!;
    const rssFirst = med(r, 'leak', 'appproxy-port', 'rssGrowthFromFirstBytes');
    const extra = med(r, 'leak', 'appproxy-port', 'extraHandles')!;
    out.push({
      target: `No fd growth after ${n} requests (aborted clients, stopped upstream, half-open)`,
      measured: `${fd >= 0 ? '+' : ''}${fd} fds, ${extra >= 0 ? '+' : ''}${extra} handles`,
      goal: '+0 (±2)',
      ok: fd <= 2 && extra <= 0,
    });
    out.push({
      target: `No RSS growth after ${n} requests (after GC; steady state = second half of the cycles)`,
      measured:
        `${rss >= 0 ? '+' : ''}${f(rss / 2 ** 20, 1)} MiB` +
        (rssFirst === undefined
          ? ''
          : ` (from the first cycle: ${rssFirst >= 0 ? '+' : ''}${f(rssFirst / 2 ** 20, 1)} MiB)`),
      goal: '≤ +16 MiB',
      ok: rss <= 16 * 2 ** 20,
    });
  }
  if (r.http['node-baseline'] && r.http['appproxy-port'])
    out.push({
      target: 'HTTP req/s vs the plainest Node proxy (node:http + undici, no auth, no activity)',
      measured: `${f(med(r, 'http', 'appproxy-port', 'rps')! / med(r, 'http', 'node-baseline', 'rps')!)}× (nginx ÷ that proxy: ${f(med(r, 'http', 'nginx', 'rps')! / med(r, 'http', 'node-baseline', 'rps')!)}×)`,
      goal: 'reported',
      ok: null,
    });
  if (r.http['appproxy-port'] && r.http['appproxy-port-nodehttp'])
    out.push({
      target: 'HTTP/1.1 fast path ÷ the node:http path (port mode, req/s; proxy CPU-s per 100k)',
      measured: `${f(med(r, 'http', 'appproxy-port', 'rps')! / med(r, 'http', 'appproxy-port-nodehttp', 'rps')!)}× req/s; ${f(med(r, 'http', 'appproxy-port', 'cpuPer100k') ?? Number.NaN, 1)} vs ${f(med(r, 'http', 'appproxy-port-nodehttp', 'cpuPer100k') ?? Number.NaN, 1)} CPU-s`,
      goal: 'reported',
      ok: null,
    });
  if (rep.sections.includes('http'))
    out.push({
      target: '1→2 worker processes scaling',
      measured: r.http['appproxy-port-2proc']
        ? `${f(med(r, 'http', 'appproxy-port-2proc', 'rps')! / med(r, 'http', 'appproxy-port', 'rps')!)}×`
        : 'not measured (single process)',
      goal: 'reported',
      ok: null,
    });
  return out;
}

const mark = (ok: boolean | null) => (ok === null ? '–' : ok ? '✓' : '✗');

interface Col {
  metric: string;
  title: string;
  fmt: (x: number) => string;
}

const TABLES: { section: keyof Results; title: string; who: string; cols: Col[] }[] = [
  {
    section: 'http',
    title: 'HTTP, wrk c=50 keep-alive, 100-byte responses',
    who: 'proxy',
    cols: [
      { metric: 'rps', title: 'req/s', fmt: (x) => f(x, 0) },
      { metric: 'p50Ms', title: 'p50 ms', fmt: (x) => f(x) },
      { metric: 'p99Ms', title: 'p99 ms', fmt: (x) => f(x) },
      { metric: 'cpuPer100k', title: 'proxy CPU-s / 100k req', fmt: (x) => f(x) },
    ],
  },
  {
    section: 'halfload',
    title: "HTTP at half of nginx's rate (c=50)",
    who: 'proxy',
    cols: [
      { metric: 'rps', title: 'req/s', fmt: (x) => f(x, 0) },
      { metric: 'p50Ms', title: 'p50 ms', fmt: (x) => f(x) },
      { metric: 'p99Ms', title: 'p99 ms', fmt: (x) => f(x) },
    ],
  },
  {
    section: 'ws',
    title: 'WebSocket echo, 50 connections, 100-byte messages',
    who: 'proxy',
    cols: [
      { metric: 'rate', title: 'round trips/s', fmt: (x) => f(x, 0) },
      { metric: 'perCpuSecond', title: 'per proxy CPU-s', fmt: (x) => f(x, 0) },
      { metric: 'p50Ms', title: 'p50 ms', fmt: (x) => f(x) },
      { metric: 'p99Ms', title: 'p99 ms', fmt: (x) => f(x) },
    ],
  },
  {
    section: 'tcp',
    title: 'TCP relay',
    who: 'proxy',
    cols: [
      { metric: 'bulk_up_gbit', title: 'bulk up Gbit/s', fmt: (x) => f(x) },
      { metric: 'bulk_down_gbit', title: 'bulk down Gbit/s', fmt: (x) => f(x) },
      { metric: 'bulk_up_cpuPerGiB', title: 'proxy CPU-s/GiB up', fmt: (x) => f(x) },
      { metric: 'connRate', title: 'conn/s', fmt: (x) => f(x, 0) },
      { metric: 'connP99Ms', title: 'connect+echo p99 ms', fmt: (x) => f(x) },
    ],
  },
  {
    section: 'control',
    title: 'Control plane (embedded system)',
    who: 'live circuits',
    cols: [
      { metric: 'startP50Ms', title: 'start-service→200 p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'startP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
      { metric: 'refusedP50Ms', title: 'terminate→refused p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'refusedP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
      { metric: 'wsClosedP50Ms', title: 'terminate→WS closed p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'wsClosedP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
      {
        metric: 'routeAddedP50Ms',
        title: 'endpoint route added→its 1st request p50 ms',
        fmt: (x) => f(x, 1),
      },
      { metric: 'routeAddedP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
      { metric: 'routePutP50Ms', title: 'the PUT answered p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'routePutP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
      { metric: 'routeRemovedP99Ms', title: 'route removed→no request after, p99 ms', fmt: (x) => f(x, 1) },
    ],
  },
  {
    section: 'revocation',
    title: 'Revocation (embedded system; login sessions each with a cookie and a WebSocket)',
    who: 'KV store',
    cols: [
      { metric: 'sessions', title: 'live login sessions', fmt: (x) => f(x, 0) },
      { metric: 'refusedP50Ms', title: 'ended → cookie refused p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'refusedP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
      { metric: 'wsClosedP50Ms', title: 'ended → WS closed p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'wsClosedP99Ms', title: 'p99 ms', fmt: (x) => f(x, 1) },
    ],
  },
  {
    section: 'inference',
    title:
      'Inference latency (llm-sim replicas, workload · policy; simulated engine: compare rows, not absolutes)',
    who: 'workload · policy',
    cols: [
      { metric: 'ttftP50Ms', title: 'TTFT p50 ms', fmt: (x) => f(x, 0) },
      { metric: 'ttftP90Ms', title: 'TTFT p90 ms', fmt: (x) => f(x, 0) },
      { metric: 'ttftP99Ms', title: 'TTFT p99 ms', fmt: (x) => f(x, 0) },
      { metric: 'itlP50Ms', title: 'ITL p50 ms', fmt: (x) => f(x, 1) },
      { metric: 'itlP99Ms', title: 'ITL p99 ms', fmt: (x) => f(x, 1) },
      { metric: 'e2eP50Ms', title: 'e2e p50 ms', fmt: (x) => f(x, 0) },
      { metric: 'e2eP99Ms', title: 'e2e p99 ms', fmt: (x) => f(x, 0) },
    ],
  },
  {
    section: 'inference',
    title: 'Inference throughput, success, cache and cost',
    who: 'workload · policy',
    cols: [
      { metric: 'requests', title: 'requests', fmt: (x) => f(x, 0) },
      { metric: 'successPct', title: 'success %', fmt: (x) => f(x, 1) },
      { metric: 'failedBeforeFirstToken', title: 'failed before 1st token', fmt: (x) => f(x, 0) },
      { metric: 'failedMidStream', title: 'cut mid-stream', fmt: (x) => f(x, 0) },
      { metric: 'cacheHitPct', title: 'cache hit %', fmt: (x) => f(x, 0) },
      { metric: 'tokensPerS', title: 'output tok/s', fmt: (x) => f(x, 0) },
      { metric: 'cpuPer1k', title: 'proxy CPU-s / 1k req', fmt: (x) => f(x) },
      { metric: 'undeliveredPerClose', title: 'undelivered tok / client close', fmt: (x) => f(x, 1) },
      { metric: 'tokensAfterAbort', title: 'llm-sim tokens after abort', fmt: (x) => f(x, 0) },
      { metric: 'leftUpstream', title: 'left upstream at end', fmt: (x) => f(x, 0) },
      { metric: 'leftForMs', title: 'for ms', fmt: (x) => f(x, 0) },
    ],
  },
  {
    section: 'inference',
    title: 'Inference ratios within each round (× better than the reference when > 1)',
    who: 'workload · policy',
    cols: [
      { metric: 'ttftP90xRR', title: 'TTFT p90: RR ÷ this', fmt: (x) => f(x) },
      { metric: 'ttftP90xP2C', title: 'TTFT p90: P2C ÷ this', fmt: (x) => f(x) },
      { metric: 'tpsVsRR', title: 'tok/s: this ÷ RR', fmt: (x) => f(x) },
      { metric: 'tpsVsP2C', title: 'tok/s: this ÷ P2C', fmt: (x) => f(x) },
      { metric: 'slowP99VsFast', title: 'TTFT p99: slow ÷ all-fast', fmt: (x) => f(x) },
    ],
  },
  {
    section: 'inferenceAdded',
    title: "Inference added latency at half of the endpoint's capacity (instant replica, wrk c=50)",
    who: 'path',
    cols: [
      { metric: 'rps', title: 'req/s', fmt: (x) => f(x, 0) },
      { metric: 'p50Ms', title: 'p50 ms', fmt: (x) => f(x) },
      { metric: 'p99Ms', title: 'p99 ms', fmt: (x) => f(x) },
      { metric: 'addedP50Ms', title: 'added p50 ms', fmt: (x) => f(x) },
      { metric: 'addedP99Ms', title: 'added p99 ms', fmt: (x) => f(x) },
    ],
  },
  {
    section: 'inferenceAborts',
    title: 'Inference client aborts (streaming requests closed by the client; the embedded process)',
    who: 'replicas',
    cols: [
      { metric: 'requests', title: 'requests', fmt: (x) => f(x, 0) },
      { metric: 'beforeHead', title: 'closed before any byte', fmt: (x) => f(x, 0) },
      { metric: 'afterBytes', title: 'closed after first bytes', fmt: (x) => f(x, 0) },
      { metric: 'completed', title: 'completed first', fmt: (x) => f(x, 0) },
      { metric: 'perS', title: 'per s', fmt: (x) => f(x, 0) },
      { metric: 'fdGrowth', title: 'fd growth', fmt: (x) => f(x, 0) },
      { metric: 'tokensAfterAbort', title: 'engine tokens after abort', fmt: (x) => f(x, 0) },
      { metric: 'leftUpstream', title: 'left upstream', fmt: (x) => f(x, 0) },
    ],
  },
  {
    section: 'memory',
    title: 'Memory',
    who: 'proxy',
    cols: [
      { metric: 'wsIdleOpen', title: 'idle WebSockets', fmt: (x) => f(x, 0) },
      { metric: 'wsIdleBytesPerConn', title: 'KiB RSS each', fmt: (x) => f(x / 1024, 1) },
      { metric: 'circuitBytesPerIdle', title: 'KiB RSS per idle circuit', fmt: (x) => f(x / 1024, 2) },
      { metric: 'circuitHandlesAdded', title: 'handles added', fmt: (x) => f(x, 0) },
    ],
  },
  {
    section: 'leak',
    title: 'Leak check',
    who: 'proxy',
    cols: [
      { metric: 'requests', title: 'requests', fmt: (x) => f(x, 0) },
      { metric: 'fdGrowth', title: 'fd growth', fmt: (x) => f(x, 0) },
      { metric: 'extraHandles', title: 'handle growth', fmt: (x) => f(x, 0) },
      { metric: 'rssGrowthBytes', title: 'RSS growth MiB (steady)', fmt: (x) => f(x / 2 ** 20, 1) },
      {
        metric: 'rssGrowthFromFirstBytes',
        title: 'RSS growth MiB (from cycle 1)',
        fmt: (x) => f(x / 2 ** 20, 1),
      },
      { metric: 'heapGrowthBytes', title: 'heap growth MiB', fmt: (x) => f(x / 2 ** 20, 1) },
    ],
  },
];

function cell(s: Spread | null, fmt: (x: number) => string): string {
  if (!s) return '';
  if (s.n === 1 || s.min === s.max) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function tables(rep: Report): { title: string; head: string[]; rows: string[][] }[] {
  const out: { title: string; head: string[]; rows: string[][] }[] = [];
  for (const t of TABLES) {
    const data = rep.results[t.section];
    const who = Object.keys(data);
    if (who.length === 0) continue;
    const cols = t.cols.filter((c) => who.some((w) => data[w]![c.metric]?.length));
    // Several tables may share a section: each shows the rows that have one of its columns.
    const rows = who.filter((w) => cols.some((c) => data[w]![c.metric]?.length));
    if (rows.length === 0) continue;
    out.push({
      title: t.title,
      head: [t.who, ...cols.map((c) => c.title)],
      rows: rows.map((w) => [w, ...cols.map((c) => cell(spread(data[w]![c.metric] ?? []), c.fmt))]),
    });
  }
  return out;
}

function pad(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(w[i]! - [...c].length)).join('  ')).join('\n');
}

export function renderTerminal(rep: Report): string {
  const parts: string[] = [];
  parts.push(`Ratios vs targets${rep.quick ? ' (QUICK run: fewer rounds, smaller counts)' : ''}`);
  parts.push(
    pad([
      ['', 'target', 'measured', 'goal'],
      ...checks(rep).map((c) => [mark(c.ok), c.target, c.measured, c.goal]),
    ]),
  );
  for (const t of tables(rep))
    parts.push(`\n${t.title}: median (min–max) over the rounds\n${pad([t.head, ...t.rows])}`);
  for (const [k, v] of Object.entries(rep.skipped)) parts.push(`${k}: ${v}`);
  return parts.join('\n');
}

function mdTable(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(rep: Report): string {
  const m = rep.machine;
  const v = m.versions;
  const lines: string[] = [];
  lines.push('# Performance');
  lines.push('');
  lines.push(
    `Generated by \`npm run bench${rep.quick ? ' -- --quick' : ''}\` on ${rep.date.slice(0, 10)}; do not edit by hand. ` +
      'Every run also keeps its full numbers in `bench/results/` (`latest.json` is the newest).',
  );
  if (rep.quick)
    lines.push(
      '',
      '> **Quick run**: fewer and shorter rounds and smaller counts (1k instead of 10k); indicative only.',
    );
  lines.push('');
  lines.push('## Machine');
  lines.push('');
  lines.push(
    mdTable(
      ['', ''],
      [
        ['CPU', `${m.cpu}, ${m.cores} cores`],
        ['Memory', `${m.memGiB} GiB`],
        ['OS / kernel', `${m.os} / ${m.kernel}`],
        ['Node.js', m.node],
        ['nginx', v.nginx ? `${v.nginx}${v.nginxStream ? ' (with stream module)' : ''}` : 'not installed'],
        ['haproxy', v.haproxy ?? 'not installed'],
        ['wrk', v.wrk ?? 'not installed'],
        ['configurable-http-proxy', v.chp ?? 'not installed'],
        [
          'Pinning',
          rep.pinning
            ? `proxy under test on CPU ${rep.pinning.proxy}; load generator, upstream and harness on CPU ${rep.pinning.load}`
            : 'none',
        ],
        ['Rounds', `${rep.rounds} × ${rep.durationS} s per measurement, alternating order`],
      ],
    ),
  );
  lines.push('');
  lines.push('## Ratios vs targets');
  lines.push('');
  lines.push(
    mdTable(
      ['', 'Target', 'Measured', 'Goal'],
      checks(rep).map((c) => [mark(c.ok), c.target, c.measured, c.goal]),
    ),
  );
  lines.push('');
  lines.push('## Absolute numbers');
  lines.push('');
  lines.push(
    `Median over the rounds (${rep.rounds} for throughput; ${rep.quick ? 1 : rep.rounds} at half load; one pass of many samples for the control plane, memory and leak rows), (min–max) when they differ.`,
  );
  for (const t of tables(rep)) {
    lines.push('', `### ${t.title}`, '', mdTable(t.head, t.rows));
  }
  for (const [k, s] of Object.entries(rep.skipped)) lines.push('', `**${k}**: ${s}`);
  lines.push('');
  lines.push('## Method');
  lines.push('');
  lines.push(
    [
      '- One upstream process (bench/servers/upstream.ts) answers HTTP with a canned 100-byte response from a raw socket (so that it costs little CPU), hands WebSocket upgrades to node:http + `ws` (echo), and offers a TCP sink, source and echo.',
      '- AppProxy is the real worker (`createWorker`) over the embedded stores in its own process (bench/servers/appproxy.ts), with a real circuit and a real app cookie obtained through `/_appproxy/setup`; the cookie check and activity counting are on. Port mode and wildcard mode (`Host: <6 hex>.apps.localhost`) are separate processes.',
      '- Peers: nginx (1 worker process, upstream keep-alive, access log off), configurable-http-proxy (from npm), haproxy (tcp mode, 1 thread), nginx stream for TCP. All run pinned to the same CPU as AppProxy, one at a time under load, in alternating order across rounds.',
      "- Load: `wrk -t1 -c50` for HTTP; the harness's own raw clients (bench/clients/) for WebSocket and TCP, pinned to the other CPU with the upstream. On 2 cores the load generator competes with the proxy, so CPU-seconds of the proxy process tree (utime+stime from /proc, nginx and haproxy workers included) are reported per 100k requests, per WebSocket round trip and per GiB.",
      '- "direct" rows are the upstream without a proxy, moved onto the proxy\'s CPU for that run: the ceiling of the set-up, not a peer.',
      "- p99 at half load: wrk with a per-request delay (Lua `delay()`), calibrated per proxy so that every proxy carries the same rate (half of nginx's median req/s).",
      '- Control plane: the whole embedded system (bench/servers/embedded.ts) with external sessions (registered by address); circuits are opened with start-service in wildcard mode, 16 at a time. "start-service → first proxied 200" includes the setup redirect and the first request with the app cookie. "terminate" is `DELETE /v1/sessions/:id`, timed to the first non-200 answer and to the close of a WebSocket open through the circuit.',
      "- Memory: RSS (VmRSS of the process tree) before and after opening idle WebSockets through the proxy, divided by their number; AppProxy is measured after a GC. Idle circuits: RouteSpecs put into the worker's KV in wildcard mode; `process.getActiveResourcesInfo()` before and after counts timers, listeners and sockets.",
      "- Inference (`--only inference`, bench/README.md): llm-sim replicas (simulated engines, on the load CPU) behind one AppProxy endpoint whose balancing policy changes between runs and behind nginx `least_conn`; the replicas restart before every run (cold caches); open-loop Poisson load of streaming chat completions: shared system prompts (high reuse), long unique questions (low reuse), one replica 3× slower, one replica SIGKILLed mid-run; TTFT/ITL/e2e from the client, cache hits and generated tokens from the replicas' /metrics. Only same-run ratios mean something.",
      '- Leak check: keep-alive requests, clients that abort mid-request, requests while the upstream is stopped (502) and half-closed or half-open client sockets; then open fds are compared with the baseline after a warm-up, and RSS (after GC) over the second half of eight equal cycles (steady state: a leak grows every cycle, the early high-water marks of the allocator do not). A bounded version runs in `npm test` (test/integration/worker/leak-check.test.ts); benchmarks never run in `npm test` and no timing is asserted anywhere.',
    ].join('\n'),
  );
  if (rep.notes.length) {
    lines.push('', '## Notes from this run', '');
    for (const n of [...new Set(rep.notes)]) lines.push(`- ${n}`);
  }
  lines.push('');
  return lines.join('\n');
}
