/**
 * HTTP throughput/latency of proxies under `wrk -t1 -c50 --latency`, pinned with taskset
 * (proxy on core 0 unless told otherwise; wrk + upstream on core 1). Measures each proxy's
 * CPU time (all its processes) during the wrk run.
 *
 * Usage: node --import tsx bench/profile/run.ts [targets=appproxy,baseline,nginx,chp] [seconds=10]
 *   env ROUNDS=n (default 1), CONNS=50, PROCS=1 (appproxy processes), PROXY_CPUS=0, CPU_PROF=dir
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const CHP = new URL('../../node_modules/.bin/configurable-http-proxy', import.meta.url).pathname;
const here = (f: string) => new URL(f, import.meta.url).pathname;
const targets = (process.argv[2] ?? 'appproxy,baseline,nginx,chp').split(',');
const seconds = Number(process.argv[3] ?? '10');
const rounds = Number(process.env.ROUNDS ?? '1');
const conns = Number(process.env.CONNS ?? '50');
const procs = Number(process.env.PROCS ?? '1');
const proxyCpus = process.env.PROXY_CPUS ?? '0';
const children: ChildProcess[] = [];

function start(cpus: string, cmd: string, args: string[], env: Record<string, string> = {}) {
  const p = spawn('taskset', ['-c', cpus, cmd, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.push(p);
  const lines = createInterface({ input: p.stdout! });
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    p.once('exit', (c) => reject(new Error(`${cmd} exited ${c}`)));
  });
  return { p, first, lines };
}

/** utime+stime (s) of pid and its descendants. */
function cpuOf(pid: number): number {
  const tick = 100;
  let total = 0;
  const all = [pid, ...descendants(pid)];
  for (const p of all) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      total += (Number(rest[11]) + Number(rest[12])) / tick;
    } catch {}
  }
  return total;
}
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d), ...descendants(Number(d)));
    } catch {}
  }
  return out;
}

function wrk(port: number, host: string, cookie: string | undefined, secs: number, c = conns) {
  const args = ['-c', '1', 'wrk', '-t1', `-c${c}`, `-d${secs}s`, '--latency', '-H', `Host: ${host}`];
  if (cookie) args.push('-H', `Cookie: ${cookie}`);
  args.push(`http://127.0.0.1:${port}/some/path?x=1`);
  const out = execFileSync('taskset', args, { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const unit = (v: string, u: string) => Number(v) * (u === 'us' ? 0.001 : u === 's' ? 1000 : 1);
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const m50 = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const errs = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const sock = /Socket errors: (.*)/.exec(out)?.[1] ?? '';
  return {
    rps,
    total,
    p50: m50 ? unit(m50[1]!, m50[2]!) : NaN,
    p99: m ? unit(m[1]!, m[2]!) : NaN,
    errs,
    sock,
  };
}

async function startTarget(name: string, upPort: number) {
  if (name === 'appproxy' || name === 'before' || name === 'appproxy2') {
    // The bench's worker process (bench/servers/appproxy.ts); 'before': the same server over a
    // copy of the committed tree in /tmp/before, for A/B runs.
    const script =
      name === 'before' ? '/tmp/before/bench/servers/appproxy.ts' : here('../servers/appproxy.ts');
    const args = ['--import', 'tsx'];
    if (process.env.CPU_PROF) args.push('--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF}/${name}`);
    // 'appproxy2': two processes spread over cores 0 and 1 (wrk and upstream compete on core 1).
    const n = name === 'appproxy2' ? 2 : procs;
    args.push(script, 'port', String(upPort), String(n));
    const t = start(name === 'appproxy2' ? '0,1' : proxyCpus, NODE, args);
    const r = await t.first;
    return {
      pid: t.p.pid!,
      port: r.port as number,
      host: r.host as string,
      // A browser sends other cookies beside the app's: the cookie check has to find it among them.
      cookie: `other=1; ${r.cookie as string}`,
      p: t.p,
    };
  }
  if (name === 'baseline') {
    const t2 = start(proxyCpus, NODE, ['--import', 'tsx', here('baseline.ts'), String(upPort)]);
    const r = await t2.first;
    return {
      pid: t2.p.pid!,
      port: r.port as number,
      host: `127.0.0.1:${r.port}`,
      cookie: undefined,
      p: t2.p,
    };
  }
  if (name.startsWith('v-')) {
    const t2 = start(proxyCpus, NODE, [
      '--import',
      'tsx',
      here('variants.ts'),
      name.slice(2),
      String(upPort),
    ]);
    const r = await t2.first;
    return {
      pid: t2.p.pid!,
      port: r.port as number,
      host: `127.0.0.1:${r.port}`,
      cookie: undefined,
      p: t2.p,
    };
  }
  if (name === 'nginx') {
    const dir = mkdtempSync(join(tmpdir(), 'nginx-prof-'));
    const port = 40000 + Math.floor(Math.random() * 5000);
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1; daemon off; master_process off; pid ${dir}/pid; error_log ${dir}/err.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream up { server 127.0.0.1:${upPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; keepalive_requests 1000000;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; } } }`,
    );
    const p = spawn('taskset', ['-c', proxyCpus, 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], {
      stdio: 'inherit',
    });
    children.push(p);
    await new Promise((r) => setTimeout(r, 500));
    return { pid: p.pid!, port, host: `127.0.0.1:${port}`, cookie: undefined, p };
  }
  if (name === 'chp') {
    const port = 45000 + Math.floor(Math.random() * 5000);
    const p = spawn(
      'taskset',
      [
        '-c',
        proxyCpus,
        process.execPath,
        CHP,
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--api-port',
        String(port + 1),
        '--default-target',
        `http://127.0.0.1:${upPort}`,
        '--log-level',
        'error',
      ],
      { stdio: 'inherit' },
    );
    children.push(p);
    await new Promise((r) => setTimeout(r, 1500));
    return { pid: p.pid!, port, host: `127.0.0.1:${port}`, cookie: undefined, p };
  }
  throw new Error(`unknown target ${name}`);
}

const up = start('1', NODE, ['--import', 'tsx', here('upstream.ts')]);
const upPort = (await up.first).port as number;
try {
  const started = [];
  for (const name of targets) started.push({ name, t: await startTarget(name, upPort) });
  for (const { t } of started) wrk(t.port, t.host, t.cookie, 2); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const { name, t } of started) {
      const c0 = cpuOf(t.pid);
      const w = wrk(t.port, t.host, t.cookie, seconds);
      const cpu = cpuOf(t.pid) - c0;
      const row = {
        ...w,
        cpuPer100k: +((cpu / w.total) * 1e5).toFixed(3),
        reqPerCpuS: Math.round(w.total / cpu),
      };
      console.log(JSON.stringify({ round: r, name, ...row }));
    }
  }
  if (process.env.HALF) {
    for (const { name, t } of started) {
      const w = wrk(t.port, t.host, t.cookie, seconds, Math.max(1, conns / 2));
      console.log(JSON.stringify({ halfConns: name, ...w }));
    }
  }
  for (const { name, t } of started) {
    if ((name === 'appproxy' || name === 'before') && process.env.CPU_PROF) {
      // The worker closes and exits at the end of its stdin, which writes the CPU profile.
      t.p.stdin?.end();
      await new Promise((r) => t.p.once('exit', r));
    }
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
}
