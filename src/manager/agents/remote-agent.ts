/**
 * `AgentDriver` for an agent in another process, over KV only (see agent/remote.ts for the
 * protocol). The manager never dials the agent:
 * - `templates()` come from the agent's leased registration (marked unavailable while it is away);
 * - `launch` puts the desired session; `terminate` deletes it and waits (bounded) for the agent's
 *   final report, then deletes that report. Both go through one outbox (`LatestWinsPublisher`):
 *   a desired session the store refuses (etcd down or hung) is written as soon as it answers, and
 *   a terminate that follows a launch still queued wins over it;
 * - reports are followed by a snapshot + watch of the agent's prefix and handed to `onReport`
 *   (each distinct report once per driver; several managers each see every report and apply
 *   them with guarded state transitions);
 * - `running()` = sessions reported RUNNING, plus, while the agent is registered, desired
 *   sessions it has not reported on yet (launching).
 *
 * Why a session accepted while the store is away is retried rather than refused (503) up front:
 * SQL already holds the accepted session, so the desired key is only its projection and can be
 * written later, like any other; probing the store on every request would cost a round trip and
 * still race with an outage that starts right after the probe.
 */
import type { Logger } from 'pino';
import {
  type AgentDriver,
  type AgentReport,
  isFinalReport,
  type TemplateInfo,
} from '../../contracts/agent.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import { type AgentRegistration, type AgentSessionSpec, kvKeys } from '../../contracts/kv-layout.ts';
import { LatestWinsPublisher, PrefixSync } from '../../stores/kv-sync.ts';
import type { KvEntry, KvEvent, KvStore } from '../../stores/types.ts';

export interface RemoteAgentDriverOptions {
  kv: KvStore;
  /** The agent's name (its registration key). */
  name: string;
  logger: Logger;
  /** Bound on `terminate` waiting for the agent's acknowledgement (default 30 s). */
  terminateTimeoutMs?: number;
}

interface Waiter {
  id: string;
  resolve: () => void;
}

export class RemoteAgentDriver implements AgentDriver {
  readonly name: string;
  private readonly kv: KvStore;
  private readonly log: Logger;
  private readonly terminateTimeoutMs: number;
  private readonly sync: PrefixSync;
  private readonly regKey: string;
  private readonly sessionsPrefix: string;
  private readonly reportsPrefix: string;
  private registration: AgentRegistration | null = null;
  /** Templates last seen, kept (as unavailable) while the agent is away. */
  private lastTemplates: TemplateInfo[] = [];
  private readonly desired = new Set<string>();
  private readonly reports = new Map<string, { raw: string; report: AgentReport }>();
  private readonly listeners: ((r: AgentReport) => void)[] = [];
  /** Reports seen before anyone listened (the start snapshot), delivered to the first listener. */
  private pending: AgentReport[] = [];
  private readonly waiters = new Set<Waiter>();
  /** Desired sessions: puts (launch) and deletes (terminate), latest wins, retried until written. */
  private readonly outbox: LatestWinsPublisher;
  /** Sessions whose desired key a delete of ours removed (so the agent will acknowledge it). */
  private readonly removed = new Set<string>();
  private closed = false;

  constructor(opts: RemoteAgentDriverOptions) {
    this.name = opts.name;
    this.kv = opts.kv;
    this.log = opts.logger.child({ component: 'remote-agent', agent: opts.name });
    this.terminateTimeoutMs = opts.terminateTimeoutMs ?? 30_000;
    this.regKey = kvKeys.agent(opts.name);
    this.sessionsPrefix = kvKeys.agentSessions(opts.name);
    this.reportsPrefix = kvKeys.agentReports(opts.name);
    this.outbox = new LatestWinsPublisher({
      kv: this.kv,
      logger: this.log,
      what: 'desired session',
      onDeleted: (key, removed) => {
        if (removed) this.removed.add(key.slice(this.sessionsPrefix.length));
      },
    });
    // One watch for the registration, the desired sessions and the reports (the registration key
    // is a prefix of the other two; keys of other agents whose name merely starts alike are skipped).
    this.sync = new PrefixSync(
      this.kv,
      this.regKey,
      { onSnapshot: (e) => this.applySnapshot(e), onEvents: (e) => this.applyEvents(e) },
      this.log,
    );
  }

  /** Loads the agent's registration and reports; call before the manager starts (its recovery reads `running()`). */
  async start(): Promise<void> {
    await this.sync.start();
  }

  /** Whether the agent is registered now. */
  connected(): boolean {
    return this.registration !== null;
  }

  templates(): TemplateInfo[] {
    if (this.registration) return this.registration.templates;
    return this.lastTemplates.map((t) => ({
      ...t,
      available: false,
      unavailableReason: `the agent "${this.name}" is not connected`,
    }));
  }

  /**
   * Resolves once the desired session is in KV, however long the store is away (or once a
   * terminate superseded it); rejects when the driver closes first (shutdown: the reconciler of a
   * manager that runs on relaunches a PENDING session whose desired key is missing).
   */
  async launch(sessionId: string, template: string): Promise<void> {
    if (!this.registration) {
      throw new AppProxyError('AP_ERR_TEMPLATE_UNAVAILABLE', `The agent "${this.name}" is not connected.`);
    }
    const spec: AgentSessionSpec = { template };
    const key = kvKeys.agentSession(this.name, sessionId);
    this.outbox.set(key, JSON.stringify(spec), { force: true });
    if (!(await this.outbox.settled(key)))
      throw new Error(`the manager shut down before session ${sessionId} reached the agent "${this.name}"`);
  }

