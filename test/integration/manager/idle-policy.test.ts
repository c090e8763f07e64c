/**
 * Idle settings (precedence, limits) and idle policies on the leader: the circuit idle policy
 * closes an idle circuit at its timeout and not before, activity keeps circuits alive, the session
 * idle policy terminates a session only when every live circuit is idle, events are recorded, and
 * the activity endpoint explains each case. Real embedded stores and fake workers; activity is
 * written into the counters store as the workers' flusher does. The last suite runs the real
 * embedded system, where a real worker's HTTP traffic is what keeps a circuit alive.
 *
 * Timing: timeouts of about a second; assertions are "not before T" (exact, from the recorded
 * event times, which come from the same clock as the circuit's creation) and "within T + a
 * generous margin".
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { counterKeys } from '../../../src/contracts/activity.ts';
import type { TemplateInfo } from '../../../src/contracts/agent.ts';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { CircuitActivitySchema, SessionSchema } from '../../../src/manager/schemas.ts';
import { READ_CHUNK_KEYS, readLastActivity } from '../../../src/manager/services/activity.ts';
import { EmbeddedCounterStore } from '../../../src/stores/embedded/counters.ts';
import { FakeAgent } from '../../support/fake-agent.ts';
import { CookieJar, followSetup, request } from '../../support/http.ts';
import { until } from '../../support/poll.ts';
import { runningSession, startTestSystem } from '../../support/system.ts';
import { assertEnvelope, ManagerHarness } from './harness.ts';

/** Generous bound on how late a policy may act (loop wake-up, SQL, a loaded CI machine). */
const MARGIN_MS = 2500;

const start = (h: ManagerHarness, sessionId: string, body: Record<string, unknown>) =>
  h.api('POST', `/v1/sessions/${sessionId}/start-service`, body);

/** Writes a byte's worth of activity as a worker's flusher does (timestamps kept with `max`). */
async function touch(
  h: ManagerHarness,
  circuitId: string,
  side: 'client' | 'backend' = 'client',
): Promise<number> {
  const now = Date.now();
  const key = side === 'client' ? counterKeys.lastClientAt(circuitId) : counterKeys.lastBackendAt(circuitId);
  await h.counters.batch([
    { type: 'incr', key: counterKeys.bytesIn(circuitId), by: 1 },
    { type: 'max', key, value: now },
  ]);
  return now;
}

async function createdAt(h: ManagerHarness, circuitId: string): Promise<number> {
  return Date.parse((await h.api('GET', `/v1/circuits/${circuitId}`)).body.createdAt);
}

async function events(
  h: ManagerHarness,
  path: string,
): Promise<{ kind: string; at: string; detail: string }[]> {
  const res = await h.api('GET', `${path}/events`);
  assert.equal(res.status, 200, res.text);
  return res.body.items;
}

const TEMPLATES: TemplateInfo[] = [
  {
    name: 'plain',
    description: 'no idle defaults',
    available: true,
    unavailableReason: null,
    services: [
      { name: 'http', protocol: 'http' },
      { name: 'ssh', protocol: 'tcp' },
    ],
  },
  {
    name: 'tidy',
    description: 'idle defaults of its own',
    available: true,
    unavailableReason: null,
    services: [
      { name: 'http', protocol: 'http' },
      { name: 'ssh', protocol: 'tcp' },
    ],
    idle: {
      connectionIdleTimeoutMs: 120_000,
      circuitIdleTimeoutMs: 600_000,
      sessionIdleTimeoutMs: 3_600_000,
    },
  },
];

