/**
 * Sessions: creation (then `agent.launch` in the background), reads with ownership, and the
 * agent's reports, which drive PENDING → RUNNING (with the services' backends) or, through the
 * lifecycle service, ERROR / TERMINATED. Reports of one session are applied in order.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentDriver, AgentReport } from '../../contracts/agent.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { Protocol, Session, SessionState } from '../../contracts/records.ts';
import { isSessionFinal } from '../../core/state-machines.ts';
import type { EventLog } from '../repos/events.ts';
import { type SessionRepo, sessionIdleOf, toSession } from '../repos/sessions.ts';
import type { Principal } from './auth.ts';
import {
  checkIdleRequest,
  type IdlePolicyConfig,
  resolveSessionIdle,
  type SessionIdleRequest,
  type SessionIdleSettings,
} from './idle-settings.ts';
import type { Lifecycle } from './lifecycle.ts';

/** The agent name of sessions registered by address; no agent runs them. */
export const EXTERNAL_AGENT = 'external';

export interface ExternalService {
  name: string;
  protocol: Protocol;
  host: string;
  port: number;
}

/** How long `DELETE ?wait=true` waits for the session to reach a final state. */
export const TERMINATE_WAIT_MS = 30_000;

export class SessionService {
  private readonly runningListeners: ((sessionId: string) => Promise<void>)[] = [];

  /** Calls `f` whenever a session becomes RUNNING (endpoints routing to it serve it then). */
  onRunning(f: (sessionId: string) => Promise<void>): void {
    this.runningListeners.push(f);
  }

