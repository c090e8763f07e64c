/**
 * The manager's TCP features against the real worker (the embedded system, the demo template's
 * `echo` service): an access change in place cuts the live connections that no longer pass, a
 * minted tunnel token opens a tunnel, and raw TCP bytes are activity for the circuit idle policy
 * while an open but silent connection is not.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

const MARGIN_MS = 2500;

function tcpPort(appUrl: string): number {
  const u = new URL(appUrl);
  assert.equal(u.protocol, 'tcp:', appUrl);
  return Number(u.port);
}

async function open(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return s;
}

/** Sends `text` and resolves with what comes back (the echo), or rejects when the socket closes first. */
function roundTrip(s: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        cleanup();
        resolve(got);
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`closed after ${JSON.stringify(got)}`));
    };
    const cleanup = () => {
      s.off('data', onData);
      s.off('close', onClose);
    };
    s.on('data', onData);
    s.on('close', onClose);
    s.write(text);
  });
}

/** Resolves true when the socket closes within `ms`, false otherwise. */
function closesWithin(s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * Connects, sends `text`, and resolves with how the attempt ended within `ms` (refused, closed by the
 * peer, or still open) and how many bytes came back meanwhile.
 */
function attempt(
  port: number,
  text: string,
  ms: number,
): Promise<{ outcome: 'refused' | 'closed' | 'open'; bytes: number }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let connected = false;
    let bytes = 0;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ outcome: 'open', bytes });
    }, ms);
    s.on('connect', () => {
      connected = true;
      s.write(text);
    });
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('error', () => {}); // ECONNREFUSED or ECONNRESET, told apart by `connected`
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ outcome: connected ? 'closed' : 'refused', bytes });
    });
  });
}

describe('TCP circuits on the real worker', () => {
  let t: TestSystem;
  let session: { id: string };

  before(async () => {
    t = await startTestSystem({
      manager: { port: 0, idlePolicy: { minTimeout: '100ms', checkInterval: '30s' } },
      worker: { activityFlushInterval: '100ms' },
    });
    session = await runningSession(t, 'demo');
  });
  after(async () => {
    await t?.close();
  });

  test('PATCH access: a connection from an address no longer listed is cut; new ones are refused', async () => {
    const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, {
      service: 'echo',
      access: { mode: 'allow-list', allowFrom: ['127.0.0.1/32'] },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const port = tcpPort(r.body.appUrl);
    const live = await open(port);
    assert.equal(await roundTrip(live, 'hello'), 'hello');

    const p = await t.api('PATCH', `/v1/circuits/${r.body.circuitId}/access`, { allowFrom: ['10.0.0.0/8'] });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.ok(await closesWithin(live, 3000), 'the live connection was cut');
    // A new connection is refused, or accepted by the kernel and closed by the worker: either way
    // not a byte of the service comes back.
    const late = await attempt(port, 'x', 3000);
    assert.notEqual(late.outcome, 'open', 'a connection after the change is refused or closed');
    assert.equal(late.bytes, 0, `no byte passes (${late.outcome})`);
    // Back on the list: connections pass again, on the same circuit and port.
    await t.api('PATCH', `/v1/circuits/${r.body.circuitId}/access`, { allowFrom: ['127.0.0.0/8'] });
    const again = await open(port);
    assert.equal(await roundTrip(again, 'again'), 'again');
    again.destroy();
    const ev = await t.api('GET', `/v1/circuits/${r.body.circuitId}/events`);
    assert.equal(
      ev.body.items.filter((e: { kind: string }) => e.kind === 'circuit-access-changed').length,
      2,
    );
    await t.api('DELETE', `/v1/circuits/${r.body.circuitId}`);
  });

  test('a minted tunnel token opens a tunnel to the service', async () => {
    const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, { service: 'echo' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.setupUrl, null);
    const tok = await t.api('POST', `/v1/circuits/${r.body.circuitId}/tunnel-token`);
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    assert.equal(tok.body.url, `${r.body.appUrl.replace(/^http/, 'ws')}_appproxy/tunnel`);
    const ws = new WebSocket(tok.body.url, 'appproxy-tunnel.v1', {
      headers: { authorization: `Bearer ${tok.body.token}` },
    });
    await once(ws, 'open');
    ws.send(Buffer.from('through the tunnel'));
    const [msg] = await once(ws, 'message');
    assert.equal(String(msg), 'through the tunnel');
    ws.close();
    await t.api('DELETE', `/v1/circuits/${r.body.circuitId}`);
  });

  test('raw TCP bytes keep a circuit alive; an open but silent connection does not', async () => {
    const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, {
      service: 'echo',
      access: { allowFrom: ['127.0.0.1'] },
      idle: { circuitIdleTimeoutMs: 1500 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const id = r.body.circuitId as string;
    const s = await open(tcpPort(r.body.appUrl));
    let last = 0;
    const deadline = Date.now() + 3500;
    while (Date.now() < deadline) {
      assert.equal(await roundTrip(s, 'ping'), 'ping');
      last = Date.now();
      await new Promise((res) => setTimeout(res, 250)); // a round trip every 250 ms is the scenario
    }
    assert.equal((await t.api('GET', `/v1/circuits/${id}`)).body.state, 'ACTIVE', 'bytes are activity');
    const act = (await t.api('GET', `/v1/circuits/${id}/activity`)).body;
    assert.ok(act.bytesIn > 0 && act.bytesOut > 0, JSON.stringify(act));
    assert.equal(act.openConnections, 1);

    // The connection stays open, silent: the circuit closes one timeout after the last byte.
    assert.ok(await closesWithin(s, 1500 + MARGIN_MS + 1000), 'the idle circuit closed its connection');
    const ev = (await t.api('GET', `/v1/circuits/${id}/events`)).body.items.find(
      (e: { kind: string }) => e.kind === 'circuit-idle-closed',
    );
    assert.ok(ev, 'closed by the circuit idle policy');
    const after = Date.parse(ev.at) - last;
    assert.ok(after >= 1500 - 100, `closed ${after} ms after the last byte`);
    assert.ok(after <= 1500 + MARGIN_MS, `closed ${after} ms after the last byte`);
  });
});
