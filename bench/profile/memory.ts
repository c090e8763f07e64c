/**
 * RSS per idle WebSocket and per idle circuit in the worker process.
 *   ws: N raw WebSocket handshakes through the worker (port mode) to the `ws` echo upstream,
 *       left idle; worker RSS/heap (after GC) before and after.
 *   circuits: N idle wildcard circuits; worker RSS/heap before and after.
 * Usage (raise the fd limit first): ulimit -n 65536; node --import tsx bench/profile/memory.ts [ws=10000] [circuits=10000]
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const here = (f: string) => new URL(f, import.meta.url).pathname;
const nWs = Number(process.argv[2] ?? '10000');
const nCircuits = Number(process.argv[3] ?? '10000');

function start(args: string[]) {
  const p = spawn(NODE, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout! });
  const queue: ((l: Record<string, unknown>) => void)[] = [];
  lines.on('line', (l) => queue.shift()?.(JSON.parse(l)));
  const next = () => new Promise<Record<string, unknown>>((r) => queue.push(r));
  const ask = (cmd: object) => {
    const n = next();
    p.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return n;
  };
  return { p, next, ask };
}

function handshake(port: number, host: string, cookie: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', reject);
    s.once('data', (d) => {
      if (!d.toString('latin1').startsWith('HTTP/1.1 101')) reject(new Error(d.toString().slice(0, 80)));
      else resolve(s);
    });
    s.write(
      `GET /ws HTTP/1.1\r\nhost: ${host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
        `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\ncookie: ${cookie}\r\n\r\n`,
    );
  });
}

const mb = (b: number) => +(b / 1048576).toFixed(1);
const up = start(['--import', 'tsx', here('upstream.ts')]);
const upPort = (await up.next()).port as number;

if (nWs > 0) {
  const w = start(['--expose-gc', '--import', 'tsx', here('worker.ts'), 'port', String(upPort)]);
  const info = await w.next();
  const before = (await w.ask({ cmd: 'stats' })).stats as { rss: number; heapUsed: number; fds: number };
  const sockets: Socket[] = [];
  for (let i = 0; i < nWs; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(nWs, i + 200); j++)
      batch.push(handshake(info.port as number, info.host as string, info.cookie as string));
    sockets.push(...(await Promise.all(batch)));
  }
  await new Promise((r) => setTimeout(r, 1500));
  const after = (await w.ask({ cmd: 'stats' })).stats as typeof before;
  console.log(
    JSON.stringify({
      ws: nWs,
      rssBeforeMiB: mb(before.rss),
      rssAfterMiB: mb(after.rss),
      rssPerWsKiB: +((after.rss - before.rss) / nWs / 1024).toFixed(2),
      heapPerWsKiB: +((after.heapUsed - before.heapUsed) / nWs / 1024).toFixed(2),
      fds: after.fds - before.fds,
    }),
  );
  for (const s of sockets) s.destroy();
  w.p.kill();
}

if (nCircuits > 0) {
  const w = start(['--expose-gc', '--import', 'tsx', here('worker.ts'), 'wildcard', String(upPort)]);
  await w.next();
  const before = (await w.ask({ cmd: 'stats' })).stats as { rss: number; heapUsed: number; fds: number };
  const r = await w.ask({ cmd: 'circuits', n: nCircuits });
  const after = r.stats as typeof before;
  console.log(
    JSON.stringify({
      circuits: r.added,
      routes: r.routes,
      rssPerCircuitKiB: +((after.rss - before.rss) / nCircuits / 1024).toFixed(2),
      heapPerCircuitKiB: +((after.heapUsed - before.heapUsed) / nCircuits / 1024).toFixed(2),
      fds: after.fds - before.fds,
    }),
  );
  w.p.kill();
}
up.p.kill();