describe('idle settings', () => {
  test('precedence: request > session > template > config, with the source of each', async () => {
    const h = await ManagerHarness.create({
      agent: new FakeAgent(TEMPLATES),
      manager: {
        idlePolicy: {
          defaultConnectionIdleTimeoutMs: 90_000,
          defaultCircuitIdleTimeoutMs: 1_800_000,
          defaultSessionIdleTimeoutMs: null,
        },
      },
    });
    try {
      const settings = async (circuitId: string) => {
        const c = (await h.api('GET', `/v1/circuits/${circuitId}`)).body;
        const spec = JSON.parse((await h.kv.get(kvKeys.circuit('w1', circuitId)))!.value) as CircuitSpec;
        assert.equal(
          spec.idleTimeoutMs,
          c.idle.connectionIdleTimeoutMs,
          'the worker gets the connection timeout',
        );
        const act = (await h.api('GET', `/v1/circuits/${circuitId}/activity`)).body;
        assert.ok(Value.Check(CircuitActivitySchema, act), JSON.stringify(act));
        const sources = Object.fromEntries(
          act.policies.map((p: { policy: string; source: string; timeoutMs: number }) => [
            p.policy,
            `${p.timeoutMs}/${p.source}`,
          ]),
        );
        return { idle: c.idle, sources };
      };

      // Config only.
      const plain = await h.runningSession('plain');
      assert.equal(plain.idleTimeoutMs, null);
      const p1 = (await start(h, plain.id, { service: 'http' })).body.circuitId;
      assert.deepEqual(await settings(p1), {
        idle: { connectionIdleTimeoutMs: 90_000, circuitIdleTimeoutMs: 1_800_000 },
        sources: { 'circuit-idle': '1800000/config' },
      });

      // The template's defaults win over the configuration.
      const tidy = await h.runningSession('tidy');
      assert.equal(tidy.idleTimeoutMs, 3_600_000);
      const t1 = (await start(h, tidy.id, { service: 'http' })).body.circuitId;
      assert.deepEqual(await settings(t1), {
        idle: { connectionIdleTimeoutMs: 120_000, circuitIdleTimeoutMs: 600_000 },
        sources: { 'circuit-idle': '600000/template', 'session-idle': '3600000/template' },
      });

      // The session's own settings win over the template's; null turns a policy off.
      const created = await h.api('POST', '/v1/sessions', {
        template: 'tidy',
        idle: {
          circuitIdleTimeoutMs: null,
          connectionIdleTimeoutMs: 45_000,
          sessionIdleTimeoutMs: 7_200_000,
        },
      });
      assert.equal(created.status, 201, created.text);
      assert.ok(Value.Check(SessionSchema, created.body));
      assert.equal(created.body.idleTimeoutMs, 7_200_000);
      const own = await h.sessionIn(created.body.id, 'RUNNING');
      const s1 = (await start(h, own.id, { service: 'http' })).body.circuitId;
      assert.deepEqual(await settings(s1), {
        idle: { connectionIdleTimeoutMs: 45_000, circuitIdleTimeoutMs: null },
        sources: { 'session-idle': '7200000/session' },
      });

      // The start-service request wins over the session's (for a new circuit).
      const r1 = (
        await start(h, own.id, {
          service: 'ssh',
          idle: { circuitIdleTimeoutMs: 300_000, connectionIdleTimeoutMs: 5000 },
        })
      ).body.circuitId;
      assert.deepEqual(await settings(r1), {
        idle: { connectionIdleTimeoutMs: 5000, circuitIdleTimeoutMs: 300_000 },
        sources: { 'circuit-idle': '300000/request', 'session-idle': '7200000/session' },
      });
      // A re-used circuit keeps its settings.
      const again = await start(h, own.id, { service: 'ssh', idle: { circuitIdleTimeoutMs: 900_000 } });
      assert.deepEqual([again.body.circuitId, again.body.reused], [r1, true]);
      assert.equal((await settings(r1)).idle.circuitIdleTimeoutMs, 300_000);
    } finally {
      await h.close();
    }
  });

  test("out of the administrator's limits: 400 AP_ERR_POLICY_OUT_OF_RANGE with {field, min, max}; nothing created", async () => {
    const h = await ManagerHarness.create({
      manager: { idlePolicy: { minTimeoutMs: 60_000, maxTimeoutMs: 3_600_000, allowNever: false } },
    });
    try {
      const sessionsBefore = (await h.api('GET', '/v1/sessions')).body.items.length;
      const low = await h.api('POST', '/v1/sessions', {
        template: 'web',
        idle: { sessionIdleTimeoutMs: 59_999 },
      });
      assertEnvelope(low, 400, 'AP_ERR_POLICY_OUT_OF_RANGE');
      assert.deepEqual(low.body.detail, {
        field: '/idle/sessionIdleTimeoutMs',
        min: 60_000,
        max: 3_600_000,
        allowNever: false,
      });
      const never = await h.api('POST', '/v1/sessions', {
        template: 'web',
        idle: { circuitIdleTimeoutMs: null },
      });
      assertEnvelope(never, 400, 'AP_ERR_POLICY_OUT_OF_RANGE');
      assert.equal(never.body.detail.field, '/idle/circuitIdleTimeoutMs');
      const external = await h.api('POST', '/v1/sessions', {
        external: { services: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 9 }] },
        idle: { connectionIdleTimeoutMs: 3_600_001 },
      });
      assertEnvelope(external, 400, 'AP_ERR_POLICY_OUT_OF_RANGE');
      assert.equal((await h.api('GET', '/v1/sessions')).body.items.length, sessionsBefore);

      const s = await h.runningSession('shell');
      const high = await start(h, s.id, { service: 'ssh', idle: { connectionIdleTimeoutMs: 3_600_001 } });
      assertEnvelope(high, 400, 'AP_ERR_POLICY_OUT_OF_RANGE');
      assert.deepEqual(high.body.detail, {
        field: '/idle/connectionIdleTimeoutMs',
        min: 60_000,
        max: 3_600_000,
        allowNever: false,
      });
      assertEnvelope(
        await start(h, s.id, { service: 'http', idle: { circuitIdleTimeoutMs: null } }),
        400,
        'AP_ERR_POLICY_OUT_OF_RANGE',
      );
      // Malformed (not a range question) stays a validation error.
      assertEnvelope(
        await start(h, s.id, { service: 'http', idle: { circuitIdleTimeoutMs: 'soon' } }),
        400,
        'AP_ERR_VALIDATION',
      );
      assert.equal((await h.api('GET', `/v1/circuits?sessionId=${s.id}`)).body.items.length, 0);
      // At the limits is fine.
      const ok = await start(h, s.id, { service: 'http', idle: { circuitIdleTimeoutMs: 60_000 } });
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await h.close();
    }
  });
});

