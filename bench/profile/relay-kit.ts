/**
 * What the minimal relays of `tcp-variants.ts` and `ws-variants.ts` share: a peer pointer on each
 * socket with module-level handlers ('data' events, write/pause/resume), and reading into a reused
 * buffer (`onread`) through a socket re-wrapped around the original's handle.
 */
import { Socket } from 'node:net';

export const kPeer = Symbol('peer');
export type S = Socket & { [kPeer]: S };

export function onData(this: S, chunk: Buffer): void {
  if (!this[kPeer].write(chunk)) this.pause();
}
export function onDrain(this: S): void {
  this[kPeer].resume();
}
export function onEnd(this: S): void {
  this[kPeer].end();
}
export function onClose(this: S): void {
  this[kPeer].destroy();
}
export function ignore(): void {}

/** A reused read buffer, replaced only while a write of it is still pending on the peer. */
export class Reader {
  buf: Buffer | null = null;
  peer: S | null;
  constructor(peer: S | null = null) {
    this.peer = peer;
  }
  buffer = (): Buffer => {
    if (this.buf === null || (this.peer && this.peer.writableLength > 0))
      this.buf = Buffer.allocUnsafe(65536);
    return this.buf;
  };
  callback = (n: number, b: Buffer): boolean => this.peer!.write(b.subarray(0, n));
}

/** `s` (nothing buffered either way) re-wrapped in a Socket that reads through `reader`. */
export function rewrap(s: Socket, reader: Reader): S {
  const husk = s as Socket & { _handle: { reading: boolean; readStop(): number } | null };
  const handle = husk._handle!;
  if (handle.reading) {
    handle.reading = false;
    handle.readStop();
  }
  if (s.readableLength > 0 || s.writableLength > 0) throw new Error('buffered bytes');
  husk._handle = null;
  s.destroy();
  return new Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: reader,
  } as unknown as ConstructorParameters<typeof Socket>[0]) as S;
}
