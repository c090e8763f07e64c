/**
 * TCP circuits end to end with the demo template's `echo` service: through `appproxy tunnel` (the
 * real binary), through an allow-listed port (allowed and refused clients), and public.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';
import { connectTcp, echoRoundTrip, startTunnelProcess } from './tunnel-process.ts';

/** Port of a `tcp://host:port` app URL. */
function tcpPort(appUrl: string): number {
  const u = new URL(appUrl);
  assert.equal(u.protocol, 'tcp:', appUrl);
  return Number(u.port);
}

describe('the demo echo service over TCP circuits', () => {
  let t: TestSystem;

  before(async () => {
    // Public TCP circuits are refused unless the configuration allows them.
    t = await startTestSystem({
      manager: { port: 0, tcp: { allowPublic: true } },
    });
  });
  after(async () => {
    await t?.close();
  });

  const startEcho = async (sessionId: string, access?: unknown) => {
    const res = await t.api('POST', `/v1/sessions/${sessionId}/start-service`, {
      service: 'echo',
      ...(access ? { access } : {}),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  test('through `appproxy tunnel`: bytes both ways, half-close, one line per connection', async () => {
    const session = await runningSession(t, 'demo');
    const p = await startTunnelProcess({ url: t.url, token: t.token }, [session.name, 'echo']);
    try {
      assert.match(
        p.stdout,
        new RegExp(`^Tunnel to ${session.name}/echo listening on 127\\.0\\.0\\.1:${p.port}$`, 'm'),
      );
      const payload = randomBytes(3 * 1024 * 1024);
      const back = await echoRoundTrip(await connectTcp(p.port), payload);
      assert.ok(back.equals(payload), `echoed ${back.length} bytes differ from the ${payload.length} sent`);
      await p.waitStderr(/connection 1 from 127\.0\.0\.1:\d+ open/);
      await p.waitStderr(/connection 1 from \S+ closed \([a-z-]+\): sent 3\.0 MiB, received 3\.0 MiB/);
      // The circuit is a tunnel: a raw TCP client on its port gets no echo.
      const { body } = await t.api('GET', `/v1/circuits?sessionId=${session.id}`);
      const circuit = body.items.find((c: any) => c.service === 'echo' && c.state === 'ACTIVE');
      assert.equal(circuit.access.mode, 'tunnel');
      const raw = await connectTcp(Number(new URL(circuit.appUrl).port));
      raw.write('raw bytes\r\n\r\n');
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        raw.on('data', (c) => (text += c));
        raw.once('close', () => resolve(text));
        raw.once('end', () => raw.end());
        raw.once('error', () => resolve(text));
      });
      assert.doesNotMatch(answer, /^raw bytes/);
      assert.equal(await p.interrupt(), 0);
    } finally {
      p.kill();
    }
  });

  test('allow-list: a listed client is relayed, an unlisted one is closed at once', async () => {
    const session = await runningSession(t, 'demo');
    const allowed = await startEcho(session.id, { mode: 'allow-list', allowFrom: ['127.0.0.1/32'] });
    assert.equal(allowed.setupUrl, null);
    const port = tcpPort(allowed.appUrl);
    const back = await echoRoundTrip(await connectTcp(port), 'hello over tcp');
    assert.equal(back.toString(), 'hello over tcp');

    // Same session and service: the live circuit is reused with its access changed in place.
    const refused = await startEcho(session.id, { mode: 'allow-list', allowFrom: ['10.0.0.0/8'] });
    assert.equal(refused.circuitId, allowed.circuitId);
    const s = await connectTcp(tcpPort(refused.appUrl));
    const t0 = Date.now();
    let received = 0;
    s.on('data', (c: Buffer) => (received += c.length));
    s.on('error', () => {});
    s.write('anyone there?');
    // Closed by the worker: FIN (our half-open socket sees 'end') or a reset.
    await Promise.race([once(s, 'end'), once(s, 'close')]);
    assert.equal(received, 0, 'an unlisted client got bytes from the backend');
    assert.ok(Date.now() - t0 < 5000, 'the unlisted client was not closed at once');
  });

  test('public: anyone may connect when the configuration allows it', async () => {
    const session = await runningSession(t, 'demo');
    const pub = await startEcho(session.id, { mode: 'public' });
    const back = await echoRoundTrip(await connectTcp(tcpPort(pub.appUrl)), 'public echo');
    assert.equal(back.toString(), 'public echo');
    const { body } = await t.api('GET', `/v1/circuits/${pub.circuitId}`);
    assert.equal(body.access.mode, 'public');
  });
});