describe('circuit idle policy (leader)', () => {
  test('closes an idle circuit at its timeout and not before; activity keeps another alive', async () => {
    // A long check interval: acting on time is the deadline timer's doing, not the interval's.
    const h = await ManagerHarness.create({
      manager: { idlePolicy: { checkIntervalMs: 60_000, minTimeoutMs: 100 } },
    });
    try {
      const s = await h.runningSession('shell');
      const idle = (await start(h, s.id, { service: 'http', idle: { circuitIdleTimeoutMs: 800 } })).body
        .circuitId;
      const busy = (await start(h, s.id, { service: 'ssh', idle: { circuitIdleTimeoutMs: 800 } })).body
        .circuitId;
      const idleCreated = await createdAt(h, idle);

      // The busy circuit moves a byte every 150 ms for 2.4 s (three timeouts); the other nothing.
      let last = 0;
      const deadline = Date.now() + 2400;
      while (Date.now() < deadline) {
        last = await touch(h, busy, Math.random() < 0.5 ? 'client' : 'backend');
        assert.equal(await h.circuitState(busy), 'ACTIVE', 'a circuit with activity must stay');
        await new Promise((r) => setTimeout(r, 150)); // the pace of the activity is the scenario
      }
      const idleEvents = await events(h, `/v1/circuits/${idle}`);
      const closedEv = idleEvents.find((e) => e.kind === 'circuit-idle-closed');
      assert.ok(closedEv, JSON.stringify(idleEvents));
      const actedAfter = Date.parse(closedEv.at) - idleCreated;
      assert.ok(actedAfter >= 800, `acted ${actedAfter} ms after creation, before its 800 ms timeout`);
      assert.ok(actedAfter <= 800 + MARGIN_MS, `acted ${actedAfter} ms after creation`);
      assert.match(closedEv.detail, /circuit idle timeout 800ms/);
      await until(async () => (await h.circuitState(idle)) === 'CLOSED', 'the idle circuit to be CLOSED', {
        timeoutMs: 5000,
      });
      const c = (await h.api('GET', `/v1/circuits/${idle}`)).body;
      assert.match(c.stateReason, /^idle: no byte moved since/);
      assert.deepEqual(
        (await events(h, `/v1/circuits/${idle}`)).map((e) => e.kind),
        ['circuit-opened', 'circuit-idle-closed', 'circuit-closed'],
      );
      // The worker lost the route like for any close.
      assert.ok(h.workers[0]!.events.some((e) => e.type === 'route-removed' && e.circuitId === idle));

      // Once the busy circuit stops, it closes one timeout after its last byte, not before.
      const busyClosed = await until(
        async () => (await events(h, `/v1/circuits/${busy}`)).find((e) => e.kind === 'circuit-idle-closed'),
        'the busy circuit to go idle',
        { timeoutMs: 800 + MARGIN_MS + 1000 },
      );
      const after = Date.parse(busyClosed.at) - last;
      assert.ok(after >= 800, `closed ${after} ms after its last byte`);
      assert.ok(after <= 800 + MARGIN_MS, `closed ${after} ms after its last byte`);
      // The session stays: no session policy here.
      assert.equal((await h.api('GET', `/v1/sessions/${s.id}`)).body.state, 'RUNNING');
      const text = await (await h.api('GET', '/metrics', undefined, null)).text;
      assert.match(text, /appproxy_manager_idle_actions_total\{policy="circuit-idle"\} 2/);
    } finally {
      await h.close();
    }
  });

  test('a changed access restarts the idle clock; followers do not act', async () => {
    const h = await ManagerHarness.create({
      manager: { idlePolicy: { checkIntervalMs: 60_000, minTimeoutMs: 100 } },
    });
    try {
      const s = await h.runningSession('shell');
      const id = (await start(h, s.id, { service: 'ssh', idle: { circuitIdleTimeoutMs: 1000 } })).body
        .circuitId;
      // The scenario: the access changes 600 ms into the 1000 ms timeout; the close then counts
      // from the change, not from the creation (asserted from the event's time below).
      await new Promise((r) => setTimeout(r, 600));
      const patched = Date.now();
      await h.api('PATCH', `/v1/circuits/${id}/access`, { allowFrom: ['127.0.0.1'] });
      const ev = await until(
        async () => (await events(h, `/v1/circuits/${id}`)).find((e) => e.kind === 'circuit-idle-closed'),
        'the circuit-idle-closed event',
        { timeoutMs: 1000 + MARGIN_MS + 1000 },
      );
      assert.ok(Date.parse(ev.at) - patched >= 1000 - 50, 'the clock restarted at the access change');
    } finally {
      await h.close();
    }
    // A manager that does not lead runs no idle loop (but may run a pass on request).
    const h2 = await ManagerHarness.create({ noStart: true, manager: { idlePolicy: { minTimeoutMs: 100 } } });
    try {
      assert.equal(h2.manager.isLeader(), false);
      assert.deepEqual(await h2.manager.runIdlePolicies(), []);
    } finally {
      await h2.close();
    }
  });
});