  private readonly reportChains = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly repo: SessionRepo,
    private readonly agent: AgentDriver,
    private readonly lifecycle: Lifecycle,
    private readonly logger: Logger,
    private readonly opts: { idle: IdlePolicyConfig; events: EventLog },
  ) {}

  /** Subscribes to the agent's reports (once, at start). */
  listen(): void {
    this.agent.onReport((r) => this.enqueueReport(r));
  }

  close(): void {
    this.closed = true;
  }

  async create(
    p: Principal,
    input: {
      template?: string;
      name?: string;
      external?: { services: ExternalService[] };
      idle?: SessionIdleRequest;
    },
  ): Promise<Session> {
    if ((input.template === undefined) === (input.external === undefined)) {
      throw new AppProxyError(
        'AP_ERR_VALIDATION',
        'Give either a template or an external session, not both.',
        [{ field: '/template', in: 'body', message: 'exactly one of template and external is required' }],
      );
    }
    // Limits first: a refused timeout must not leave a session behind.
    checkIdleRequest(input.idle, this.opts.idle);
    if (input.external) return this.registerExternal(p, input.external.services, input.name, input.idle);
    const template = input.template!;
    const templates = this.agent.templates();
    const tpl = templates.find((t) => t.name === template);
    if (!tpl) {
      throw new AppProxyError('AP_ERR_TEMPLATE_NOT_FOUND', `No template is named "${template}".`, {
        template,
        available: templates.map((t) => t.name),
      });
    }
    if (!tpl.available) {
      const reason = tpl.unavailableReason ?? 'unknown reason';
      throw new AppProxyError(
        'AP_ERR_TEMPLATE_UNAVAILABLE',
        `The template "${tpl.name}" cannot run here: ${reason}`,
        {
          template: tpl.name,
          reason,
        },
      );
    }
    const id = randomUUID();
    const session = await this.repo.insert(
      {
        id,
        name: input.name ?? `${tpl.name}-${randomBytes(2).toString('hex')}`,
        template: tpl.name,
        ownerId: p.userId,
        agent: this.agent.name,
        idle: resolveSessionIdle(input.idle, tpl.idle, this.opts.idle),
      },
      tpl.services,
    );
    await this.opts.events.record({ sessionId: id, kind: 'session-created', detail: `template ${tpl.name}` });
    this.lifecycle.track(this.launch(id, tpl.name));
    return session;
  }

  /**
   * External sessions run elsewhere and are known only by their services' addresses. Only admins
   * may register them: a backend address is where the proxy will connect on users' behalf.
   */
  private async registerExternal(
    p: Principal,
    services: ExternalService[],
    name: string | undefined,
    idle: SessionIdleRequest | undefined,
  ): Promise<Session> {
    if (p.role !== 'admin')
      throw new AppProxyError('AP_ERR_FORBIDDEN', 'Only admins may register external sessions.');
    const names = new Set(services.map((s) => s.name));
    if (names.size !== services.length) {
      throw new AppProxyError('AP_ERR_VALIDATION', 'Service names must be unique.', [
        { field: '/external/services', in: 'body', message: 'duplicate service name' },
      ]);
    }
    const id = randomUUID();
    await this.repo.insert(
      {
        id,
        name: name ?? `external-${randomBytes(2).toString('hex')}`,
        template: EXTERNAL_AGENT,
        ownerId: p.userId,
        agent: EXTERNAL_AGENT,
        idle: resolveSessionIdle(idle, undefined, this.opts.idle),
      },
      services,
    );
    await this.repo.markRunning(id, services);
    await this.opts.events.record({ sessionId: id, kind: 'session-created', detail: 'external session' });
    await this.opts.events.record({
      sessionId: id,
      kind: 'session-running',
      detail: `external session with ${services.length} service(s)`,
    });
    this.logger.info({ session: id, services: services.length }, 'external session registered');
    return this.get(p, id);
  }

  async list(p: Principal, filter: { state?: SessionState }): Promise<Session[]> {
    return this.repo.list({ ...filter, ...(p.role === 'admin' ? {} : { ownerId: p.userId }) });
  }

  /** The session if `p` may see it (admins: all; users: their own), else SESSION_NOT_FOUND. */
  async get(p: Principal, id: string): Promise<Session> {
    const s = await this.repo.get(id);
    if (!s || (p.role !== 'admin' && s.ownerId !== p.userId))
      throw new AppProxyError('AP_ERR_SESSION_NOT_FOUND');
    return s;
  }

  /** The session and its idle settings (what new circuits inherit) if `p` may see it. */
  async getWithIdle(p: Principal, id: string): Promise<{ session: Session; idle: SessionIdleSettings }> {
    const row = await this.repo.getRow(id);
    if (!row || (p.role !== 'admin' && row.owner_id !== p.userId))
      throw new AppProxyError('AP_ERR_SESSION_NOT_FOUND');
    return { session: toSession(row, await this.repo.services(id)), idle: sessionIdleOf(row) };
  }

  /**
   * Starts termination and answers once the session is TERMINATING (or final); with `wait`,
   * once it is final (bounded by TERMINATE_WAIT_MS; the session is returned as it is then).
   */
  async terminate(p: Principal, id: string, wait: boolean): Promise<Session> {
    await this.get(p, id);
    const flow = this.lifecycle.terminateSession(id, `terminated on request of ${p.userId}`);
    flow.done.catch((err) => this.logger.error({ err, session: id }, 'session termination failed'));
    await flow.begun;
    if (wait) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        flow.done,
        new Promise<void>((r) => {
          timer = setTimeout(r, TERMINATE_WAIT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
    }
    return this.get(p, id);
  }

  /**
   * Launches a PENDING session again: the reconciler found that its launch never reached the
   * agent. A failure (the agent is away) leaves it PENDING for the next pass.
   */
  relaunch(id: string, template: string): void {
    this.lifecycle.track(this.launch(id, template, true));
  }

  private async launch(id: string, template: string, again = false): Promise<void> {
    try {
      await this.agent.launch(id, template);
    } catch (err) {
      // Shutting down before the launch reached the agent: the session stays PENDING for another
      // manager's reconciler to launch again.
      if (this.closed) return;
      if (again) {
        this.logger.warn({ err, session: id }, 'could not launch the session again; the next pass retries');
        return;
      }
      this.logger.error({ err, session: id }, 'agent could not launch the session');
      this.enqueueReport({
        sessionId: id,
        state: 'ERROR',
        reason: `launch failed: ${(err as Error).message}`,
      });
      return;
    }
    if (this.agent.isDesired) await this.endIfNoLongerWanted(id);
  }

  /**
   * A desired session that reached the store late (queued while it was away) may meanwhile have
   * been terminated by a manager that found nothing to delete: it is ended again, so the agent
   * does not run a session SQL says is over.
   */
  private async endIfNoLongerWanted(id: string): Promise<void> {
    try {
      const row = await this.repo.getRow(id);
      if (!row || row.state === 'PENDING' || row.state === 'RUNNING') return;
      this.logger.warn(
        { session: id, state: row.state },
        'session ended while its launch was queued; ending it',
      );
      await this.agent.terminate(id);
    } catch (err) {
      this.logger.warn(
        { err, session: id },
        'could not check a late launch; the agent may run it until told',
      );
    }
  }

  private enqueueReport(r: AgentReport): void {
    if (this.closed) return;
    const prev = this.reportChains.get(r.sessionId) ?? Promise.resolve();
    const next = prev
      .then(() => this.applyReport(r))
      .catch((err) =>
        this.logger.error({ err, session: r.sessionId, report: r.state }, 'could not apply agent report'),
      );
    this.reportChains.set(r.sessionId, next);
    void this.lifecycle.track(next).finally(() => {
      if (this.reportChains.get(r.sessionId) === next) this.reportChains.delete(r.sessionId);
    });
  }

  private async applyReport(r: AgentReport): Promise<void> {
    const row = await this.repo.getRow(r.sessionId);
    if (!row) {
      this.logger.warn({ session: r.sessionId, state: r.state }, 'agent report for an unknown session');
      return;
    }
    if (r.state === 'RUNNING') {
      const moved = await this.repo.markRunning(r.sessionId, r.services ?? []);
      if (moved) {
        this.logger.info({ session: r.sessionId }, 'session running');
        for (const l of this.runningListeners)
          await l(r.sessionId).catch((err: unknown) =>
            this.logger.warn({ err, session: r.sessionId }, 'a listener of running sessions failed'),
          );
        await this.opts.events.record({
          sessionId: r.sessionId,
          kind: 'session-running',
          detail: 'agent report',
        });
      }
      return;
    }
    if (isSessionFinal(row.state)) return;
    if (r.state === 'ERROR') {
      await this.lifecycle.terminateSession(r.sessionId, r.reason ?? 'the session failed', 'ERROR').done;
    } else if (row.state !== 'TERMINATING') {
      // Stopped on its own: the same path as a requested termination.
      await this.lifecycle.terminateSession(r.sessionId, r.reason ?? 'the session stopped on its own').done;
    }
  }
}
