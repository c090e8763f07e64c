/**
 * The leak check: against a running AppProxy worker (bench/servers/appproxy.ts, which answers
 * `stats` with its open fds, RSS after a GC and active handles), drive `total` requests mixing
 * keep-alive requests, clients that abort mid-request, a stopped (then restarted) upstream and
 * half-closed client sockets, close every client, and compare fds with the baseline taken after a
 * warm-up. RSS is judged on its steady state: the mix runs in several equal cycles and the growth
 * that counts is the one over the second half of them (a leak grows with every cycle; the
 * allocator's high-water marks of the first cycles do not come back). Used by `npm run bench`
 * (100k requests) and by test/integration/worker/leak-check.test.ts (bounded).
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import type { Child } from './proc.ts';
import { sleep } from './proc.ts';

export interface WorkerStats {
  rss: number;
  heapUsed: number;
  /** Committed V8 heap: garbage a burst left behind shows here and in RSS, not in heapUsed. */
  heapTotal: number;
  external: number;
  fds: number;
  resources: Record<string, number>;
  routes: number;
}

export interface LeakResult {
  requests: number;
  outcomes: Record<string, number>;
  baseline: WorkerStats;
  after: WorkerStats;
  fdGrowth: number;
  /** Steady state: from the end of the middle cycle to the end (both after GC). */
  rssGrowthBytes: number;
  heapGrowthBytes: number;
  /** From the end of the first cycle to the end (includes the allocator settling). */
  rssGrowthFromFirstBytes: number;
  /** RSS after GC at the end of each cycle. */
  rssByCycle: number[];
  /** Handles by type that are more than at the baseline. */
  extraResources: Record<string, number>;
}

export async function workerStats(ap: Child): Promise<WorkerStats> {
  ap.send({ cmd: 'stats' });
  return (await ap.next((m) => m.stats !== undefined, 30_000)).stats as WorkerStats;
}

interface Target {
  port: number;
  host: string;
  cookie: string;
}

function get(agent: Agent | false, t: Target, abort: boolean): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: t.port, path: '/', agent, headers: { host: t.host, cookie: t.cookie } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', () => resolve('error'));
      },
    );
    req.on('error', () => resolve(abort ? 'aborted' : 'error'));
    req.end();
    if (abort) setImmediate(() => req.destroy());
  });
}

/** A client that sends its request, half-closes (FIN) and reads the answer until the proxy closes. */
function halfClose(t: Target, partial: boolean): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port: t.port, host: '127.0.0.1' });
    let answer = '';
    const timer = setTimeout(() => s.destroy(), 2000);
    s.on('data', (d: Buffer) => {
      if (!answer) answer = d.subarray(9, 12).toString();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(partial ? 'half-open-partial' : `half-closed-${answer || 'none'}`);
    });
    s.on('connect', () => {
      if (partial) {
        // Half a request head, then FIN: the worker must not keep the socket.
        s.end(`GET / HTTP/1.1\r\nHost: ${t.host}\r\n`);
      } else {
        s.end(`GET / HTTP/1.1\r\nHost: ${t.host}\r\nCookie: ${t.cookie}\r\n\r\n`);
      }
    });
  });
}

async function drive(
  total: number,
  concurrency: number,
  kind: (i: number) => Promise<string>,
  outcomes: Record<string, number>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const o = await kind(next++);
        outcomes[o] = (outcomes[o] ?? 0) + 1;
      }
    }),
  );
}

/** Polls the worker until its fds are back within `tolerance` of `fds` (or `timeoutMs` passes). */
async function settle(ap: Child, fds: number, tolerance: number, timeoutMs: number): Promise<WorkerStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await workerStats(ap);
    if (s.fds <= fds + tolerance || Date.now() > deadline) return s;
    await sleep(500);
  }
}

