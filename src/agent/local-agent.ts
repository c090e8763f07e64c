/**
 * The embedded local agent: runs each session's services as local processes from admin-defined
 * templates and reports RUNNING / ERROR / TERMINATED to its listeners (the manager).
 *
 * Per session: a private folder `<dataDir>/sessions/<id>` (removed at the end), one loopback port
 * and one process group per service. Every session ends exactly once, with one final report:
 * TERMINATED when asked to stop (or when a service exits 0 on its own), ERROR when a service
 * failed to start or died. After the final report nothing of the session is left running.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentDriver, AgentReport, TemplateInfo } from '../contracts/agent.ts';
import { AppProxyError } from '../contracts/errors.ts';
import { allocatePort, describeProbe, waitReady } from './probes.ts';
import { signalGroup } from './process-tree.ts';
import {
  describeExit,
  outputOf,
  outputSettled,
  type ServiceProcess,
  spawnServiceProcess,
  stopServiceProcess,
} from './service-process.ts';
import {
  DEFAULT_START_TIMEOUT_MS,
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

/** Attempts per service when its port was taken between allocation and bind (see allocatePort). */
const PORT_ATTEMPTS = 3;
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

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
        port = await allocatePort(this.host, this.portsInUse);
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
        proc = spawnServiceProcess({
          spec,
          port,
          host: this.host,
          dir: session.dir,
          secret: session.secret,
          log: this.log.child({ sessionId: session.id }),
          onExit: (p) => this.onServiceExit(session, p),
        });
        session.procs.set(spec.name, proc);
      } catch (err) {
        // spawn() throws synchronously on arguments it cannot pass (e.g. a NUL byte).
        this.portsInUse.delete(port);
        this.end(session, 'ERROR', `service "${spec.name}" could not be started (${(err as Error).message})`);
        return false;
      }
      const outcome = await waitReady(proc, this.host, timeoutMs, session.abort.signal);
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

  // ------------------------------------------------------------------ ending

  /** Ends a session once: stops every process, removes its folder, then sends the one final report. */
  private end(session: SessionRun, state: 'ERROR' | 'TERMINATED', reason: string): void {
    if (session.ended) return;
    session.phase = 'stopping';
    session.abort.abort();
    this.log.info({ sessionId: session.id, state, reason }, 'ending session');
    session.ended = (async () => {
      await session.prepared.catch(() => {});
      const log = this.log.child({ sessionId: session.id });
      await Promise.all([...session.procs.values()].map((p) => stopServiceProcess(p, this.graceMs, log)));
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
