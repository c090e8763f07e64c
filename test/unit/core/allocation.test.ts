import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppProxyError } from '../../../src/contracts/errors.ts';
import type { WorkerRegistration } from '../../../src/contracts/kv-layout.ts';
import {
  accepts,
  allocate,
  appUrlFor,
  chooseSlot,
  InflightSlots,
  lowestFreePort,
  randomSubdomain,
  resolveFrontendMode,
  type SlotChoice,
  setupUrlFor,
  type WorkerSlots,
} from '../../../src/core/allocation.ts';
import {
  CIRCUIT_TRANSITIONS,
  canCircuitMove,
  canSessionMove,
  circuitSourcesOf,
  SESSION_TRANSITIONS,
  sessionSourcesOf,
} from '../../../src/core/state-machines.ts';
import { UniqueViolation } from '../../../src/stores/types.ts';

function reg(authority: string, over: Partial<WorkerRegistration> = {}): WorkerRegistration {
  const mode = over.frontendMode ?? 'port';
  return {
    authority,
    frontendMode: mode,
    protocols: ['http', 'tcp'],
    portRange: mode === 'port' ? [10000, 10009] : null,
    wildcardDomain: mode === 'wildcard' ? 'apps.test' : null,
    publicScheme: 'http',
    publicHost: 'h',
    publicPort: null,
    startedAt: '2024-01-01T00:00:00Z',
    ...over,
  };
}

function slots(r: WorkerRegistration, live = 0, ports: number[] = [], subs: string[] = []): WorkerSlots {
  return { registration: r, liveCircuits: live, takenPorts: new Set(ports), takenSubdomains: new Set(subs) };
}