export async function leakCheck(o: {
  ap: Child;
  upstream: Child;
  target: Target;
  total: number;
  concurrency?: number;
  log?: (s: string) => void;
  /** Equal parts the mix runs in (RSS growth is measured from the end of the first). */
  cycles?: number;
  /** How long to wait for idle upstream keep-alive sockets to close before each measurement. */
  settleMs?: number;
}): Promise<LeakResult> {
  const log = o.log ?? (() => {});
  const conc = o.concurrency ?? 50;
  const settleMs = o.settleMs ?? 20_000;
  const outcomes: Record<string, number> = {};
  const share = Math.max(1, Math.floor(o.total / 20));

  // Warm-up with the same mix, so that lazily built state (JIT, pools, caches) exists at baseline.
  const warm: Record<string, number> = {};
  const agent0 = new Agent({ keepAlive: true, maxSockets: conc });
  await drive(Math.min(2000, share), conc, () => get(agent0, o.target, false), warm);
  await drive(200, 20, (i) => get(false, o.target, i % 2 === 0), warm);
  await drive(100, 20, (i) => halfClose(o.target, i % 2 === 0), warm);
  agent0.destroy();
  await sleep(500);
  const first = await workerStats(o.ap);
  // Upstream keep-alive sockets close when idle; wait for that before the baseline.
  const baseline = await settle(o.ap, 0, 0, Math.min(settleMs, 8000));
  log(`leak: baseline fds ${baseline.fds} (${first.fds} right after warm-up), rss ${mib(baseline.rss)} MiB`);

  // The mix runs in `cycles` equal parts. Open fds must be back at the settled baseline at the end;
  // RSS (after GC) is compared between the end of the first cycle and the end of the last, so that
  // the allocator's first high-water mark is not taken for a leak.
  const cycles = Math.max(2, o.cycles ?? 8);
  const per = Math.max(5, Math.floor(o.total / cycles / 5));
  const ends: WorkerStats[] = [];
  for (let c = 0; c < cycles; c++) {
    const agent = new Agent({ keepAlive: true, maxSockets: conc });
    await drive(per, conc, () => get(agent, o.target, false), outcomes);
    await drive(per, conc, (i) => get(i % 3 === 0 ? agent : false, o.target, true), outcomes);
    o.upstream.send({ cmd: 'stop-http' });
    await o.upstream.next((m) => m.stopped === true);
    await drive(per, conc, () => get(agent, o.target, false), outcomes);
    o.upstream.send({ cmd: 'start-http' });
    await o.upstream.next((m) => m.started === true);
    await drive(per, conc, (i) => halfClose(o.target, i % 4 === 0), outcomes);
    await drive(per, conc, () => get(agent, o.target, false), outcomes);
    agent.destroy();
    const s = await workerStats(o.ap);
    ends.push(s);
    log(
      `leak: cycle ${c + 1}/${cycles}: ${5 * per} requests (keep-alive, aborted, upstream stopped, half-open); ` +
        `fds ${s.fds}, rss ${mib(s.rss)} MiB, heap ${mib(s.heapUsed)} MiB`,
    );
  }

  const after = await settle(o.ap, baseline.fds, 0, settleMs);
  const extraResources: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.resources)) {
    const d = v - (baseline.resources[k] ?? 0);
    if (d > 0) extraResources[k] = d;
  }
  const requests = Object.values(outcomes).reduce((a, b) => a + b, 0);
  log(`leak: after ${requests} requests fds ${after.fds}, rss ${mib(after.rss)} MiB`);
  return {
    requests,
    outcomes,
    baseline,
    after,
    fdGrowth: after.fds - baseline.fds,
    rssGrowthBytes: after.rss - ends[Math.floor(cycles / 2) - 1]!.rss,
    heapGrowthBytes: after.heapUsed - ends[Math.floor(cycles / 2) - 1]!.heapUsed,
    rssGrowthFromFirstBytes: after.rss - ends[0]!.rss,
    rssByCycle: ends.map((e) => e.rss),
    extraResources,
  };
}

export const mib = (b: number) => (b / 1048576).toFixed(1);