describe('session idle policy (leader)', () => {
  test("a replica serving an endpoint is not idle while the endpoint's circuit moves bytes", async () => {
    const h = await ManagerHarness.create({
      manager: { idlePolicy: { checkIntervalMs: 60_000, minTimeoutMs: 100 } },
    });
    try {
      const created = await h.api('POST', '/v1/sessions', {
        template: 'shell',
        idle: { sessionIdleTimeoutMs: 1000 },
      });
      const sid = created.body.id as string;
      await h.sessionIn(sid, 'RUNNING');
      await start(h, sid, { service: 'http' });
      const ep = await h.api('POST', '/v1/endpoints', {
        name: 'served',
        routes: [{ id: 'r', session: sid, service: 'http' }],
      });
      assert.equal(ep.status, 201, ep.text);
      // The session's own circuit is quiet; the endpoint's circuit streams (its worker's flusher).
      let last = 0;
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline) {
        last = await touch(h, ep.body.circuitId, 'backend');
        assert.equal((await h.api('GET', `/v1/sessions/${sid}`)).body.state, 'RUNNING');
        await new Promise((r) => setTimeout(r, 150)); // the pace of the activity is the scenario
      }
      // The endpoint goes quiet: the replica is reclaimed one timeout after its last byte.
      const ev = await until(
        async () =>
          (await events(h, `/v1/sessions/${sid}`)).find((e) => e.kind === 'session-idle-terminated'),
        'the session idle policy',
        { timeoutMs: 1000 + MARGIN_MS + 1000 },
      );
      assert.ok(Date.parse(ev.at) - last >= 1000);
    } finally {
      await h.close();
    }
  });

  test('terminates a session only once every live circuit is idle; explains why not before', async () => {
    const h = await ManagerHarness.create({
      manager: { idlePolicy: { checkIntervalMs: 60_000, minTimeoutMs: 100 } },
    });
    try {
      const created = await h.api('POST', '/v1/sessions', {
        template: 'shell',
        idle: { sessionIdleTimeoutMs: 1000 },
      });
      const sid = created.body.id as string;
      await h.sessionIn(sid, 'RUNNING');
      const quiet = (await start(h, sid, { service: 'http' })).body.circuitId;
      const busy = (await start(h, sid, { service: 'ssh' })).body.circuitId;

      let last = 0;
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline) {
        last = await touch(h, busy, 'backend');
        assert.equal((await h.api('GET', `/v1/sessions/${sid}`)).body.state, 'RUNNING');
        await new Promise((r) => setTimeout(r, 150)); // the pace of the activity is the scenario
      }
      // The quiet circuit's view: the session policy applies but cannot act through it now.
      const act = (await h.api('GET', `/v1/circuits/${quiet}/activity`)).body;
      assert.ok(Value.Check(CircuitActivitySchema, act));
      assert.equal(act.policies.length, 1);
      const sp = act.policies[0]!;
      assert.deepEqual(
        [sp.policy, sp.timeoutMs, sp.source, sp.actsAt],
        ['session-idle', 1000, 'session', null],
      );
      assert.match(sp.explanation, new RegExp(`circuit ${busy} of the same session moved bytes`));
      assert.deepEqual(act.policy, sp);
      // The busy circuit's view: it holds the session; the policy acts one timeout after its last byte.
      const busyAct = (await h.api('GET', `/v1/circuits/${busy}/activity`)).body;
      assert.equal(Date.parse(busyAct.policy.actsAt), Date.parse(busyAct.idleSince) + 1000);
      assert.match(busyAct.policy.explanation, /Every live circuit of the session \(2\) idle since/);

      const ev = await until(
        async () =>
          (await events(h, `/v1/sessions/${sid}`)).find((e) => e.kind === 'session-idle-terminated'),
        'the session idle policy',
        { timeoutMs: 1000 + MARGIN_MS + 1000 },
      );
      const after = Date.parse(ev.at) - last;
      assert.ok(after >= 1000, `terminated ${after} ms after the last byte`);
      assert.ok(after <= 1000 + MARGIN_MS, `terminated ${after} ms after the last byte`);
      const s = await h.sessionIn(sid, 'TERMINATED');
      assert.match(s.stateReason ?? '', /^idle: every circuit of the session \(2\) idle since/);
      for (const c of [quiet, busy]) assert.equal(await h.circuitState(c), 'CLOSED');
      assert.ok(h.agent.terminated.some((t) => t.sessionId === sid));
      const kinds = (await events(h, `/v1/sessions/${sid}`)).map((e) => e.kind);
      assert.deepEqual(kinds.slice(0, 4), [
        'session-created',
        'session-running',
        'circuit-opened',
        'circuit-opened',
      ]);
      assert.equal(kinds[4], 'session-idle-terminated');
      assert.deepEqual(kinds.slice(5, 7).sort(), ['circuit-closed', 'circuit-closed']);
      assert.equal(kinds.at(-1), 'session-terminated');
      // Circuit events are the circuit's only.
      assert.deepEqual(
        (await events(h, `/v1/circuits/${quiet}`)).map((e) => e.kind),
        ['circuit-opened', 'circuit-closed'],
      );
    } finally {
      await h.close();
    }
  });

  test('a session without live circuits is not judged', async () => {
    const h = await ManagerHarness.create({
      manager: { idlePolicy: { checkIntervalMs: 100, minTimeoutMs: 100 } },
    });
    try {
      const created = await h.api('POST', '/v1/sessions', {
        template: 'shell',
        idle: { sessionIdleTimeoutMs: 300 },
      });
      const sid = created.body.id as string;
      await h.sessionIn(sid, 'RUNNING');
      // Longer than its 1000 ms timeout (wall time is what a timeout is about), then one pass run
      // here and now: it must not judge a session without circuits.
      await new Promise((r) => setTimeout(r, 1200));
      assert.deepEqual(await h.manager.runIdlePolicies(), []);
      assert.equal((await h.api('GET', `/v1/sessions/${sid}`)).body.state, 'RUNNING');
      // Once it has a circuit, its idle time counts from that circuit's creation.
      const c = (await start(h, sid, { service: 'http' })).body.circuitId;
      const opened = await createdAt(h, c);
      const ev = await until(
        async () =>
          (await events(h, `/v1/sessions/${sid}`)).find((e) => e.kind === 'session-idle-terminated'),
        'the session-idle-terminated event',
        { timeoutMs: 300 + MARGIN_MS },
      );
      assert.ok(Date.parse(ev.at) - opened >= 300);
    } finally {
      await h.close();
    }
  });
});

