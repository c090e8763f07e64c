/**
 * WebSocket section: echo round trips over 50 connections (100-byte messages, one in flight
 * each) through every target: rate, p50/p99, round trips per proxy CPU-second.
 */
import { asDirect, type Context, log, roundOrder, type Target } from '../context.ts';
import { cpuSeconds, run as runCommand, tsArgv } from '../lib/proc.ts';
import { CONNS, LOAD_CPU } from '../options.ts';

interface EchoOut {
  messages: number;
  rate: number;
  p99Ms: number;
  p50Ms: number;
  errors: number;
  handshakeErrors: string[];
  /** Proxy CPU-seconds during the run (NaN for direct). */
  cpu: number;
}

/** One run of the echo client (bench/clients/ws.ts) against `t`. */
async function echo(ctx: Context, t: Target, seconds: number): Promise<EchoOut> {
  const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
  const out = await runCommand(
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
  const r = JSON.parse(out.trim().split('\n').pop()!) as Omit<EchoOut, 'cpu'>;
  if (r.handshakeErrors?.length)
    ctx.out.note(
      `WebSocket ${t.name}: ${r.handshakeErrors.length} failed handshakes (retried): ${r.handshakeErrors[0]}`,
    );
  return { ...r, cpu };
}

export async function run(ctx: Context): Promise<void> {
  const { out, targets } = ctx;
  console.log(`\n== WebSocket: echo over ${CONNS} connections, 100-byte messages, one in flight each`);
  // A proxy that cannot carry WebSocket (configurable-http-proxy on this runtime sometimes answers
  // an upgrade as a plain request after sustained HTTP load) is reported and left out; the others
  // still run.
  const failed = new Set<string>();
  const tryEcho = async (t: Target, seconds: number) => {
    try {
      return await asDirect(ctx, t, () => echo(ctx, t, seconds));
    } catch (err) {
      failed.add(t.name);
      const why = String(err).match(/handshake: [^\n]*/)?.[0] ?? String(err).slice(0, 200);
      out.note(`WebSocket ${t.name}: failed and left out of this section (${why.slice(0, 200)}).`);
      return null;
    }
  };
  if (!ctx.opts.quick) for (const t of targets) await tryEcho(t, 0.5); // warm-up (JIT)
  for (let r = 0; r < ctx.opts.rounds; r++) {
    for (const t of roundOrder(targets, r).filter((t) => !failed.has(t.name))) {
      const w = await tryEcho(t, ctx.opts.duration);
      if (!w) continue;
      out.record('ws', t.name, 'rate', w.rate);
      out.record('ws', t.name, 'p50Ms', w.p50Ms);
      out.record('ws', t.name, 'p99Ms', w.p99Ms);
      if (t.pid) out.record('ws', t.name, 'perCpuSecond', w.messages / w.cpu);
      log(
        `round ${r + 1} ${t.name.padEnd(22)} ${w.rate.toFixed(0).padStart(7)} msg/s  p99 ${w.p99Ms.toFixed(2)} ms` +
          (t.pid ? `  ${(w.messages / w.cpu).toFixed(0)} round trips per proxy CPU-s` : ''),
      );
    }
  }
}
