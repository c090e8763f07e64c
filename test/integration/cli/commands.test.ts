import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { LifecycleEvent, Session } from '../../../src/contracts/records.ts';
import {
  circuit,
  closedPortUrl,
  emptyDataDir,
  FakeManager,
  runCli,
  session,
  startResult,
  worker,
} from '../../support/cli.ts';

const envelope = (code: string, message: string, requestId = 'req-1') => ({ code, message, requestId });

const events: LifecycleEvent[] = [
  {
    id: 1,
    at: '2025-01-01T00:00:00.000Z',
    sessionId: 'ses_1a2b',
    endpointId: null,
    circuitId: null,
    kind: 'session-created',
    detail: 'template demo',
  },
  {
    id: 2,
    at: '2025-01-01T00:00:02.000Z',
    sessionId: 'ses_1a2b',
    endpointId: null,
    circuitId: 'cir_9z',
    kind: 'circuit-opened',
    detail: 'http web on 127.0.0.1:7080 at http://127.0.0.1:7101/',
  },
  {
    id: 3,
    at: '2025-01-01T00:10:02.000Z',
    sessionId: 'ses_1a2b',
    endpointId: null,
    circuitId: 'cir_9z',
    kind: 'circuit-idle-closed',
    detail: 'no byte moved since 2025-01-01T00:00:02.000Z: circuit idle timeout 10m reached',
  },
];

