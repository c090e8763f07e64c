/**
 * `appproxy endpoint …` against the real embedded system (manager, workers, local agent) with
 * real `llm-sim` replicas: every command, `endpoint up` followed by the streaming chat completion
 * it prints (sent as its curl line would send it), `endpoint down`, and the error cases (an
 * unknown endpoint is the API's error and exit 1; a bad route spec is a usage error, exit 2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderEndpoint } from '../../../src/cli/commands/endpoint.ts';
import { plain } from '../../../src/cli/format.ts';
import type { Endpoint } from '../../../src/client/api-client.ts';
import { runCli } from '../../support/cli.ts';
import { until } from '../../support/poll.ts';
import { startTestSystem, type TestSystem } from '../../support/system.ts';

/** A template whose one service exits at once: its sessions end in ERROR. */
const BROKEN_TEMPLATE = {
  name: 'broken-sim',
  description: 'exits before it is ready',
  services: [
    {
      name: 'api',
      protocol: 'http',
      command: ['{node}', '-e', 'process.exit(3)'],
      readiness: { kind: 'http', path: '/health' },
      startTimeoutMs: 5000,
    },
  ],
};

/** The parts of the curl example `endpoint up` prints. */
function parseCurl(stdout: string): { url: string; key: string | null; body: string } {
  const url = /^curl -N (\S+) \\$/m.exec(stdout)?.[1];
  const key = /-H 'Authorization: Bearer (\S+)'/.exec(stdout)?.[1] ?? null;
  const body = /^ {2}-d '(.+)'$/m.exec(stdout)?.[1];
  assert.ok(url && body, `a curl example in:\n${stdout}`);
  return { url, key, body };
}

/** Sends what the curl line sends; resolves with the streamed text once the stream ended. */
async function curl(c: {
  url: string;
  key: string | null;
  body: string;
}): Promise<{ status: number; text: string }> {
  const res = await fetch(c.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(c.key ? { authorization: `Bearer ${c.key}` } : {}) },
    body: c.body,
  });
  return { status: res.status, text: await res.text() };
}

/** The content of an OpenAI chat completion stream (SSE), asserting it is one and that it ended. */
function streamedContent(text: string): string {
  const events = text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice('data: '.length));
  assert.equal(events.at(-1), '[DONE]', text);
  const chunks = events
    .slice(0, -1)
    .map((e) => JSON.parse(e) as { choices: { delta: { content?: string } }[] });
  assert.ok(chunks.length > 1, text);
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}