describe('allocation', () => {
  test('lowest free port skips taken ones and returns null when the range is full', () => {
    assert.equal(
      lowestFreePort([5, 9], () => false),
      5,
    );
    assert.equal(
      lowestFreePort([5, 9], (p) => p < 8),
      8,
    );
    assert.equal(
      lowestFreePort([5, 9], () => true),
      null,
    );
    assert.equal(
      lowestFreePort([7, 7], () => false),
      7,
    );
  });

  test('random subdomain is 6 lowercase hex and varies', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = randomSubdomain();
      assert.match(s, /^[0-9a-f]{6}$/);
      seen.add(s);
    }
    assert.ok(seen.size > 190);
  });

  test('least loaded worker wins; ties go to the smaller authority', () => {
    const a = reg('a');
    const b = reg('b');
    const c1 = chooseSlot([slots(a, 3, [10000, 10001, 10002]), slots(b, 1, [10000])], 'http', 'port');
    assert.deepEqual(c1, { authority: 'b', frontendMode: 'port', port: 10001, subdomain: null });
    const c2 = chooseSlot([slots(b, 0), slots(a, 0)], 'http', 'port');
    assert.equal((c2 as SlotChoice).authority, 'a');
  });

  test('in-flight reservations count as load and as taken ports', () => {
    const inflight = new InflightSlots();
    const a = reg('a');
    const b = reg('b');
    const first = chooseSlot([slots(a), slots(b)], 'http', 'port', { inflight }) as SlotChoice;
    const release = inflight.reserve(first);
    const second = chooseSlot([slots(a), slots(b)], 'http', 'port', { inflight }) as SlotChoice;
    assert.equal(first.authority, 'a');
    assert.equal(second.authority, 'b');
    inflight.reserve(second);
    const third = chooseSlot([slots(a), slots(b)], 'http', 'port', { inflight }) as SlotChoice;
    assert.deepEqual([third.authority, third.port], ['a', 10001]);
    release();
    release(); // idempotent
    assert.equal(inflight.count('a'), 0);
    assert.equal(inflight.hasPort('a', 10000), false);
  });

  test('a full worker yields to the next one; all full is no-slot; none eligible is no-worker', () => {
    const full = Array.from({ length: 10 }, (_, i) => 10000 + i);
    const a = reg('a');
    const b = reg('b', { portRange: [11000, 11000] });
    assert.deepEqual(chooseSlot([slots(a, 0, full), slots(b, 5)], 'http', 'port'), {
      authority: 'b',
      frontendMode: 'port',
      port: 11000,
      subdomain: null,
    });
    assert.equal(chooseSlot([slots(a, 0, full), slots(b, 1, [11000])], 'http', 'port'), 'no-slot');
    assert.equal(chooseSlot([], 'http', 'port'), 'no-worker');
    assert.equal(chooseSlot([slots(reg('h', { protocols: ['http'] }))], 'tcp', 'port'), 'no-worker');
    assert.equal(chooseSlot([slots(a)], 'http', 'wildcard'), 'no-worker');
  });

  test('wildcard workers carry http only and get a random free label', () => {
    const w = reg('w', { frontendMode: 'wildcard' });
    assert.equal(accepts(w, 'tcp', 'wildcard'), false);
    const draws = [Buffer.from('abcdef', 'hex'), Buffer.from('123456', 'hex')];
    const c = chooseSlot([slots(w, 1, [], ['abcdef'])], 'http', 'wildcard', { random: () => draws.shift()! });
    assert.deepEqual(c, { authority: 'w', frontendMode: 'wildcard', port: null, subdomain: '123456' });
  });

  test('default frontend mode: port when available for the protocol, else wildcard', () => {
    const p = reg('p');
    const w = reg('w', { frontendMode: 'wildcard' });
    assert.equal(resolveFrontendMode([w, p], 'http'), 'port');
    assert.equal(resolveFrontendMode([w], 'http'), 'wildcard');
    assert.equal(resolveFrontendMode([w], 'tcp'), null);
    assert.equal(resolveFrontendMode([p], 'http', 'wildcard'), null);
    assert.equal(resolveFrontendMode([], 'http'), null);
  });

  test('allocate retries with the next candidate on a unique violation', async () => {
    const a = reg('a');
    const tried: number[] = [];
    const committed = new Set<number>();
    const res = await allocate({
      protocol: 'http',
      mode: 'port',
      // The racing inserts are invisible to our reads (another manager's uncommitted rows).
      load: async () => [slots(a, 0, [])],
      insert: async (c) => {
        tried.push(c.port!);
        if (c.port! < 10002) {
          committed.add(c.port!);
          throw new UniqueViolation('circuits_worker_port_live');
        }
        return `row-${c.port}`;
      },
    });
    assert.deepEqual(tried, [10000, 10001, 10002]);
    assert.equal(res.value, 'row-10002');
    assert.equal(res.attempts, 3);
  });

  test('allocate gives up with AP_ERR_NO_SLOT after bounded attempts and rethrows other errors', async () => {
    await assert.rejects(
      allocate({
        protocol: 'http',
        mode: 'port',
        maxAttempts: 4,
        load: async () => [slots(reg('a', { portRange: [1, 1000] }))],
        insert: async () => {
          throw new UniqueViolation(undefined);
        },
      }),
      (err: unknown) => err instanceof AppProxyError && err.code === 'AP_ERR_NO_SLOT',
    );
    await assert.rejects(
      allocate({ protocol: 'http', mode: 'port', load: async () => [], insert: async () => 1 }),
      (err: unknown) => err instanceof AppProxyError && err.code === 'AP_ERR_NO_WORKER',
    );
    await assert.rejects(
      allocate({
        protocol: 'http',
        mode: 'port',
        load: async () => [slots(reg('a'))],
        insert: async () => {
          throw new Error('boom');
        },
      }),
      /boom/,
    );
  });

  test('concurrent allocations in one process get distinct ports without racing', async () => {
    const a = reg('a', { portRange: [1, 100] });
    const inflight = new InflightSlots();
    const db = new Set<number>();
    let violations = 0;
    const one = () =>
      allocate({
        protocol: 'http',
        mode: 'port',
        inflight,
        load: async () => {
          await new Promise((r) => setImmediate(r));
          return [slots(a, db.size, [...db])];
        },
        insert: async (c) => {
          await new Promise((r) => setImmediate(r));
          if (db.has(c.port!)) {
            violations++;
            throw new UniqueViolation(undefined);
          }
          db.add(c.port!);
          return c.port!;
        },
      });
    const ports = (await Promise.all(Array.from({ length: 30 }, one))).map((r) => r.value);
    assert.equal(new Set(ports).size, 30);
    assert.equal(violations, 0);
  });

  test('app and setup URLs', () => {
    const p = reg('p', { publicHost: '127.0.0.1' });
    assert.equal(
      appUrlFor(p, { authority: 'p', frontendMode: 'port', port: 10001, subdomain: null }),
      'http://127.0.0.1:10001/',
    );
    assert.equal(
      appUrlFor(reg('6', { publicHost: '::1' }), {
        authority: '6',
        frontendMode: 'port',
        port: 1,
        subdomain: null,
      }),
      'http://[::1]:1/',
    );
    const w = reg('w', { frontendMode: 'wildcard', publicScheme: 'https', publicPort: 8443 });
    assert.equal(
      appUrlFor(w, { authority: 'w', frontendMode: 'wildcard', port: null, subdomain: 'abc123' }),
      'https://abc123.apps.test:8443/',
    );
    assert.equal(
      setupUrlFor('http://h:1/', 'tok', '/lab?x=1'),
      'http://h:1/_appproxy/setup?token=tok&next=%2Flab%3Fx%3D1',
    );
    assert.equal(setupUrlFor('http://h:1/', 'tok'), 'http://h:1/_appproxy/setup?token=tok&next=%2F');
  });
});

