/**
 * Revoking an API token reaches TCP: a user's program opens a tunnel (`appproxy tunnel`, the real
 * binary) and a raw allow-list TCP connection under its token; revoking the token closes both with
 * reason `revoked` (the tunnel process says so), and a new raw connection is refused. A second
 * user can neither see nor open the first one's session, app or tunnel.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem, waitRunning } from '../support/system.ts';
import { startTunnelProcess } from './tunnel-process.ts';

async function open(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return s;
}

function echoOnce(s: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
    s.write(text);
  });
}

describe('revoking a token reaches tunnels and raw TCP', () => {
  let t: TestSystem;
  let grace: string;
  let heidi: string;
  before(async () => {
    t = await startTestSystem();
    for (const name of ['grace', 'heidi']) {
      assert.equal((await t.api('POST', '/v1/users', { name })).status, 201);
    }
    grace = (await t.api('POST', '/v1/tokens', { name: 'laptop', user: 'grace' })).body.token;
    heidi = (await t.api('POST', '/v1/tokens', { name: 'laptop', user: 'heidi' })).body.token;
  });
  after(async () => {
    await t?.close();
  });

  test('a raw allow-list connection opened under a token closes when the token is revoked; others see nothing', async () => {
    const created = await t.api('POST', '/v1/sessions', { template: 'demo', name: 'graces' }, grace);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = await waitRunning({ ...t, api: (m, p, b) => t.api(m, p, b, grace) }, created.body.id);

    // A second user sees nothing of it and cannot open anything on it.
    assert.equal((await t.api('GET', `/v1/sessions/${session.id}`, undefined, heidi)).status, 404);
    const theirs = await t.api(
      'POST',
      `/v1/sessions/${session.id}/start-service`,
      { service: 'echo' },
      heidi,
    );
    assert.equal(theirs.status, 404, JSON.stringify(theirs.body));

    // Heidi's token cannot mint a tunnel to Grace's circuit either.
    const tunnelled = await t.api(
      'POST',
      `/v1/sessions/${session.id}/start-service`,
      { service: 'echo' },
      grace,
    );
    assert.equal(
      (await t.api('POST', `/v1/circuits/${tunnelled.body.circuitId}/tunnel-token`, undefined, heidi)).status,
      404,
    );

    // The same service with an allow-list: the circuit's raw port carries the token's grant.
    const raw = await t.api(
      'POST',
      `/v1/sessions/${session.id}/start-service`,
      { service: 'echo', access: { mode: 'allow-list', allowFrom: ['127.0.0.1'] } },
      grace,
    );
    assert.equal(raw.status, 200, JSON.stringify(raw.body));
    const port = Number(new URL(raw.body.appUrl).port);
    const direct = await open(port);
    assert.equal(await echoOnce(direct, 'raw bytes'), 'raw bytes');
    const directClosed = once(direct, 'close');

    const tokens = await t.api('GET', '/v1/tokens?user=grace');
    const laptop = tokens.body.items.find(
      (x: { name: string; state: string }) => x.name === 'laptop' && x.state === 'live',
    );
    const t0 = Date.now();
    assert.equal((await t.api('DELETE', `/v1/tokens/${laptop.id}`)).status, 200);
    await directClosed;
    console.log(`# token revoked → raw TCP connection closed after ${Date.now() - t0} ms`);
    const refused = connect({ host: '127.0.0.1', port });
    const outcome = await new Promise<string>((resolve) => {
      refused.once('data', () => resolve('data'));
      refused.once('close', () => resolve('closed'));
      refused.once('error', () => resolve('closed'));
      refused.write('anyone?');
    });
    assert.equal(outcome, 'closed', 'a new raw connection under the revoked grant is refused');
  });

  test('revoking the token closes a live tunnel with `revoked`', async () => {
    const token = (await t.api('POST', '/v1/tokens', { name: 'tunnel', user: 'grace' })).body;
    const created = await t.api('POST', '/v1/sessions', { template: 'demo', name: 'graces2' }, token.token);
    await waitRunning({ ...t, api: (m, p, b) => t.api(m, p, b, token.token) }, created.body.id);
    const tunnel = await startTunnelProcess({ url: t.url, token: token.token }, ['graces2', 'echo']);
    const s = await open(tunnel.port);
    assert.equal(await echoOnce(s, 'hello'), 'hello');
    const closed = once(s, 'close');
    const t0 = Date.now();
    assert.equal((await t.api('DELETE', `/v1/tokens/${token.id}`)).status, 200);
    await closed;
    console.log(`# token revoked → tunnelled connection closed after ${Date.now() - t0} ms`);
    await until(
      async () => (/closed \(revoked\)/.test(tunnel.stderr) ? true : undefined),
      'the tunnel to report `revoked`',
      {
        timeoutMs: 5000,
      },
    );
    await tunnel.interrupt().catch(() => {});
  });
});
