/**
 * The whole embedded system (manager + a wildcard worker + the embedded stores), as `appproxy up`
 * starts it, on free ports and a temporary data folder: the control-plane benchmark drives its
 * REST API. Prints {ready, pid, url, token, wildcardPort}. Stops on SIGTERM or when stdin ends.
 * With BENCH_ETCD_URL it runs on that etcd instead of the in-process KV, with BENCH_PG_URL on
 * that PostgreSQL instead of the embedded database.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { validateEmbeddedConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/core/logger.ts';
import { startEmbedded } from '../../src/processes/embedded.ts';
import { EtcdKvStore } from '../../src/stores/etcd/kv.ts';
import { PostgresDatabase } from '../../src/stores/postgres/sql.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'appproxy-bench-'));
const config = validateEmbeddedConfig({
  dataDir,
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'error',
  manager: { port: 0 },
  workers: [{ authority: 'wildcard-1', frontendMode: 'wildcard', port: 0 }],
});
const token = `bench-${randomBytes(12).toString('hex')}`;
// BENCH_ETCD_URL / BENCH_PG_URL: the same system on a real etcd instead of the in-process KV,
// on a real PostgreSQL instead of the embedded database.
const etcdUrl = process.env.BENCH_ETCD_URL;
const pgUrl = process.env.BENCH_PG_URL;
const sys = await startEmbedded(config, {
  logger: createLogger({ level: config.logLevel, destination: process.stderr }),
  env: { APPPROXY_ADMIN_TOKEN: token },
  ...(etcdUrl ? { kv: new EtcdKvStore({ endpoints: [etcdUrl] }) } : {}),
  ...(pgUrl ? { sql: new PostgresDatabase({ url: pgUrl }) } : {}),
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sys.close().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
// Profiling on demand (bench/profile/control.ts, endpoint.ts): `profile-start` /
// `profile-stop <file>` lines on stdin take a CPU profile of a chosen phase only, without the
// fill phase before it.
const profiler = new inspector.Session();
// Event-loop delay on demand (`eld-start` / `eld-stop`): what a request waits for the loop.
let eld: ELDHistogram | null = null;
process.stdin.setEncoding('utf8');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, file] = line.trim().split(/\s+/);
  if (cmd === 'eld-start') {
    eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
  } else if (cmd === 'eld-stop' && eld) {
    eld.disable();
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    console.log(
      JSON.stringify({
        eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
      }),
    );
    eld = null;
  } else if (cmd === 'profile-start') {
    profiler.connect();
    profiler.post('Profiler.enable', () => profiler.post('Profiler.start'));
  } else if (cmd === 'profile-stop' && file) {
    profiler.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(file, JSON.stringify(res.profile));
      profiler.disconnect();
      console.log(JSON.stringify({ profiled: file }));
    });
  }
});
process.stdin.on('end', () => void stop());
console.log(
  JSON.stringify({
    ready: true,
    pid: process.pid,
    url: sys.managerUrl,
    token,
    wildcardPort: sys.workers[0]!.wildcardPort,
  }),
);
