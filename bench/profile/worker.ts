/**
 * The real worker in its own process for profiling: embedded KV + counters, setup-token keys
 * published, one circuit to the upstream, the real setup flow for a real app cookie. Prints
 *   {ready, pid, port, host, cookie}
 * stdin JSON lines: {cmd:'stats'} → {rss, heapUsed, fds}; {cmd:'circuits', n} → adds n idle
 * circuits (wildcard mode) → {added, rss}; {cmd:'quit'} exits (writes --cpu-prof).
 * Usage: node --import tsx bench/profile/worker.ts <port|wildcard> <upstreamPort> [processes]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { CircuitSpec } from '../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../src/contracts/kv-layout.ts';
import { SetupTokenIssuer } from '../../src/core/setup-token.ts';
import { EmbeddedCounterStore } from '../../src/stores/embedded/counters.ts';
import { EmbeddedKvStore } from '../../src/stores/embedded/kv.ts';
import { createWorker, type WorkerOptions } from '../../src/worker/index.ts';

const mode = process.argv[2] === 'wildcard' ? 'wildcard' : 'port';
const upstreamPort = Number(process.argv[3]);
const processes = Number(process.argv[4] ?? '1');
const DOMAIN = 'apps.localhost';
const OWNER = 'bench-user';

const kv = new EmbeddedKvStore();
const counters = new EmbeddedCounterStore();
const { issuer } = await SetupTokenIssuer.generate();
await kv.put(kvKeys.setupTokenKeys(), JSON.stringify(issuer.publicKeySet()));
const authority = `prof-${mode}`;
const base = 20000 + Math.floor(Math.random() * 10000);
let nextPort = base;
let nextSub = 0x100000;
const opts = {
  authority,
  frontendMode: mode,
  protocols: ['http'],
  bindHost: '127.0.0.1',
  portRange: [base, base + 199],
  wildcardDomain: DOMAIN,
  wildcardPort: 0,
  publicScheme: 'http',
  publicHost: '127.0.0.1',
  kv,
  counters,
  cookieSecret: randomBytes(32),
  logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  metrics: new Registry(),
  processes,
} as WorkerOptions;
const worker = createWorker(opts);
await worker.start();

function spec(): CircuitSpec {
  return {
    id: randomUUID(),
    sessionId: 's',
    ownerId: OWNER,
    service: 'app',
    protocol: 'http',
    frontendMode: mode,
    port: mode === 'port' ? nextPort++ : null,
    subdomain: mode === 'wildcard' ? (nextSub++).toString(16) : null,
    backends: [{ host: '127.0.0.1', port: upstreamPort }],
  };
}

async function put(s: CircuitSpec, wait = true): Promise<void> {
  await kv.put(kvKeys.circuit(authority, s.id), JSON.stringify(s));
  if (!wait) return;
  for (;;) {
    const e = await kv.get(kvKeys.ready(authority, s.id));
    if (e) {
      const r = JSON.parse(e.value);
      if (r.state !== 'ready') throw new Error(`not ready: ${e.value}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function get(port: number, host: string, path: string): Promise<{ status: number; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, setCookie: res.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const s = spec();
await put(s);
const port = mode === 'port' ? s.port! : worker.wildcardPort!;
const host = mode === 'port' ? `127.0.0.1:${port}` : `${s.subdomain}.${DOMAIN}:${port}`;
const { token } = await issuer.issue({ circuitId: s.id, userId: OWNER, ttlMs: 60_000 });
const login = await get(port, host, `/_appproxy/setup?token=${token}&next=/`);
if (login.status !== 302) throw new Error(`setup answered ${login.status}`);
const cookie = `other=1; ${login.setCookie[0]!.split(';')[0]!}`;
console.log(JSON.stringify({ ready: true, pid: process.pid, port, host, cookie }));

function stats() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, fds: readdirSync('/proc/self/fd').length };
}

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const msg = JSON.parse(line) as { cmd: string; n?: number };
  if (msg.cmd === 'stats') console.log(JSON.stringify({ stats: stats() }));
  else if (msg.cmd === 'circuits') {
    const specs = Array.from({ length: msg.n ?? 0 }, spec);
    for (const x of specs) await put(x, false);
    await put(spec());
    console.log(JSON.stringify({ added: specs.length + 1, stats: stats(), routes: worker.routeCount() }));
  } else if (msg.cmd === 'quit') {
    await worker.close();
    process.exit(0);
  }
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
