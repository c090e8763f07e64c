/**
 * Control-plane profile: the embedded system (bench/servers/embedded.ts) under `--cpu-prof`,
 * N live circuits on external sessions, then S timed start-service → setup → first proxied 200
 * samples, each split into its phases (create session, start-service, setup, first 200).
 *
 * Usage: node --import tsx bench/profile/control.ts [live=10000] [samples=100]
 *   env CPU_PROF=file writes a CPU profile of the embedded process during the samples only.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { httpGet, pool } from '../lib/net.ts';

const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
const live = Number(process.argv[2] ?? '10000');
const sampleCount = Number(process.argv[3] ?? '100');
const upstream = createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upPort = (upstream.address() as { port: number }).port;
const prof = process.env.CPU_PROF;
const sys = spawn(NODE, ['--import', 'tsx', 'bench/servers/embedded.ts'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const lines = createInterface({ input: sys.stdout! });
const info = await new Promise<{ url: string; token: string }>((resolve) =>
  lines.once('line', (l) => resolve(JSON.parse(l))),
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
const external = { services: [{ name: 'app', protocol: 'http', host: '127.0.0.1', port: upPort }] };
const phases = {
  session: [] as number[],
  start: [] as number[],
  setup: [] as number[],
  first: [] as number[],
};
async function open(record: boolean): Promise<void> {
  const t0 = performance.now();
  const s = await api('POST', '/v1/sessions', { external });
  const t1 = performance.now();
  const r = await api('POST', `/v1/sessions/${s.id}/start-service`, { service: 'app', frontend: 'wildcard' });
  const t2 = performance.now();
  const setup = new URL(r.setupUrl);
  const g = await httpGet(Number(setup.port), setup.host, `${setup.pathname}${setup.search}`);
  const cookie = String([g.headers['set-cookie']].flat()[0]).split(';')[0]!;
  const t3 = performance.now();
  const app = new URL(r.appUrl);
  while ((await httpGet(Number(setup.port), app.host, app.pathname, cookie)).status !== 200);
  const t4 = performance.now();
  if (record) {
    phases.session.push(t1 - t0);
    phases.start.push(t2 - t1);
    phases.setup.push(t3 - t2);
    phases.first.push(t4 - t3);
  }
}
let done = 0;
const tFill = performance.now();
await pool(Array.from({ length: live }), 16, async () => {
  await open(false);
  if (++done % 1000 === 0)
    console.error(`${done}/${live} (${((performance.now() - tFill) / 1000).toFixed(0)} s)`);
});
if (prof) sys.stdin!.write('profile-start\n');
for (let i = 0; i < sampleCount; i++) await open(true);
if (prof) {
  const written = new Promise((r) => lines.once('line', r));
  sys.stdin!.write(`profile-stop ${prof}\n`);
  await written;
}
const pct = (a: number[], p: number) =>
  [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]!;
for (const [k, v] of Object.entries(phases)) {
  console.log(
    `${k.padEnd(8)} p50 ${pct(v, 50).toFixed(1)} ms  p99 ${pct(v, 99).toFixed(1)} ms  max ${Math.max(...v).toFixed(1)} ms`,
  );
}
sys.kill('SIGTERM');
await new Promise((r) => sys.once('exit', r));
upstream.close();
