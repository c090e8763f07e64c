import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import type { WorkerRegistration } from '../../../src/contracts/kv-layout.ts';
import {
  checkInvariants,
  type InvariantSnapshot,
  type SnapshotCircuit,
} from '../../../src/core/invariants.ts';

const NOW = Date.parse('2025-01-01T00:10:00Z');

function spec(id: string, o: Partial<CircuitSpec> = {}): CircuitSpec {
  return {
    id,
    sessionId: `s-${id}`,
    ownerId: 'u',
    service: 'http',
    protocol: 'http',
    frontendMode: 'port',
    port: 20001,
    subdomain: null,
    backends: [{ host: '127.0.0.1', port: 8000 }],
    ...o,
  };
}

function circuit(
  id: string,
  o: Partial<SnapshotCircuit> = {},
  s: Partial<CircuitSpec> = {},
): SnapshotCircuit {
  return {
    id,
    state: 'ACTIVE',
    worker: 'w1',
    sessionState: 'RUNNING',
    spec: spec(id, s),
    createdAt: NOW - 60_000,
    updatedAt: NOW - 60_000,
    ...o,
  };
}

const reg = { authority: 'w1' } as WorkerRegistration;

/** A consistent snapshot of the given circuits (routes and ready marks present), then `edit`. */
function snap(
  circuits: SnapshotCircuit[],
  edit: (s: InvariantSnapshot) => void = () => {},
): InvariantSnapshot {
  const s: InvariantSnapshot = {
    now: NOW,
    circuits,
    workers: [
      { authority: 'w1', frontendMode: 'port', portRange: [20000, 20009], lastSeenAt: NOW - 3_600_000 },
      { authority: 'wild', frontendMode: 'wildcard', portRange: null, lastSeenAt: NOW - 3_600_000 },
    ],
    registrations: [reg, { authority: 'wild' } as WorkerRegistration],
    routes: circuits.map((c) => ({ worker: c.worker, id: c.id, value: JSON.stringify(c.spec) })),
    readiness: circuits.map((c) => ({
      worker: c.worker,
      id: c.id,
      value: JSON.stringify({ state: 'ready', at: '' }),
    })),
    bounds: { workerGraceMs: 10_000, pendingMs: 15_000, closingMs: 10_000 },
  };
  edit(s);
  return s;
}

const kinds = (s: InvariantSnapshot) => checkInvariants(s).map((v) => `${v.kind} ${v.subject}`);

describe('invariants (doctor)', () => {
  test('a consistent snapshot has no violations; key order in a route does not matter', () => {
    const c = circuit('a');
    const s = snap([c, circuit('b', {}, { port: 20002 })], (x) => {
      const { backends, ...rest } = c.spec;
      x.routes[0]!.value = JSON.stringify({ backends, ...rest });
    });
    assert.deepEqual(checkInvariants(s), []);
  });

  test('route missing / stale / orphan; a young PENDING circuit may lack its route', () => {
    assert.deepEqual(kinds(snap([circuit('a')], (s) => (s.routes = []))), ['route-missing circuit/a']);
    assert.deepEqual(
      kinds(snap([circuit('a', { state: 'PENDING', createdAt: NOW - 1000 })], (s) => (s.routes = []))),
      [],
    );
    assert.deepEqual(
      kinds(snap([circuit('a')], (s) => (s.routes[0]!.value = JSON.stringify(spec('a', { port: 20005 }))))),
      ['route-stale circuit/a'],
    );
    assert.deepEqual(kinds(snap([], (s) => s.routes.push({ worker: 'w1', id: 'x', value: '{}' }))), [
      'route-orphan route/w1/x',
    ]);
  });

  test('two live circuits on one slot; slots outside the range or the mode', () => {
    assert.deepEqual(kinds(snap([circuit('a'), circuit('b')])), ['slot-shared slot/w1/port 20001']);
    assert.deepEqual(kinds(snap([circuit('a', {}, { port: 30000 })])), ['slot-invalid circuit/a']);
    assert.deepEqual(
      kinds(
        snap([circuit('a', { worker: 'wild' }, { frontendMode: 'wildcard', port: null, subdomain: 'XYZ' })]),
      ),
      ['slot-invalid circuit/a'],
    );
    assert.deepEqual(kinds(snap([circuit('a', { worker: 'wild' })])), ['slot-invalid circuit/a']);
  });

  test('a live circuit of a final session', () => {
    assert.deepEqual(kinds(snap([circuit('a', { sessionState: 'TERMINATED' })])), [
      'session-final circuit/a',
    ]);
    assert.deepEqual(kinds(snap([circuit('a', { sessionState: null })])), ['session-final circuit/a']);
  });

  test('ACTIVE on a worker gone past the grace (UNAVAILABLE is fine); ACTIVE without readiness', () => {
    const gone = (s: InvariantSnapshot) => {
      s.registrations = [];
      s.readiness = [];
    };
    assert.deepEqual(kinds(snap([circuit('a')], gone)), ['worker-gone circuit/a']);
    assert.deepEqual(kinds(snap([circuit('a', { state: 'UNAVAILABLE' })], gone)), []);
    assert.deepEqual(
      kinds(
        snap([circuit('a')], (s) => {
          gone(s);
          s.workers[0]!.lastSeenAt = NOW - 1000;
        }),
      ),
      [],
      'within the grace',
    );
    assert.deepEqual(kinds(snap([circuit('a')], (s) => (s.readiness = []))), ['readiness-missing circuit/a']);
    assert.deepEqual(
      kinds(
        snap(
          [circuit('a')],
          (s) =>
            (s.readiness[0]!.value = JSON.stringify({ state: 'error', code: 'X', message: 'm', at: '' })),
        ),
      ),
      ['readiness-missing circuit/a'],
    );
  });

  test('readiness marks of circuits that are not live; stuck CLOSING and PENDING', () => {
    assert.deepEqual(kinds(snap([], (s) => s.readiness.push({ worker: 'w1', id: 'old', value: '{}' }))), [
      'readiness-orphan ready/w1/old',
    ]);
    assert.deepEqual(
      kinds(
        snap([circuit('a', { state: 'CLOSING', updatedAt: NOW - 60_000 })], (s) => (s.routes = [])),
      ).sort(),
      ['closing-stuck circuit/a'],
    );
    assert.deepEqual(
      kinds(snap([circuit('a', { state: 'CLOSING', updatedAt: NOW - 1000 })])),
      [],
      'closing now',
    );
    assert.deepEqual(kinds(snap([circuit('a', { state: 'PENDING' })])), ['pending-stuck circuit/a']);
  });
});