describe('state machines', () => {
  test('sessions move forward only; final states are final', () => {
    assert.ok(canSessionMove('PENDING', 'RUNNING'));
    assert.ok(canSessionMove('RUNNING', 'TERMINATING'));
    assert.ok(canSessionMove('TERMINATING', 'TERMINATED'));
    assert.ok(canSessionMove('RUNNING', 'ERROR'));
    assert.ok(!canSessionMove('RUNNING', 'PENDING'));
    assert.ok(!canSessionMove('TERMINATING', 'RUNNING'));
    assert.ok(!canSessionMove('RUNNING', 'TERMINATED'), 'termination always passes through TERMINATING');
    assert.deepEqual(SESSION_TRANSITIONS.TERMINATED, []);
    assert.deepEqual(SESSION_TRANSITIONS.ERROR, []);
    assert.deepEqual(sessionSourcesOf('TERMINATING').sort(), ['PENDING', 'RUNNING']);
    assert.deepEqual(sessionSourcesOf('RUNNING'), ['PENDING']);
  });

  test('circuits always pass through CLOSING before CLOSED', () => {
    assert.ok(canCircuitMove('PENDING', 'ACTIVE'));
    assert.ok(canCircuitMove('ACTIVE', 'CLOSING'));
    assert.ok(canCircuitMove('PENDING', 'CLOSING'));
    assert.ok(canCircuitMove('CLOSING', 'CLOSED'));
    assert.ok(!canCircuitMove('ACTIVE', 'CLOSED'));
    assert.ok(!canCircuitMove('CLOSING', 'ACTIVE'));
    assert.ok(!canCircuitMove('CLOSED', 'PENDING'));
    assert.deepEqual(CIRCUIT_TRANSITIONS.CLOSED, []);
    assert.deepEqual(circuitSourcesOf('CLOSED'), ['CLOSING']);
    assert.deepEqual(circuitSourcesOf('CLOSING').sort(), ['ACTIVE', 'PENDING', 'UNAVAILABLE']);
    // A worker that stops answering / comes back: ACTIVE ⇄ UNAVAILABLE, never from PENDING or CLOSING.
    assert.deepEqual(circuitSourcesOf('UNAVAILABLE'), ['ACTIVE']);
    assert.deepEqual(circuitSourcesOf('ACTIVE').sort(), ['PENDING', 'UNAVAILABLE']);
    assert.ok(!canCircuitMove('UNAVAILABLE', 'CLOSED'));
  });
});
