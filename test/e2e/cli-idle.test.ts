/**
 * The idle options and the events commands of the CLI against the real embedded system, as the
 * README's "TCP apps and tunnels" walk-through uses them (with the demo's `echo` tcp service in
 * place of ssh, and timeouts short enough for a test but within the default limit of 1 s).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem } from '../support/system.ts';
import { connectTcp, startTunnelProcess, type TunnelProcess } from './tunnel-process.ts';

describe('CLI idle timeouts and lifecycle events', () => {
  let t: TestSystem;
  let env: Record<string, string>;
  const tunnels: TunnelProcess[] = [];
  const cli = (...args: string[]) => runCli(args, { env });

  before(async () => {
    t = await startTestSystem();
    env = { APPPROXY_URL: t.url, APPPROXY_TOKEN: t.token };
  });
  after(async () => {
    for (const p of tunnels) p.kill();
    await t?.close();
  });

  test('session create --connection-idle-timeout, a tunnel closed for idleness, activity and events', async () => {
    // Below the administrator's minimum (idlePolicy.minTimeout, 1 s): refused, nothing created.
    const low = await cli(
      'session',
      'create',
      'demo',
      '--name',
      'walk',
      '--connection-idle-timeout',
      '500ms',
    );
    assert.equal(low.code, 1);
    assert.match(low.stderr, /^error: .*\[AP_ERR_POLICY_OUT_OF_RANGE\]/);

    const created = await cli(
      '--json',
      'session',
      'create',
      'demo',
      '--name',
      'walk',
      '--connection-idle-timeout',
      '1s',
      '--circuit-idle-timeout',
      '5s',
      '--wait',
    );
    assert.equal(created.code, 0, created.stderr);
    const session = JSON.parse(created.stdout);
    assert.equal(session.state, 'RUNNING');

    const p = await startTunnelProcess({ url: t.url, token: t.token }, ['walk', 'echo']);
    tunnels.push(p);
    const s = await connectTcp(p.port);
    s.on('error', () => {});
    const echoed = new Promise<string>((resolve) => s.once('data', (c: Buffer) => resolve(c.toString())));
    s.write('hello');
    assert.equal(await echoed, 'hello');
    const lastByte = Date.now();
    // Left idle: the worker closes the connection after the connection idle timeout.
    await p.waitStderr(/connection 1 from \S+ closed \(idle-timeout\): sent 5 B, received 5 B/);
    assert.ok(Date.now() - lastByte >= 900, `closed after ${Date.now() - lastByte} ms`);
    s.destroy();

    const list = await cli('--json', 'circuit', 'list', '--session', 'walk');
    const [circuit] = JSON.parse(list.stdout).items;
    assert.deepEqual(circuit.idle, { connectionIdleTimeoutMs: 1000, circuitIdleTimeoutMs: 5000 });
    const shown = await cli('circuit', 'get', circuit.id);
    assert.match(shown.stdout, /^Idle timeouts\s+connection 1s, circuit 5s$/m);

    const activity = await cli('--json', 'circuit', 'activity', circuit.id);
    assert.equal(activity.code, 0, activity.stderr);
    const a = JSON.parse(activity.stdout);
    assert.equal(a.bytesIn + a.bytesOut > 0, true, activity.stdout);
    const circuitPolicy = a.policies.find((x: any) => x.policy === 'circuit-idle');
    assert.equal(circuitPolicy.timeoutMs, 5000);
    assert.equal(circuitPolicy.source, 'session');
    const human = await cli('circuit', 'activity', circuit.id);
    assert.match(human.stdout, /^policies\[0\]\.policy\s+circuit-idle$/m);

    // The circuit policy closes the circuit 5 s after its last byte; the events tell.
    await until(
      async () => {
        const ev = await cli('--json', 'session', 'events', 'walk');
        assert.equal(ev.code, 0, ev.stderr);
        const kinds: string[] = JSON.parse(ev.stdout).items.map((e: any) => e.kind);
        assert.ok(kinds.includes('circuit-idle-closed'), `events so far: ${kinds.join(', ')}`);
        return true;
      },
      'the circuit-idle-closed event',
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const table = await cli('session', 'events', 'walk');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME\s+KIND\s+CIRCUIT\s+DETAIL$/);
    assert.match(lines[1]!, /^\S+Z\s+session-created\s+-\s+template demo$/);
    assert.ok(
      lines.some((l) => /\ssession-running\s/.test(l)),
      table.stdout,
    );
    assert.match(table.stdout, new RegExp(`\\scircuit-opened\\s+${circuit.id}\\s+tcp echo on `));
    assert.match(
      table.stdout,
      /circuit-idle-closed\s+\S+\s+no byte moved since .*: circuit idle timeout 5s reached/,
    );
    const byCircuit = await cli('--json', 'circuit', 'events', circuit.id);
    const circuitKinds = JSON.parse(byCircuit.stdout).items.map((e: any) => e.kind);
    assert.deepEqual(circuitKinds.slice(0, 1), ['circuit-opened']);
    assert.ok(circuitKinds.includes('circuit-idle-closed'), circuitKinds.join(', '));

    assert.equal(await p.interrupt(), 0);
    const del = await cli('session', 'delete', 'walk');
    assert.equal(del.code, 0, del.stderr);
  });

  test('app open --circuit-idle-timeout never and --connection-idle-timeout reach the new circuit', async () => {
    const created = await cli(
      '--json',
      'session',
      'create',
      'demo',
      '--session-idle-timeout',
      'never',
      '--wait',
    );
    assert.equal(created.code, 0, created.stderr);
    const session = JSON.parse(created.stdout);
    assert.equal(session.idleTimeoutMs, null);
    const opened = await cli(
      '--json',
      'app',
      'open',
      session.name,
      'web',
      '--connection-idle-timeout',
      '2m',
      '--circuit-idle-timeout',
      'never',
    );
    assert.equal(opened.code, 0, opened.stderr);
    const { circuitId } = JSON.parse(opened.stdout);
    const shown = await cli('circuit', 'get', circuitId);
    assert.match(shown.stdout, /^Idle timeouts\s+connection 2m, circuit never$/m);
    // Asked again with other values, the live circuit is re-used and keeps its own: a note says so.
    const again = await cli('app', 'open', session.name, 'web', '--circuit-idle-timeout', '10m');
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(`note: circuit ${circuitId} was re-used and keeps its idle timeouts`),
    );
    const del = await cli('session', 'delete', session.id);
    assert.equal(del.code, 0, del.stderr);
  });
});
