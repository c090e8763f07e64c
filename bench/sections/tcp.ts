/**
 * TCP section: bulk transfer each way (Gbit/s, proxy CPU-s per GiB) and connection rate through
 * a real TCP circuit of the worker, the plain Node pipe, haproxy and nginx stream.
 */
import { asDirect, type Context, log, roundOrder, startAppProxy, tryPeer } from '../context.ts';
import { mib } from '../lib/leak.ts';
import { type Peer, startHaproxy, startNginx, startNodePipe } from '../lib/peers.ts';
import { cpuSeconds, run as runCommand, tsArgv } from '../lib/proc.ts';
import { CONNS, LOAD_CPU, PROXY_CPU } from '../options.ts';

/** A TCP row: where the clients connect; pid = whose CPU counts (null: direct). */
interface Relay {
  name: string;
  port: number;
  pid: number | null;
}

export async function run(ctx: Context): Promise<void> {
  console.log(`\n== TCP: bulk ${mib(ctx.opts.counts.tcpBytes)} MiB each way, connection rate (c=${CONNS})`);
  ctx.out.note(
    'TCP: `appproxy-tcp` is a real TCP circuit of a port-mode worker in allow-list mode (address check, idle timeout, keepalive, activity and access records on); `node-pipe` is a plain, circuit-less Node pipe (bench/servers/node-pipe.ts), the ceiling of a Node relay, for reference.',
  );
  const relays = await startRelays(ctx);
  for (let r = 0; r < ctx.opts.rounds; r++)
    for (const p of roundOrder(relays, r)) await asDirect(ctx, p, () => measure(ctx, p, r));
}

/** Direct, then every relay that starts. */
async function startRelays(ctx: Context): Promise<Relay[]> {
  const { upstream, versions } = ctx;
  const relays: Relay[] = [{ name: 'direct', port: upstream.tcp, pid: null }];
  const add = (name: string, p: Peer | null) => {
    if (p) relays.push({ name, port: p.tcpPort!, pid: p.child.pid });
  };
  add('appproxy-tcp', await tryPeer(ctx, 'appproxy-tcp', () => startTcpCircuit(ctx)));
  add('node-pipe', await tryPeer(ctx, 'node-pipe', () => startNodePipe(upstream, PROXY_CPU)));
  if (versions.haproxy)
    add('haproxy', await tryPeer(ctx, 'haproxy', () => startHaproxy(upstream, PROXY_CPU)));
  if (versions.nginx && versions.nginxStream)
    add('nginx-stream', await tryPeer(ctx, 'nginx stream', () => startNginx(upstream, PROXY_CPU, true)));
  return relays;
}

/** A port-mode worker with one TCP circuit (allow-list) to the upstream's TCP port. */
async function startTcpCircuit(ctx: Context): Promise<Peer> {
  const child = await startAppProxy(ctx, 'port', 1, 'appproxy-tcp');
  child.send({ cmd: 'tcp-circuit', backendPort: ctx.upstream.tcp });
  const m = await child.next((x) => x.tcpCircuit !== undefined || x.error !== undefined, 30_000);
  if (m.error) throw new Error(String(m.error));
  return {
    name: 'appproxy-tcp',
    child,
    httpPort: null,
    tcpPort: (m.tcpCircuit as { port: number }).port,
    stop: () => child.stop(),
  };
}

/** One round for one relay: bulk up, bulk down, then the connection rate. */
async function measure(ctx: Context, p: Relay, round: number): Promise<void> {
  const { out } = ctx;
  const { tcpBytes } = ctx.opts.counts;
  const line: string[] = [];
  for (const dir of ['up', 'down']) {
    const cpu0 = p.pid ? cpuSeconds(p.pid) : 0;
    const res = await runCommand(
      tsArgv('bench/clients/tcp.ts', 'bulk', String(p.port), String(tcpBytes), dir),
      { cpus: LOAD_CPU },
    );
    const b = JSON.parse(res.trim()) as { gbit: number };
    out.record('tcp', p.name, `bulk_${dir}_gbit`, b.gbit);
    if (p.pid)
      out.record('tcp', p.name, `bulk_${dir}_cpuPerGiB`, (cpuSeconds(p.pid) - cpu0) / (tcpBytes / 2 ** 30));
    line.push(`${dir} ${b.gbit.toFixed(2)} Gbit/s`);
  }
  const res = await runCommand(
    tsArgv('bench/clients/tcp.ts', 'connrate', String(p.port), String(CONNS), String(ctx.opts.duration)),
    { cpus: LOAD_CPU },
  );
  const c = JSON.parse(res.trim()) as { rate: number; p99Ms: number; errors: number };
  out.record('tcp', p.name, 'connRate', c.rate);
  out.record('tcp', p.name, 'connP99Ms', c.p99Ms);
  log(
    `round ${round + 1} ${p.name.padEnd(14)} ${line.join(', ')}, ${c.rate.toFixed(0)} conn/s (p99 ${c.p99Ms.toFixed(2)} ms)`,
  );
}
