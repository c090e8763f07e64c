/**
 * Process plumbing for the harness: spawn a pinned child with a raised fd limit, wait for its
 * JSON "ready" line, and read what the kernel says about a process tree (CPU seconds, RSS, fds).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** A JSON line from a child; its shape depends on the child. */
// biome-ignore lint/suspicious/noExplicitAny: children print loosely typed JSON lines.
export type Msg = Record<string, any>;

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const NODE = process.execPath;
const CLK_TCK = 100;

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The first JSON line the child printed (its address, cookies…). */
  info: Msg;
  /** Sends a JSON line to the child's stdin. */
  send(msg: unknown): void;
  /** Resolves with the next JSON line from the child that matches `pred`. */
  next(pred?: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  stop(): Promise<void>;
}

export interface SpawnOpts {
  cpus?: string;
  env?: NodeJS.ProcessEnv;
  /** Whether the child prints a JSON ready line on stdout (default true). */
  ready?: boolean;
  readyTimeoutMs?: number;
  nofile?: number;
  cwd?: string;
  quiet?: boolean;
}

/** Whether taskset can pin (a 1-CPU machine or a container without it runs unpinned). */
export const canPin = spawnSync('taskset', ['-c', '1', 'true'], { stdio: 'ignore' }).status === 0;

/** The hard fd limit of this process (children can raise their soft limit up to it, not past). */
export const NOFILE_HARD = (() => {
  const r = spawnSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? 1 << 20 : Number(v) || 1024;
})();
const NOFILE = Math.min(65536, NOFILE_HARD);

export function which(cmd: string): string | null {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Spawns `argv` through prlimit (fd limit) and taskset (CPU pinning). */
export async function start(name: string, argv: string[], o: SpawnOpts = {}): Promise<Child> {
  const prefix: string[] = ['prlimit', `--nofile=${Math.min(o.nofile ?? NOFILE, NOFILE_HARD)}`];
  if (o.cpus && canPin) prefix.push('taskset', '-c', o.cpus);
  const proc = spawn(prefix[0]!, [...prefix.slice(1), ...argv], {
    cwd: o.cwd ?? ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Msg[] = [];
  const waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  let stderr = '';
  let exited = false;
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
    if (!o.quiet && process.env.BENCH_DEBUG) process.stderr.write(`[${name}] ${d}`);
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let m: Msg;
    try {
      m = JSON.parse(line) as Msg;
    } catch {
      if (process.env.BENCH_DEBUG) process.stderr.write(`[${name}] ${line}\n`);
      return;
    }
    const i = waiters.findIndex((w) => w.pred(m));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else lines.push(m);
  });
  const exitP = new Promise<void>((r) =>
    proc.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const next = (pred: (m: Msg) => boolean = () => true, timeoutMs = 120_000) => {
    const i = lines.findIndex(pred);
    if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0]!);
    return new Promise<Msg>((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Msg) => {
          clearTimeout(t);
          resolve(m);
        },
      };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`${name}: no answer in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      void exitP.then(() => {
        if (waiters.includes(w)) {
          clearTimeout(t);
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`${name} exited (${proc.exitCode}); stderr: ${stderr.slice(-2000)}`));
        }
      });
      waiters.push(w);
    });
  };
  const child: Child = {
    name,
    proc,
    pid: 0,
    info: {},
    send: (msg) => {
      if (!exited) proc.stdin!.write(`${JSON.stringify(msg)}\n`);
    },
    next,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exitP;
      clearTimeout(t);
    },
  };
  if (o.ready !== false) {
    child.info = await next((m) => m.ready === true, o.readyTimeoutMs ?? 60_000);
    child.pid = Number(child.info.pid ?? 0);
  }
  // prlimit and taskset exec the target, so the spawned pid is the target's pid.
  if (!child.pid) child.pid = proc.pid!;
  return child;
}

/** Runs a command to completion; resolves with its stdout (rejects on a non-zero exit). */
export function run(
  argv: string[],
  o: { cpus?: string; timeoutMs?: number; nofile?: number } = {},
): Promise<string> {
  const prefix: string[] = ['prlimit', `--nofile=${Math.min(o.nofile ?? NOFILE, NOFILE_HARD)}`];
  if (o.cpus && canPin) prefix.push('taskset', '-c', o.cpus);
  return new Promise((resolve, reject) => {
    const p = spawn(prefix[0]!, [...prefix.slice(1), ...argv], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 600_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-2000)}${out.slice(-2000)}`));
    });
  });
}

function statOf(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** `pid` and all its descendants (nginx and haproxy workers, a multi-process worker). */
export function tree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statOf(Number(d));
    if (f) parent.set(Number(d), Number(f[1]));
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of parent) if (p === out[i]) out.push(c);
  return out.filter((p) => parent.has(p));
}

/** utime + stime of the tree, in seconds (children that exited are not included). */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    const f = statOf(p);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}

/** VmRSS of the tree in bytes. */
export function rssBytes(pid: number): number {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {}
  }
  return kb * 1024;
}

export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** Re-pins a running process tree (taskset -a -p). */
export async function pin(pid: number, cpus: string): Promise<void> {
  if (!canPin) return;
  for (const p of tree(pid)) await run(['taskset', '-a', '-p', '-c', cpus, String(p)]).catch(() => {});
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Node with tsx, for the harness's own TypeScript servers and clients. */
export function tsArgv(script: string, ...args: string[]): string[] {
  return [NODE, '--import', 'tsx', `${ROOT}/${script}`, ...args];
}