describe('reading activity scales', () => {
  class CountingCounters extends EmbeddedCounterStore {
    mgets = 0;
    keysRead = 0;
    override async mget(keys: string[]) {
      this.mgets++;
      this.keysRead += keys.length;
      return super.mget(keys);
    }
  }

  test('12k circuits are read in a few multi-gets, with the later of client and backend time', async () => {
    const counters = new CountingCounters();
    try {
      const ids = Array.from({ length: 12_000 }, (_, i) => `c${i}`);
      await counters.batch([
        { type: 'max', key: counterKeys.lastClientAt('c7'), value: 1000 },
        { type: 'max', key: counterKeys.lastBackendAt('c7'), value: 2000 },
        { type: 'max', key: counterKeys.lastBackendAt('c11999'), value: 5 },
      ]);
      const acts = await readLastActivity(counters, ids);
      assert.equal(counters.mgets, Math.ceil((2 * ids.length) / READ_CHUNK_KEYS));
      assert.ok(counters.mgets <= 3);
      assert.equal(acts.get('c7'), 2000);
      assert.equal(acts.get('c11999'), 5);
      assert.equal(acts.get('c0'), null);
      assert.equal(acts.size, ids.length);
    } finally {
      await counters.close();
    }
  });

  test('one pass reads the activity of every candidate circuit in one multi-get', async () => {
    const counters = new CountingCounters();
    const h = await ManagerHarness.create({
      counters,
      noStart: false,
      manager: { idlePolicy: { checkIntervalMs: 60_000 } },
    });
    try {
      const s = await h.runningSession('shell');
      const created = await h.api('POST', '/v1/sessions', {
        template: 'web',
        idle: { sessionIdleTimeoutMs: 3_600_000 },
      });
      await h.sessionIn(created.body.id, 'RUNNING');
      for (const svc of ['http', 'ssh'])
        await start(h, s.id, { service: svc, idle: { circuitIdleTimeoutMs: 3_600_000 } });
      await start(h, created.body.id, { service: 'http' });
      counters.mgets = 0;
      counters.keysRead = 0;
      assert.deepEqual(await h.manager.runIdlePolicies(), []);
      assert.deepEqual([counters.mgets, counters.keysRead], [1, 6]);
    } finally {
      await h.close();
    }
  });
});

