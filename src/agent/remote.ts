/**
 * The agent across processes, over KV (the etcd role); managers never dial an agent.
 *
 * Protocol (keys in contracts/kv-layout.ts):
 * - `agents/<name>`: the agent's registration (`AgentRegistration`: its templates), under its lease;
 * - `agents/<name>/sessions/<id>` = `{template}`: desired sessions, written only by managers
 *   (put = launch, delete = terminate);
 * - `agents/<name>/reports/<id>` = `AgentReport`: the agent's reports, under its lease. A final
 *   report (TERMINATED or ERROR) means nothing of the session runs any more: it is the
 *   acknowledgement a manager's `terminate` waits for, and the manager deletes it then.
 *
 * This file holds the agent process's side (`AgentHost`, wrapping a `LocalAgent`); the manager's
 * side is `manager/agents/remote-agent.ts`. Both follow KV with the kit in `stores/kv-sync.ts`.
 *
 * Restart: the host remembers the sessions it launched in `<dataDir>/remote-agent-state.json`.
 * A desired session found at start that a previous run launched has lost its processes: it is
 * reported ERROR (the manager then closes its circuits). One never launched yet is launched.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AgentDriver, type AgentReport, isFinalReport } from '../contracts/agent.ts';
import { type AgentRegistration, type AgentSessionSpec, kvKeys } from '../contracts/kv-layout.ts';
import { sleep } from '../core/backoff.ts';
import { LatestWinsPublisher, LeasedRegistration, PrefixSync } from '../stores/kv-sync.ts';
import type { KvEntry, KvEvent, KvStore } from '../stores/types.ts';

/** How long the host keeps a final report to re-put after a lease change. */
const FINAL_REPORT_RETENTION_MS = 60_000;

export interface AgentHostOptions {
  kv: KvStore;
  /** The agent that runs the processes (a `LocalAgent`). */
  agent: AgentDriver;
  leaseTtlMs: number;
  /** Where the host keeps the ids of the sessions it launched (survives restarts). */
  dataDir: string;
  logger: Logger;
}

