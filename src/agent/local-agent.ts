/**
 * The embedded local agent: runs each session's services as local processes from admin-defined
 * templates and reports RUNNING / ERROR / TERMINATED to its listeners (the manager).
 *
 * Per session: a private folder `<dataDir>/sessions/<id>` (removed at the end), one loopback port
 * and one process group per service. Every session ends exactly once, with one final report:
 * TERMINATED when asked to stop (or when a service exits 0 on its own), ERROR when a service
 * failed to start or died. After the final report nothing of the session is left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { AgentDriver, AgentReport, TemplateInfo } from '../contracts/agent.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { descendants, groupAlive, isAlive, type ProcId, signalGroup, signalProc } from './process-tree.ts';
import {
  DEFAULT_START_TIMEOUT_MS,
  expandPlaceholders,
  parseTemplates,
  type ServiceSpec,
  type TemplateSpec,
  templateInfo,
} from './templates.ts';

export interface LocalAgentOptions {
  /** Stable agent name stored with each session (default 'local'). */
  name?: string;
  templates: TemplateSpec[];
  /** Each session gets `<dataDir>/sessions/<id>`. */
  dataDir: string;
  /** Address services bind; loopback only, so the proxy is the way in. */
  bindHost?: '127.0.0.1';
  /** Time between SIGTERM and SIGKILL (default 5000 ms). */
  terminateGraceMs?: number;
  logger: Logger;
}