describe('with the real worker (embedded system)', () => {
  test('HTTP requests through the worker keep a circuit alive; it closes once they stop', async () => {
    const t = await startTestSystem({
      manager: { port: 0, idlePolicy: { minTimeout: '100ms', checkInterval: '30s' } },
      worker: { activityFlushInterval: '100ms' },
    });
    try {
      const session = await runningSession(t, 'demo');
      const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, {
        service: 'web',
        idle: { circuitIdleTimeoutMs: 1500 },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const jar = new CookieJar();
      await followSetup(r.body.setupUrl, jar);
      let last = 0;
      const deadline = Date.now() + 4000;
      while (Date.now() < deadline) {
        const page = await request(r.body.appUrl, { jar });
        assert.equal(page.status, 200);
        last = Date.now();
        await new Promise((res) => setTimeout(res, 250)); // a request every 250 ms is the scenario
      }
      const c = await t.api('GET', `/v1/circuits/${r.body.circuitId}`);
      assert.equal(c.body.state, 'ACTIVE', 'requests are activity');
      const act = await t.api('GET', `/v1/circuits/${r.body.circuitId}/activity`);
      assert.ok(act.body.requests >= 10, JSON.stringify(act.body));
      assert.equal(act.body.policy.policy, 'circuit-idle');
      const closed = await until(
        async () => {
          const ev = await t.api('GET', `/v1/circuits/${r.body.circuitId}/events`);
          return ev.body.items.find((x: { kind: string }) => x.kind === 'circuit-idle-closed');
        },
        'the circuit-idle-closed event',
        { timeoutMs: last + 1500 + MARGIN_MS + 1000 - Date.now(), intervalMs: 50 },
      );
      const after = Date.parse(closed.at) - last;
      assert.ok(after >= 1500 - 100, `closed ${after} ms after the last request`);
      assert.ok(after <= 1500 + MARGIN_MS, `closed ${after} ms after the last request`);
      await assert.rejects(request(r.body.appUrl, { jar }), { code: 'ECONNREFUSED' });
    } finally {
      await t.close();
    }
  });
});
