/**
 * TCP load client against the upstream's TCP port (directly or through a proxy):
 *   bulk <port> <bytes> <up|down>   one connection moves `bytes` (up: to the sink, which answers
 *                                   the count at FIN; down: from the source); prints {bytes, seconds, gbit}
 *   connrate <port> <conc> <seconds> `conc` loops of connect → 1-byte echo → close;
 *                                   prints {conns, seconds, rate, p99Ms, errors}
 */
import { connect, type Socket } from 'node:net';
import { Samples } from '../lib/stats.ts';

const [mode, portS, a, b] = process.argv.slice(2);
const port = Number(portS);

function connected(localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({
      port,
      host: '127.0.0.1',
      noDelay: true,
      allowHalfOpen: true,
      ...(localAddress ? { localAddress } : {}),
    });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

async function bulk(): Promise<void> {
  const total = Number(a);
  const dir = b === 'down' ? 'down' : 'up';
  const s = await connected();
  const t0 = performance.now();
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      received += d.length;
    });
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  if (dir === 'up') {
    const block = Buffer.alloc(1024 * 1024, 3);
    s.write('S');
    let sent = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (sent < total) {
          const n = Math.min(block.length, total - sent);
          sent += n;
          if (!s.write(n === block.length ? block : block.subarray(0, n))) return void s.once('drain', pump);
        }
        s.end();
        resolve();
      };
      pump();
    });
  } else {
    const h = Buffer.alloc(9);
    h[0] = 0x44; // 'D'
    h.writeBigUInt64BE(BigInt(total), 1);
    s.write(h);
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  s.destroy();
  const bytes = dir === 'up' ? total : received;
  if (dir === 'down' && received !== total) throw new Error(`received ${received} of ${total}`);
  console.log(JSON.stringify({ bytes, seconds, gbit: (bytes * 8) / seconds / 1e9 }));
}

async function connrate(): Promise<void> {
  const conc = Number(a);
  const seconds = Number(b);
  const lat = new Samples();
  let conns = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      const s = connect({ port, host: '127.0.0.1', noDelay: true, localAddress: `127.0.0.${2 + (i % 200)}` });
      s.once('connect', () => s.write('Ex'));
      s.once('data', () => {
        lat.add(performance.now() - t);
        conns++;
        s.destroy();
        resolve();
      });
      // An error, or a close without an answer (e.g. refused by an allow-list), counts once.
      s.once('error', () => s.destroy());
      s.once('close', () => {
        if (s.listenerCount('data') > 0) errors++;
        resolve();
      });
    });
  const t0 = performance.now();
  let k = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) await one(k++);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ conns, seconds: secs, rate: conns / secs, p99Ms: lat.p(99), errors }));
}

if (mode === 'bulk') await bulk();
else if (mode === 'connrate') await connrate();
else throw new Error(`unknown mode ${mode}`);
