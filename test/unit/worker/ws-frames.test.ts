/** The WebSocket frame tracker on its own (frame headers split across chunks) and the ping interval. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { FrameTracker, PING_FRAME } from '../../../src/worker/transport/ws-frames.ts';
import { pingIntervalFor } from '../../../src/worker/transport/ws-relay.ts';
import { frame } from '../../support/ws-frame.ts';

describe('frame tracker', () => {
  // A stream with every length encoding, masked and unmasked, control frames between fragments.
  const parts: { bytes: Buffer; control: boolean }[] = [
    { bytes: frame(1, Buffer.alloc(0)), control: false },
    { bytes: frame(2, randomBytes(125), { mask: true }), control: false },
    { bytes: frame(9, Buffer.from('ping')), control: true },
    { bytes: frame(2, randomBytes(126)), control: false },
    { bytes: frame(2, randomBytes(300), { fin: false, mask: true }), control: false },
    { bytes: frame(10, Buffer.alloc(0), { mask: true }), control: true },
    { bytes: frame(0, randomBytes(65535), { fin: false }), control: false },
    { bytes: frame(0, randomBytes(65536), { mask: true }), control: false },
    { bytes: frame(8, Buffer.from([3, 232, 98, 121, 101]), { mask: true }), control: true },
  ];
  const stream = Buffer.concat(parts.map((p) => p.bytes));
  const ends: number[] = [];
  let end = 0;
  for (const p of parts) {
    end += p.bytes.length;
    ends.push(end);
  }
  const dataTotal = parts.filter((p) => !p.control).reduce((n, p) => n + p.bytes.length, 0);
  const controlTotal = stream.length - dataTotal;

  test('counts data and control bytes over a whole stream', () => {
    const t = new FrameTracker();
    assert.equal(t.feed(stream, 0, stream.length, false), stream.length);
    assert.equal(t.dataBytes, dataTotal);
    assert.equal(t.controlBytes, controlTotal);
    assert.ok(t.atBoundary);
    assert.ok(t.closeSeen);
    assert.equal(t.opcode, 8);
  });

  test('byte by byte, a boundary exactly at every frame end and nowhere else', () => {
    const t = new FrameTracker();
    const want = new Set(ends);
    for (let i = 0; i < stream.length; i++) {
      t.feed(stream, i, i + 1, false);
      if (t.atBoundary !== want.has(i + 1)) assert.fail(`boundary ${t.atBoundary} after byte ${i + 1}`);
    }
    assert.equal(t.dataBytes + t.controlBytes, stream.length);
  });

  test('stopping at boundaries finds every frame end, whatever the chunking', () => {
    for (const size of [1, 2, 3, 5, 7, 13, 64, 1000, 70000]) {
      const t = new FrameTracker();
      const found: number[] = [];
      for (let start = 0; start < stream.length; start += size) {
        const end = Math.min(stream.length, start + size);
        let at = start;
        while (at < end) {
          // Between frames, step into the next one (a frame is at least 2 bytes, so 1 byte never ends it).
          if (t.atBoundary) at = t.feed(stream, at, at + 1, false);
          else {
            at = t.feed(stream, at, end, true);
            if (t.atBoundary) found.push(at);
          }
        }
      }
      assert.deepEqual(found, ends, `chunks of ${size}`);
      assert.equal(t.dataBytes, dataTotal, `chunks of ${size}`);
    }
  });

  test('every two-chunk split of every header gives the same counts', () => {
    const small = Buffer.concat(parts.slice(0, 6).map((p) => p.bytes));
    const dataSmall = parts
      .slice(0, 6)
      .filter((p) => !p.control)
      .reduce((n, p) => n + p.bytes.length, 0);
    for (let cut = 0; cut <= small.length; cut++) {
      const t = new FrameTracker();
      t.feed(small, 0, cut, false);
      t.feed(small, cut, small.length, false);
      assert.equal(t.dataBytes, dataSmall, `cut at ${cut}`);
      assert.equal(t.controlBytes, small.length - dataSmall, `cut at ${cut}`);
      assert.ok(t.atBoundary, `cut at ${cut}`);
    }
  });

  test('64-bit lengths beyond 4 GiB are skipped by arithmetic', () => {
    const len = 2 ** 33 + 5;
    const head = Buffer.alloc(10);
    head[0] = 0x82;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
    const t = new FrameTracker();
    t.feed(head, 0, 3, false); // split inside the extended length
    t.feed(head, 3, 10, false);
    assert.ok(!t.atBoundary);
    const block = Buffer.alloc(1 << 20);
    for (let left = len; left > 0; left -= block.length) {
      const n = Math.min(left, block.length);
      assert.equal(t.feed(block, 0, n, true), n);
    }
    assert.ok(t.atBoundary);
    assert.equal(t.dataBytes, len + 10);
    const ping = Buffer.concat([PING_FRAME, PING_FRAME]);
    assert.equal(t.feed(ping, 0, ping.length, true), 0); // at a boundary already
    assert.equal(t.feed(ping, 0, ping.length, false), ping.length);
    assert.equal(t.controlBytes, ping.length);
  });

  test('ping interval: a third of the idle timeout, within 100 ms and 30 s', () => {
    assert.equal(pingIntervalFor(600), 200);
    assert.equal(pingIntervalFor(150), 100);
    assert.equal(pingIntervalFor(30 * 60_000), 30_000);
  });
});
