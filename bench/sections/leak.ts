/**
 * Leak section: a fresh port worker takes `counts.leakRequests` requests with aborted clients, a
 * stopped upstream and half-open sockets (bench/lib/leak.ts); fd, handle and RSS growth.
 */
import { type Context, log, startAppProxy } from '../context.ts';
import { leakCheck, mib } from '../lib/leak.ts';

export async function run(ctx: Context): Promise<void> {
  const { out } = ctx;
  const total = ctx.opts.counts.leakRequests;
  console.log(
    `\n== Leak check: ${total} requests with aborted clients, a stopped upstream, half-open sockets`,
  );
  const ap = await startAppProxy(ctx, 'port', 1, 'appproxy-leak');
  const r = await leakCheck({
    ap,
    upstream: ctx.upstream.child,
    target: { port: ap.info.port, host: ap.info.host, cookie: ap.info.cookie },
    total,
    log,
  });
  out.record('leak', 'appproxy-port', 'requests', r.requests);
  out.record('leak', 'appproxy-port', 'fdGrowth', r.fdGrowth);
  out.record('leak', 'appproxy-port', 'rssGrowthBytes', r.rssGrowthBytes);
  out.record('leak', 'appproxy-port', 'rssGrowthFromFirstBytes', r.rssGrowthFromFirstBytes);
  log(`RSS after GC at the end of each cycle (MiB): ${r.rssByCycle.map(mib).join(', ')}`);
  out.record('leak', 'appproxy-port', 'heapGrowthBytes', r.heapGrowthBytes);
  out.record(
    'leak',
    'appproxy-port',
    'extraHandles',
    Object.values(r.extraResources).reduce((a, b) => a + b, 0),
  );
  log(`outcomes ${JSON.stringify(r.outcomes)}; extra handles ${JSON.stringify(r.extraResources)}`);
  await ap.stop();
}