describe('appproxy endpoint on the embedded system', () => {
  let t: TestSystem;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env, io: { pollIntervalMs: 50 } });
  const json = async (...args: string[]) => {
    const r = await cli('--json', ...args);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    t = await startTestSystem({
      manager: { port: 0, endpoints: { allowPublic: true } },
      agent: { templates: [BROKEN_TEMPLATE] },
    });
    env = { APPPROXY_URL: t.url, APPPROXY_TOKEN: t.token };
  });
  after(async () => {
    await t?.close();
  });

  test('a bad route spec and a change of nothing are usage errors (exit 2), before any request', async () => {
    for (const args of [
      ['endpoint', 'create', 'x', '--route', 'nonsense'],
      ['endpoint', 'create', 'x', '--route', 'session:'],
      ['endpoint', 'route', 'add', 'x', 'session:a/'],
      ['endpoint', 'route', 'add', 'x', '10.0.0.5:99999'],
      ['endpoint', 'route', 'add', 'x', 'session:a@heavy'],
      ['endpoint', 'route', 'add', 'x', 'session:a@10001'],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /a route is session:<session>\[\/<service>\]\[@weight\] or <host>:<port>\[@weight\]/,
      );
      assert.equal(r.stdout, '');
    }
    const nothing = await cli('endpoint', 'set', 'x');
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /^error: nothing to change: give --balancing/);
    const policy = await cli('endpoint', 'create', 'x', '--balancing', 'fastest');
    assert.equal(policy.code, 2);
    assert.match(
      policy.stderr,
      /Allowed choices are round-robin, random, weighted, least-inflight, prefix, llm/,
    );
    assert.deepEqual((await json('endpoint', 'list')).items, []);
  });

  test('an unknown endpoint is the API error, exit 1', async () => {
    for (const args of [
      ['endpoint', 'get', 'nope'],
      ['endpoint', 'delete', 'nope'],
      ['endpoint', 'set', 'nope', '--balancing', 'random'],
      ['endpoint', 'route', 'list', 'nope'],
      ['endpoint', 'route', 'add', 'nope', '127.0.0.1:9'],
      ['endpoint', 'token', 'list', 'nope'],
      ['endpoint', 'down', 'nope'],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^error: no endpoint with id or name "nope" \[AP_ERR_ENDPOINT_NOT_FOUND\] \(request \S+\)\n$/,
        args.join(' '),
      );
    }
  });

  test('create, get, list, set, routes, keys and delete over llm-sim sessions', async () => {
    const a = await json('session', 'create', 'llm-sim', '--name', 'rep-a', '--wait');
    const b = await json('session', 'create', 'llm-sim', '--name', 'rep-b', '--wait');
    const backendA = a.services.find((s: { name: string }) => s.name === 'api').backend;

    const created = await cli(
      'endpoint',
      'create',
      'chat',
      '--balancing',
      'weighted',
      '--mode',
      'port',
      '--route',
      'session:rep-a@100',
      '--route',
      'session:rep-b/api@0',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^Name\s+chat$/m);
    assert.match(created.stdout, /^Balancing\s+weighted$/m);
    assert.match(created.stdout, /^Access\s+token \(Authorization: Bearer <endpoint key>\)$/m);
    assert.match(created.stdout, /^URL\s+http:\/\/127\.0\.0\.1:\d+\/$/m);
    assert.match(created.stdout, /^\S+\s+session:rep-a\/api\s+127\.0\.0\.1:\d+\s+100\s+serving$/m);
    assert.match(created.stdout, /^\S+\s+session:rep-b\/api\s+127\.0\.0\.1:\d+\s+0\s+staged$/m);
    assert.match(created.stderr, /appproxy endpoint token create chat --name/);

    const ep = await json('endpoint', 'get', 'chat');
    assert.equal(ep.settings.balancing, 'weighted');
    // Routes created together come back in no particular order (same creation time).
    const byWeight = [...ep.routes].sort(
      (x: { weight: number }, y: { weight: number }) => y.weight - x.weight,
    );
    assert.deepEqual(
      byWeight.map((r: { sessionId: string; service: string; weight: number; state: string }) => [
        r.sessionId,
        r.service,
        r.weight,
        r.state,
      ]),
      [
        [a.id, 'api', 100, 'serving'],
        [b.id, 'api', 0, 'staged'],
      ],
    );
    assert.equal((await json('endpoint', 'get', ep.id)).id, ep.id, 'by id as well as by name');

    const list = await cli('endpoint', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+ID\s+STATE\s+ACCESS\s+BALANCING\s+ROUTES\s+URL\s+AGE$/m);
    assert.match(
      list.stdout,
      new RegExp(`^chat\\s+${ep.id}\\s+ACTIVE\\s+token\\s+weighted\\s+1/2\\s+http://`, 'm'),
    );

    const set = await cli('endpoint', 'set', 'chat', '--balancing', 'round-robin', '--headers-timeout', '2m');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^Balancing\s+round-robin$/m);
    assert.match(set.stdout, /^settings\.headersTimeoutMs\s+120000$/m);

    // An address route (admins) to replica a's own address, with an id of our choosing.
    const add = await cli(
      'endpoint',
      'route',
      'add',
      'chat',
      `${backendA.host}:${backendA.port}@50`,
      '--id',
      'direct',
    );
    assert.equal(add.code, 0, add.stderr);
    assert.match(
      add.stdout,
      new RegExp(`^direct\\s+${backendA.host}:${backendA.port}\\s+\\S+\\s+50\\s+serving$`, 'm'),
    );
    assert.equal(add.stderr, 'route direct added to endpoint chat (serving)\n');
    const routes = await json('endpoint', 'route', 'list', 'chat');
    assert.deepEqual(routes.items.map((r: { id: string; kind: string }) => r.kind).sort(), [
      'address',
      'session',
      'session',
    ]);
    const sessionRoute = await cli('endpoint', 'route', 'add', 'chat', 'session:rep-b', '--id', 'b2');
    assert.equal(sessionRoute.code, 0, sessionRoute.stderr);
    assert.match(sessionRoute.stdout, /^b2\s+session:rep-b\/api\s/m);
    const taken = await cli('endpoint', 'route', 'add', 'chat', 'session:rep-a', '--id', 'b2');
    assert.equal(taken.code, 1);
    assert.match(
      taken.stderr,
      /^error: endpoint chat has a route "b2" already; `appproxy endpoint route remove chat b2` first/,
    );

    const removed = await cli('endpoint', 'route', 'remove', 'chat', 'direct');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'route direct removed from endpoint chat (3 left)\n');
    const again = await cli('endpoint', 'route', 'remove', 'chat', 'direct');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\[AP_ERR_ROUTE_NOT_FOUND\]/);
    const noSession = await cli('endpoint', 'route', 'add', 'chat', 'session:no-such-session');
    assert.equal(noSession.code, 1);
    assert.match(noSession.stderr, /\[AP_ERR_SESSION_NOT_FOUND\]/);
    const noService = await cli('endpoint', 'route', 'add', 'chat', 'session:rep-a/web');
    assert.equal(noService.code, 1);
    assert.match(noService.stderr, /session rep-a has no service "web" \(services: api\)/);

    // Keys: shown once; one limited to the model opens the endpoint; revoked, it is refused.
    const shown = await cli('endpoint', 'token', 'create', 'chat', '--name', 'laptop');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^ {2}apk_\S+$/m);
    assert.match(shown.stderr, /Store this key now: it is not shown again/);
    const key = await json(
      'endpoint',
      'token',
      'create',
      'chat',
      '--name',
      'ci',
      '--expires-in',
      '30d',
      '--model',
      'sim-model',
    );
    assert.match(key.key, /^apk_/);
    assert.deepEqual(key.models, ['sim-model']);
    assert.ok(Date.parse(key.expiresAt) > Date.now() + 29 * 86_400_000);
    const call = () =>
      fetch(`${ep.url}v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
        body: JSON.stringify({
          model: 'sim-model',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 3,
        }),
      });
    await until(async () => (await call()).status === 200, 'the new key to open the endpoint', {
      timeoutMs: 5000,
    });

    const keys = await cli('endpoint', 'token', 'list', 'chat');
    assert.equal(keys.code, 0, keys.stderr);
    assert.match(keys.stdout, new RegExp(`^${key.id}\\s+ci\\s+sim-model\\s+live\\s+20\\d\\d-`, 'm'));
    assert.match(keys.stdout, /^\S+\s+laptop\s+any\s+live\s+never\s/m);
    assert.ok(!keys.stdout.includes('apk_'), 'secrets are never listed');
    const revoked = await cli('endpoint', 'token', 'revoke', 'chat', key.id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `key ${key.id} (ci) of endpoint chat revoked\n`);
    await until(async () => (await call()).status === 401, 'the revoked key to be refused', {
      timeoutMs: 5000,
    });
    const unknownKey = await cli('endpoint', 'token', 'revoke', 'chat', 'no-such-key');
    assert.equal(unknownKey.code, 1);
    assert.match(unknownKey.stderr, /\[AP_ERR_TOKEN_NOT_FOUND\]/);

    const deleted = await cli('endpoint', 'delete', 'chat');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `endpoint chat (${ep.id}) deleted\n`);
    const gone = await cli('endpoint', 'get', ep.id);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /\[AP_ERR_ENDPOINT_NOT_FOUND\]/);
    for (const s of [a, b]) assert.equal((await cli('session', 'delete', s.id)).code, 0);
  });

  test('endpoint up --replicas 2: the printed curl streams a chat completion; endpoint down removes it all', async () => {
    const up = await cli('endpoint', 'up', 'demo', '--replicas', '2');
    assert.equal(up.code, 0, up.stderr);
    console.log(`# endpoint up output:\n${up.stdout.replace(/^/gm, '#   ')}`);
    assert.match(up.stderr, /^sessions demo-1, demo-2 created from llm-sim$/m);
    assert.match(up.stderr, /^sessions running after \S+$/m);
    assert.match(up.stderr, /^endpoint demo created at http:\/\/\S+$/m);
    assert.match(
      up.stdout,
      /^Endpoint demo is up: 2 replicas of llm-sim\/api, balancing llm, 2\/2 routes serving$/m,
    );
    assert.match(up.stdout, /^Routes\s+demo-1 serving, demo-2 serving$/m);
    assert.match(up.stdout, /^Key\s+apk_\S+$/m);
    assert.match(up.stdout, /^Remove it all: appproxy endpoint down demo$/m);
    const url = /^URL\s+(\S+)$/m.exec(up.stdout)![1]!;
    const example = parseCurl(up.stdout);
    assert.equal(example.url, `${url}v1/chat/completions`);
    assert.equal(example.key, /^Key\s+(\S+)$/m.exec(up.stdout)![1]);
    assert.equal(JSON.parse(example.body).model, 'sim-model', 'the model the endpoint serves');
    assert.match(up.stdout, new RegExp(`OpenAI\\(base_url="${url}v1", api_key="${example.key}"\\)`));

    const res = await curl(example);
    assert.equal(res.status, 200, res.text);
    assert.match(streamedContent(res.text), /\S/);

    const ep = await json('endpoint', 'get', 'demo');
    assert.equal(ep.settings.balancing, 'llm');
    assert.deepEqual(
      ep.routes.map((r: { id: string; state: string }) => `${r.id} ${r.state}`),
      ['demo-1 serving', 'demo-2 serving'],
    );

    // The streamed completion above is in the usage, under the key `up` made.
    await until(async () => (await json('endpoint', 'usage', 'demo')).total.requests >= 1, 'usage recorded', {
      timeoutMs: 10_000,
    });
    const usage = await cli('endpoint', 'usage', 'demo');
    assert.equal(usage.code, 0, usage.stderr);
    assert.match(usage.stdout, /demo-up +1 +\d+ +\d+ +\d+ +0/);
    assert.match(usage.stdout, /total +1 /);

    // A second `up` of the same name refuses before it creates anything.
    const twice = await cli('endpoint', 'up', 'demo', '--replicas', '1');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /you have an endpoint named "demo" already/);
    const sessionsBefore = (await json('session', 'list')).items.filter((s: { name: string }) =>
      s.name.startsWith('demo-'),
    );
    assert.equal(sessionsBefore.length, 2);

    const down = await cli('endpoint', 'down', 'demo');
    assert.equal(down.code, 0, down.stderr);
    assert.equal(
      down.stdout,
      `endpoint demo (${ep.id}) deleted\nsession demo-1 terminated\nsession demo-2 terminated\n`,
    );
    const after = (await json('session', 'list')).items.filter((s: { name: string }) =>
      s.name.startsWith('demo-'),
    );
    assert.deepEqual(
      after.map((s: { state: string }) => s.state),
      ['TERMINATED', 'TERMINATED'],
    );
    const closed = await curl(example).catch((err: Error) => ({ status: 0, text: err.message }));
    assert.notEqual(closed.status, 200, 'the URL no longer serves');
    const downAgain = await cli('endpoint', 'down', 'demo');
    assert.equal(downAgain.code, 1);
    assert.match(downAgain.stderr, /\[AP_ERR_ENDPOINT_NOT_FOUND\]/);
  });

  test('endpoint up --public: no key, the example carries none', async () => {
    const up = await cli(
      'endpoint',
      'up',
      'open',
      '--replicas',
      '1',
      '--public',
      '--balancing',
      'least-inflight',
    );
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^Key\s+none \(public\)$/m);
    const example = parseCurl(up.stdout);
    assert.equal(example.key, null);
    assert.match(up.stdout, /api_key="unused"/);
    const res = await curl(example);
    assert.equal(res.status, 200, res.text);
    streamedContent(res.text);
    assert.equal((await cli('endpoint', 'down', 'open')).code, 0);
  });

  test('endpoint up that stops part-way says what it made; endpoint down removes it', async () => {
    const badService = await cli('endpoint', 'up', 'bad', '--service', 'web');
    assert.equal(badService.code, 2);
    assert.match(badService.stderr, /template llm-sim has no service "web" \(services: api\); use --service/);

    // The replicas are still starting when the wait gives up: they are left, and `down` ends them.
    const slow = await cli('endpoint', 'up', 'slow', '--replicas', '2', '--timeout', '1ms');
    assert.equal(slow.code, 1);
    assert.equal(slow.stdout, '');
    assert.match(slow.stderr, /^endpoint up stopped part-way; it created:$/m);
    assert.match(slow.stderr, /^ {2}session slow-1 \(\S+, (PENDING|RUNNING)\)$/m);
    assert.match(slow.stderr, /^ {2}session slow-2 \(\S+, (PENDING|RUNNING)\)$/m);
    assert.match(slow.stderr, /^remove them with: appproxy endpoint down slow$/m);
    assert.match(slow.stderr, /^error: timed out after \S+ waiting for session slow-1/m);
    const down = await cli('endpoint', 'down', 'slow');
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stderr, 'no endpoint named "slow"; removing its sessions\n');
    assert.equal(down.stdout, 'session slow-1 terminated\nsession slow-2 terminated\n');

    // A replica that fails ends in ERROR by itself: nothing is left to remove.
    const broken = await cli('endpoint', 'up', 'broken', '--replicas', '1', '--template', 'broken-sim');
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^ {2}session broken-1 \(\S+, ERROR\)$/m);
    assert.match(broken.stderr, /^none of it is left running: there is nothing to remove$/m);
    assert.match(broken.stderr, /^error: session broken-1 failed/m);
    const nothing = await cli('endpoint', 'down', 'broken');
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /\[AP_ERR_ENDPOINT_NOT_FOUND\]/);
  });
});

