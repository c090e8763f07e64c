/**
 * The console's live channel, GET /v1/events/stream (server-sent events): lifecycle events arrive
 * as they are recorded, each user sees those of their own sessions only (admins all), a reconnect
 * with Last-Event-ID replays what it missed, and a revoked credential ends the stream.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { until } from '../../support/poll.ts';
import { ADMIN_TOKEN, ManagerHarness } from './harness.ts';

interface Received {
  id: number;
  kind: string;
  sessionId: string | null;
}

/** An SSE stream read into a list of lifecycle events; `ended` resolves when the server ends it. */
function stream(base: string, token: string, lastEventId?: number) {
  const ac = new AbortController();
  const events: Received[] = [];
  const ended = (async () => {
    const res = await fetch(`${base}/v1/events/stream`, {
      headers: {
        authorization: `Bearer ${token}`,
        ...(lastEventId !== undefined ? { 'last-event-id': String(lastEventId) } : {}),
      },
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      for (let at = buf.indexOf('\n\n'); at >= 0; at = buf.indexOf('\n\n')) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (/^event: lifecycle$/m.test(block) && data) events.push(JSON.parse(data) as Received);
      }
    }
  })().catch((err: Error) => {
    if (err.name !== 'AbortError') throw err;
  });
  return { events, ended, close: () => ac.abort() };
}

describe('live lifecycle events (server-sent)', () => {
  let h: ManagerHarness;
  let base: string;
  let alice: string;
  let bob: string;
  before(async () => {
    h = await ManagerHarness.create();
    await h.manager.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(h.manager.app.server.address() as AddressInfo).port}`;
    alice = await h.addUser('alice');
    bob = await h.addUser('bob');
  });
  after(async () => {
    await h.close();
  });

  test("each sees their own sessions' events as they happen; admins see all", async () => {
    const a = stream(base, alice);
    const b = stream(base, bob);
    const admin = stream(base, ADMIN_TOKEN);
    // Subscribed before the sessions exist (the streams answer at once).
    await new Promise((r) => setTimeout(r, 300));
    const sa = await h.api('POST', '/v1/sessions', { template: 'web', name: 'a1' }, alice);
    const sb = await h.api('POST', '/v1/sessions', { template: 'web', name: 'b1' }, bob);
    assert.equal(sa.status, 201, sa.text);
    assert.equal(sb.status, 201, sb.text);
    await until(() => a.events.some((e) => e.kind === 'session-created') || undefined, "alice's event", {
      timeoutMs: 5000,
    });
    await until(
      () => admin.events.filter((e) => e.kind === 'session-created').length >= 2 || undefined,
      "both events at the admin's",
      { timeoutMs: 5000 },
    );
    await until(() => b.events.some((e) => e.kind === 'session-created') || undefined, "bob's event", {
      timeoutMs: 5000,
    });
    assert.ok(
      a.events.every((e) => e.sessionId === sa.body.id),
      JSON.stringify(a.events),
    );
    assert.ok(
      b.events.every((e) => e.sessionId === sb.body.id),
      JSON.stringify(b.events),
    );
    // The session running is one more event, pushed without a request.
    await until(() => a.events.some((e) => e.kind === 'session-running') || undefined, 'session-running', {
      timeoutMs: 5000,
    });
    for (const s of [a, b, admin]) s.close();
  });

  test('a reconnect with Last-Event-ID gets what it missed, and only that', async () => {
    const first = stream(base, alice);
    await new Promise((r) => setTimeout(r, 300));
    const s1 = await h.api('POST', '/v1/sessions', { template: 'web', name: 'a2' }, alice);
    await until(
      () => first.events.find((e) => e.sessionId === s1.body.id && e.kind === 'session-created'),
      'the first event',
      { timeoutMs: 5000 },
    );
    const lastSeen = Math.max(...first.events.map((e) => e.id));
    first.close();
    // While disconnected: another session.
    const s2 = await h.api('POST', '/v1/sessions', { template: 'web', name: 'a3' }, alice);
    await h.sessionIn(s2.body.id, 'RUNNING');
    const again = stream(base, alice, lastSeen);
    await until(
      () => again.events.find((e) => e.sessionId === s2.body.id && e.kind === 'session-created'),
      'the missed event replayed',
      { timeoutMs: 5000 },
    );
    assert.ok(
      again.events.every((e) => e.id > lastSeen),
      'nothing seen before is sent again',
    );
    again.close();
  });

  test('a revoked token ends its stream', async () => {
    const carol = await h.addUser('carol');
    const c = stream(base, carol);
    await new Promise((r) => setTimeout(r, 300));
    const r = await h.api('DELETE', '/v1/tokens/t-carol');
    assert.equal(r.status, 200, r.text);
    const t0 = Date.now();
    await c.ended;
    assert.ok(Date.now() - t0 < 12_000, `ended ${Date.now() - t0} ms after the revocation`);
  });

  test('without a credential: 401 with the error envelope', async () => {
    const res = await fetch(`${base}/v1/events/stream`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'AP_ERR_UNAUTHENTICATED');
  });
});
