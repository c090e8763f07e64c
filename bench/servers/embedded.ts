/**
 * The whole embedded system (manager + a wildcard worker + the embedded stores), as `appproxy up`
 * starts it, on free ports and a temporary data folder: the control-plane benchmark drives its
 * REST API. Prints {ready, pid, url, token, wildcardPort}. Stops on SIGTERM or when stdin ends.
 * With BENCH_ETCD_URL it runs on that etcd instead of the in-process KV.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { validateEmbeddedConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/core/logger.ts';
import { startEmbedded } from '../../src/processes/embedded.ts';
import { EtcdKvStore } from '../../src/stores/etcd/kv.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'appproxy-bench-'));
const config = validateEmbeddedConfig({
  dataDir,
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'error',
  manager: { port: 0 },
  workers: [{ authority: 'wildcard-1', frontendMode: 'wildcard', port: 0 }],
});
const token = `bench-${randomBytes(12).toString('hex')}`;
// BENCH_ETCD_URL: the same system on a real etcd instead of the in-process KV.
const etcdUrl = process.env.BENCH_ETCD_URL;
const sys = await startEmbedded(config, {
  logger: createLogger({ level: config.logLevel, destination: process.stderr }),
  env: { APPPROXY_ADMIN_TOKEN: token },
  ...(etcdUrl ? { kv: new EtcdKvStore({ endpoints: [etcdUrl] }) } : {}),
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
// Profiling on demand (bench/profile/control.ts): `profile-start` / `profile-stop <file>` lines on
// stdin take a CPU profile of a chosen phase only, without the fill phase before it.
const profiler = new inspector.Session();
process.stdin.setEncoding('utf8');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, file] = line.trim().split(/\s+/);
  if (cmd === 'profile-start') {
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