describe('endpoint rendering of what the API may add', () => {
  test("each route's health report and fields the CLI does not know are shown as given", () => {
    const e = {
      id: 'ep-1',
      name: 'chat',
      ownerId: 'admin',
      state: 'ACTIVE',
      url: 'http://127.0.0.1:7101/',
      circuitId: 'cir-1',
      settings: {
        access: 'token',
        balancing: 'llm',
        healthCheck: null,
        headersTimeoutMs: 300000,
        slowStartMs: 0,
      },
      routes: [
        {
          id: 'r1',
          kind: 'session',
          sessionId: 'ses-1',
          service: 'api',
          backend: { host: '127.0.0.1', port: 41000 },
          weight: 100,
          state: 'serving',
          health: { state: 'ejected', consecutiveFailures: 3, ejectedUntil: '2030-01-01T00:00:05.000Z' },
        },
        {
          id: 'r2',
          kind: 'address',
          sessionId: null,
          service: null,
          backend: { host: '::1', port: 8000 },
          weight: 0,
          state: 'staged',
        },
      ],
      revision: 3,
      usage: { requests: 12 },
      createdAt: '2030-01-01T00:00:00.000Z',
      updatedAt: '2030-01-01T00:00:00.000Z',
    } as unknown as Endpoint;
    const out = renderEndpoint(
      e,
      new Map([['ses-1', 'rep-a']]),
      plain,
      Date.parse('2030-01-01T00:01:00.000Z'),
    );
    assert.match(out, /^settings\.slowStartMs\s+0$/m);
    assert.match(out, /^usage\.requests\s+12$/m);
    assert.match(out, /^ROUTE\s+TARGET\s+BACKEND\s+WEIGHT\s+STATE\s+HEALTH$/m);
    assert.match(out, /^r1\s+session:rep-a\/api\s+127\.0\.0\.1:41000\s+100\s+serving\s+ejected$/m);
    assert.match(out, /^r2\s+\[::1\]:8000\s+\[::1\]:8000\s+0\s+staged\s+-$/m);
    assert.match(
      out,
      /^Health of route r1\n {2}state\s+ejected\n {2}consecutiveFailures\s+3\n {2}ejectedUntil\s+2030-/m,
    );
  });
});
