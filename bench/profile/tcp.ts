/**
 * TCP relay A/B: CPU-seconds per GiB of each relay, with the process's CPU split by thread (main
 * thread, V8 helper threads, libuv pool), over alternating rounds on one pinned core.
 *
 * Usage: node --import tsx bench/profile/tcp.ts [targets] [rounds=5] [mib=1024]
 *   targets: comma-separated from appproxy-tcp, node-pipe, and tcp-variants.ts variants
 *            (pipe, handlers, timeout, keepalive, all); a `+tsx` suffix runs a variant under tsx.
 *   env PERF=dir: records `perf record -g` of each target's bulk transfers (one file per target).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { type Child, NODE, ROOT, run, start, tsArgv } from '../lib/proc.ts';
import { spread } from '../lib/stats.ts';

const targets = (process.argv[2] ?? 'appproxy-tcp,node-pipe').split(',');
const rounds = Number(process.argv[3] ?? '5');
const bytes = Number(process.argv[4] ?? '1024') * 2 ** 20;
const PROXY_CPU = '0';
const LOAD_CPU = '1';

/** CPU ticks per thread name (threads of one name summed). */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const kind = t === String(pid) ? 'main' : name.replace(/\d+$/, '#');
      out.set(kind, (out.get(kind) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {}
  }
  return out;
}

const upstream = await start('upstream', tsArgv('bench/servers/upstream.ts'), { cpus: LOAD_CPU });
const upTcp = Number(upstream.info.tcp);
const peers: { name: string; child: Child; port: number }[] = [];
for (const name of targets) {
  let child: Child;
  let port: number;
  if (name === 'appproxy-tcp') {
    child = await start(name, tsArgv('bench/servers/appproxy.ts', 'port', String(upstream.info.http)), {
      cpus: PROXY_CPU,
    });
    child.send({ cmd: 'tcp-circuit', backendPort: upTcp });
    const m = await child.next((x) => x.tcpCircuit !== undefined || x.error !== undefined, 30_000);
    port = (m.tcpCircuit as { port: number }).port;
  } else if (name === 'node-pipe') {
    child = await start(name, [NODE, `${ROOT}/bench/servers/node-pipe.ts`, String(upTcp)], {
      cpus: PROXY_CPU,
    });
    port = Number(child.info.port);
  } else {
    const [variant, loader] = name.split('+');
    const argv =
      loader === 'tsx'
        ? tsArgv('bench/profile/tcp-variants.ts', variant!, String(upTcp))
        : [NODE, `${ROOT}/bench/profile/tcp-variants.ts`, variant!, String(upTcp)];
    child = await start(name, argv, { cpus: PROXY_CPU });
    port = Number(child.info.port);
  }
  peers.push({ name, child, port });
}

const perGiB = new Map<string, number[]>();
const byThread = new Map<string, Map<string, number>>();
const gbits = new Map<string, number[]>();
for (let r = 0; r < rounds + 1; r++) {
  const order = r % 2 ? [...peers].reverse() : peers;
  for (const p of order) {
    let perf: ChildProcess | null = null;
    if (process.env.PERF && r === rounds) {
      perf = spawn(
        'perf',
        ['record', '-g', '-p', String(p.child.pid), '-o', `${process.env.PERF}/${p.name}.data`],
        {
          stdio: 'ignore',
        },
      );
      await new Promise((res) => setTimeout(res, 500));
    }
    for (const dir of ['up', 'down']) {
      const before = threadTicks(p.child.pid);
      const out = await run(tsArgv('bench/clients/tcp.ts', 'bulk', String(p.port), String(bytes), dir), {
        cpus: LOAD_CPU,
      });
      const after = threadTicks(p.child.pid);
      if (r === 0) continue; // warm-up
      let total = 0;
      const split = byThread.get(p.name) ?? new Map<string, number>();
      for (const [k, v] of after) {
        const d = (v - (before.get(k) ?? 0)) / 100;
        total += d;
        split.set(k, (split.get(k) ?? 0) + d / (bytes / 2 ** 30));
      }
      byThread.set(p.name, split);
      const key = `${p.name} ${dir}`;
      if (!perGiB.has(key)) perGiB.set(key, []);
      perGiB.get(key)!.push(total / (bytes / 2 ** 30));
      if (!gbits.has(key)) gbits.set(key, []);
      gbits.get(key)!.push((JSON.parse(out.trim()) as { gbit: number }).gbit);
    }
    if (perf) {
      perf.kill('SIGINT');
      await new Promise((res) => perf!.once('exit', res));
    }
  }
}
for (const [key, s] of perGiB) {
  const c = spread(s)!;
  const g = spread(gbits.get(key)!)!;
  console.log(
    `${key.padEnd(22)} CPU-s/GiB median ${c.median.toFixed(3)} (min ${c.min.toFixed(3)}, max ${c.max.toFixed(3)})  ${g.median.toFixed(2)} Gbit/s`,
  );
}
for (const [name, split] of byThread) {
  const n = rounds * 2;
  const parts = [...split].filter(([, v]) => v / n >= 0.005).map(([k, v]) => `${k} ${(v / n).toFixed(3)}`);
  console.log(`${name.padEnd(22)} per thread (CPU-s/GiB, mean): ${parts.join(', ')}`);
}
for (const p of peers) await p.child.stop();
await upstream.stop();
