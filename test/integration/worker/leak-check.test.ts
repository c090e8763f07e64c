/**
 * The bench harness's leak check, bounded: a worker in its own process (bench/servers/appproxy.ts)
 * takes a few thousand requests with aborted clients, a stopped upstream and half-open sockets;
 * afterwards its open fds are back at the baseline (small tolerance) and its RSS within a generous
 * bound (GC is lazy). No timing is asserted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leakCheck } from '../../../bench/lib/leak.ts';
import { type Child, start, tsArgv } from '../../../bench/lib/proc.ts';

let upstream: Child;
let ap: Child;

before(async () => {
  upstream = await start('upstream', tsArgv('bench/servers/upstream.ts'));
  ap = await start('appproxy', [...tsArgv('bench/servers/appproxy.ts', 'port', String(upstream.info.http))]);
});

after(async () => {
  await ap?.stop();
  await upstream?.stop();
});

test('no fd or memory growth after aborted clients, a stopped upstream and half-open sockets', async () => {
  const r = await leakCheck({
    ap,
    upstream,
    target: { port: ap.info.port, host: ap.info.host, cookie: ap.info.cookie },
    total: 3000,
    concurrency: 20,
  });
  assert.ok(r.requests >= 3000, `drove ${r.requests} requests`);
  assert.ok((r.outcomes['200'] ?? 0) > 1000, `200s: ${JSON.stringify(r.outcomes)}`);
  assert.ok((r.outcomes['502'] ?? 0) > 0, `the stopped upstream answered 502: ${JSON.stringify(r.outcomes)}`);
  assert.ok(r.fdGrowth <= 2, `open fds ${r.baseline.fds} → ${r.after.fds}`);
  assert.ok(
    r.rssGrowthBytes < 64 * 1024 * 1024,
    `RSS ${r.baseline.rss} → ${r.after.rss} (heap ${r.baseline.heapUsed} → ${r.after.heapUsed})`,
  );
  assert.deepEqual(r.extraResources, {}, 'no handles left over');
});
