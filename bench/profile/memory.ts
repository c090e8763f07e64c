/**
 * RSS per idle WebSocket and per idle circuit in the worker process (bench/servers/appproxy.ts).
 *   ws: N raw WebSocket handshakes through the worker (port mode) to the `ws` echo upstream,
 *       left idle; worker RSS, heap used, committed heap and external memory (after GC) before
 *       and after. RSS beyond heapUsed is mostly committed heap the handshake burst left behind.
 *   circuits: N idle wildcard circuits; worker RSS/heap before and after.
 * Usage (raise the fd limit first): ulimit -n 65536; node --import tsx bench/profile/memory.ts [ws=10000] [circuits=10000] [node-http]
 *   node-http: the worker with its HTTP/1.1 fast path off (upgrades then never pass through it).
 */
import type { Socket } from 'node:net';
import { workerStats } from '../lib/leak.ts';
import { wsOpen } from '../lib/net.ts';
import { start, tsArgv } from '../lib/proc.ts';

const nWs = Number(process.argv[2] ?? '10000');
const nCircuits = Number(process.argv[3] ?? '10000');
const variant = process.argv[4] === 'node-http' ? ['1', 'node-http'] : [];

const mb = (b: number) => +(b / 1048576).toFixed(1);
const up = await start('upstream', tsArgv('bench/profile/upstream.ts'));
const upPort = String(up.info.port);

if (nWs > 0) {
  const w = await start('appproxy-port', tsArgv('bench/servers/appproxy.ts', 'port', upPort, ...variant));
  const { port, host, cookie } = w.info as { port: number; host: string; cookie: string };
  const before = await workerStats(w);
  const sockets: Socket[] = [];
  for (let i = 0; i < nWs; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(nWs, i + 200); j++) batch.push(wsOpen(port, host, cookie));
    sockets.push(...(await Promise.all(batch)));
  }
  await new Promise((r) => setTimeout(r, 1500));
  const after = await workerStats(w);
  console.log(
    JSON.stringify({
      ws: nWs,
      fastPath: variant.length === 0,
      rssBeforeMiB: mb(before.rss),
      rssAfterMiB: mb(after.rss),
      rssPerWsKiB: +((after.rss - before.rss) / nWs / 1024).toFixed(2),
      heapPerWsKiB: +((after.heapUsed - before.heapUsed) / nWs / 1024).toFixed(2),
      heapTotalPerWsKiB: +((after.heapTotal - before.heapTotal) / nWs / 1024).toFixed(2),
      externalPerWsKiB: +((after.external - before.external) / nWs / 1024).toFixed(2),
      fds: after.fds - before.fds,
    }),
  );
  for (const s of sockets) s.destroy();
  await w.stop();
}

if (nCircuits > 0) {
  const w = await start('appproxy-wildcard', tsArgv('bench/servers/appproxy.ts', 'wildcard', upPort));
  const before = await workerStats(w);
  w.send({ cmd: 'circuits', n: nCircuits });
  const r = await w.next((m) => m.added !== undefined || m.error !== undefined, 300_000);
  if (r.error) throw new Error(String(r.error));
  const after = await workerStats(w);
  console.log(
    JSON.stringify({
      circuits: r.added,
      routes: r.routes,
      rssPerCircuitKiB: +((after.rss - before.rss) / nCircuits / 1024).toFixed(2),
      heapPerCircuitKiB: +((after.heapUsed - before.heapUsed) / nCircuits / 1024).toFixed(2),
      fds: after.fds - before.fds,
    }),
  );
  await w.stop();
}
await up.stop();
