/**
 * The agent↔manager protocol over KV, in one process on the embedded KV store: an `AgentHost`
 * (wrapping a real `LocalAgent`) and two manager-side `RemoteAgentDriver`s sharing it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { LocalAgent } from '../../../src/agent/local-agent.ts';
import { AgentHost } from '../../../src/agent/remote.ts';
import { builtinTemplates } from '../../../src/agent/templates.ts';
import type { AgentReport } from '../../../src/contracts/agent.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { RemoteAgentDriver } from '../../../src/manager/agents/remote-agent.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { until } from '../../support/poll.ts';

const logger = pino({ level: process.env.APPPROXY_TEST_LOG ?? 'silent' });

describe('remote agent over KV', () => {
  const kv = new EmbeddedKvStore();
  let dataDir: string;
  let host: AgentHost;
  let local: LocalAgent;
  const drivers: RemoteAgentDriver[] = [];
  const seen: AgentReport[][] = [[], []];
  let terminations = 0;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'appproxy-remote-agent-'));
    for (const i of [0, 1]) {
      const d = new RemoteAgentDriver({ kv, name: 'a1', logger, terminateTimeoutMs: 15_000 });
      await d.start();
      d.onReport((r) => seen[i]!.push(r));
      drivers.push(d);
    }
    assert.equal(drivers[0]!.templates().length, 0);
    local = new LocalAgent({ name: 'a1', templates: builtinTemplates(), dataDir, logger });
    const terminate = local.terminate.bind(local);
    local.terminate = (id: string) => {
      terminations++;
      return terminate(id);
    };
    host = new AgentHost({ kv, agent: local, leaseTtlMs: 2_000, dataDir, logger });
    await host.start();
  });
  after(async () => {
    await host?.close();
    for (const d of drivers) await d.close();
    await kv.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('templates come from the registration', async () => {
    await until(() => drivers[0]!.connected() && drivers[1]!.connected(), 'registration', {
      timeoutMs: 20_000,
    });
    assert.ok(drivers[0]!.templates().some((t) => t.name === 'demo' && t.available));
  });

  test('launch → RUNNING on both drivers; terminate from both → one termination, acknowledged', async () => {
    await drivers[0]!.launch('s1', 'demo');
    await until(() => drivers.every((d) => d.running().includes('s1')), 'running', { timeoutMs: 20_000 });
    const running = await until(
      () => seen.every((s) => s.some((r) => r.sessionId === 's1' && r.state === 'RUNNING')) && seen[1],
      'RUNNING reports',
      { timeoutMs: 20_000 },
    );
    assert.ok(running.find((r) => r.sessionId === 's1')?.services?.some((s) => s.name === 'web'));
    await Promise.all(drivers.map((d) => d.terminate('s1')));
    assert.equal(terminations, 1);
    assert.deepEqual(local.running(), []);
    assert.equal(await kv.get(kvKeys.agentReport('a1', 's1')), undefined);
    await until(() => seen[0]!.some((r) => r.sessionId === 's1' && r.state === 'TERMINATED'), 'TERMINATED', {
      timeoutMs: 20_000,
    });
  });

  test('unknown template → ERROR report; terminate of a never-launched session is acknowledged', async () => {
    await drivers[0]!.launch('s2', 'nope');
    await until(() => seen[0]!.some((r) => r.sessionId === 's2' && r.state === 'ERROR'), 'ERROR report', {
      timeoutMs: 20_000,
    });
    await drivers[0]!.terminate('s2');
    await drivers[1]!.terminate('never');
  });

  test('a launch the store refuses is written once it answers, and the session runs', async () => {
    kv.setUnavailable(true);
    const launched = drivers[0]!.launch('s4', 'demo');
    await new Promise((r) => setTimeout(r, 300)); // a few refused attempts
    kv.setUnavailable(false);
    await launched;
    await until(() => seen[0]!.some((r) => r.sessionId === 's4' && r.state === 'RUNNING'), 'RUNNING s4', {
      timeoutMs: 20_000,
    });
    await drivers[0]!.terminate('s4');
    assert.equal(await kv.get(kvKeys.agentSession('a1', 's4')), undefined);
  });

  test('a terminate of a launch still queued wins: nothing reaches the agent, nothing to wait for', async () => {
    const before = terminations;
    kv.setUnavailable(true);
    const launched = drivers[0]!.launch('s5', 'demo');
    const ended = drivers[0]!.terminate('s5');
    kv.setUnavailable(false);
    await Promise.all([launched, ended]);
    // The agent follows desired sessions in revision order: once it runs one put after these, it
    // would have seen a put of s5 too.
    await drivers[0]!.launch('s6', 'demo');
    await until(() => seen[0]!.some((r) => r.sessionId === 's6' && r.state === 'RUNNING'), 'RUNNING s6', {
      timeoutMs: 20_000,
    });
    assert.ok(!seen[0]!.some((r) => r.sessionId === 's5'), 'the agent never heard of s5');
    assert.equal(await kv.get(kvKeys.agentSession('a1', 's5')), undefined);
    await drivers[0]!.terminate('s6');
    assert.equal(terminations, before + 1, 'only s6 was stopped');
  });

  test('a restarted agent reports the sessions of its previous run as ERROR', async () => {
    await drivers[0]!.launch('s3', 'demo');
    await until(() => seen[0]!.some((r) => r.sessionId === 's3' && r.state === 'RUNNING'), 'RUNNING s3', {
      timeoutMs: 20_000,
    });
    // Simulate a crash: the host goes away without stopping its sessions; the processes are killed.
    const state = (host as unknown as { launched: Set<string> }).launched;
    assert.ok(state.has('s3'));
    await local.close(); // its TERMINATED report is not published: we detach the host first
    (host as unknown as { closed: boolean }).closed = true;
    local = new LocalAgent({ name: 'a1', templates: builtinTemplates(), dataDir, logger });
    host = new AgentHost({ kv, agent: local, leaseTtlMs: 2_000, dataDir, logger });
    await host.start();
    await until(
      () =>
        seen[1]!.some((r) => r.sessionId === 's3' && r.state === 'ERROR' && /restarted/.test(r.reason ?? '')),
      'ERROR after restart',
      { timeoutMs: 20_000 },
    );
    await drivers[1]!.terminate('s3');
  });
});
