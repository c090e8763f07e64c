/**
 * One service of a session as a local process: spawned in its own process group with a bounded
 * tail of its output, and stopped with SIGTERM, then SIGKILL, including what left the group.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { sleep } from '../core/backoff.ts';
import { descendants, groupAlive, isAlive, type ProcId, signalGroup, signalProc } from './process-tree.ts';
import { expandPlaceholders, type ServiceSpec } from './templates.ts';

/** Lines of output kept per stream and service, for error reasons. */
const TAIL_LINES = 50;
/** Longest output line kept; longer ones are cut (a service printing without newlines stays bounded). */
const MAX_LINE = 2000;
/** Upper bound on the output included in a reason (it is stored with the session). */
const MAX_REASON_OUTPUT = 4000;
/** After SIGKILL, how long to wait for the kernel to remove processes before giving up (logged). */
const KILL_WAIT_MS = 5000;
/** Environment passed through to services; nothing else of the agent's (its secrets) leaks in. */
const PASS_ENV = ['PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

export type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

export interface ServiceProcess {
  spec: ServiceSpec;
  port: number;
  child: ChildProcess;
  /** The process group id (= the leader's pid, as it is spawned detached). */
  pid: number | undefined;
  exit: Exit | null;
  /** Resolves when the leader exited (or failed to spawn). */
  exited: Promise<Exit>;
  /** Resolves when its output pipes closed ('exit' may come before the last output is read). */
  outputClosed: Promise<void>;
  stdout: Tail;
  stderr: Tail;
  /** Answered its readiness check. */
  ready: boolean;
  /** Replaced by a retry on another port: its exit means nothing for the session. */
  superseded: boolean;
}

export interface SpawnServiceOptions {
  spec: ServiceSpec;
  port: number;
  host: string;
  /** The session folder: the service's working directory and HOME. */
  dir: string;
  secret: string;
  log: Logger;
  /** Called once, when the leader exits or could not be spawned. */
  onExit: (proc: ServiceProcess) => void;
}

/** Starts the service; throws synchronously on arguments spawn() cannot pass (e.g. a NUL byte). */
export function spawnServiceProcess(o: SpawnServiceOptions): ServiceProcess {
  const { spec, port } = o;
  const values = { port, host: o.host, node: process.execPath, dataDir: o.dir, secret: o.secret };
  const argv = spec.command.map((a) => expandPlaceholders(a, values));
  const env: Record<string, string> = { HOME: o.dir };
  // The template names anything else of the agent's environment a service needs (passEnv).
  for (const k of [...PASS_ENV, ...(spec.passEnv ?? [])]) {
    if (process.env[k] !== undefined) env[k] = process.env[k] as string;
  }
  for (const [k, v] of Object.entries(spec.env ?? {})) env[k] = expandPlaceholders(v, values);

  const log = o.log.child({ service: spec.name });
  // No shell (argv as is). detached: the service leads a new process group, so one signal to the
  // group reaches everything it started, and a Ctrl-C meant for the agent does not hit it.
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: o.dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let settle!: (e: Exit) => void;
  const proc: ServiceProcess = {
    spec,
    port,
    child,
    pid: child.pid,
    exit: null,
    exited: new Promise<Exit>((r) => {
      settle = r;
    }),
    outputClosed: new Promise<void>((r) => child.once('close', () => r())),
    stdout: new Tail(),
    stderr: new Tail(),
    ready: false,
    superseded: false,
  };
  pipeLines(child.stdout, proc.stdout, (line) => log.debug({ stream: 'stdout' }, line));
  pipeLines(child.stderr, proc.stderr, (line) => log.debug({ stream: 'stderr' }, line));
  const onExit = (exit: Exit) => {
    if (proc.exit) return;
    proc.exit = exit;
    settle(exit);
    o.onExit(proc);
  };
  child.once('exit', (code, signal) => onExit({ code, signal }));
  // Spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'.
  child.once('error', (error) => onExit({ code: null, signal: null, error }));
  log.debug({ pid: child.pid, port, argv }, 'service spawned');
  return proc;
}

/**
 * SIGTERM to the service's process group, SIGKILL after the grace period to the group and to any
 * descendant that left it (e.g. Jupyter kernels, which run in their own session); resolves when
 * all of them are gone.
 */
export async function stopServiceProcess(
  proc: ServiceProcess,
  graceMs: number,
  logger: Logger,
): Promise<void> {
  const pgid = proc.pid;
  if (pgid === undefined) return; // never started
  const log = logger.child({ service: proc.spec.name, pid: pgid });
  // Taken before signalling: once the leader exits, its orphans are no longer its descendants.
  const tracked = new Map<number, ProcId>();
  const track = () => {
    if (!proc.exit) for (const d of descendants(pgid)) tracked.set(d.pid, d);
  };
  track();
  const gone = () =>
    proc.exit !== null && !groupAlive(pgid) && [...tracked.values()].every((p) => !isAlive(p));

  if (!gone()) {
    signalGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (!gone() && Date.now() < deadline) {
      track();
      await Promise.race([sleep(50, { keepAlive: true }), proc.exited]);
    }
  }
  if (!gone()) {
    log.warn({ graceMs }, 'service did not stop after SIGTERM; sending SIGKILL');
    track();
    signalGroup(pgid, 'SIGKILL');
    for (const p of tracked.values()) signalProc(p, 'SIGKILL');
    const deadline = Date.now() + KILL_WAIT_MS;
    while (!gone() && Date.now() < deadline) await sleep(20, { keepAlive: true });
    if (!gone()) log.error('processes still present after SIGKILL');
  }
  // Descendants may hold the pipes open; the agent no longer reads them.
  proc.child.stdout?.destroy();
  proc.child.stderr?.destroy();
}

/** Bounded ring of the last lines of one output stream. */
export class Tail {
  private lines: string[] = [];
  push(line: string): void {
    this.lines.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export function pipeLines(stream: Readable | null, tail: Tail, log: (line: string) => void): void {
  if (!stream) return;
  stream.setEncoding('utf8');
  let pending = '';
  const take = (line: string) => {
    const trimmed = line.replace(/\r$/, '');
    if (trimmed.length === 0) return;
    tail.push(trimmed);
    log(trimmed);
  };
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const p of parts) take(p);
    // A process writing without newlines must not grow this buffer without bound.
    if (pending.length > MAX_LINE) {
      take(pending);
      pending = '';
    }
  });
  stream.on('end', () => take(pending));
  stream.on('error', () => {});
}

/**
 * Waits (briefly) for the last output of a process that exited, for its error reason. Bounded:
 * a surviving descendant can hold the pipes open indefinitely.
 */
export function outputSettled(proc: ServiceProcess): Promise<void> {
  return Promise.race([proc.outputClosed, sleep(250, { keepAlive: true })]);
}

export function describeExit(exit: Exit): string {
  if (exit.error) return `could not be started (${exit.error.message})`;
  if (exit.signal) return `was killed by signal ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/** The end of the service's output (stderr, else stdout) to append to an error reason. */
export function outputOf(proc: ServiceProcess): string {
  let text = proc.stderr.text() || proc.stdout.text();
  if (!text) return '';
  if (text.length > MAX_REASON_OUTPUT) text = `…${text.slice(-MAX_REASON_OUTPUT)}`;
  return `; last output:\n${text}`;
}