/** Lines of output kept per stream and service, for error reasons. */
const TAIL_LINES = 50;
/** Longest output line kept; longer ones are cut (a service printing without newlines stays bounded). */
const MAX_LINE = 2000;
/** Upper bound on the output included in a reason (it is stored with the session). */
const MAX_REASON_OUTPUT = 4000;
const POLL_MS = 100;
/** Attempts per service when its port was taken between allocation and bind (see allocatePort). */
const PORT_ATTEMPTS = 3;
/** After SIGKILL, how long to wait for the kernel to remove processes before giving up (logged). */
const KILL_WAIT_MS = 5000;
/** Environment passed through to services; nothing else of the agent's (its secrets) leaks in. */
const PASS_ENV = ['PATH', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

interface ServiceProcess {
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

type Phase = 'starting' | 'running' | 'stopping';

interface SessionRun {
  id: string;
  template: TemplateSpec;
  dir: string;
  secret: string;
  phase: Phase;
  procs: Map<string, ServiceProcess>;
  /** Aborted when the session starts stopping, to end readiness waits at once. */
  abort: AbortController;
  /** The session folder being (re)created; teardown waits for it so it never races the removal. */
  prepared: Promise<void>;
  /** Set once the session is stopping: resolves after its processes are gone and it was reported. */
  ended: Promise<void> | null;
}

export class LocalAgent implements AgentDriver {
  readonly name: string;
  private readonly specs = new Map<string, TemplateSpec>();
  private readonly dataDir: string;
  private readonly host: string;
  private readonly graceMs: number;
  private readonly log: Logger;
  private readonly sessions = new Map<string, SessionRun>();
  private readonly listeners: ((report: AgentReport) => void)[] = [];
  /** Ports handed to live services, so two services of ours never get the same one. */
  private readonly portsInUse = new Set<number>();
  private closed = false;
  private exitHookInstalled = false;

  constructor(options: LocalAgentOptions) {
    this.name = options.name ?? 'local';
    for (const t of parseTemplates(options.templates)) this.specs.set(t.name, t);
    this.dataDir = options.dataDir;
    this.host = options.bindHost ?? '127.0.0.1';
    this.graceMs = options.terminateGraceMs ?? 5000;
    this.log = options.logger.child({ component: 'local-agent', agent: this.name });
  }

  templates(): TemplateInfo[] {
    return [...this.specs.values()].map((t) => templateInfo(t));
  }

  running(): string[] {
    return [...this.sessions.values()].filter((s) => s.phase !== 'stopping').map((s) => s.id);
  }

  /** Live processes of a session (service name and leader pid), for diagnostics and tests. */
  processes(sessionId: string): { service: string; pid: number }[] {
    const s = this.sessions.get(sessionId);
    if (!s) return [];
    return [...s.procs.values()].flatMap((p) =>
      p.pid !== undefined && !p.exit ? [{ service: p.spec.name, pid: p.pid }] : [],
    );
  }

  onReport(listener: (report: AgentReport) => void): void {
    this.listeners.push(listener);
  }

  async launch(sessionId: string, templateName: string): Promise<void> {
    if (this.closed) throw new Error('the local agent is closed');
    // The id becomes a folder name that is later removed recursively: keep it a plain name.
    if (!SESSION_ID.test(sessionId)) {
      throw new AppProxyError(
        'AP_ERR_VALIDATION',
        `session id ${JSON.stringify(sessionId)} is not a plain name`,
      );
    }
    const template = this.specs.get(templateName);
    if (!template)
      throw new AppProxyError('AP_ERR_TEMPLATE_NOT_FOUND', `no template named "${templateName}"`);
    const info = templateInfo(template);
    if (!info.available) {
      throw new AppProxyError(
        'AP_ERR_TEMPLATE_UNAVAILABLE',
        `template "${templateName}": ${info.unavailableReason}`,
      );
    }
    if (this.sessions.has(sessionId))
      throw new Error(`session ${sessionId} is already running on this agent`);

    const session: SessionRun = {
      id: sessionId,
      template,
      dir: join(this.dataDir, 'sessions', sessionId),
      secret: randomBytes(32).toString('hex'),
      phase: 'starting',
      procs: new Map(),
      abort: new AbortController(),
      prepared: Promise.resolve(),
      ended: null,
    };
    // Registered before any await, so terminate() during start-up finds it.
    this.sessions.set(sessionId, session);
    this.installExitHook();
    this.log.info({ sessionId, template: templateName }, 'launching session');
    // A folder left by a crashed agent run is stale: start clean.
    session.prepared = (async () => {
      await rm(session.dir, { recursive: true, force: true });
      await mkdir(session.dir, { recursive: true, mode: 0o700 });
    })();
    try {
      await session.prepared;
    } catch (err) {
      // Reported like any other start failure (launch only throws for a bad request).
      this.end(session, 'ERROR', `could not create the session folder: ${(err as Error).message}`);
      return;
    }
    if (session.phase !== 'starting') return; // terminated meanwhile
    // Start-up continues in the background; its outcome arrives as a report.
    this.startUp(session).catch((err: unknown) => {
      this.log.error({ err, sessionId }, 'session start-up failed');
      this.end(session, 'ERROR', `start-up failed: ${(err as Error).message}`);
    });
  }

  async terminate(sessionId: string): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.end(session, 'TERMINATED', 'terminated on request');
    await session.ended;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.keys()].map((id) => this.terminate(id)));
    if (this.exitHookInstalled) process.off('exit', this.killAllNow);
    this.exitHookInstalled = false;
  }

  // ------------------------------------------------------------------ start-up

  private async startUp(session: SessionRun): Promise<void> {
    const ready = await Promise.all(session.template.services.map((spec) => this.bringUp(session, spec)));
    // A failure already ended the session (and a stop request may have come meanwhile).
    if (session.phase !== 'starting' || !ready.every(Boolean)) return;
    session.phase = 'running';
    const services = session.template.services.map((spec) => ({
      name: spec.name,
      protocol: spec.protocol,
      host: this.host,
      port: session.procs.get(spec.name)!.port,
    }));
    this.log.info({ sessionId: session.id, services }, 'session running');
    this.emit({ sessionId: session.id, state: 'RUNNING', reason: null, services });
  }

  /** Starts one service and waits until it is ready; true when ready, else the session was ended. */
  private async bringUp(session: SessionRun, spec: ServiceSpec): Promise<boolean> {
    const timeoutMs = spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    for (let attempt = 1; ; attempt++) {
      let port: number;
      try {
        port = await this.allocatePort();
      } catch (err) {
        this.end(
          session,
          'ERROR',
          `service "${spec.name}": no free port on ${this.host}: ${(err as Error).message}`,
        );
        return false;
      }
      if (session.phase !== 'starting') {
        this.portsInUse.delete(port);
        return false;
      }
      let proc: ServiceProcess;
      try {
        proc = this.spawnService(session, spec, port);
      } catch (err) {
        // spawn() throws synchronously on arguments it cannot pass (e.g. a NUL byte).
        this.portsInUse.delete(port);
        this.end(session, 'ERROR', `service "${spec.name}" could not be started (${(err as Error).message})`);
        return false;
      }
      const outcome = await this.waitReady(session, proc, timeoutMs);
      if (outcome === 'ready') {
        proc.ready = true;
        return true;
      }
      if (outcome === 'aborted') return false;
      if (outcome === 'timeout') {
        // Ending the session kills this hung service too: it must not outlive its report.
        const why = `service "${spec.name}" was not ready within ${timeoutMs} ms (${describeProbe(spec, this.host, port)})`;
        this.end(session, 'ERROR', why + outputOf(proc));
        return false;
      }
      // It exited before it was ready. A port taken by someone else between allocatePort() and the
      // service's bind is the one failure worth retrying, on a new port.
      await outputSettled(proc);
      const text = `${proc.stderr.text()}\n${proc.stdout.text()}`;
      if (attempt < PORT_ATTEMPTS && /EADDRINUSE|address already in use/i.test(text)) {
        this.log.warn(
          { sessionId: session.id, service: spec.name, port },
          'port taken before bind; retrying',
        );
        proc.superseded = true;
        this.portsInUse.delete(port);
        continue;
      }
      this.end(
        session,
        'ERROR',
        `service "${spec.name}" ${describeExit(outcome)} before it was ready${outputOf(proc)}`,
      );
      return false;
    }
  }

  /**
   * A free loopback port: bind port 0, read it, close. Another program may take the port before
   * the service binds it (a small race window); bringUp() retries on EADDRINUSE, and services are
   * told to fail rather than pick another port (Jupyter: port_retries=0).
   */
  private async allocatePort(): Promise<number> {
    for (let i = 0; ; i++) {
      const port = await new Promise<number>((resolve, reject) => {
        const srv = createServer();
        srv.once('error', reject);
        srv.listen({ port: 0, host: this.host, exclusive: true }, () => {
          const addr = srv.address();
          srv.close(() =>
            typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no address')),
          );
        });
      });
      if (!this.portsInUse.has(port) || i >= 20) {
        this.portsInUse.add(port);
        return port;
      }
    }
  }

  private spawnService(session: SessionRun, spec: ServiceSpec, port: number): ServiceProcess {
    const values = {
      port,
      host: this.host,
      node: process.execPath,
      dataDir: session.dir,
      secret: session.secret,
    };
    const argv = spec.command.map((a) => expandPlaceholders(a, values));
    const env: Record<string, string> = { HOME: session.dir };
    // The template names anything else of the agent's environment a service needs (passEnv).
    for (const k of [...PASS_ENV, ...(spec.passEnv ?? [])]) {
      if (process.env[k] !== undefined) env[k] = process.env[k] as string;
    }
    for (const [k, v] of Object.entries(spec.env ?? {})) env[k] = expandPlaceholders(v, values);

    const log = this.log.child({ sessionId: session.id, service: spec.name });
    // No shell (argv as is). detached: the service leads a new process group, so one signal to the
    // group reaches everything it started, and a Ctrl-C meant for the agent does not hit it.
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: session.dir,
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
    session.procs.set(spec.name, proc);
    pipeLines(child.stdout, proc.stdout, (line) => log.debug({ stream: 'stdout' }, line));
    pipeLines(child.stderr, proc.stderr, (line) => log.debug({ stream: 'stderr' }, line));
    const onExit = (exit: Exit) => {
      if (proc.exit) return;
      proc.exit = exit;
      settle(exit);
      this.onServiceExit(session, proc);
    };
    child.once('exit', (code, signal) => onExit({ code, signal }));
    // Spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'.
    child.once('error', (error) => onExit({ code: null, signal: null, error }));
    log.debug({ pid: child.pid, port, argv }, 'service spawned');
    return proc;
  }

  private onServiceExit(session: SessionRun, proc: ServiceProcess): void {
    const exit = proc.exit!;
    this.log.debug(
      { sessionId: session.id, service: proc.spec.name, ...exit, error: exit.error?.message },
      'service exited',
    );
    // While stopping, exits are expected; before it answered its readiness check, waitReady()
    // sees the exit and decides. Any other exit is the service dying on its own.
    if (session.phase === 'stopping' || proc.superseded || !proc.ready) return;
    const clean = exit.code === 0;
    void outputSettled(proc).then(() =>
      this.end(
        session,
        clean ? 'TERMINATED' : 'ERROR',
        `service "${proc.spec.name}" ${describeExit(exit)}${clean ? '' : outputOf(proc)}`,
      ),
    );
  }

  private async waitReady(
    session: SessionRun,
    proc: ServiceProcess,
    timeoutMs: number,
  ): Promise<'ready' | 'timeout' | 'aborted' | Exit> {
    const deadline = Date.now() + timeoutMs;
    const { signal } = session.abort;
    const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    while (true) {
      if (signal.aborted) return 'aborted';
      if (proc.exit) return proc.exit;
      if (await probe(proc.spec, this.host, proc.port)) {
        // Ready, unless it died right after answering.
        return proc.exit ?? 'ready';
      }
      if (Date.now() >= deadline) return 'timeout';
      // Wake early on exit or abort rather than sleeping the whole interval.
      await Promise.race([
        sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now()))),
        proc.exited,
        aborted,
      ]);
    }
  }

  // ------------------------------------------------------------------ ending

  /** Ends a session once: stops every process, removes its folder, then sends the one final report. */
  private end(session: SessionRun, state: 'ERROR' | 'TERMINATED', reason: string): void {
    if (session.ended) return;
    session.phase = 'stopping';
    session.abort.abort();
    this.log.info({ sessionId: session.id, state, reason }, 'ending session');
    session.ended = (async () => {
      await session.prepared.catch(() => {});
      await Promise.all([...session.procs.values()].map((p) => this.stopProcess(session, p)));
      for (const p of session.procs.values()) this.portsInUse.delete(p.port);
      try {
        await rm(session.dir, { recursive: true, force: true });
      } catch (err) {
        this.log.warn({ sessionId: session.id, err }, 'could not remove the session folder');
      }
      this.sessions.delete(session.id);
      this.emit({ sessionId: session.id, state, reason });
    })();
  }

  /**
   * SIGTERM to the service's process group, SIGKILL after the grace period to the group and to any
   * descendant that left it (e.g. Jupyter kernels, which run in their own session); resolves when
   * all of them are gone.
   */
  private async stopProcess(session: SessionRun, proc: ServiceProcess): Promise<void> {
    const pgid = proc.pid;
    if (pgid === undefined) return; // never started
    const log = this.log.child({ sessionId: session.id, service: proc.spec.name, pid: pgid });
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
      const deadline = Date.now() + this.graceMs;
      while (!gone() && Date.now() < deadline) {
        track();
        await Promise.race([sleep(50), proc.exited]);
      }
    }
    if (!gone()) {
      log.warn({ graceMs: this.graceMs }, 'service did not stop after SIGTERM; sending SIGKILL');
      track();
      signalGroup(pgid, 'SIGKILL');
      for (const p of tracked.values()) signalProc(p, 'SIGKILL');
      const deadline = Date.now() + KILL_WAIT_MS;
      while (!gone() && Date.now() < deadline) await sleep(20);
      if (!gone()) log.error('processes still present after SIGKILL');
    }
    // Descendants may hold the pipes open; the agent no longer reads them.
    proc.child.stdout?.destroy();
    proc.child.stderr?.destroy();
  }

  // ------------------------------------------------------------------ reports and exit

  private emit(report: AgentReport): void {
    for (const listener of this.listeners) {
      // Asynchronous and isolated: a listener's failure never reaches the agent's state machine.
      setImmediate(() => {
        try {
          const result: unknown = listener(report);
          if (result instanceof Promise) {
            result.catch((err: unknown) => this.log.error({ err, report }, 'agent report listener failed'));
          }
        } catch (err) {
          this.log.error({ err, report }, 'agent report listener failed');
        }
      });
    }
  }

  private installExitHook(): void {
    if (this.exitHookInstalled) return;
    this.exitHookInstalled = true;
    process.on('exit', this.killAllNow);
  }

  /**
   * Last resort when the agent's process exits without close(): detached services would outlive
   * it with nobody to stop them, so kill their groups synchronously (the only option in 'exit').
   */
  private readonly killAllNow = (): void => {
    for (const s of this.sessions.values()) {
      for (const p of s.procs.values()) if (p.pid !== undefined && !p.exit) signalGroup(p.pid, 'SIGKILL');
    }
  };
}

