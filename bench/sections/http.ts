/**
 * HTTP section: wrk c=50 keep-alive over every target (req/s, p50/p99, proxy CPU-s per 100k
 * requests), then p99 at half of nginx's rate (closed-loop wrk with a calibrated delay).
 */

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asDirect, type Context, log, peerTarget, roundOrder, type Target, tryPeer } from '../context.ts';
import { startNodeBaseline } from '../lib/peers.ts';
import { cpuSeconds, run as runCommand } from '../lib/proc.ts';
import { spread } from '../lib/stats.ts';
import { parseWrk, type WrkOut } from '../lib/wrk.ts';
import { CONNS, LOAD_CPU, PROXY_CPU } from '../options.ts';

export async function run(ctx: Context): Promise<void> {
  if (!ctx.versions.wrk) {
    ctx.out.skipped.http = 'skipped: wrk is not installed';
    return;
  }
  // The plain Node proxy is an HTTP-only reference row (it has no WebSocket path).
  const baseline = await tryPeer(ctx, 'node-baseline', () => startNodeBaseline(ctx.upstream, PROXY_CPU));
  const targets = baseline ? [...ctx.targets, peerTarget(baseline)] : ctx.targets;
  await fullLoad(ctx, targets);
  await halfLoad(ctx, targets);
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
  return parseWrk(await runCommand(argv, { cpus: LOAD_CPU, timeoutMs: (seconds + 30) * 1000 }));
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

async function fullLoad(ctx: Context, targets: Target[]): Promise<void> {
  const { out } = ctx;
  console.log(`\n== HTTP: wrk c=${CONNS} keep-alive, 100-byte responses`);
  for (const t of targets) await asDirect(ctx, t, () => wrk(t, 1)); // warm-up (JIT, pools)
  for (let r = 0; r < ctx.opts.rounds; r++) {
    for (const t of roundOrder(targets, r)) {
      const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
      const w = await asDirect(ctx, t, () => wrk(t, ctx.opts.duration));
      const cpu = t.pid ? cpuSeconds(t.pid) - cpu0 : Number.NaN;
      out.record('http', t.name, 'rps', w.rps);
      out.record('http', t.name, 'p50Ms', w.p50Ms);
      out.record('http', t.name, 'p99Ms', w.p99Ms);
      if (t.pid) out.record('http', t.name, 'cpuPer100k', (cpu / w.requests) * 1e5);
      if (w.non2xx || w.errors) {
        out.record('http', t.name, 'bad', w.non2xx + w.errors);
        out.note(`HTTP ${t.name} round ${r + 1}: ${w.non2xx} non-2xx answers, ${w.errors} socket errors.`);
      }
      log(
        `round ${r + 1} ${t.name.padEnd(22)} ${w.rps.toFixed(0).padStart(7)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  ` +
          `p99 ${w.p99Ms.toFixed(2)} ms${t.pid ? `  ${((cpu / w.requests) * 1e5).toFixed(2)} CPU-s/100k` : ''}`,
      );
    }
  }
}

/**
 * p99 at half of nginx's rate (or of the fastest AppProxy row without nginx): closed-loop wrk
 * with a per-request delay calibrated so that the request rate is the same for every proxy.
 */
async function halfLoad(ctx: Context, targets: Target[]): Promise<void> {
  const { out } = ctx;
  const http = out.results.http;
  const ref = spread(http.nginx?.rps ?? http['appproxy-port']?.rps ?? [])?.median;
  if (!ref) return;
  const rate = ref / 2;
  console.log(
    `\n== HTTP p99 at half load: ${rate.toFixed(0)} req/s (half of ${http.nginx ? 'nginx' : 'AppProxy'})`,
  );
  const period = (CONNS / rate) * 1000;
  const calib = ctx.opts.quick ? 1 : 2;
  for (let r = 0; r < ctx.opts.halfRounds; r++) {
    for (const t of roundOrder(targets, r)) {
      await asDirect(ctx, t, async () => {
        let d = Math.max(0, period - 0.3);
        const c = await wrk(t, calib, delayScript(d));
        d = Math.max(0, d + (period - (CONNS / c.rps) * 1000));
        const w = await wrk(t, ctx.opts.duration, delayScript(d));
        out.record('halfload', t.name, 'rps', w.rps);
        out.record('halfload', t.name, 'p50Ms', w.p50Ms);
        out.record('halfload', t.name, 'p99Ms', w.p99Ms);
        log(
          `round ${r + 1} ${t.name.padEnd(22)} ${w.rps.toFixed(0).padStart(7)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms`,
        );
      });
    }
  }
}
