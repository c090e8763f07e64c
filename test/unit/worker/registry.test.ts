/**
 * The connection registry on its own: indexes by circuit and user, the limit count (relays and
 * tunnels, not WebSockets), rechecks after an in-place change, and a circuit replaced by another of
 * the same id ending only its own connections.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloseReason } from '../../../src/contracts/records.ts';
import { Connection } from '../../../src/worker/connections/connection.ts';
import { ConnectionRegistry } from '../../../src/worker/connections/registry.ts';
import type { AccessLog, AccessRecord, ConnectionKind } from '../../../src/worker/observe/access-log.ts';
import type { Circuit } from '../../../src/worker/routing/circuit.ts';

function circuit(id: string, maxConnections = 2): Circuit {
  return { id, spec: { sessionId: 's1', tcp: { maxConnections } }, ownerId: 'u1' } as unknown as Circuit;
}

class Fake extends Connection {
  ended: CloseReason | null = null;
  reconfigured = 0;
  constructor(
    registry: ConnectionRegistry,
    c: Circuit,
    readonly kind: ConnectionKind,
    userId = 'u1',
    private readonly admit = true,
  ) {
    super(registry, c, '127.0.0.1:1', userId, kind === 'websocket' ? 'cookie' : 'tunnel');
    registry.add(this);
  }
  terminate(reason: CloseReason): void {
    this.ended ??= reason;
    this.reason ??= reason;
    this.finish(1, 2);
  }
  destroy(): void {
    this.terminate('circuit-closed');
  }
  override admitted(): boolean {
    return this.admit;
  }
  override reconfigure(): void {
    this.reconfigured++;
  }
}

function registry(): { reg: ConnectionRegistry; records: AccessRecord[] } {
  const records: AccessRecord[] = [];
  return {
    reg: new ConnectionRegistry({
      record: (r: AccessRecord) => void records.push(r),
    } as unknown as AccessLog),
    records,
  };
}

describe('ConnectionRegistry', () => {
  test('indexes by circuit and user; the limit counts relays and tunnels only', () => {
    const { reg } = registry();
    const c = circuit('c1');
    const ws = new Fake(reg, c, 'websocket');
    new Fake(reg, c, 'tunnel');
    assert.equal(reg.atLimit(c), false);
    new Fake(reg, c, 'tcp', 'u2');
    assert.equal(reg.atLimit(c), true, 'two relays/tunnels reach a limit of 2; the WebSocket does not count');
    assert.equal(reg.of('c1').length, 3);
    assert.equal(reg.ofUser('u1').length, 2);
    assert.equal(reg.ofUser('u2').length, 1);
    ws.terminate('client-closed');
    assert.equal(reg.size, 2);
    assert.equal(reg.atLimit(c), true);
  });

  test('recheck: admitted connections take the new settings, the others end revoked', () => {
    const { reg, records } = registry();
    const c = circuit('c1');
    const kept = new Fake(reg, c, 'tcp');
    const dropped = new Fake(reg, c, 'tunnel', 'u1', false);
    reg.recheck(c);
    assert.equal(kept.reconfigured, 1);
    assert.equal(kept.ended, null);
    assert.equal(dropped.ended, 'revoked');
    assert.deepEqual(
      records.map((r) => [r.kind, r.reason]),
      [['tunnel', 'revoked']],
    );
  });

  test('a circuit replaced by another of the same id ends only its own connections', () => {
    const { reg } = registry();
    const old = circuit('c1');
    const next = circuit('c1');
    const a = new Fake(reg, old, 'tcp');
    const b = new Fake(reg, next, 'tcp');
    assert.equal(reg.terminateCircuit(old, 'revoked'), 1);
    assert.equal(a.ended, 'revoked');
    assert.equal(b.ended, null);
    assert.deepEqual(reg.of('c1'), [b]);
  });

  test('one record per connection, whatever ends it how often', () => {
    const { reg, records } = registry();
    const f = new Fake(reg, circuit('c1'), 'tcp');
    f.terminate('idle-timeout');
    f.terminate('circuit-closed');
    f.destroy();
    assert.equal(records.length, 1);
    assert.equal(records[0]!.reason, 'idle-timeout');
  });
});
