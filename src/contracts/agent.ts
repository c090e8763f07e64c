/** The boundary between the manager and an agent (the embedded local agent, or a remote one). */
import type { Protocol } from './records.ts';

export interface TemplateInfo {
  name: string;
  description: string;
  /** False when the template cannot run here (e.g. its program is not installed). */
  available: boolean;
  unavailableReason: string | null;
  services: { name: string; protocol: Protocol }[];
  /** The template's idle defaults (each absent = the installation's default). */
  idle?: TemplateIdleDefaults;
}

/** Idle timeouts a template sets for its sessions (milliseconds; null = never). */
export interface TemplateIdleDefaults {
  /** Per connection (TCP, tunnel, WebSocket): closed after this long without a byte either way. */
  connectionIdleTimeoutMs?: number;
  /** A circuit with no byte moved for this long closes. */
  circuitIdleTimeoutMs?: number | null;
  /** A session whose every circuit was idle this long is terminated. */
  sessionIdleTimeoutMs?: number | null;
}

export interface AgentReport {
  sessionId: string;
  /** RUNNING once every service answers; ERROR when it failed to start or died; TERMINATED when it stopped. */
  state: 'RUNNING' | 'ERROR' | 'TERMINATED';
  reason: string | null;
  /** Present with RUNNING: where each service listens. */
  services?: { name: string; protocol: Protocol; host: string; port: number }[];
}

/** A final report (TERMINATED or ERROR): nothing of the session runs any more. */
export function isFinalReport(r: AgentReport | undefined): boolean {
  return r !== undefined && (r.state === 'TERMINATED' || r.state === 'ERROR');
}

export interface AgentDriver {
  /** Stable agent name, stored with each session it runs. */
  readonly name: string;
  templates(): TemplateInfo[];
  /** Starts the session's processes; progress and outcome arrive through the report callback. */
  launch(sessionId: string, template: string): Promise<void>;
  /** Stops the session's processes (SIGTERM, then SIGKILL after a grace period); resolves when gone. */
  terminate(sessionId: string): Promise<void>;
  /** Sessions this agent currently runs (to tell the manager which ones vanished across restarts). */
  running(): string[];
  /**
   * Drivers that project desired sessions into a store (the KV agent protocol): whether the
   * session is desired there, as the driver last saw it (false: its launch never reached the
   * store, or it was ended). In-process agents have no such projection and leave it out.
   */
  isDesired?(sessionId: string): boolean;
  onReport(listener: (report: AgentReport) => void): void;
  close(): Promise<void>;
}
