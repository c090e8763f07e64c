/**
 * A/B of the worker's HTTP path against another checkout, in one run: both workers pinned to CPU 0
 * (bench/servers/appproxy.ts of each tree, port mode, the setup flow's cookie), the upstream and
 * wrk on CPU 1, 5 s rounds in alternating order; prints req/s and proxy CPU-s per 100k requests per
 * round and the medians. On a machine whose speed drifts by tens of percent between runs, this is
 * how to tell a regression from the weather.
 *
 * Usage: git worktree add /tmp/prev <rev> && ln -s $PWD/node_modules /tmp/prev/node_modules
 *        node --import tsx bench/profile/ab-http.ts /tmp/prev [rounds=6] [http|ws]
 * `ws` measures WebSocket echo round trips (50 connections, 100-byte messages) instead.
 */
import { cpuSeconds, ROOT, run as runCommand, start, tsArgv } from '../lib/proc.ts';

const other = process.argv[2]!;
const rounds = Number(process.argv[3] ?? 6);
/** `http` (wrk) or `ws` (WebSocket echo round trips, bench/clients/ws.ts). */
const mode = process.argv[4] ?? 'http';
const up = await start('upstream', tsArgv('bench/servers/upstream.ts'), { cpus: '1' });
const http = String(up.info.http);
const mk = async (name: string, root: string) => {
  const c = await start(
    name,
    [process.execPath, '--import', 'tsx', `${root}/bench/servers/appproxy.ts`, 'port', http],
    { cpus: '0', cwd: root },
  );
  return { name, c };
};
const rows = [await mk('other', other), await mk('this', ROOT)];
const cpu: Record<string, number[]> = { other: [], this: [] };
const rate: Record<string, number[]> = { other: [], this: [] };
for (let r = 0; r < rounds; r++) {
  for (const { name, c } of r % 2 ? [...rows].reverse() : rows) {
    const c0 = cpuSeconds(c.pid);
    let count: number;
    let perSecond: number;
    let non2xx = '0';
    if (mode === 'ws') {
      const out = await runCommand(
        tsArgv('bench/clients/ws.ts', 'echo', String(c.info.port), c.info.host, c.info.cookie, '50', '5'),
        { cpus: '1', timeoutMs: 60000 },
      );
      const j = JSON.parse(out.trim().split('\n').pop()!) as { messages: number; rate: number };
      count = j.messages;
      perSecond = j.rate;
    } else {
      const out = await runCommand(
        [
          'wrk',
          '-t1',
          '-c50',
          '-d5s',
          '-H',
          `Host: ${c.info.host}`,
          '-H',
          `Cookie: ${c.info.cookie}`,
          `http://127.0.0.1:${c.info.port}/`,
        ],
        { cpus: '1', timeoutMs: 60000 },
      );
      count = Number(/(\d+) requests in/.exec(out)![1]);
      perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
      non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
    }
    const used = cpuSeconds(c.pid) - c0;
    cpu[name]!.push((used / count) * 1e5);
    rate[name]!.push(perSecond);
    console.log(
      r,
      name,
      perSecond.toFixed(0),
      '/s',
      cpu[name]!.at(-1)!.toFixed(2),
      'CPU-s/100k',
      'non2xx',
      non2xx,
    );
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
console.log(
  'median CPU-s/100k other',
  med(cpu.other!).toFixed(2),
  'this',
  med(cpu.this!).toFixed(2),
  'ratio this/other',
  (med(cpu.this!) / med(cpu.other!)).toFixed(3),
);
console.log('median req/s other', med(rate.other!).toFixed(0), 'this', med(rate.this!).toFixed(0));
for (const { c } of rows) await c.stop();
await up.stop();
