/**
 * Client aborts against an endpoint: `total` streaming chat completions, each on its own
 * connection, closed by the client at a random moment — right after sending the request (the
 * proxy may not have picked a route yet), while awaiting the response head, or after the first
 * bytes of the stream — `concurrency` at a time. Raw sockets: an abort is a close, as a browser
 * tab or a killed script does it, with no HTTP client library in between.
 */
import { connect } from 'node:net';

export interface AbortSpec {
  port: number;
  host: string;
  authorization: string;
  total: number;
  concurrency: number;
  /** Stop starting new requests after this long, whatever `total`. */
  maxS: number;
  seed: number;
}

export interface AbortResult {
  sent: number;
  /** Closed before any byte of the response arrived. */
  beforeHead: number;
  /** Closed after the first bytes arrived (head, or head and some of the stream). */
  afterBytes: number;
  /** The whole response arrived before the planned close (no abort). */
  completed: number;
  /** Connection errors (refused, reset by the proxy). */
  errors: number;
  seconds: number;
}

/** A seeded generator (mulberry32): the same aborts in every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function abortLoad(spec: AbortSpec): Promise<AbortResult> {
  const random = rng(spec.seed);
  const body = JSON.stringify({
    model: 'sim-model',
    stream: true,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'a question to be abandoned' }],
  });
  const request =
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${spec.host}\r\nAuthorization: ${spec.authorization}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const r: AbortResult = { sent: 0, beforeHead: 0, afterBytes: 0, completed: 0, errors: 0, seconds: 0 };
  const t0 = performance.now();
  const deadline = t0 + spec.maxS * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      // When to close: 0–2 ms after sending (mostly before the head), or after 1–4 chunks.
      const afterChunks = random() < 0.4 ? 0 : 1 + Math.floor(random() * 4);
      const delayMs = random() * 2;
      let chunks = 0;
      let done = false;
      const s = connect(spec.port, '127.0.0.1');
      const finish = (kind: 'beforeHead' | 'afterBytes' | 'completed' | 'errors') => {
        if (done) return;
        done = true;
        r[kind]++;
        s.destroy();
        resolve();
      };
      s.on('error', () => finish('errors'));
      s.on('close', () => finish(chunks > 0 ? 'completed' : 'errors'));
      s.on('connect', () => {
        r.sent++;
        s.write(request);
        if (afterChunks === 0) setTimeout(() => finish(chunks > 0 ? 'afterBytes' : 'beforeHead'), delayMs);
      });
      s.on('data', (d: Buffer) => {
        chunks++;
        if (d.includes('data: [DONE]')) finish('completed');
        else if (afterChunks > 0 && chunks >= afterChunks) finish('afterBytes');
      });
    });
  let started = 0;
  const worker = async () => {
    while (started < spec.total && performance.now() < deadline) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}
