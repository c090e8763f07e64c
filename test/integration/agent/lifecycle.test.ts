/** Failure and stop paths of the local agent, with small test-only templates run as real processes. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { descendants, isAlive } from '../../../src/agent/process-tree.ts';
import type { TemplateSpec } from '../../../src/agent/templates.ts';
import type { AgentReport } from '../../../src/contracts/agent.ts';
import { until } from '../../support/poll.ts';
import { type AgentHarness, harness, pidExists } from './harness.ts';

/** One-service template running `code` with `node -e`; PORT and HOST come from the environment. */
function nodeTemplate(
  name: string,
  code: string,
  extra: Partial<TemplateSpec['services'][number]> = {},
): TemplateSpec {
  return {
    name,
    description: `test: ${name}`,
    services: [
      {
        name: 'main',
        protocol: 'http',
        command: ['{node}', '-e', code],
        env: { PORT: '{port}', HOST: '{host}' },
        readiness: { kind: 'http', path: '/' },
        startTimeoutMs: 10_000,
        ...extra,
      },
    ],
  };
}

const HTTP_SERVER = `require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT, process.env.HOST`;

const templates: TemplateSpec[] = [
  // Ready, then dies with code 3 a second later (long enough for readiness even on a busy machine).
  nodeTemplate('dies-later', `${HTTP_SERVER}, () => setTimeout(() => process.exit(3), 1000));`),
  // Ready, then ends cleanly on its own.
  nodeTemplate('ends-later', `${HTTP_SERVER}, () => setTimeout(() => process.exit(0), 1000));`),
  nodeTemplate('fails-at-start', `console.error('boom: cannot open the model'); process.exit(7);`),
  nodeTemplate('never-ready', 'setInterval(() => {}, 1000);', { startTimeoutMs: 500 }),
  nodeTemplate('no-such-program', '', { command: ['/nonexistent/appproxy-test-program'] }),
  // Ignores SIGTERM, and so does a grandchild it starts in its process group.
  nodeTemplate(
    'stubborn',
    `process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
     require('child_process').spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
     ${HTTP_SERVER});`,
  ),
  nodeTemplate('ok', `${HTTP_SERVER});`),
  nodeTemplate(
    'env',
    `require('http').createServer((q, s) => s.end(JSON.stringify({ env: process.env, cwd: process.cwd() })))
       .listen(+process.env.PORT, process.env.HOST);`,
  ),
  // First attempt fails the way a lost port race does; the retry (on a new port) works.
  nodeTemplate(
    'port-race',
    `const fs = require('fs');
     if (!fs.existsSync('first-attempt')) {
       fs.writeFileSync('first-attempt', '');
       console.error('Error: listen EADDRINUSE: address already in use');
       process.exit(1);
     }
     ${HTTP_SERVER});`,
  ),
];

let h: AgentHarness;
afterEach(() => h.cleanup());

test('a service that dies after RUNNING ⇒ ERROR with its exit code, once', async () => {
  h = harness(templates);
  await h.agent.launch('s1', 'dies-later');
  await h.report('s1', 'RUNNING');
  const err = await h.report('s1', 'ERROR');
  assert.match(err.reason ?? '', /service "main" exited with code 3/);
  assert.equal(existsSync(join(h.dataDir, 'sessions', 's1')), false);
  assert.deepEqual(h.agent.running(), []);
  // Terminating after the fact is harmless and adds no report.
  await h.agent.terminate('s1');
  assert.deepEqual(
    h.reports.map((r) => r.state),
    ['RUNNING', 'ERROR'],
  );
});

test('a service that ends cleanly on its own ⇒ TERMINATED', async () => {
  h = harness(templates);
  await h.agent.launch('s2', 'ends-later');
  await h.report('s2', 'RUNNING');
  const final = await h.report('s2', 'TERMINATED');
  assert.match(final.reason ?? '', /exited with code 0/);
});

test('a service that exits before ready ⇒ ERROR with code and its last stderr lines', async () => {
  h = harness(templates);
  await h.agent.launch('s3', 'fails-at-start');
  const err = await h.report('s3', 'ERROR');
  assert.match(err.reason ?? '', /exited with code 7 before it was ready/);
  assert.match(err.reason ?? '', /boom: cannot open the model/);
});

test('a service never ready within startTimeoutMs ⇒ ERROR and its process killed', async () => {
  h = harness(templates);
  await h.agent.launch('s4', 'never-ready');
  const [proc] = await until(() => h.agent.processes('s4').length > 0 && h.agent.processes('s4'), 'spawn', {
    timeoutMs: 5000,
  });
  const err = await h.report('s4', 'ERROR');
  assert.match(err.reason ?? '', /not ready within 500 ms/);
  assert.equal(pidExists(proc!.pid), false);
});

test('a program that cannot be spawned ⇒ ERROR naming the failure', async () => {
  h = harness(templates);
  await h.agent.launch('s5', 'no-such-program');
  const err = await h.report('s5', 'ERROR');
  assert.match(err.reason ?? '', /could not be started .*ENOENT/);
});

