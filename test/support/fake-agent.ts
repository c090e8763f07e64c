/**
 * An `AgentDriver` that runs nothing: `launch` reports RUNNING with the template's services on
 * given backend addresses (or ERROR when told to), `terminate` records the call and reports
 * TERMINATED, as the local agent does when the processes are gone. Tests can emit any report.
 */
import type { AgentDriver, AgentReport, TemplateInfo } from '../../src/contracts/agent.ts';

export interface TerminateCall {
  sessionId: string;
  at: number;
  /** Whatever the test wants to know at the moment terminate was called (e.g. routes still in KV). */
  observed: unknown;
}

export class FakeAgent implements AgentDriver {
  readonly name: string;
  readonly launched: string[] = [];
  readonly terminated: TerminateCall[] = [];
  private readonly live = new Set<string>();
  private readonly listeners: ((r: AgentReport) => void)[] = [];
  /** Called synchronously at the start of `terminate`; its result is recorded in `terminated`. */
  observeOnTerminate: ((sessionId: string) => unknown) | undefined;
  /** When set, launches report ERROR with this reason instead of RUNNING. */
  failLaunchWith: string | null = null;
  /** When false, launches stay PENDING until the test calls `report`. */
  autoRun = true;
  private nextPort = 41000;

  constructor(
    private readonly tpls: TemplateInfo[] = [
      {
        name: 'web',
        description: 'An HTTP app',
        available: true,
        unavailableReason: null,
        services: [{ name: 'http', protocol: 'http' }],
      },
      {
        name: 'shell',
        description: 'HTTP and TCP',
        available: true,
        unavailableReason: null,
        services: [
          { name: 'http', protocol: 'http' },
          { name: 'ssh', protocol: 'tcp' },
        ],
      },
      {
        name: 'broken',
        description: 'Cannot run here',
        available: false,
        unavailableReason: 'program "nope" is not installed',
        services: [{ name: 'http', protocol: 'http' }],
      },
    ],
    opts: { name?: string; running?: string[] } = {},
  ) {
    this.name = opts.name ?? 'fake-agent';
    for (const id of opts.running ?? []) this.live.add(id);
  }

  templates(): TemplateInfo[] {
    return this.tpls;
  }

  async launch(sessionId: string, template: string): Promise<void> {
    this.launched.push(sessionId);
    const tpl = this.tpls.find((t) => t.name === template)!;
    if (this.failLaunchWith) {
      const reason = this.failLaunchWith;
      setImmediate(() => this.report({ sessionId, state: 'ERROR', reason }));
      return;
    }
    this.live.add(sessionId);
    if (!this.autoRun) return;
    const services = tpl.services.map((s) => ({ ...s, host: '127.0.0.1', port: this.nextPort++ }));
    setImmediate(() => this.report({ sessionId, state: 'RUNNING', reason: null, services }));
  }

  async terminate(sessionId: string): Promise<void> {
    this.terminated.push({ sessionId, at: Date.now(), observed: this.observeOnTerminate?.(sessionId) });
    const was = this.live.delete(sessionId);
    if (was) setImmediate(() => this.report({ sessionId, state: 'TERMINATED', reason: 'terminated' }));
  }

  running(): string[] {
    return [...this.live];
  }

  onReport(listener: (report: AgentReport) => void): void {
    this.listeners.push(listener);
  }

  /** Emits a report as the agent would. */
  report(r: AgentReport): void {
    if (r.state !== 'RUNNING') this.live.delete(r.sessionId);
    for (const l of this.listeners) l(r);
  }

  async close(): Promise<void> {}
}