// ------------------------------------------------------------------ helpers

/** Bounded ring of the last lines of one output stream. */
class Tail {
  private lines: string[] = [];
  push(line: string): void {
    this.lines.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

function pipeLines(stream: Readable | null, tail: Tail, log: (line: string) => void): void {
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
function outputSettled(proc: ServiceProcess): Promise<void> {
  return Promise.race([proc.outputClosed, sleep(250)]);
}

function describeExit(exit: Exit): string {
  if (exit.error) return `could not be started (${exit.error.message})`;
  if (exit.signal) return `was killed by signal ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

function outputOf(proc: ServiceProcess): string {
  let text = proc.stderr.text() || proc.stdout.text();
  if (!text) return '';
  if (text.length > MAX_REASON_OUTPUT) text = `…${text.slice(-MAX_REASON_OUTPUT)}`;
  return `; last output:\n${text}`;
}

function describeProbe(spec: ServiceSpec, host: string, port: number): string {
  return spec.readiness.kind === 'http'
    ? `HTTP GET ${spec.readiness.path} on ${host}:${port} answered no status < 500`
    : `TCP connect to ${host}:${port} failed`;
}

/** One readiness check: HTTP GET answering any status < 500, or a TCP connection accepted. */
function probe(spec: ServiceSpec, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (spec.readiness.kind === 'tcp') {
      const sock = connect({ host, port });
      sock.setTimeout(1000, () => sock.destroy());
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
      sock.once('close', () => resolve(false));
      return;
    }
    const req = request(
      { host, port, path: spec.readiness.path, method: 'GET', agent: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