test('a process ignoring SIGTERM is SIGKILLed after the grace period, with its group', async () => {
  h = harness(templates, { terminateGraceMs: 700 });
  await h.agent.launch('s6', 'stubborn');
  await h.report('s6', 'RUNNING');
  const [leader] = h.agent.processes('s6');
  const kids = await until(() => descendants(leader!.pid).length > 0 && descendants(leader!.pid), 'child', {
    timeoutMs: 5000,
  });

  const started = Date.now();
  await h.agent.terminate('s6');
  const took = Date.now() - started;
  assert.ok(took >= 650, `terminate took ${took} ms, before the grace period ended`);
  assert.equal(pidExists(leader!.pid), false);
  for (const k of kids) assert.equal(isAlive(k), false, `grandchild ${k.pid} survived`);
  const final = await h.report('s6', 'TERMINATED');
  assert.match(final.reason ?? '', /terminated on request/);
  assert.ok(!h.reports.some((r) => r.state === 'ERROR'));
});

test('a port lost between allocation and bind is retried on another port', async () => {
  h = harness(templates);
  await h.agent.launch('s10', 'port-race');
  const running = await h.report('s10', 'RUNNING');
  const res = await fetch(`http://127.0.0.1:${running.services![0]!.port}/`);
  assert.equal(await res.text(), 'ok');
});

test('terminate during start-up ⇒ TERMINATED, never RUNNING or ERROR', async () => {
  h = harness(templates);
  await h.agent.launch('s7', 'never-ready');
  await until(() => h.agent.processes('s7').length > 0, 'spawn', { timeoutMs: 5000 });
  await h.agent.terminate('s7');
  await h.report('s7', 'TERMINATED');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    h.reports.map((r) => r.state),
    ['TERMINATED'],
  );
});

test('terminate while launch() is still preparing ⇒ TERMINATED and no folder left', async () => {
  h = harness(templates);
  const launching = h.agent.launch('s11', 'ok');
  await h.agent.terminate('s11');
  await launching;
  await h.report('s11', 'TERMINATED');
  assert.equal(existsSync(join(h.dataDir, 'sessions', 's11')), false);
  assert.deepEqual(h.agent.running(), []);
});

test("services get a minimal environment (none of the agent's secrets) and the session folder", async () => {
  h = harness(templates);
  process.env.APPPROXY_TEST_AGENT_SECRET = 'must-not-leak';
  try {
    await h.agent.launch('s12', 'env');
    const running = await h.report('s12', 'RUNNING');
    const res = await fetch(`http://127.0.0.1:${running.services![0]!.port}/`);
    const { env, cwd } = (await res.json()) as { env: Record<string, string>; cwd: string };
    const dir = join(h.dataDir, 'sessions', 's12');
    assert.equal(cwd, dir);
    assert.equal(env.HOME, dir);
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.APPPROXY_TEST_AGENT_SECRET, undefined);
    assert.equal(env.NODE_OPTIONS, undefined);
  } finally {
    delete process.env.APPPROXY_TEST_AGENT_SECRET;
  }
});

test('unknown template or malformed session id ⇒ throws; close() stops every session', async () => {
  h = harness(templates);
  await assert.rejects(h.agent.launch('s8', 'nope'), { code: 'AP_ERR_TEMPLATE_NOT_FOUND' });
  await assert.rejects(h.agent.launch('../escape', 'ok'), { code: 'AP_ERR_VALIDATION' });
  await h.agent.launch('a', 'ok');
  await h.agent.launch('b', 'ok');
  await assert.rejects(h.agent.launch('a', 'ok'), /already running/);
  await h.report('a', 'RUNNING');
  await h.report('b', 'RUNNING');
  const pids = [...h.agent.processes('a'), ...h.agent.processes('b')].map((p) => p.pid);
  assert.deepEqual(h.agent.running().sort(), ['a', 'b']);
  await h.agent.close();
  assert.deepEqual(h.agent.running(), []);
  for (const pid of pids) assert.equal(pidExists(pid), false);
  await h.report('a', 'TERMINATED');
  await h.report('b', 'TERMINATED');
  await assert.rejects(h.agent.launch('c', 'ok'), /closed/);
});

test('a throwing report listener does not disturb the agent', async () => {
  h = harness(templates);
  h.agent.onReport(() => {
    throw new Error('listener bug');
  });
  h.agent.onReport(async () => {
    throw new Error('async listener bug');
  });
  // Registered after the throwing ones: it must still see every report, in order.
  const later: AgentReport[] = [];
  h.agent.onReport((r) => later.push(r));

  await h.agent.launch('s9', 'ok');
  await h.report('s9', 'RUNNING');
  assert.deepEqual(h.agent.running(), ['s9']);
  const pids = h.agent.processes('s9').map((p) => p.pid);
  assert.equal(pids.length, 1);
  assert.ok(pidExists(pids[0]!));
  await h.agent.terminate('s9');
  await h.report('s9', 'TERMINATED');
  assert.deepEqual(h.agent.running(), []);
  assert.equal(pidExists(pids[0]!), false, 'the service process stopped');

  // The agent goes on launching after the failures of its listeners.
  await h.agent.launch('s10', 'ok');
  await h.report('s10', 'RUNNING');
  await h.agent.terminate('s10');
  await h.report('s10', 'TERMINATED');
  await until(() => later.length >= 4, 'four reports for the later listener', { timeoutMs: 5000 });
  assert.deepEqual(
    later.map((r) => [r.sessionId, r.state]),
    [
      ['s9', 'RUNNING'],
      ['s9', 'TERMINATED'],
      ['s10', 'RUNNING'],
      ['s10', 'TERMINATED'],
    ],
  );
  assert.deepEqual(later, h.reports, 'the same reports as the first listener');
});
