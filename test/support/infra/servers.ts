/**
 * Real PostgreSQL, etcd and Redis servers for tests, on free loopback ports, in a temporary folder.
 *
 * - `startPostgres()`, `startEtcd()`, `startRedis()`, `startAll()` start (or, when already started
 *   in this process for the same folder, return) a server. Each handle has `stop()` (graceful,
 *   keeps the data), `start()` (same port, same data), `kill()` (SIGKILL), `pause()`/`resume()`
 *   (SIGSTOP/SIGCONT: a hung server) and `dispose()` (kill and remove the folder).
 * - Servers started by a test process are killed and their folders removed when the process exits
 *   (exit hook, plus SIGINT/SIGTERM). `keep: true` (the CLI) detaches them instead and records
 *   their pids in `<dir>/servers.json`, so `stopFromStateFile(dir)` can stop them later.
 * - A missing binary throws `MissingServerBinary`, whose message names the Debian package.
 *
 * PostgreSQL refuses to run as root: when this process is root, initdb and postgres run as the
 * `postgres` user (trust auth on loopback, fsync off: test data only).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../poll.ts';

export class MissingServerBinary extends Error {
  readonly pkg: string;
  constructor(what: string, looked: string, pkg: string) {
    super(
      `${what} is not installed (looked for ${looked}). Install the Debian package '${pkg}' ` +
        `(apt-get install -y ${pkg}), or set APPPROXY_SKIP_REAL_STORES=1 to skip the real-store tests.`,
    );
    this.name = 'MissingServerBinary';
    this.pkg = pkg;
  }
}

export interface ServerOptions {
  /** Parent folder for the server's data (default: a new temporary folder). */
  dir?: string;
  /** Detach the server and do not stop it when this process exits (the CLI). */
  keep?: boolean;
  /** Readiness deadline (default 20 s). */
  readyTimeoutMs?: number;
}

export interface ServerHandle {
  readonly name: 'postgres' | 'etcd' | 'redis';
  readonly port: number;
  readonly dir: string;
  /** The pid of the running server process (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts the server again on the same port with the same data; waits until it is ready. */
  start(): Promise<void>;
  /** Graceful stop (data kept); waits until the process is gone. */
  stop(): Promise<void>;
  /** SIGKILL; waits until the process is gone. */
  kill(): Promise<void>;
  /** SIGSTOP: the server stops answering but keeps its connections (a hung server). */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Kills the server and removes its folder. */
  dispose(): Promise<void>;
}

export interface PostgresHandle extends ServerHandle {
  readonly name: 'postgres';
  /** `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  /** The URL of database `name` on this server. */
  urlFor(name: string): string;
  /** Creates a new empty database (random name with `prefix`) and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
}

export interface EtcdHandle extends ServerHandle {
  readonly name: 'etcd';
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly endpoints: string[];
}

export interface RedisHandle extends ServerHandle {
  readonly name: 'redis';
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
}

// ------------------------------------------------------------------ helpers

const live = new Map<string, Managed>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const m of live.values()) m.killSync(true);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const m of live.values()) m.killSync(true);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function which(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = join(d, bin);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last lines of a server's log, for an error that says why it did not come up. */
function logTail(logFile: string | undefined): string {
  if (!logFile || !existsSync(logFile)) return '';
  return `; log tail:\n${readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')}`;
}

/** Sends `payload` to 127.0.0.1:port and resolves true once `accept` likes the reply so far. */
function tcpProbe(port: number, payload: string, accept: (reply: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (accept(buf)) done(true);
      else if (buf.length > 4096) done(false);
    });
    sock.on('end', () => done(false));
    sock.connect(port, '127.0.0.1', () => sock.write(payload));
  });
}

interface Spec {
  name: 'postgres' | 'etcd' | 'redis';
  bin: string;
  args: string[];
  /** Run as this uid/gid (postgres as root). */
  user?: { uid: number; gid: number };
  logFile: string;
  ready: () => Promise<boolean>;
  /** Signal for a graceful stop. */
  stopSignal: NodeJS.Signals;
  /** Signal for a crash (PostgreSQL: SIGQUIT, immediate shutdown that takes its backends along). */
  killSignal: NodeJS.Signals;
}

/** One server process: spawned directly (no shell, no daemonising), so its pid is known. */
class Managed {
  child: ChildProcess | undefined;
  pid: number | undefined;
  constructor(
    readonly spec: Spec,
    readonly port: number,
    readonly dir: string,
    readonly keep: boolean,
    readonly readyTimeoutMs: number,
  ) {}

  get running(): boolean {
    return this.pid !== undefined && pidAlive(this.pid);
  }

