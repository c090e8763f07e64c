/**
 * RFC 6455 frame boundaries of one direction of a relayed WebSocket, tracked without copying or
 * buffering anything: the relay still forwards each chunk as it came, and this only walks the
 * frame headers (2–14 bytes, possibly split across chunks) and skips payloads by arithmetic. It
 * tells the relay where a frame ends (the only place the worker may inject a frame of its own)
 * and which bytes belong to data frames (activity) and which to control frames (not activity).
 *
 * Plain numeric fields and no closures: one tracker per direction per WebSocket, ~100 bytes.
 */

/** Frame opcodes (RFC 6455 §5.2). 0–7 are data frames (3–7 reserved), 8–15 control frames. */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export class FrameTracker {
  /** Bytes of data frames (opcodes 0–7), headers included, since the start. */
  dataBytes = 0;
  /** Bytes of control frames (ping, pong, close), headers included, since the start. */
  controlBytes = 0;
  /** Opcode of the frame being read (or of the last one, at a boundary); -1 before the first. */
  opcode = -1;
  /** Set once a close frame started in this direction. */
  closeSeen = false;
  /** Payload bytes of the current frame still to come (0 while in a header or at a boundary). */
  private remaining = 0;
  /** Header bytes of the current frame read so far; 0 = the next byte starts a frame. */
  private hdrPos = 0;
  /** Header length once its second byte is known (2 + extended length + mask key). */
  private hdrLen = 2;
  /** End of the extended length field in the header (2, 4 or 10). */
  private lenEnd = 2;
  private length = 0;
  private control = false;

  /** True between frames: a frame written now would not split one. */
  get atBoundary(): boolean {
    return this.hdrPos === 0 && this.remaining === 0;
  }

  /**
   * Walks `buf[start, end)`. With `stopAtBoundary`, returns at the first frame boundary at or after
   * `start` (start itself when already at one); otherwise (or when none is reached) returns `end`.
   */
  feed(buf: Uint8Array, start: number, end: number, stopAtBoundary: boolean): number {
    let i = start;
    if (stopAtBoundary && this.hdrPos === 0 && this.remaining === 0) return i;
    while (i < end) {
      if (this.remaining > 0) {
        const n = Math.min(end - i, this.remaining);
        this.remaining -= n;
        i += n;
        if (this.control) this.controlBytes += n;
        else this.dataBytes += n;
        if (this.remaining === 0 && stopAtBoundary) return i;
        continue;
      }
      const b = buf[i++]!;
      const pos = this.hdrPos++;
      if (pos === 0) {
        const op = b & 0x0f;
        this.opcode = op;
        this.control = op >= 8;
        if (op === OP_CLOSE) this.closeSeen = true;
      } else if (pos === 1) {
        const len7 = b & 0x7f;
        const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
        this.lenEnd = 2 + extra;
        this.hdrLen = this.lenEnd + (b & 0x80 ? 4 : 0);
        this.length = extra === 0 ? len7 : 0;
      } else if (pos < this.lenEnd) {
        // Big-endian; a float multiply stays exact up to 2^53 (RFC 6455 caps the 64-bit length at 2^63).
        this.length = this.length * 256 + b;
      }
      if (this.control) this.controlBytes++;
      else this.dataBytes++;
      if (this.hdrPos === this.hdrLen) {
        this.hdrPos = 0;
        this.remaining = this.length;
        if (this.remaining === 0 && stopAtBoundary) return i;
      }
    }
    return i;
  }
}

/** A server→client frame (unmasked) with a small payload. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

/** A client→server frame: masked, with an all-zero key so the payload reads as is (§5.3 allows any key). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

function closePayload(code: number, reason: string): Buffer {
  const r = Buffer.from(reason);
  const p = Buffer.alloc(2 + r.length);
  p.writeUInt16BE(code, 0);
  r.copy(p, 2);
  return p;
}

/**
 * The worker's keepalive ping (server→client). Built once and written as is: a Buffer handed to
 * `socket.write` is never modified, so every connection can share it.
 */
export const PING_FRAME = serverFrame(OP_PING, Buffer.from('appproxy'));

/** Close frames with code 1001 (going away) and the close reason, towards the client and the backend. */
export function closeFrames(reason: string): { toClient: Buffer; toBackend: Buffer } {
  const p = closePayload(1001, reason);
  return { toClient: serverFrame(OP_CLOSE, p), toBackend: clientFrame(OP_CLOSE, p) };
}
