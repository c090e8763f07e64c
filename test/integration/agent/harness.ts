/** Shared helpers of the local agent tests: an agent in a temp folder, report collection, polling. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LocalAgent, type LocalAgentOptions } from '../../../src/agent/local-agent.ts';
import type { TemplateSpec } from '../../../src/agent/templates.ts';
import type { AgentReport } from '../../../src/contracts/agent.ts';
import { until } from '../../support/poll.ts';

export interface AgentHarness {
  agent: LocalAgent;
  dataDir: string;
  reports: AgentReport[];
  /** Waits for a report of this session in this state (or any final state when `state` is omitted). */
  report(sessionId: string, state?: AgentReport['state'], timeoutMs?: number): Promise<AgentReport>;
  cleanup(): Promise<void>;
}

export function harness(templates: TemplateSpec[], options: Partial<LocalAgentOptions> = {}): AgentHarness {
  const dataDir = mkdtempSync(join(tmpdir(), 'appproxy-agent-test-'));
  // APPPROXY_TEST_LOG=debug shows the services' output while debugging a test.
  const logger = pino({ level: process.env.APPPROXY_TEST_LOG ?? 'silent' });
  const agent = new LocalAgent({ templates, dataDir, logger, ...options });
  const reports: AgentReport[] = [];
  agent.onReport((r) => reports.push(r));
  return {
    agent,
    dataDir,
    reports,
    async report(sessionId, state, timeoutMs = 20_000) {
      // The wanted report, or a final one that says it will never come (fail fast with its reason).
      const found = await until(
        () =>
          reports.find(
            (r) => r.sessionId === sessionId && ((state && r.state === state) || r.state !== 'RUNNING'),
          ),
        `a ${state ?? 'final'} report for ${sessionId}`,
        { timeoutMs: timeoutMs },
      );
      if (state && found.state !== state) throw new Error(`expected ${state}, got ${JSON.stringify(found)}`);
      return found;
    },
    async cleanup() {
      await agent.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** True while a process with this pid exists (what the brief calls "not gone"). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A plain HTTP/1.1 request, so tests can set Host and Origin as a proxy would forward them. */
export function httpRequest(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}