  async start(): Promise<void> {
    if (this.running) return;
    const log = openSync(this.spec.logFile, 'a');
    try {
      const child = spawn(this.spec.bin, this.spec.args, {
        stdio: ['ignore', log, log],
        detached: this.keep,
        ...(this.spec.user ?? {}),
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      child.unref();
      this.child = child;
      this.pid = child.pid;
      if (!this.keep)
        writeFileSync(
          join(this.dir, 'owner.json'),
          JSON.stringify({ owner: process.pid, pid: child.pid, signal: this.spec.killSignal }),
        );
      // Reap the child when it exits (otherwise `kill(pid, 0)` sees a zombie as alive).
      child.once('exit', () => {
        if (this.child === child) this.pid = undefined;
      });
    } finally {
      closeSync(log);
    }
    try {
      await until(
        async () => {
          if (!this.running) throw new Error('exited');
          return this.spec.ready();
        },
        `${this.spec.name} on port ${this.port}`,
        { timeoutMs: this.readyTimeoutMs, intervalMs: 50 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}${logTail(this.spec.logFile)}`);
      });
    } catch (err) {
      this.killSync(false);
      throw err;
    }
  }

  private async waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    return until(() => !(this.pid === pid && pidAlive(pid)), `pid ${pid} to be gone`, { timeoutMs }).then(
      () => true,
      () => false,
    );
  }

  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.signal('SIGCONT');
    this.signal(this.spec.stopSignal);
    if (!(await this.waitGone(pid, 15_000))) await this.kill();
    this.pid = undefined;
  }

  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.signal('SIGCONT');
    this.signal(this.spec.killSignal);
    if (!(await this.waitGone(pid, 5_000))) {
      this.signal('SIGKILL');
      await this.waitGone(pid, 5_000);
    }
    this.pid = undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** For exit hooks: SIGKILL (PostgreSQL: SIGQUIT, immediate shutdown, so its backends go too). */
  killSync(removeDir: boolean): void {
    if (this.pid !== undefined) {
      this.signal('SIGCONT');
      this.signal(this.spec.killSignal);
    }
    if (removeDir) removeServerDir(this.dir);
  }
}

function baseHandle(m: Managed, key: string): ServerHandle {
  return {
    name: m.spec.name,
    port: m.port,
    dir: m.dir,
    get pid() {
      return m.pid;
    },
    get running() {
      return m.running;
    },
    start: () => m.start(),
    stop: () => m.stop(),
    kill: () => m.kill(),
    pause: () => m.signal('SIGSTOP'),
    resume: () => m.signal('SIGCONT'),
    dispose: async () => {
      live.delete(key);
      await m.kill();
      removeServerDir(m.dir);
    },
  };
}

/** Parent folders this process created (removed with their last server). */
const ownParents = new Set<string>();

function newDir(opts: ServerOptions, name: string): string {
  let parent = opts.dir;
  if (!parent) {
    parent = mkdtempSync(join(tmpdir(), 'appproxy-servers-'));
    ownParents.add(parent);
  }
  mkdirSync(parent, { recursive: true });
  chmodSync(parent, 0o755);
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

function removeServerDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  const parent = join(dir, '..');
  if (ownParents.has(parent) || /[/\\]appproxy-servers-[^/\\]+$/.test(parent)) {
    try {
      if (readdirSync(parent).length === 0) rmSync(parent, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}

/**
 * Servers of test processes that died without running their exit hook (killed, or an earlier
 * 'exit' listener threw) are found by their `owner.json` and stopped: only when the owning
 * process is gone and the pid still runs a server of that folder.
 */
function reapOrphans(): void {
  let parents: string[];
  try {
    parents = readdirSync(tmpdir()).filter((d) => d.startsWith('appproxy-servers-'));
  } catch {
    return;
  }
  for (const p of parents) {
    const parent = join(tmpdir(), p);
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(parent, name);
      const file = join(dir, 'owner.json');
      if (!existsSync(file)) continue;
      try {
        const o = JSON.parse(readFileSync(file, 'utf8')) as {
          owner: number;
          pid?: number;
          signal: NodeJS.Signals;
        };
        if (pidAlive(o.owner)) continue;
        if (o.pid && pidAlive(o.pid)) {
          const cmd = readFileSync(`/proc/${o.pid}/cmdline`, 'utf8');
          if (cmd.includes(dir)) process.kill(o.pid, o.signal);
        }
        removeServerDir(dir);
      } catch {
        // another process is reaping it, or it is not ours to touch
      }
    }
  }
}

let reaped = false;

const handles = new Map<string, Promise<ServerHandle>>();

/** One server per (kind, folder) per process: calling start* twice returns the same handle. */
function once<H extends ServerHandle>(kind: string, opts: ServerOptions, make: () => Promise<H>): Promise<H> {
  const key = `${kind}|${opts.dir ?? ''}`;
  if (!reaped) {
    reaped = true;
    reapOrphans();
  }
  let p = handles.get(key) as Promise<H> | undefined;
  if (!p) {
    p = make();
    handles.set(key, p);
    p.catch(() => handles.delete(key));
  }
  return p;
}

function register(m: Managed, key: string): void {
  if (!m.keep) {
    live.set(key, m);
    installExitHooks();
  }
}

// ------------------------------------------------------------------ PostgreSQL

function postgresBinDir(): string {
  const env = process.env.APPPROXY_PG_BINDIR;
  if (env) {
    if (existsSync(join(env, 'postgres')) && existsSync(join(env, 'initdb'))) return env;
    throw new MissingServerBinary('PostgreSQL', `${env}/postgres (APPPROXY_PG_BINDIR)`, 'postgresql');
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  const onPath = which('postgres');
  if (onPath && which('initdb')) return join(onPath, '..');
  throw new MissingServerBinary('PostgreSQL', `${root}/*/bin/postgres and PATH`, 'postgresql');
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root but there is no `postgres` user (install `postgresql`)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function chownR(path: string, user: { uid: number; gid: number } | undefined): void {
  if (!user) return;
  execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, path]);
}

/** initdb once per machine (per PostgreSQL build and user), then copy: saves ~1.5 s per start. */

function initdbTemplate(bin: string, user: { uid: number; gid: number } | undefined): string {
  const tag = bin.replace(/[^a-z0-9]+/gi, '_');
  const dir = join(tmpdir(), `appproxy-pg-template-${tag}-${user?.uid ?? process.getuid?.() ?? 0}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const building = `${dir}.${randomBytes(4).toString('hex')}`;
  mkdirSync(building, { mode: 0o700 });
  chownR(building, user);
  execFileSync(
    join(bin, 'initdb'),
    ['-D', building, '-A', 'trust', '-U', 'postgres', '-N', '--no-instructions', '-E', 'UTF8', '--locale=C'],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(user ?? {}) },
  );
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

export function startPostgres(opts: ServerOptions = {}): Promise<PostgresHandle> {
  return once('postgres', opts, async () => {
    const bin = postgresBinDir();
    const user = postgresUser();
    const template = initdbTemplate(bin, user);
    const dir = newDir(opts, 'postgres');
    const data = join(dir, 'data');
    const sock = join(dir, 'sock');
    if (!existsSync(join(data, 'PG_VERSION'))) execFileSync('cp', ['-a', template, data]);
    mkdirSync(sock, { recursive: true });
    chownR(dir, user);
    const port = await freePort();
    const logFile = join(dir, 'postgres.log');
    writeFileSync(logFile, '');
    chownR(logFile, user);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const spec: Spec = {
      name: 'postgres',
      bin: join(bin, 'postgres'),
      args: [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        sock,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=200',
        '-c',
        'shared_buffers=32MB',
      ],
      logFile,
      ready: async () => {
        // Ready once a startup packet gets an authentication message ('R') rather than an error
        // ('E': "the database system is starting up").
        return tcpProbe(port, startupPacket('postgres', 'postgres'), (r) => r[0] === 'R');
      },
      stopSignal: 'SIGINT', // fast shutdown
      killSignal: 'SIGQUIT', // immediate shutdown (a SIGKILLed postmaster leaves backends behind)
    };
    if (user) spec.user = user;
    const m = new Managed(spec, port, dir, opts.keep ?? false, opts.readyTimeoutMs ?? 20_000);
    const key = `postgres|${dir}`;
    register(m, key);
    await m.start();
    const urlFor = (name: string) => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    return {
      ...baseHandle(m, key),
      name: 'postgres' as const,
      url,
      urlFor,
      async createDatabase(prefix = 'test') {
        const name = `${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
        const { default: pg } = await import('pg');
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE "${name}"`);
        } finally {
          await c.end();
        }
        return urlFor(name);
      },
    };
  });
}

function startupPacket(user: string, database: string): string {
  const body = `user\0${user}\0database\0${database}\0\0`;
  const len = 8 + Buffer.byteLength(body);
  const head = Buffer.alloc(8);
  head.writeInt32BE(len, 0);
  head.writeInt32BE(196608, 4); // protocol 3.0
  return Buffer.concat([head, Buffer.from(body)]).toString('latin1');
}

// ------------------------------------------------------------------ etcd

export function startEtcd(opts: ServerOptions = {}): Promise<EtcdHandle> {
  return once('etcd', opts, async () => {
    const bin = process.env.APPPROXY_ETCD_BIN ?? which('etcd');
    if (!bin) throw new MissingServerBinary('etcd', '`etcd` on PATH', 'etcd-server');
    const dir = newDir(opts, 'etcd');
    const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
    const url = `http://127.0.0.1:${client}`;
    const logFile = join(dir, 'etcd.log');
    const m = new Managed(
      {
        name: 'etcd',
        bin,
        args: [
          '--name',
          't1',
          '--data-dir',
          join(dir, 'data'),
          '--listen-client-urls',
          url,
          '--advertise-client-urls',
          url,
          '--listen-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${peer}`,
          '--initial-cluster',
          `t1=http://127.0.0.1:${peer}`,
          '--listen-metrics-urls',
          `http://127.0.0.1:${metrics}`,
          '--log-level',
          'warn',
          '--logger',
          'zap',
        ],
        logFile,
        ready: async () => {
          const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          return res.ok && body.health === 'true';
        },
        stopSignal: 'SIGTERM',
        killSignal: 'SIGKILL',
      },
      client,
      dir,
      opts.keep ?? false,
      opts.readyTimeoutMs ?? 20_000,
    );
    const key = `etcd|${dir}`;
    register(m, key);
    await m.start();
    return { ...baseHandle(m, key), name: 'etcd' as const, url, endpoints: [url] };
  });
}

// ------------------------------------------------------------------ Redis

export function startRedis(opts: ServerOptions = {}): Promise<RedisHandle> {
  return once('redis', opts, async () => {
    const bin = process.env.APPPROXY_REDIS_BIN ?? which('redis-server');
    if (!bin) throw new MissingServerBinary('Redis', '`redis-server` on PATH', 'redis-server');
    const dir = newDir(opts, 'redis');
    const port = await freePort();
    const m = new Managed(
      {
        name: 'redis',
        bin,
        // A save point makes a graceful stop (SIGTERM) write dump.rdb, which the next start
        // loads: `stop()` + `start()` keeps the data, `kill()` loses what was not saved.
        args: [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--dir',
          dir,
          '--save',
          '3600 1',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        logFile: join(dir, 'redis.log'),
        ready: () => tcpProbe(port, 'PING\r\n', (r) => r.includes('+PONG')),
        stopSignal: 'SIGTERM',
        killSignal: 'SIGKILL',
      },
      port,
      dir,
      opts.keep ?? false,
      opts.readyTimeoutMs ?? 10_000,
    );
    const key = `redis|${dir}`;
    register(m, key);
    await m.start();
    return { ...baseHandle(m, key), name: 'redis' as const, url: `redis://127.0.0.1:${port}` };
  });
}

// ------------------------------------------------------------------ all three

export interface AllServers {
  dir: string;
  postgres: PostgresHandle;
  etcd: EtcdHandle;
  redis: RedisHandle;
  dispose(): Promise<void>;
}

export async function startAll(opts: ServerOptions = {}): Promise<AllServers> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'appproxy-servers-'));
  const o = { ...opts, dir };
  const [postgres, etcd, redis] = await Promise.all([startPostgres(o), startEtcd(o), startRedis(o)]);
  if (o.keep) {
    const state = {
      dir,
      postgres: { pid: postgres.pid, url: postgres.url, port: postgres.port },
      etcd: { pid: etcd.pid, url: etcd.url, port: etcd.port },
      redis: { pid: redis.pid, url: redis.url, port: redis.port },
    };
    writeFileSync(join(dir, 'servers.json'), `${JSON.stringify(state, null, 2)}\n`);
  }
  return {
    dir,
    postgres,
    etcd,
    redis,
    async dispose() {
      await Promise.all([postgres.dispose(), etcd.dispose(), redis.dispose()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops servers recorded in `<dir>/servers.json` by a `keep: true` start; removes the folder. */
export async function stopFromStateFile(dir: string): Promise<string[]> {
  const file = join(dir, 'servers.json');
  if (!existsSync(file)) return [];
  const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { pid?: number }>;
  const stopped: string[] = [];
  for (const name of ['postgres', 'etcd', 'redis']) {
    const pid = state[name]?.pid;
    if (!pid || !pidAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, name === 'postgres' ? 'SIGINT' : 'SIGTERM');
    } catch {
      continue;
    }
    await until(() => !pidAlive(pid), `${name} (pid ${pid}) to stop`, {
      timeoutMs: 15_000,
      intervalMs: 50,
    }).catch(() => {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    stopped.push(name);
  }
  rmSync(dir, { recursive: true, force: true });
  return stopped;
}

/** True when real-store tests are to be skipped (`APPPROXY_SKIP_REAL_STORES=1`). */
export const skipRealStores = process.env.APPPROXY_SKIP_REAL_STORES === '1';