describe('CLI commands against a canned manager', () => {
  let fake: FakeManager;
  let env: Record<string, string>;
  before(async () => {
    fake = await new FakeManager().start();
  });
  after(() => fake.stop());
  beforeEach(() => {
    fake.routes.clear();
    fake.requests.length = 0;
    env = { APPPROXY_URL: fake.url, APPPROXY_TOKEN: 'tok', APPPROXY_DATA_DIR: emptyDataDir() };
  });

  /** GET /v1/sessions/ses_1a2b answers these states in turn (the last one repeats). */
  function sessionStates(...states: Session['state'][]): void {
    let i = 0;
    fake.on('GET /v1/sessions/ses_1a2b', () => {
      const state = states[Math.min(i++, states.length - 1)]!;
      return { body: session({ state, stateReason: state === 'ERROR' ? 'exit code 1' : null }) };
    });
  }

  describe('session', () => {
    it('create posts the template and name and shows the new session', async () => {
      fake.on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) });
      const r = await runCli(['session', 'create', 'demo', '--name', 'demo-1a2b'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.requests[0]!.body, { template: 'demo', name: 'demo-1a2b' });
      assert.equal(fake.requests[0]!.authorization, 'Bearer tok');
      assert.match(r.stdout, /^ID\s+ses_1a2b$/m);
      assert.match(r.stdout, /^State\s+PENDING$/m);
      assert.match(r.stdout, /^web\s+http\s+127\.0\.0\.1:41000$/m);
      assert.equal(r.stderr, 'session demo-1a2b created (PENDING)\n');
    });

    it('create --json prints the raw answer only', async () => {
      fake.on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) });
      const r = await runCli(['session', 'create', 'demo', '--json'], { env });
      assert.equal(r.code, 0);
      assert.deepEqual(JSON.parse(r.stdout), session({ state: 'PENDING' }));
      assert.deepEqual(fake.requests[0]!.body, { template: 'demo' });
      assert.equal(r.stderr, '');
    });

    it('create --wait polls until RUNNING with plain progress lines off a TTY', async () => {
      fake.on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) });
      sessionStates('PENDING', 'PENDING', 'RUNNING');
      const r = await runCli(['--json', 'session', 'create', 'demo', '--wait'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).state, 'RUNNING');
      // One line per state change (the repeats of PENDING within 5 s are not printed again).
      assert.match(r.stderr, /^waiting for session demo-1a2b \(PENDING\) \d+ms…\n$/);
      assert.equal(fake.requests.filter((q) => q.method === 'GET').length, 3);
    });

    it('create --wait rewrites the progress line in place on a TTY', async () => {
      fake.on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) });
      sessionStates('PENDING', 'RUNNING');
      const r = await runCli(['session', 'create', 'demo', '--wait'], { env, tty: true });
      assert.equal(r.code, 0, r.stderr);
      const CLEAR = '\r\x1b[2K';
      assert.ok(
        r.stderr.startsWith(`${CLEAR}waiting for session demo-1a2b (PENDING) `),
        JSON.stringify(r.stderr),
      );
      assert.ok(r.stderr.endsWith(`…${CLEAR}`), JSON.stringify(r.stderr));
      assert.ok(!r.stderr.includes('\n'));
      assert.match(r.stdout, /RUNNING/);
    });

    it('create --wait fails when the session ends in ERROR', async () => {
      fake.on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) });
      sessionStates('PENDING', 'ERROR');
      const r = await runCli(['session', 'create', 'demo', '--wait'], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: session demo-1a2b failed: exit code 1\n$/);
      assert.equal(r.stdout, '');
    });

    it('create --wait gives up after --timeout', async () => {
      fake.on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) });
      sessionStates('PENDING');
      const r = await runCli(['session', 'create', 'demo', '--wait', '--timeout', '60ms'], { env });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /error: timed out after 60ms waiting for session demo-1a2b \(still PENDING\); check it with `appproxy session get demo-1a2b`\n$/,
      );
    });

    it('a malformed --timeout is a usage error', async () => {
      const r = await runCli(['session', 'create', 'demo', '--wait', '--timeout', '30'], { env });
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /option '--timeout <duration>' argument '30' is invalid\. duration "30" has no unit/,
      );
      assert.equal(fake.requests.length, 0);
    });

    it('create sends the idle options in milliseconds, `never` as null', async () => {
      fake.on('POST /v1/sessions', {
        status: 201,
        body: session({ state: 'PENDING', idleTimeoutMs: 7_200_000 }),
      });
      const r = await runCli(
        [
          'session',
          'create',
          'demo',
          '--session-idle-timeout',
          '2h',
          '--circuit-idle-timeout',
          'never',
          '--connection-idle-timeout',
          '500ms',
        ],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.requests[0]!.body, {
        template: 'demo',
        idle: { sessionIdleTimeoutMs: 7_200_000, circuitIdleTimeoutMs: null, connectionIdleTimeoutMs: 500 },
      });
      assert.match(r.stdout, /^Session idle timeout\s+2h$/m);
      const n = await runCli(
        [
          'session',
          'create',
          'demo',
          '--name',
          'box',
          '--session-idle-timeout',
          'never',
          '--circuit-idle-timeout',
          '1m30s',
        ],
        { env },
      );
      assert.equal(n.code, 0, n.stderr);
      assert.deepEqual(fake.requests[1]!.body, {
        template: 'demo',
        name: 'box',
        idle: { sessionIdleTimeoutMs: null, circuitIdleTimeoutMs: 90_000 },
      });
      await runCli(['session', 'create', 'demo', '--connection-idle-timeout', '20s'], { env });
      assert.deepEqual(fake.requests[2]!.body, {
        template: 'demo',
        idle: { connectionIdleTimeoutMs: 20_000 },
      });
    });

    it('malformed idle timeouts are usage errors, before any request', async () => {
      for (const [args, message] of [
        [
          ['--connection-idle-timeout', '30'],
          /option '--connection-idle-timeout <duration>' argument '30' is invalid\. duration "30" has no unit/,
        ],
        [
          ['--connection-idle-timeout', 'never'],
          /argument 'never' is invalid\. connections always have an idle timeout; give a duration/,
        ],
        [
          ['--circuit-idle-timeout', 'soon'],
          /option '--circuit-idle-timeout <duration\|never>' argument 'soon' is invalid\. invalid duration "soon" .*; or "never" for no timeout/,
        ],
        [['--session-idle-timeout', '-5m'], /argument '-5m' is invalid\. invalid duration "-5m"/],
      ] as const) {
        const r = await runCli(['session', 'create', 'demo', ...args], { env });
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '');
      }
      assert.equal(fake.requests.length, 0);
    });

    it("a timeout outside the administrator's limits is the manager's error", async () => {
      fake.on('POST /v1/sessions', {
        status: 400,
        body: {
          ...envelope(
            'AP_ERR_POLICY_OUT_OF_RANGE',
            'connectionIdleTimeoutMs must be between 1000 and 604800000 ms (got 500).',
            'req-p',
          ),
          detail: { field: '/idle/connectionIdleTimeoutMs', min: 1000, max: 604800000, allowNever: true },
        },
      });
      const r = await runCli(['session', 'create', 'demo', '--connection-idle-timeout', '500ms'], { env });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error: connectionIdleTimeoutMs must be between 1000 and 604800000 ms (got 500). [AP_ERR_POLICY_OUT_OF_RANGE] (request req-p)\n',
      );
    });

    it('get shows the session idle timeout', async () => {
      fake.on('GET /v1/sessions/ses_1a2b', { body: session({ idleTimeoutMs: 900_000 }) });
      const r = await runCli(['session', 'get', 'ses_1a2b'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Session idle timeout\s+15m$/m);
      fake.on('GET /v1/sessions/ses_1a2b', { body: session({ idleTimeoutMs: null }) });
      const n = await runCli(['session', 'get', 'ses_1a2b'], { env });
      assert.match(n.stdout, /^Session idle timeout\s+never$/m);
    });

    it('events resolves a name and prints the lifecycle events as a table; --json the raw {items}', async () => {
      fake.on('GET /v1/sessions', { body: { items: [session()] } });
      fake.on('GET /v1/sessions/ses_1a2b/events', { body: { items: events } });
      const r = await runCli(['session', 'events', 'demo-1a2b'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        fake.requests.map((q) => `${q.method} ${q.url}`),
        ['GET /v1/sessions/demo-1a2b', 'GET /v1/sessions', 'GET /v1/sessions/ses_1a2b/events'],
      );
      assert.equal(
        r.stdout,
        [
          'TIME                      KIND                 CIRCUIT  DETAIL',
          '2025-01-01T00:00:00.000Z  session-created      -        template demo',
          '2025-01-01T00:00:02.000Z  circuit-opened       cir_9z   http web on 127.0.0.1:7080 at http://127.0.0.1:7101/',
          '2025-01-01T00:10:02.000Z  circuit-idle-closed  cir_9z   no byte moved since 2025-01-01T00:00:02.000Z: circuit idle timeout 10m reached',
          '',
        ].join('\n'),
      );
      assert.equal(r.stderr, '');
      const j = await runCli(['--json', 'session', 'events', 'demo-1a2b'], { env });
      assert.equal(j.code, 0, j.stderr);
      assert.deepEqual(JSON.parse(j.stdout), { items: events });
    });

    it('events of an unknown session fail with the not-found code; no events is a note', async () => {
      fake.on('GET /v1/sessions', { body: { items: [] } });
      const r = await runCli(['session', 'events', 'ghost'], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no session with id or name "ghost" \[AP_ERR_NOT_FOUND\]/);
      fake.on('GET /v1/sessions/ses_1a2b', { body: session() });
      fake.on('GET /v1/sessions/ses_1a2b/events', { body: { items: [] } });
      const e = await runCli(['session', 'events', 'ses_1a2b'], { env });
      assert.equal(e.code, 0, e.stderr);
      assert.equal(e.stdout, '');
      assert.equal(e.stderr, 'no events\n');
      const j = await runCli(['session', 'events', 'ses_1a2b', '--json'], { env });
      assert.deepEqual(JSON.parse(j.stdout), { items: [] });
    });

    it('list prints an aligned table, --json the raw {items}', async () => {
      const items = [
        session(),
        session({ id: 'ses_2', name: 'other', state: 'ERROR', stateReason: 'exit code 1', services: [] }),
      ];
      fake.on('GET /v1/sessions', { body: { items } });
      const r = await runCli(['session', 'list'], {
        env,
        io: { now: () => Date.parse('2025-01-01T00:05:00Z') },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        [
          'NAME       ID        TEMPLATE  STATE    SERVICES  AGE  REASON',
          'demo-1a2b  ses_1a2b  demo      RUNNING  web        5m',
          'other      ses_2     demo      ERROR    -          5m  exit code 1',
          '',
        ].join('\n'),
      );
      const j = await runCli(['session', 'ls', '--json'], { env });
      assert.deepEqual(JSON.parse(j.stdout), { items });
    });

    it('list says so on stderr when there is nothing', async () => {
      fake.on('GET /v1/sessions', { body: { items: [] } });
      const r = await runCli(['session', 'list'], { env });
      assert.equal(r.code, 0);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'no sessions\n');
    });

    it('get resolves a session by name when the id is unknown', async () => {
      fake.on('GET /v1/sessions', { body: { items: [session()] } });
      const r = await runCli(['session', 'get', 'demo-1a2b', '--json'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).id, 'ses_1a2b');
      assert.deepEqual(
        fake.requests.map((q) => `${q.method} ${q.url}`),
        ['GET /v1/sessions/demo-1a2b', 'GET /v1/sessions'],
      );
    });

    it('get prefers the live session among same-named ones, refuses real ambiguity', async () => {
      fake.on('GET /v1/sessions', {
        body: { items: [session({ id: 'old', state: 'TERMINATED' }), session({ id: 'new' })] },
      });
      const r = await runCli(['session', 'get', 'demo-1a2b', '--json'], { env });
      assert.equal(JSON.parse(r.stdout).id, 'new');
      fake.on('GET /v1/sessions', { body: { items: [session({ id: 'a' }), session({ id: 'b' })] } });
      const amb = await runCli(['session', 'get', 'demo-1a2b'], { env });
      assert.equal(amb.code, 1);
      assert.equal(
        amb.stderr,
        'error: session name "demo-1a2b" is ambiguous (a RUNNING, b RUNNING); use the id\n',
      );
    });

    it('get of an unknown id or name fails with the not-found code', async () => {
      fake.on('GET /v1/sessions/nope', {
        status: 404,
        body: envelope('AP_ERR_SESSION_NOT_FOUND', 'No such session.', 'req-7'),
      });
      fake.on('GET /v1/sessions', { body: { items: [session()] } });
      const r = await runCli(['session', 'get', 'nope'], { env });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error: no session with id or name "nope" [AP_ERR_SESSION_NOT_FOUND] (request req-7)\n',
      );
    });

    it('delete waits for TERMINATED by default; --no-wait does not', async () => {
      sessionStates('RUNNING');
      fake.on('DELETE /v1/sessions/ses_1a2b', (req) =>
        req.url.includes('wait=true')
          ? { body: session({ state: 'TERMINATED' }) }
          : { status: 202, body: session({ state: 'TERMINATING' }) },
      );
      const r = await runCli(['session', 'delete', 'ses_1a2b'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'session demo-1a2b terminated\n');
      assert.equal(fake.requests.at(-1)!.url, '/v1/sessions/ses_1a2b?wait=true');
      const nw = await runCli(['session', 'rm', 'ses_1a2b', '--no-wait'], { env });
      assert.equal(nw.stdout, 'session demo-1a2b is TERMINATING\n');
      assert.equal(fake.requests.at(-1)!.url, '/v1/sessions/ses_1a2b');
    });
  });

  describe('app open', () => {
    it('waits for the session, starts the service and prints the setup link', async () => {
      sessionStates('PENDING', 'RUNNING');
      fake.on('POST /v1/sessions/ses_1a2b/start-service', { body: startResult() });
      const opened: string[] = [];
      const r = await runCli(
        ['app', 'open', 'ses_1a2b', 'web', '--frontend', 'port', '--next', '/lab', '--browser'],
        {
          env,
          io: {
            now: () => Date.parse('2098-12-31T23:59:00Z'),
            openUrl: async (u) => {
              opened.push(u);
              return true;
            },
          },
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.requests.at(-1)!.body, { service: 'web', frontend: 'port', next: '/lab' });
      assert.match(r.stderr, /^waiting for session demo-1a2b \(PENDING\) 0ms…\n$/);
      assert.equal(
        r.stdout,
        [
          'Open this link in your browser (single use, valid for 1m, until 2099-01-01T00:00:00.000Z):',
          '',
          '  http://127.0.0.1:7101/_appproxy/setup?token=abc.def',
          '',
          'App URL  http://127.0.0.1:7101/',
          'Circuit  cir_9z',
          '',
        ].join('\n'),
      );
      assert.deepEqual(opened, ['http://127.0.0.1:7101/_appproxy/setup?token=abc.def']);
    });

    it('with --json prints the start-service answer; a missing browser is only a note', async () => {
      sessionStates('RUNNING');
      fake.on('POST /v1/sessions/ses_1a2b/start-service', { body: startResult({ reused: true }) });
      const r = await runCli(['app', 'open', 'ses_1a2b', 'web', '--json', '--browser'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), startResult({ reused: true }));
      assert.deepEqual(fake.requests.at(-1)!.body, { service: 'web' });
      assert.match(r.stderr, /could not launch a browser/);
    });

    it('sends the idle options of a new circuit', async () => {
      sessionStates('RUNNING');
      fake.on('POST /v1/sessions/ses_1a2b/start-service', { body: startResult() });
      const r = await runCli(
        [
          'app',
          'open',
          'ses_1a2b',
          'web',
          '--connection-idle-timeout',
          '20s',
          '--circuit-idle-timeout',
          'never',
        ],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.requests.at(-1)!.body, {
        service: 'web',
        idle: { connectionIdleTimeoutMs: 20_000, circuitIdleTimeoutMs: null },
      });
      await runCli(['app', 'open', 'ses_1a2b', 'web', '--circuit-idle-timeout', '45m'], { env });
      assert.deepEqual(fake.requests.at(-1)!.body, {
        service: 'web',
        idle: { circuitIdleTimeoutMs: 2_700_000 },
      });
      const bad = await runCli(['app', 'open', 'ses_1a2b', 'web', '--circuit-idle-timeout', '10'], { env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /argument '10' is invalid\. duration "10" has no unit/);
    });

    it('says so when a re-used circuit keeps other idle timeouts than those asked for', async () => {
      sessionStates('RUNNING');
      fake.on('POST /v1/sessions/ses_1a2b/start-service', { body: startResult({ reused: true }) });
      fake.on('GET /v1/circuits/cir_9z', { body: circuit() }); // connection 30m, circuit never
      const r = await runCli(['app', 'open', 'ses_1a2b', 'web', '--circuit-idle-timeout', '1h'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stderr,
        'note: circuit cir_9z was re-used and keeps its idle timeouts (connection 30m, circuit never); ' +
          '`appproxy circuit delete cir_9z` first to apply new ones\n',
      );
      const same = await runCli(
        [
          'app',
          'open',
          'ses_1a2b',
          'web',
          '--circuit-idle-timeout',
          'never',
          '--connection-idle-timeout',
          '30m',
        ],
        { env },
      );
      assert.equal(same.code, 0, same.stderr);
      assert.equal(same.stderr, '');
    });

    it('refuses an unknown service before waiting', async () => {
      sessionStates('PENDING');
      const r = await runCli(['app', 'open', 'ses_1a2b', 'nope'], { env });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'error: session demo-1a2b has no service "nope" (services: web)\n');
    });

    it('shows the manager error with code and request id', async () => {
      sessionStates('RUNNING');
      fake.on('POST /v1/sessions/ses_1a2b/start-service', {
        status: 503,
        body: envelope(
          'AP_ERR_NO_WORKER',
          'No healthy worker accepts this protocol and frontend mode.',
          'req-9',
        ),
      });
      const r = await runCli(['app', 'open', 'ses_1a2b', 'web'], { env });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error: No healthy worker accepts this protocol and frontend mode. [AP_ERR_NO_WORKER] (request req-9)\n',
      );
    });

    it('validates --frontend and --next as usage errors', async () => {
      const f = await runCli(['app', 'open', 's', 'web', '--frontend', 'tunnel'], { env });
      assert.equal(f.code, 2);
      assert.match(f.stderr, /argument 'tunnel' is invalid\. Allowed choices are port, wildcard/);
      const n = await runCli(['app', 'open', 's', 'web', '--next', 'lab'], { env });
      assert.equal(n.code, 2);
      assert.match(n.stderr, /--next must be a path starting with "\/"/);
      assert.equal(fake.requests.length, 0);
    });
  });

  describe('app open on a tcp service', () => {
    const tcpSession = () =>
      session({
        services: [
          { name: 'web', protocol: 'http', backend: { host: '127.0.0.1', port: 41000 } },
          { name: 'echo', protocol: 'tcp', backend: { host: '127.0.0.1', port: 41001 } },
        ],
      });

    it('in tunnel mode says how to tunnel instead of printing a setup link', async () => {
      fake.on('GET /v1/sessions/ses_1a2b', { body: tcpSession() });
      fake.on('POST /v1/sessions/ses_1a2b/start-service', {
        body: startResult({ appUrl: 'http://127.0.0.1:7105/', setupUrl: null, expiresAt: null }),
      });
      const opened: string[] = [];
      const r = await runCli(['app', 'open', 'ses_1a2b', 'echo', '--browser'], {
        env,
        io: {
          openUrl: async (u) => {
            opened.push(u);
            return true;
          },
        },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        [
          'This TCP service is reached through an authenticated tunnel. Run:',
          '',
          '  appproxy tunnel ses_1a2b echo',
          '',
          'Tunnel origin  http://127.0.0.1:7105/',
          'Circuit        cir_9z',
          '',
        ].join('\n'),
      );
      assert.match(r.stderr, /a tcp service has no page to open in a browser/);
      assert.deepEqual(opened, []);
    });

    it('--allow-from (repeatable, comma-separated) asks for an allow-list and prints the tcp address', async () => {
      fake.on('GET /v1/sessions/ses_1a2b', { body: tcpSession() });
      fake.on('POST /v1/sessions/ses_1a2b/start-service', {
        body: startResult({ appUrl: 'tcp://127.0.0.1:7105', setupUrl: null, expiresAt: null }),
      });
      const r = await runCli(
        ['app', 'open', 'ses_1a2b', 'echo', '--allow-from', '10.0.0.0/8,192.168.1.7', '--allow-from', '::1'],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.requests.at(-1)!.body, {
        service: 'echo',
        access: { mode: 'allow-list', allowFrom: ['10.0.0.0/8', '192.168.1.7', '::1'] },
      });
      assert.match(
        r.stdout,
        /^TCP address \(connect from an allowed address\):\n\n {2}tcp:\/\/127\.0\.0\.1:7105\n/,
      );
      const pub = await runCli(['app', 'open', 'ses_1a2b', 'echo', '--access', 'public'], { env });
      assert.equal(pub.code, 0, pub.stderr);
      assert.deepEqual(fake.requests.at(-1)!.body, { service: 'echo', access: { mode: 'public' } });
    });

    it('inconsistent access options are usage errors', async () => {
      for (const [args, message] of [
        [['--access', 'allow-list'], /--access allow-list needs --allow-from/],
        [['--access', 'public', '--allow-from', '10.0.0.0/8'], /--allow-from goes with --access allow-list/],
        [['--access', 'everyone'], /Allowed choices are tunnel, allow-list, public/],
      ] as const) {
        const r = await runCli(['app', 'open', 'ses_1a2b', 'echo', ...args], { env });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
      }
      assert.equal(fake.requests.length, 0);
    });

    it('circuit get shows the access mode and idle timeouts of a tcp circuit', async () => {
      fake.on('GET /v1/circuits/cir_9z', {
        body: circuit({
          service: 'echo',
          protocol: 'tcp',
          appUrl: 'tcp://127.0.0.1:7105',
          access: { mode: 'allow-list', allowFrom: ['10.0.0.0/8', '::1'] },
          idle: { connectionIdleTimeoutMs: 1_800_000, circuitIdleTimeoutMs: 3_600_000 },
        }),
      });
      const r = await runCli(['circuit', 'get', 'cir_9z'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Access\s+allow-list \(10\.0\.0\.0\/8, ::1\)$/m);
      assert.match(r.stdout, /^Idle timeouts\s+connection 30m, circuit 1h$/m);
    });
  });

  describe('circuit, worker, template', () => {
    it('circuit list filters by a session given by name', async () => {
      fake.on('GET /v1/sessions', { body: { items: [session()] } });
      fake.on('GET /v1/circuits', { body: { items: [circuit()] } });
      const r = await runCli(['circuit', 'list', '--session', 'demo-1a2b'], {
        env,
        io: { now: () => Date.parse('2025-01-01T00:00:30Z') },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fake.requests.at(-1)!.url, '/v1/circuits?sessionId=ses_1a2b');
      assert.equal(
        r.stdout,
        [
          'ID      SESSION   SERVICE  STATE   WORKER          APP URL                 AGE',
          'cir_9z  ses_1a2b  web      ACTIVE  127.0.0.1:7080  http://127.0.0.1:7101/  30s',
          '',
        ].join('\n'),
      );
    });

    it('circuit get, delete and activity', async () => {
      fake.on('GET /v1/circuits/cir_9z', { body: circuit() });
      fake.on('DELETE /v1/circuits/cir_9z', {
        body: circuit({ state: 'CLOSED', closedAt: '2025-01-01T00:01:00Z' }),
      });
      fake.on('GET /v1/circuits/cir_9z/activity', {
        body: { idleSince: '2025-01-01T00:00:10Z', policy: { idleTimeoutMs: 600000 }, openConnections: 0 },
      });
      const g = await runCli(['circuit', 'get', 'cir_9z'], { env });
      assert.equal(g.code, 0, g.stderr);
      assert.match(g.stdout, /^Frontend\s+port, port 7101$/m);
      assert.match(g.stdout, /^Backends\s+127\.0\.0\.1:41000$/m);
      const d = await runCli(['circuit', 'delete', 'cir_9z'], { env });
      assert.equal(d.stdout, 'circuit cir_9z closed\n');
      assert.equal(fake.requests.at(-1)!.method, 'DELETE');
      const a = await runCli(['circuit', 'activity', 'cir_9z'], { env });
      assert.equal(
        a.stdout,
        'idleSince             2025-01-01T00:00:10Z\npolicy.idleTimeoutMs  600000\nopenConnections       0\n',
      );
      const aj = await runCli(['circuit', 'activity', 'cir_9z', '--json'], { env });
      assert.equal(JSON.parse(aj.stdout).policy.idleTimeoutMs, 600000);
    });

    it('circuit events prints the lifecycle events as a table; --json the raw {items}', async () => {
      const mine = events.filter((e) => e.circuitId === 'cir_9z');
      fake.on('GET /v1/circuits/cir_9z/events', { body: { items: mine } });
      const r = await runCli(['circuit', 'events', 'cir_9z'], { env, tty: true });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fake.requests.at(-1)!.url, '/v1/circuits/cir_9z/events');
      // On a terminal the headers are bold and the idle actions stand out.
      assert.ok(r.stdout.startsWith('\x1b[1mTIME\x1b[22m'), JSON.stringify(r.stdout));
      assert.ok(r.stdout.includes('\x1b[33mcircuit-idle-closed\x1b[39m  cir_9z'), JSON.stringify(r.stdout));
      const plainOut = await runCli(['circuit', 'events', 'cir_9z'], { env });
      assert.equal(
        plainOut.stdout.split('\n')[0],
        'TIME                      KIND                 CIRCUIT  DETAIL',
      );
      assert.equal(plainOut.stdout.split('\n').length, 4);
      const j = await runCli(['circuit', 'events', 'cir_9z', '--json'], { env });
      assert.deepEqual(JSON.parse(j.stdout), { items: mine });
      fake.on('GET /v1/circuits/nope/events', {
        status: 404,
        body: envelope('AP_ERR_CIRCUIT_NOT_FOUND', 'No such circuit.', 'req-c'),
      });
      const nf = await runCli(['circuit', 'events', 'nope'], { env });
      assert.equal(nf.code, 1);
      assert.equal(nf.stderr, 'error: No such circuit. [AP_ERR_CIRCUIT_NOT_FOUND] (request req-c)\n');
    });

    it('worker list and template list', async () => {
      fake.on('GET /v1/workers', {
        body: {
          items: [
            worker(),
            worker({
              authority: 'w2:7080',
              frontendMode: 'wildcard',
              protocols: ['http'],
              portRange: null,
              wildcardDomain: 'apps.example.com',
              publicScheme: 'https',
              publicHost: 'apps.example.com',
              publicPort: 443,
              healthy: false,
              circuits: 12,
              lastSeenAt: null,
            }),
          ],
        },
      });
      fake.on('GET /v1/templates', {
        body: {
          items: [
            {
              name: 'demo',
              description: 'A demo app',
              available: true,
              unavailableReason: null,
              services: [{ name: 'web', protocol: 'http' }],
            },
            {
              name: 'jupyter',
              description: 'JupyterLab',
              available: false,
              unavailableReason: 'jupyter not installed',
              services: [{ name: 'lab', protocol: 'http' }],
            },
          ],
        },
      });
      const w = await runCli(['worker', 'list'], {
        env,
        io: { now: () => Date.parse('2025-01-01T00:00:03Z') },
      });
      assert.equal(w.code, 0, w.stderr);
      assert.equal(
        w.stdout,
        [
          'AUTHORITY       MODE      PROTOCOLS  SLOTS               PUBLIC                        HEALTHY  CIRCUITS  LAST SEEN',
          '127.0.0.1:7080  port      http,tcp   7100-7199           http://127.0.0.1              yes             1     3s ago',
          'w2:7080         wildcard  http       *.apps.example.com  https://apps.example.com:443  no             12          -',
          '',
        ].join('\n'),
      );
      const t = await runCli(['template', 'list'], { env });
      assert.equal(
        t.stdout,
        [
          'NAME     AVAILABLE                   SERVICES    DESCRIPTION',
          'demo     yes                         web (http)  A demo app',
          'jupyter  no (jupyter not installed)  lab (http)  JupyterLab',
          '',
        ].join('\n'),
      );
    });
  });

  describe('connection, token and errors', () => {
    it('the token comes from --token, else APPPROXY_TOKEN, else <data dir>/admin-token', async () => {
      fake.on('GET /v1/templates', { body: { items: [] } });
      const dataDir = emptyDataDir();
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(path.join(dataDir, 'admin-token'), 'from-file\n');
      await runCli(['template', 'list', '--url', fake.url], { env: { APPPROXY_DATA_DIR: dataDir } });
      await runCli(['template', 'list', '--url', fake.url], {
        env: { APPPROXY_DATA_DIR: dataDir, APPPROXY_TOKEN: 'from-env' },
      });
      await runCli(['--token', 'from-flag', 'template', 'list'], {
        env: { APPPROXY_URL: fake.url, APPPROXY_DATA_DIR: dataDir, APPPROXY_TOKEN: 'from-env' },
      });
      assert.deepEqual(
        fake.requests.map((q) => q.authorization),
        ['Bearer from-file', 'Bearer from-env', 'Bearer from-flag'],
      );
    });

    it('the data dir defaults to ./.appproxy under the working directory', async () => {
      fake.on('GET /v1/templates', { body: { items: [] } });
      const cwd = emptyDataDir();
      mkdirSync(path.join(cwd, '.appproxy'));
      writeFileSync(path.join(cwd, '.appproxy', 'admin-token'), 'cwd-token');
      await runCli(['template', 'list'], {
        env: { APPPROXY_URL: fake.url, APPPROXY_DATA_DIR: undefined },
        io: { cwd },
      });
      assert.equal(fake.requests.at(-1)!.authorization, 'Bearer cwd-token');
    });

    it('a 401 without any token explains where tokens come from', async () => {
      fake.on('GET /v1/sessions', {
        status: 401,
        body: envelope(
          'AP_ERR_UNAUTHENTICATED',
          'An API token is required (Authorization: Bearer <token>).',
          'req-a',
        ),
      });
      const dataDir = emptyDataDir();
      const r = await runCli(['session', 'list'], {
        env: { APPPROXY_URL: fake.url, APPPROXY_DATA_DIR: dataDir },
      });
      assert.equal(r.code, 1);
      assert.equal(fake.requests.at(-1)!.authorization, undefined);
      assert.equal(
        r.stderr,
        'error: An API token is required (Authorization: Bearer <token>). [AP_ERR_UNAUTHENTICATED] (request req-a)\n' +
          'hint: no API token found: run `appproxy login`, pass --token, set APPPROXY_TOKEN, ' +
          `or run \`appproxy up\` (it writes ${path.join(dataDir, 'admin-token')})\n`,
      );
    });

    it('an unreachable manager is a clear failure', async () => {
      const url = await closedPortUrl();
      const r = await runCli(['session', 'list', '--url', url], { env });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `error: cannot reach the manager at ${url} (ECONNREFUSED) — is \`appproxy up\` running?\n`,
      );
      // fetch refuses some ports outright; the inner reason is shown rather than "fetch failed".
      const bad = await runCli(['session', 'list', '--url', 'http://127.0.0.1:1'], { env });
      assert.equal(
        bad.stderr,
        'error: cannot reach the manager at http://127.0.0.1:1 (bad port) — is `appproxy up` running?\n',
      );
    });

    it('an invalid --url is a usage error', async () => {
      const r = await runCli(['session', 'list', '--url', 'not a url'], { env });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: invalid manager URL "not a url"/);
    });
  });

  describe('argument parsing', () => {
    it('an unknown option exits 2 with a message', async () => {
      const r = await runCli(['session', 'list', '--bogus'], { env });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, "error: unknown option '--bogus'\n(run with --help for usage)\n");
      assert.equal(r.stdout, '');
      assert.equal(fake.requests.length, 0);
    });

    it('an unknown command, a missing argument or no command at all exit 2', async () => {
      const u = await runCli(['sesion', 'list'], { env });
      assert.equal(u.code, 2);
      assert.match(u.stderr, /unknown command 'sesion'\n\(Did you mean session\?\)/);
      const m = await runCli(['session', 'create'], { env });
      assert.equal(m.code, 2);
      assert.match(m.stderr, /missing required argument 'template'/);
      const n = await runCli([], { env });
      assert.equal(n.code, 2);
      assert.match(n.stderr, /^Usage: appproxy/);
    });

    it('--help and --version print to stdout and exit 0', async () => {
      const h = await runCli(['--help'], { env });
      assert.equal(h.code, 0);
      assert.match(h.stdout, /Usage: appproxy \[options\] \[command\]/);
      assert.match(h.stdout, /<data dir>\/admin-token/);
      assert.match(h.stdout, /APPPROXY_DATA_DIR/);
      const sh = await runCli(['app', 'open', '--help'], { env });
      assert.equal(sh.code, 0);
      assert.match(sh.stdout, /Usage: appproxy app open \[options\] <session> <service>/);
      const v = await runCli(['--version'], { env });
      assert.equal(v.code, 0);
      assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    });
  });
});
