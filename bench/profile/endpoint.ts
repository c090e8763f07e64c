/**
 * Endpoint-path profile: the embedded system (bench/servers/embedded.ts) with one inference
 * endpoint over one llm-sim replica that answers at once (time scale 0), driven by wrk with the
 * added-latency section's request (a one-token non-streaming chat completion with a key).
 * Prints req/s and the CPU per request of the embedded process; with CPU_PROF=file, writes a CPU
 * profile of the measured phase (analyze it with bench/profile/analyze.ts).
 *
 * Usage: node --import tsx bench/profile/endpoint.ts [policy=llm] [seconds=5] [connections=50] [delayMs]
 *   delayMs: wrk waits this long (mean) between a connection's requests: a rate below saturation.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, waitPort } from '../lib/peers.ts';
import { cpuSeconds, NODE, ROOT, run } from '../lib/proc.ts';
import { parseWrk } from '../lib/wrk.ts';

const policy = process.argv[2] ?? 'llm';
const seconds = Number(process.argv[3] ?? '5');
const conns = Number(process.argv[4] ?? '50');
const delayMs = process.argv[5] === undefined ? null : Number(process.argv[5]);
const prof = process.env.CPU_PROF;

const simPort = await freePort();
const sim = spawn(
  NODE,
  [join(ROOT, 'src/agent/apps/llm-sim/server.mjs'), '--port', String(simPort), '--time-scale', '0'],
  { stdio: 'ignore' },
);
await waitPort(simPort);
const sys = spawn(NODE, ['--import', 'tsx', 'bench/servers/embedded.ts'], {
  cwd: ROOT,
  stdio: ['pipe', 'pipe', 'inherit'],
});
const lines = createInterface({ input: sys.stdout! });
const info = await new Promise<{ url: string; token: string; pid: number; wildcardPort: number }>((resolve) =>
  lines.on('line', (l) => {
    if (l.startsWith('{"ready"')) resolve(JSON.parse(l));
    else if (process.env.SHOW_STDOUT) console.log(l);
  }),
);
const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${info.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${info.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
};
const ep = await api('POST', '/v1/endpoints', {
  name: 'profile',
  frontend: 'wildcard',
  settings: { balancing: policy },
  routes: [{ id: 'r0', host: '127.0.0.1', port: simPort }],
});
const key = await api('POST', `/v1/endpoints/${ep.id}/tokens`, { name: 'profile' });
const host = new URL(ep.url).host;
const script = join(tmpdir(), `profile-endpoint-${process.pid}.lua`);
const body = JSON.stringify({
  model: 'sim-model',
  messages: [{ role: 'user', content: 'ping' }],
  max_tokens: 1,
});
writeFileSync(
  script,
  `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\n` +
    (delayMs === null ? '' : `function delay()\n  return math.random(0, ${Math.round(2 * delayMs)})\nend\n`),
);
const wrk = async (s: number) =>
  parseWrk(
    await run(
      [
        'wrk',
        '-t1',
        `-c${conns}`,
        `-d${s}s`,
        '--latency',
        '-H',
        `Host: ${host}`,
        '-H',
        `Authorization: Bearer ${key.key}`,
        '-s',
        script,
        `http://127.0.0.1:${info.wildcardPort}/v1/chat/completions`,
      ],
      { timeoutMs: (s + 30) * 1000 },
    ),
  );
await new Promise((r) => setTimeout(r, 500));
await wrk(2); // warm-up: JIT, pools
if (prof) sys.stdin!.write('profile-start\n');
sys.stdin!.write('eld-start\n');
const cpu0 = cpuSeconds(info.pid);
const w = await wrk(seconds);
const cpu = cpuSeconds(info.pid) - cpu0;
const eld = new Promise<string>((resolve) =>
  lines.on('line', (l) => l.includes('eventLoopDelayMs') && resolve(l)),
);
sys.stdin!.write('eld-stop\n');
console.log(`event-loop delay of the embedded process during the run: ${await eld}`);
if (prof) {
  sys.stdin!.write(`profile-stop ${prof}\n`);
  await new Promise<void>((resolve) => lines.on('line', (l) => l.includes('profiled') && resolve()));
}
console.log(
  `${policy}: ${w.rps.toFixed(0)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms  ` +
    `non-2xx ${w.non2xx}  CPU ${((cpu / (w.rps * seconds)) * 1e6).toFixed(0)} µs/request`,
);
sys.stdin!.end();
sim.kill();
await new Promise((r) => sys.once('exit', r));