/** The agent process's side of the protocol: registers, follows desired sessions, writes reports. */
export class AgentHost {
  private readonly kv: KvStore;
  private readonly agent: AgentDriver;
  private readonly name: string;
  private readonly log: Logger;
  private readonly statePath: string;
  private readonly desired: PrefixSync;
  private readonly registration: LeasedRegistration;
  /** Reports, written under the registration's lease (re-written under a new one). */
  private readonly publisher: LatestWinsPublisher;
  private closed = false;
  private firstSnapshot = true;
  /** Sessions launched by this host (or a previous run of it) whose end was not acknowledged yet. */
  private readonly launched = new Set<string>();
  /** Launched by a previous run: their processes are gone. */
  private readonly inherited = new Set<string>();
  /** The latest report per session (the publisher writes it). */
  private readonly reports = new Map<string, AgentReport>();
  /** Desired changes are applied one at a time, in revision order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(opts: AgentHostOptions) {
    this.kv = opts.kv;
    this.agent = opts.agent;
    this.name = opts.agent.name;
    this.log = opts.logger.child({ component: 'agent-host', agent: this.name });
    this.statePath = join(opts.dataDir, 'remote-agent-state.json');
    this.desired = new PrefixSync(
      this.kv,
      kvKeys.agentSessions(this.name),
      {
        onSnapshot: (entries) => this.enqueue(() => this.applySnapshot(entries)),
        onEvents: (events) => void this.enqueue(() => this.applyEvents(events)),
      },
      this.log,
    );
    this.registration = new LeasedRegistration({
      kv: this.kv,
      key: kvKeys.agent(this.name),
      value: () =>
        JSON.stringify({
          name: this.name,
          templates: this.agent.templates(),
          startedAt: new Date().toISOString(),
        } satisfies AgentRegistration),
      ttlMs: opts.leaseTtlMs,
      logger: this.log,
      onRegistered: () => this.publisher.republishAll(),
    });
    this.publisher = new LatestWinsPublisher({
      kv: this.kv,
      logger: this.log,
      what: 'report',
      lease: () => this.registration.lease,
    });
  }

  async start(): Promise<void> {
    this.loadState();
    this.agent.onReport((r) => this.onAgentReport(r));
    await this.registration.start();
    await this.desired.start();
    this.log.info({ templates: this.agent.templates().length }, 'agent registered');
  }

  /** Stops following desired state, stops every session (final reports are written), revokes the lease. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.desired.close();
    await this.chain.catch(() => {});
    await this.agent.close();
    // Let the final reports reach KV (bounded) so managers see the sessions end now, not at lease expiry.
    const deadline = Date.now() + 2_000;
    while (this.publisher.pending > 0 && Date.now() < deadline) await sleep(20);
    this.closed = true;
    this.publisher.close();
    await this.registration.close();
  }

  // ------------------------------------------------------------------ launched-state file

  private loadState(): void {
    if (!existsSync(this.statePath)) return;
    try {
      const s = JSON.parse(readFileSync(this.statePath, 'utf8')) as { launched?: unknown };
      if (Array.isArray(s.launched))
        for (const id of s.launched)
          if (typeof id === 'string') {
            this.launched.add(id);
            this.inherited.add(id);
          }
    } catch (err) {
      this.log.warn({ err, path: this.statePath }, 'cannot read the agent state file; starting empty');
    }
  }

  private saveState(): void {
    const tmp = `${this.statePath}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ launched: [...this.launched] }), { mode: 0o600 });
      renameSync(tmp, this.statePath);
    } catch (err) {
      this.log.warn({ err, path: this.statePath }, 'cannot write the agent state file');
    }
  }

  // ------------------------------------------------------------------ desired sessions

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: unknown) => this.log.error({ err }, 'applying a desired change failed'));
    return run;
  }

  private idOf(key: string): string | null {
    const id = key.slice(kvKeys.agentSessions(this.name).length);
    return id === '' || id.includes('/') ? null : id;
  }

  private async applySnapshot(entries: KvEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of entries) {
      const id = this.idOf(e.key);
      if (!id) continue;
      seen.add(id);
      await this.want(id, e.value);
    }
    for (const id of [...this.launched]) if (!seen.has(id)) await this.unwant(id);
    if (this.firstSnapshot) {
      this.firstSnapshot = false;
      this.saveState();
    }
  }

  private async applyEvents(events: KvEvent[]): Promise<void> {
    for (const e of events) {
      const id = this.idOf(e.key);
      if (!id) continue;
      if (e.type === 'put') await this.want(id, e.value ?? '');
      else await this.unwant(id);
    }
  }

  /** The manager wants session `id` to run. */
  private async want(id: string, raw: string): Promise<void> {
    if (this.inherited.has(id)) {
      this.inherited.delete(id);
      this.report({
        sessionId: id,
        state: 'ERROR',
        reason: `the agent "${this.name}" restarted; the session's processes are gone`,
      });
      return;
    }
    if (this.launched.has(id)) return; // already launched (a re-put or a re-snapshot)
    let spec: AgentSessionSpec;
    try {
      spec = JSON.parse(raw) as AgentSessionSpec;
      if (typeof spec.template !== 'string') throw new Error('no template');
    } catch (err) {
      this.report({
        sessionId: id,
        state: 'ERROR',
        reason: `malformed desired session: ${(err as Error).message}`,
      });
      this.launched.add(id);
      return;
    }
    this.launched.add(id);
    this.saveState();
    this.log.info({ sessionId: id, template: spec.template }, 'launching session');
    try {
      await this.agent.launch(id, spec.template);
    } catch (err) {
      this.log.warn({ sessionId: id, err }, 'launch failed');
      this.report({ sessionId: id, state: 'ERROR', reason: `launch failed: ${(err as Error).message}` });
    }
  }

  /** The manager no longer wants session `id`: stop it (the agent reports the end), acknowledge. */
  private async unwant(id: string): Promise<void> {
    this.inherited.delete(id);
    const wasLaunched = this.launched.delete(id);
    const running = this.agent.running().includes(id);
    if (running) {
      this.log.info({ sessionId: id }, 'terminating session');
      // Not awaited in the chain: other sessions' changes must not wait for this one's grace period.
      void this.agent.terminate(id).catch((err: unknown) => {
        this.log.error({ sessionId: id, err }, 'terminate failed');
        this.report({ sessionId: id, state: 'ERROR', reason: `terminate failed: ${(err as Error).message}` });
      });
    } else if (!isFinalReport(this.reports.get(id))) {
      // Never launched, or already gone without a report of ours: acknowledge at once.
      this.report({
        sessionId: id,
        state: 'TERMINATED',
        reason: wasLaunched ? 'not running' : 'never launched',
      });
    }
    this.saveState();
  }

  // ------------------------------------------------------------------ reports

  private onAgentReport(r: AgentReport): void {
    this.report(r);
  }

  private report(r: AgentReport): void {
    if (this.closed) return;
    const key = kvKeys.agentReport(this.name, r.sessionId);
    this.reports.set(r.sessionId, r);
    this.publisher.set(key, JSON.stringify(r));
    if (isFinalReport(r)) {
      // Kept a while to re-put after a lease change; the manager deletes the key once it saw it.
      setTimeout(() => {
        if (this.reports.get(r.sessionId) !== r) return;
        this.reports.delete(r.sessionId);
        this.publisher.forget(key);
      }, FINAL_REPORT_RETENTION_MS).unref();
    }
  }
}
