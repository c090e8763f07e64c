/**
 * `npm run dev:cluster`: the split deployment on one machine, on real stores.
 *
 * Starts PostgreSQL, etcd and Redis (test/support/infra/servers.ts) with their data in
 * ./.appproxy-cluster/servers (fresh on each run), then as child processes with one shared admin token:
 *   manager-1 (API :7070, migrates and creates the signing key), manager-2 (API :7071),
 *   worker port-1 (ports 7100-7199, admin :9101), worker wildcard-1 (:7080, *.apps.localhost,
 *   admin :9102), and the agent "agent-1".
 * Output is prefixed per process. Ctrl-C stops the children first, the servers last.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAll, stopFromStateFile } from '../test/support/infra/servers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = resolve(process.env.APPPROXY_CLUSTER_DIR ?? join(ROOT, '.appproxy-cluster'));
const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m'];
const RESET = '\x1b[0m';
const tty = process.stdout.isTTY;

function secret(name: string, make: () => string): string {
  const p = join(DIR, name);
  if (existsSync(p)) return readFileSync(p, 'utf8').trim();
  const v = make();
  writeFileSync(p, `${v}\n`, { mode: 0o600 });
  return v;
}

function prefixed(
  name: string,
  color: string,
  stream: NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
): void {
  let pending = '';
  const tag = tty ? `${color}[${name}]${RESET} ` : `[${name}] `;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) out.write(`${tag}${l}\n`);
  });
  stream.on('end', () => {
    if (pending) out.write(`${tag}${pending}\n`);
  });
}

async function waitHttp(url: string, child: ChildProcess, name: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not get ready at ${url}`);
}

async function main(): Promise<void> {
  mkdirSync(DIR, { recursive: true, mode: 0o711 });
  chmodSync(DIR, 0o711); // PostgreSQL runs as the postgres user when we are root
  process.stdout.write(`dev:cluster: starting PostgreSQL, etcd and Redis in ${DIR}/servers …\n`);
  // Each run starts with fresh stores: servers left by a killed run are stopped and their folder
  // removed (the admin token, cookie secret and signing key in .appproxy-cluster/ are kept). `keep`: the servers sit in their own
  // process group (a terminal's Ctrl-C does not reach them) and are stopped here, last.
  await stopFromStateFile(join(DIR, 'servers'));
  const servers = await startAll({ dir: join(DIR, 'servers'), keep: true });
  const token =
    process.env.APPPROXY_ADMIN_TOKEN ??
    secret('admin-token', () => `ap_${randomBytes(24).toString('base64url')}`);
  const cookieSecret = secret('cookie-secret', () => randomBytes(32).toString('base64url'));
  // What a Backend.AI manager would send as X-BackendAI-Token (docs/migration.md).
  const legacySecret = secret('legacy-api-secret', () => randomBytes(24).toString('base64url'));
  const stores = {
    sql: { url: servers.postgres.url },
    kv: { endpoints: servers.etcd.endpoints },
    counters: { url: servers.redis.url },
  };
  const write = (name: string, config: unknown) => {
    const p = join(DIR, name);
    writeFileSync(p, `${JSON.stringify(config, null, 2)}\n`);
    return p;
  };
  const keyFile = join(DIR, 'setup-token-key.jwk');
  const manager = (port: number) => ({
    listen: { host: '127.0.0.1', port },
    stores,
    setupTokenKeyFile: keyFile,
    agent: { kind: 'remote', name: 'agent-1' },
    legacy: { apiSecretFile: join(DIR, 'legacy-api-secret') },
  });
  const worker = { stores: { kv: stores.kv, counters: stores.counters } };
  const specs: { name: string; args: string[]; ready: string | null }[] = [
    {
      name: 'manager-1',
      args: ['manager', '--config', write('manager-1.json', manager(7070)), '--init', '--migrate'],
      ready: 'http://127.0.0.1:7070/readyz',
    },
    {
      name: 'manager-2',
      args: ['manager', '--config', write('manager-2.json', manager(7071))],
      ready: 'http://127.0.0.1:7071/readyz',
    },
    {
      name: 'worker-port',
      args: [
        'worker',
        '--config',
        write('worker-port.json', {
          ...worker,
          authority: 'port-1',
          frontendMode: 'port',
          portRange: [7100, 7199],
          admin: { port: 9101 },
        }),
      ],
      ready: 'http://127.0.0.1:9101/readyz',
    },
    {
      name: 'worker-wildcard',
      args: [
        'worker',
        '--config',
        write('worker-wildcard.json', {
          ...worker,
          authority: 'wildcard-1',
          frontendMode: 'wildcard',
          wildcardDomain: 'apps.localhost',
          port: 7080,
          admin: { port: 9102 },
        }),
      ],
      ready: 'http://127.0.0.1:9102/readyz',
    },
    {
      name: 'agent',
      args: [
        'agent',
        '--config',
        write('agent.json', { name: 'agent-1', stores: { kv: stores.kv }, dataDir: join(DIR, 'agent') }),
      ],
      ready: null,
    },
  ];

  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\ndev:cluster: stopping the AppProxy processes …\n');
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
            child.once('exit', () => {
              clearTimeout(t);
              r();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    process.stdout.write('dev:cluster: stopping PostgreSQL, etcd and Redis …\n');
    await Promise.all([servers.postgres.stop(), servers.etcd.stop(), servers.redis.stop()]).catch(() => {});
    process.stdout.write('dev:cluster: stopped.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  // Last resort if this script dies without stopAll: no child outlives it.
  process.on('exit', () => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  const start = (spec: (typeof specs)[number], i: number) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/appproxy.js'), ...spec.args], {
      cwd: ROOT,
      env: { ...process.env, APPPROXY_ADMIN_TOKEN: token, APPPROXY_COOKIE_SECRET: cookieSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches this script only, which stops the children in order.
      detached: true,
    });
    prefixed(spec.name, COLORS[i % COLORS.length]!, child.stdout!, process.stdout);
    prefixed(spec.name, COLORS[i % COLORS.length]!, child.stderr!, process.stderr);
    child.once('exit', (code, sig) => {
      if (!stopping) process.stdout.write(`dev:cluster: ${spec.name} exited (${sig ?? code})\n`);
    });
    children.push({ name: spec.name, child });
    return child;
  };

  try {
    // manager-1 first: it migrates the database and creates the signing key the others share.
    const m1 = start(specs[0]!, 0);
    await waitHttp(specs[0]!.ready!, m1, 'manager-1');
    await Promise.all(
      specs.slice(1).map(async (s, i) => {
        const child = start(s, i + 1);
        if (s.ready) await waitHttp(s.ready, child, s.name);
      }),
    );
  } catch (err) {
    process.stderr.write(`dev:cluster: ${(err as Error).message}\n`);
    await stopAll(1);
    return;
  }

  process.stdout.write(
    [
      '',
      'dev:cluster is up (real PostgreSQL, etcd and Redis; two managers, two workers, one agent).',
      `  PostgreSQL ${servers.postgres.url}   etcd ${servers.etcd.url}   Redis ${servers.redis.url}`,
      '  managers:  http://127.0.0.1:7070  http://127.0.0.1:7071   (same admin token, same signing key)',
      '  workers:   port-1 (ports 7100-7199)   wildcard-1 (http://<id>.apps.localhost:7080/)',
      `  admin token: ${token}   (kept in ${join(DIR, 'admin-token')})`,
      '',
      'Try, in another terminal (either manager answers the same):',
      `  export APPPROXY_URL=http://127.0.0.1:7070 APPPROXY_TOKEN=${token}`,
      '  npx appproxy worker list',
      '  npx appproxy session create demo --name demo --wait',
      '  npx appproxy app open demo web',
      '  npx appproxy --url http://127.0.0.1:7071 circuit list',
      '  npx appproxy doctor',
      `  curl -s -H "Authorization: Bearer ${token}" http://127.0.0.1:7071/v1/sessions`,
      '  curl -s http://127.0.0.1:7070/readyz        # who leads the background loops',
      '',
      `Backend.AI compatibility (docs/migration.md): shared secret ${legacySecret}`,
      `  (kept in ${join(DIR, 'legacy-api-secret')}); turn the surface on with`,
      '  npx appproxy flags set legacyCoordinatorApi on',
      '',
      'Press Ctrl-C to stop everything (processes first, then the servers). The next run starts with empty stores.',
      '',
    ].join('\n'),
  );
}

await main();