  async terminate(sessionId: string): Promise<void> {
    const key = kvKeys.agentSession(this.name, sessionId);
    try {
      this.outbox.set(key, null);
      if (!(await this.outbox.settled(key)))
        throw new Error(`the manager shut down before the end of session ${sessionId} reached the agent`);
      // A delete of an absent key makes no watch event (the agent would never answer): when the
      // desired key was gone already (never written, or another manager ended it), only a report
      // that is there and not final is worth waiting for.
      if (!this.removed.has(sessionId) && !this.reports.has(sessionId)) return;
    } finally {
      this.removed.delete(sessionId);
    }
    const acked = await this.waitForEnd(sessionId);
    if (!acked) {
      throw new Error(
        `the agent "${this.name}" did not confirm the end of the session within ${this.terminateTimeoutMs} ms`,
      );
    }
    if (this.reports.has(sessionId)) {
      await this.kv.delete(kvKeys.agentReport(this.name, sessionId)).catch((err: unknown) => {
        this.log.warn({ err, sessionId }, 'could not delete the final report');
      });
    }
  }

  isDesired(sessionId: string): boolean {
    return this.desired.has(sessionId);
  }

  running(): string[] {
    const ids = new Set<string>();
    for (const [id, r] of this.reports) if (r.report.state === 'RUNNING') ids.add(id);
    if (this.registration) for (const id of this.desired) if (!this.reports.has(id)) ids.add(id);
    return [...ids];
  }

  onReport(listener: (report: AgentReport) => void): void {
    this.listeners.push(listener);
    const pending = this.pending;
    this.pending = [];
    for (const r of pending) this.deliver(r);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.outbox.close();
    await this.sync.close();
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
  }

  // ------------------------------------------------------------------ termination acknowledgement

  /** True when the session's processes are gone: a final report, or the agent is away and holds no report. */
  private ended(id: string): boolean {
    const r = this.reports.get(id);
    if (r) return isFinalReport(r.report);
    // No report: an agent that is away runs nothing; a registered one acknowledges every delete.
    return !this.registration;
  }

  private waitForEnd(id: string): Promise<boolean> {
    if (this.ended(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, this.terminateTimeoutMs);
      const w: Waiter = {
        id,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(true);
        },
      };
      this.waiters.add(w);
    });
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) if (this.ended(w.id)) w.resolve();
  }

  // ------------------------------------------------------------------ KV state

  private applySnapshot(entries: KvEntry[]): void {
    let reg: string | null = null;
    const desired = new Set<string>();
    const reports = new Map<string, string>();
    for (const e of entries) {
      if (e.key === this.regKey) reg = e.value;
      else if (e.key.startsWith(this.sessionsPrefix)) {
        const id = e.key.slice(this.sessionsPrefix.length);
        if (id && !id.includes('/')) desired.add(id);
      } else if (e.key.startsWith(this.reportsPrefix)) {
        const id = e.key.slice(this.reportsPrefix.length);
        if (id && !id.includes('/')) reports.set(id, e.value);
      }
    }
    this.setRegistration(reg);
    this.desired.clear();
    for (const id of desired) this.desired.add(id);
    for (const id of [...this.reports.keys()]) if (!reports.has(id)) this.reports.delete(id);
    for (const [id, raw] of reports) this.setReport(id, raw);
    this.checkWaiters();
  }

  private applyEvents(events: KvEvent[]): void {
    for (const e of events) {
      if (e.key === this.regKey) this.setRegistration(e.type === 'put' ? e.value : null);
      else if (e.key.startsWith(this.sessionsPrefix)) {
        const id = e.key.slice(this.sessionsPrefix.length);
        if (!id || id.includes('/')) continue;
        if (e.type === 'put') this.desired.add(id);
        else this.desired.delete(id);
      } else if (e.key.startsWith(this.reportsPrefix)) {
        const id = e.key.slice(this.reportsPrefix.length);
        if (!id || id.includes('/')) continue;
        if (e.type === 'put') {
          this.setReport(id, e.value ?? '');
          // Now: another manager may delete a final report right after it, in this very batch.
          this.checkWaiters();
        } else this.reports.delete(id);
      }
    }
    this.checkWaiters();
  }

  private setRegistration(raw: string | null): void {
    const was = this.registration !== null;
    if (raw === null) {
      this.registration = null;
    } else {
      try {
        const reg = JSON.parse(raw) as AgentRegistration;
        if (!Array.isArray(reg.templates)) throw new Error('templates is not an array');
        this.registration = reg;
        this.lastTemplates = reg.templates;
      } catch (err) {
        this.log.error({ err }, 'malformed agent registration; treating the agent as away');
        this.registration = null;
      }
    }
    const now = this.registration !== null;
    if (was !== now) this.log.info({ connected: now }, now ? 'agent connected' : 'agent went away');
  }

  private setReport(id: string, raw: string): void {
    if (this.reports.get(id)?.raw === raw) return;
    let report: AgentReport;
    try {
      report = JSON.parse(raw) as AgentReport;
      if (report.sessionId !== id || !['RUNNING', 'ERROR', 'TERMINATED'].includes(report.state))
        throw new Error('not a report of this session');
    } catch (err) {
      this.log.error({ err, sessionId: id }, 'malformed agent report; ignored');
      return;
    }
    this.reports.set(id, { raw, report });
    if (this.listeners.length === 0) this.pending.push(report);
    else this.deliver(report);
  }

  private deliver(report: AgentReport): void {
    if (this.closed) return;
    for (const l of this.listeners) {
      setImmediate(() => {
        try {
          l(report);
        } catch (err) {
          this.log.error({ err, sessionId: report.sessionId }, 'agent report listener failed');
        }
      });
    }
  }
}
