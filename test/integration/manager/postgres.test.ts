/**
 * The manager's TCP, idle and event paths on real PostgreSQL (migration 003 applied by the real
 * adapter): node-postgres answers bigint columns as strings and arrays as its own parse, where
 * PGlite answers numbers, so the row mapping is checked on both. Skipped only with
 * APPPROXY_SKIP_REAL_STORES=1.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { PostgresDatabase } from '../../../src/stores/postgres/sql.ts';
import { useRealServer } from '../../support/infra/real.ts';
import { startPostgres } from '../../support/infra/servers.ts';
import { until } from '../../support/poll.ts';
import { ManagerHarness } from './harness.ts';

const pg = await useRealServer('PostgreSQL', () => startPostgres());

if (pg) {
  describe('manager on real PostgreSQL', () => {
    test('tcp access, idle settings, events and the idle policy', async () => {
      const sql = new PostgresDatabase({ url: await pg.createDatabase('manager') });
      await sql.migrate();
      const h = await ManagerHarness.create({
        sql,
        manager: { idlePolicy: { checkIntervalMs: 60_000, minTimeoutMs: 100 } },
      });
      try {
        const created = await h.api('POST', '/v1/sessions', {
          template: 'shell',
          idle: { sessionIdleTimeoutMs: 3_600_000, connectionIdleTimeoutMs: 45_000 },
        });
        assert.equal(created.status, 201, created.text);
        assert.equal(created.body.idleTimeoutMs, 3_600_000);
        const sid = created.body.id as string;
        await h.sessionIn(sid, 'RUNNING');
        const res = await h.api('POST', `/v1/sessions/${sid}/start-service`, {
          service: 'ssh',
          access: { allowFrom: ['10.0.0.0/8', '2001:db8::/32'] },
          idle: { circuitIdleTimeoutMs: 600 },
        });
        assert.equal(res.status, 200, res.text);
        const id = res.body.circuitId as string;
        const c = (await h.api('GET', `/v1/circuits/${id}`)).body;
        assert.deepEqual(c.access, { mode: 'allow-list', allowFrom: ['10.0.0.0/8', '2001:db8::/32'] });
        assert.deepEqual(c.idle, { connectionIdleTimeoutMs: 45_000, circuitIdleTimeoutMs: 600 });
        const spec = JSON.parse((await h.kv.get(kvKeys.circuit('w1', id)))!.value) as CircuitSpec;
        assert.equal(spec.idleTimeoutMs, 45_000);
        assert.deepEqual(spec.tcp?.allowFrom, ['10.0.0.0/8', '2001:db8::/32']);
        const act = (await h.api('GET', `/v1/circuits/${id}/activity`)).body;
        assert.deepEqual(
          act.policies.map((p: { policy: string; timeoutMs: number }) => [p.policy, p.timeoutMs]),
          [
            ['circuit-idle', 600],
            ['session-idle', 3_600_000],
          ],
        );
        const closed = await until(
          async () => {
            const ev = (await h.api('GET', `/v1/circuits/${id}/events`)).body.items;
            return ev.find((e: { kind: string }) => e.kind === 'circuit-closed') ? ev : undefined;
          },
          'the circuit-closed event',
          { timeoutMs: 5000 },
        );
        assert.deepEqual(
          closed.map((e: { kind: string }) => e.kind),
          ['circuit-opened', 'circuit-idle-closed', 'circuit-closed'],
        );
        assert.ok(closed.every((e: { id: unknown }) => typeof e.id === 'number'));
      } finally {
        await h.close();
      }
    });
  });
}
