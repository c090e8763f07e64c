/** Liveness, readiness (SQL and KV answer) and Prometheus metrics; all public. */
import { kvKeys } from '../../contracts/kv-layout.ts';
import type { App, AppDeps } from '../app.ts';
import { HealthSchema, ReadySchema } from '../schemas.ts';

const PROBE_TIMEOUT_MS = 2000;

async function probe(fn: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn().then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), PROBE_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: App, d: AppDeps): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is alive.',
        tags: ['meta'],
        security: [],
        response: { 200: HealthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The stores the manager needs answer (SQL and KV); also who leads the background loops.',
        tags: ['meta'],
        security: [],
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_req, reply) => {
      const [sql, kv] = await Promise.all([
        probe(() => d.stores.sql.query('SELECT 1')),
        probe(() => d.stores.kv.get(kvKeys.setupTokenKeys())),
      ]);
      const ok = sql && kv;
      const leader = { id: d.leader.leader?.id ?? null, self: d.leader.isLeader };
      return reply
        .code(ok ? 200 : 503)
        .send({ status: ok ? 'ready' : 'unavailable', stores: { sql, kv }, leader });
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text format).', tags: ['meta'], security: [] } },
    async (_req, reply) => {
      const body = await d.registry.metrics();
      return reply.type(d.registry.contentType).send(body);
    },
  );
}
