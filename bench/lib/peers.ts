/**
 * The peers AppProxy is measured against, each started on loopback in front of the benchmark
 * upstream, pinned like the proxy under test: nginx (reverse proxy with upstream keep-alive, and
 * its stream module for TCP), haproxy (tcp mode), configurable-http-proxy (JupyterHub's Node
 * proxy) and a plain Node TCP pipe. One worker process/thread each, like AppProxy's one process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, NODE, NOFILE_HARD, ROOT, sleep, start, which } from './proc.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export interface PeerVersions {
  nginx: string | null;
  nginxStream: boolean;
  haproxy: string | null;
  wrk: string | null;
  chp: string | null;
}

export function peerVersions(): PeerVersions {
  const out = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  };
  let chp: string | null = null;
  try {
    chp = (
      JSON.parse(readFileSync(join(ROOT, 'node_modules/configurable-http-proxy/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {}
  return {
    nginx: which('nginx') ? (/nginx\/(\S+)/.exec(out('nginx', ['-v']))?.[1] ?? 'unknown') : null,
    nginxStream: existsSync(STREAM_MODULE),
    haproxy: which('haproxy') ? (/version (\S+)/.exec(out('haproxy', ['-v']))?.[1] ?? 'unknown') : null,
    wrk: which('wrk') ? (/wrk (\S+)/.exec(out('wrk', ['-v']))?.[1] ?? 'unknown') : null,
    chp,
  };
}

/** apt-get installs what is missing (only with --install). */
export function installMissing(v: PeerVersions): void {
  const pkgs: string[] = [];
  if (!v.nginx) pkgs.push('nginx');
  if (!v.nginxStream) pkgs.push('libnginx-mod-stream');
  if (!v.haproxy) pkgs.push('haproxy');
  if (!v.wrk) pkgs.push('wrk');
  if (pkgs.length === 0) return;
  console.log(`installing ${pkgs.join(' ')} (apt-get)…`);
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) console.log('apt-get install failed; the missing peers are skipped');
}

export interface Peer {
  name: string;
  child: Child;
  /** HTTP/WebSocket port (null for TCP-only peers). */
  httpPort: number | null;
  /** TCP relay port (null for HTTP-only peers). */
  tcpPort: number | null;
  stop(): Promise<void>;
}

export async function startNginx(
  up: { http: number; tcp: number },
  cpus: string,
  withStream: boolean,
): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  const httpPort = await freePort();
  const tcpPort = withStream ? await freePort() : null;
  const conf = `
${withStream ? `load_module ${STREAM_MODULE};` : ''}
user root;
worker_processes 1;
worker_rlimit_nofile ${NOFILE_HARD};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${NOFILE_HARD - 64}; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream app { server 127.0.0.1:${up.http}; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${httpPort} backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
${
  withStream
    ? `stream {
  upstream tcpup { server 127.0.0.1:${up.tcp}; }
  server { listen 127.0.0.1:${tcpPort} backlog=4096; proxy_pass tcpup; proxy_timeout 3600s; }
}`
    : ''
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = await start('nginx', ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf')], {
    cpus,
    ready: false,
  });
  try {
    await waitPort(httpPort);
    if (tcpPort) await waitPort(tcpPort);
  } catch (err) {
    await child.stop();
    throw new Error(`nginx did not start: ${String(err)}; ${readErr(join(dir, 'error.log'))}`);
  }
  return {
    name: 'nginx',
    child,
    httpPort,
    tcpPort,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readErr(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-1000);
  } catch {
    return '';
  }
}

export async function startHaproxy(up: { tcp: number }, cpus: string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-haproxy-'));
  const tcpPort = await freePort();
  const cfg = `
global
  nbthread 1
  maxconn ${Math.floor((NOFILE_HARD - 100) / 2)}
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend f
  bind 127.0.0.1:${tcpPort}
  default_backend b
backend b
  server s1 127.0.0.1:${up.tcp}
`;
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  const child = await start('haproxy', ['haproxy', '-f', join(dir, 'haproxy.cfg'), '-db'], {
    cpus,
    ready: false,
  });
  await waitPort(tcpPort);
  return {
    name: 'haproxy',
    child,
    httpPort: null,
    tcpPort,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startChp(up: { http: number }, cpus: string): Promise<Peer> {
  const httpPort = await freePort();
  const apiPort = await freePort();
  const bin = join(ROOT, 'node_modules/configurable-http-proxy/bin/configurable-http-proxy');
  const child = await start(
    'chp',
    [
      NODE,
      bin,
      '--ip',
      '127.0.0.1',
      '--port',
      String(httpPort),
      '--api-ip',
      '127.0.0.1',
      '--api-port',
      String(apiPort),
      '--default-target',
      `http://127.0.0.1:${up.http}`,
      '--log-level',
      'error',
    ],
    { cpus, ready: false, env: { CONFIGPROXY_AUTH_TOKEN: 'bench' } },
  );
  await waitPort(httpPort, 30_000);
  return { name: 'configurable-http-proxy', child, httpPort, tcpPort: null, stop: () => child.stop() };
}

/**
 * The plainest fast Node HTTP proxy (bench/profile/baseline.ts: node:http + undici, no auth, no
 * activity, no WebSocket): the HTTP row that shows what the runtime itself allows on this machine.
 */
export async function startNodeBaseline(up: { http: number }, cpus: string): Promise<Peer> {
  const child = await start(
    'node-baseline',
    [NODE, join(ROOT, 'bench/profile/baseline.ts'), String(up.http)],
    {
      cpus,
    },
  );
  const httpPort = Number(child.info.port);
  return { name: 'node-baseline', child, httpPort, tcpPort: null, stop: () => child.stop() };
}

export async function startNodePipe(up: { tcp: number }, cpus: string): Promise<Peer> {
  const child = await start('node-pipe', [NODE, join(ROOT, 'bench/servers/node-pipe.ts'), String(up.tcp)], {
    cpus,
  });
  return {
    name: 'node-pipe',
    child,
    httpPort: null,
    tcpPort: Number(child.info.port),
    stop: () => child.stop(),
  };
}
