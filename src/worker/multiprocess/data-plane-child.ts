/**
 * A data-plane child process (`processes > 1`, see multiprocess.ts): a full data plane whose
 * routing table is driven by the primary over IPC, listening with SO_REUSEPORT beside it. Its
 * counter calls (activity flushes, setup-token single-use marks) go to the primary's store.
 * It exits when the primary says close or when the IPC channel goes away.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { AppProxyError } from '../../contracts/errors.ts';
import { buildDataPlane, closeServing, type DataPlane } from './data-plane.ts';
import { IpcCounterStore } from './ipc-counters.ts';
import type { FromChild, ToChild } from './multiprocess.ts';

function send(m: FromChild): void {
  if (process.connected) process.send!(m);
}

const counters = new IpcCounterStore(send, () => process.connected);
let plane: DataPlane | null = null;
/** Table changes apply one at a time, in the order the primary sent them. */
let chain: Promise<unknown> = Promise.resolve();

async function onMessage(m: ToChild): Promise<void> {
  switch (m.t) {
    case 'init': {
      const logger = pino({ level: m.logLevel }).child({
        component: 'worker',
        authority: m.cfg.authority,
        child: process.pid,
      });
      plane = buildDataPlane(
        { ...m.cfg, cookieSecret: Buffer.from(m.cfg.cookieSecret, 'base64') },
        { counters, logger, metrics: new Registry(), reporter: `${m.cfg.authority}:${process.pid}` },
      );
      if (plane.wildcard) await plane.wildcard.start();
      plane.activity.start();
      send({ t: 'ready' });
      return;
    }
    case 'apply':
      try {
        await plane!.table.apply(m.id, m.raw);
        send({ t: 'ack', seq: m.seq });
      } catch (err) {
        const e = err instanceof AppProxyError ? err : new AppProxyError('AP_ERR_ROUTE_INVALID', String(err));
        send({ t: 'ack', seq: m.seq, error: { code: e.code, message: e.message } });
      }
      return;
    case 'remove':
      plane!.table.remove(m.id);
      return;
    case 'keys':
      plane!.verifier.update(m.set);
      return;
    case 'revocation':
      plane!.revocations.applyOp(m.op);
      return;
    case 'login-url':
      plane!.links.loginUrl = m.url;
      return;
    case 'endpoint-keys':
      plane!.endpointKeys.apply(m.op);
      return;
    case 'flags':
      plane!.flags.set(m.values);
      return;
    case 'close':
      await shutdown();
      send({ t: 'ack', seq: m.seq });
      return;
    case 'counters-result':
      counters.settle(m);
      return;
  }
}

let closed = false;
async function shutdown(): Promise<void> {
  if (closed || !plane) return;
  closed = true;
  await plane.frontend.close();
  closeServing(plane);
  await plane.activity.close().catch(() => {});
  await plane.inference.usage.close().catch(() => {});
}

process.on('message', (m: ToChild) => {
  if (m.t === 'counters-result') return counters.settle(m);
  chain = chain
    .then(() => onMessage(m))
    .catch((err: unknown) => {
      console.error('data-plane child: message failed', err);
    });
});
// The primary is gone (closed or crashed): nothing else will tell us to stop.
process.on('disconnect', () => {
  void shutdown().finally(() => process.exit(0));
});
