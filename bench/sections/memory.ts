/**
 * Memory section: RSS per idle WebSocket through a fresh port worker and through the HTTP peers,
 * and RSS, handles and fds per idle circuit in a fresh wildcard worker.
 */
import { apTarget, type Context, log, startAppProxy, type Target } from '../context.ts';
import { mib, workerStats } from '../lib/leak.ts';
import { type Child, NOFILE_HARD, rssBytes, sleep, start, tsArgv } from '../lib/proc.ts';
import { LOAD_CPU } from '../options.ts';

export async function run(ctx: Context): Promise<void> {
  const { counts, quick } = ctx.opts;
  console.log(
    `\n== Memory: RSS per idle WebSocket (${counts.idleWs}) and per idle circuit (${counts.idleCircuits})`,
  );
  if (counts.idleWs < (quick ? 1000 : 10_000))
    ctx.out.note(
      `Idle WebSockets capped at ${counts.idleWs}: the hard fd limit here is ${NOFILE_HARD} and the proxy holds 2 fds per connection.`,
    );
  const viaStats = (c: Child) => async () => {
    await workerStats(c); // GC first
    return rssBytes(c.pid);
  };
  // A fresh worker process: one that has carried the HTTP and WebSocket load keeps freed memory
  // in its heap and allocator, and new connections would reuse it (RSS per connection too low).
  const fresh = await startAppProxy(ctx, 'port');
  await idleWs(ctx, 'appproxy-port', apTarget('appproxy-port', fresh), viaStats(fresh));
  await fresh.stop();
  for (const p of ctx.peers) {
    // A peer that cannot hold that many idle connections is reported; the circuits part still runs.
    try {
      await idleWs(ctx, p.name, p);
    } catch (err) {
      ctx.out.note(`Idle WebSockets through ${p.name}: failed (${String(err).slice(0, 160)}).`);
      log(`${p.name}: idle WebSockets failed`);
    }
  }
  await idleCircuits(ctx);
}

/** RSS before and after `counts.idleWs` idle WebSockets through `t` (the idle client of bench/clients/ws.ts). */
async function idleWs(ctx: Context, name: string, t: Target, stats?: () => Promise<number>): Promise<void> {
  const { idleWs: n } = ctx.opts.counts;
  const rss = stats ?? (async () => rssBytes(t.pid!));
  const before = await rss();
  const client = await start(
    `ws-idle-${name}`,
    tsArgv('bench/clients/ws.ts', 'idle', String(t.port), t.host, t.cookie ?? '-', String(n)),
    { cpus: LOAD_CPU, ready: false },
  );
  ctx.children.add(client);
  const opened = await client.next((m) => m.open !== undefined, 300_000);
  await sleep(1000);
  const after = await rss();
  if (opened.failed > 0) {
    const msg = `Idle WebSockets through ${name}: ${opened.failed} of ${n} failed to open (${opened.firstError}).`;
    ctx.out.note(msg);
    log(msg);
  }
  if (opened.open < n * 0.9) {
    await client.stop();
    return;
  }
  const per = (after - before) / opened.open;
  ctx.out.record('memory', name, 'wsIdleBytesPerConn', per);
  ctx.out.record('memory', name, 'wsIdleOpen', opened.open);
  log(
    `${name.padEnd(22)} ${opened.open} idle WebSockets: RSS ${mib(before)} → ${mib(after)} MiB, ${(per / 1024).toFixed(1)} KiB each`,
  );
  await client.stop();
  await sleep(500);
}

/**
 * A fresh wildcard worker too, for the same reason: circuits added to a process that carried
 * the load would fit into memory it already holds.
 */
async function idleCircuits(ctx: Context): Promise<void> {
  const { idleCircuits: n } = ctx.opts.counts;
  const w = await startAppProxy(ctx, 'wildcard');
  const before = await workerStats(w);
  w.send({ cmd: 'circuits', n });
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
  const per = (after.rss - before.rss) / n;
  const handles: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.resources)) {
    const d = v - (before.resources[k] ?? 0);
    if (d !== 0) handles[k] = d;
  }
  const handleDelta = Object.values(handles).reduce((a, b) => a + b, 0);
  ctx.out.record('memory', 'appproxy-wildcard', 'circuitBytesPerIdle', per);
  ctx.out.record('memory', 'appproxy-wildcard', 'circuitHandlesAdded', handleDelta);
  ctx.out.record('memory', 'appproxy-wildcard', 'circuitFdsAdded', after.fds - before.fds);
  log(
    `appproxy-wildcard: ${after.routes - before.routes} idle circuits: RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, ` +
      `${(per / 1024).toFixed(2)} KiB each; handles added ${JSON.stringify(handles)}, fds ${before.fds} → ${after.fds}`,
  );
  await w.stop();
}
