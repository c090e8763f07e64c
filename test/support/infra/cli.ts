/**
 * Starts or stops the real test servers from a shell:
 *
 *   node --import tsx test/support/infra/cli.ts start [--dir D] [--json]   # prints URLs, servers keep running
 *   node --import tsx test/support/infra/cli.ts stop  [--dir D]            # stops them (pids from D/servers.json)
 *
 * Without `--dir`, `$TMPDIR/appproxy-test-servers` is used, so `stop` finds what `start` started.
 * `start` prints env lines (`APPPROXY_TEST_POSTGRES_URL=...`) or, with `--json`, one JSON object.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAll, stopFromStateFile } from './servers.ts';

function usage(): never {
  process.stderr.write('usage: cli.ts start|stop [--dir D] [--json]\n');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const cmd = args[0];
  const dirAt = args.indexOf('--dir');
  const dir = dirAt >= 0 ? args[dirAt + 1] : join(tmpdir(), 'appproxy-test-servers');
  if (!dir) usage();
  if (cmd === 'start') {
    if (existsSync(join(dir, 'servers.json'))) await stopFromStateFile(dir);
    const s = await startAll({ dir, keep: true });
    const out = {
      dir: s.dir,
      postgresUrl: s.postgres.url,
      etcdEndpoints: s.etcd.endpoints,
      redisUrl: s.redis.url,
      pids: { postgres: s.postgres.pid, etcd: s.etcd.pid, redis: s.redis.pid },
    };
    if (args.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
    else
      process.stdout.write(
        [
          `APPPROXY_TEST_SERVERS_DIR=${out.dir}`,
          `APPPROXY_TEST_POSTGRES_URL=${out.postgresUrl}`,
          `APPPROXY_TEST_ETCD_ENDPOINTS=${out.etcdEndpoints.join(',')}`,
          `APPPROXY_TEST_REDIS_URL=${out.redisUrl}`,
          '',
        ].join('\n'),
      );
  } else if (cmd === 'stop') {
    const stopped = await stopFromStateFile(dir);
    process.stdout.write(`stopped: ${stopped.join(' ') || '(nothing running)'}\n`);
  } else usage();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
