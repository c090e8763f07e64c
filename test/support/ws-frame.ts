/** Builds raw RFC 6455 frames for tests that speak WebSocket below the `ws` library. */
import { randomBytes } from 'node:crypto';

export /** One RFC 6455 frame (masked with a random key when `mask`). */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; mask?: boolean } = {}): Buffer {
  const fin = o.fin ?? true;
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (o.mask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = (o.mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!o.mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
  return Buffer.concat([head, masked]);
}
