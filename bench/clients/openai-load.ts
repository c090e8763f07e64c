/**
 * OpenAI streaming load client for the inference section (bench/sections/inference.ts). One
 * long-lived process: prints `{ready, pid}`, then takes JSON lines on stdin:
 *   {cmd: 'run', spec: LoadSpec}   prints {started: id} when the first request goes out, then
 *                                  {result: id, ...LoadResult}
 * Open loop: Poisson arrivals at `rate` for `durationS` (the schedule does not wait for answers,
 * so a slow policy builds a queue instead of slowing the load down); closed loop: `concurrency`
 * requests in flight, used to measure capacity. Every request is a streaming chat completion
 * with `max_tokens`; the client times its first token, its last one and its end.
 *
 * Prompts are made from a seeded word pool, so a seed gives the same requests in every run:
 * - `high` (shared prefix): `groups` system prompts of `systemTokens`, each request one of them
 *   (uniformly) plus a short unique question;
 * - `low` (no sharing): one long unique user message of `questionTokens`;
 * - `tiny`: a few tokens (warm-up after a restart; fills no cache block).
 * llm-sim counts 4 characters as a token, so lengths here are tokens × 4 characters.
 */
import { Agent, type ClientRequest, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentile } from '../lib/stats.ts';

export interface LoadTarget {
  port: number;
  /** Host header (a wildcard endpoint's `<id>.apps.localhost:port`, or 127.0.0.1:port). */
  host: string;
  authorization?: string;
}

export interface Shape {
  kind: 'high' | 'low' | 'tiny';
  groups: number;
  systemTokens: number;
  questionTokens: number;
  maxTokens: number;
}

export interface LoadSpec {
  id: string;
  targets: LoadTarget[];
  /** Which target a request goes to: in turn, or by its group (an ideal prefix router, direct). */
  pick: 'rr' | 'group';
  shape: Shape;
  mode: 'open' | 'closed';
  /** Open loop: requests per second. */
  rate?: number;
  /** Closed loop: requests in flight. */
  concurrency?: number;
  /**
   * Seconds at the start left out of the measurement (caches fill, queues form): requests sent
   * before it give no latency sample (open loop) and tokens count from it on; a closed loop counts
   * completions from it on.
   */
  warmS?: number;
  /** Seconds of arrivals (open) or of measurement including the warm part (closed). */
  durationS: number;
  /** How long one request may take; then the client drops it and counts a timeout. */
  timeoutS: number;
  seed: number;
  /** Share of requests the client drops mid-stream (after a quarter of max_tokens). */
  abortFraction: number;
  /** Stop after this many requests (warm-up), whatever the duration. */
  maxRequests?: number;
}

export interface Pcts {
  p50: number;
  p90: number;
  p99: number;
}

export interface LoadResult {
  sent: number;
  /** Streams that ended with `[DONE]` after max_tokens tokens. */
  completed: number;
  /** Streams this client dropped on purpose (abortFraction); not failures. */
  aborted: number;
  /**
   * Failed requests by kind: `status-<code>`, `error-before-headers`, `error-event` (an SSE error
   * event: how a proxy ends a stream it cannot finish), `cut` (ended without [DONE]), `timeout`.
   */
  failures: Record<string, number>;
  /**
   * Failed before any token arrived, timeouts aside (refused, reset, an error status or event):
   * what a proxy could still have sent to another replica.
   */
  failedBeforeFirstToken: number;
  /** Failed after tokens had arrived (a stream cut mid-answer), timeouts aside. */
  failedMidStream: number;
  /** Content tokens received, aborted and cut streams included. */
  tokens: number;
  /** Streams the client closed before their end: dropped on purpose, and timeouts. */
  clientClosed: number;
  /** From the first request to the end of the last answer (or its timeout). */
  elapsedS: number;
  /** Closed loop: completions per second in the measured window. */
  completedPerS: number;
  /** Tokens that arrived in the measured window, per second of it: what the target delivered. */
  tokensPerS: number;
  ttftMs: Pcts;
  /**
   * Inter-token latency, one sample per stream: from its first content chunk to its last, per
   * token after the first chunk (TPOT). Per stream rather than per chunk gap, because chunks that
   * arrive in one read on a busy machine would read as gaps of 0.
   */
  itlMs: Pcts;
  e2eMs: Pcts;
  /** Prompt tokens and cached prompt tokens from the final usage chunks (completed streams). */
  promptTokens: number;
  cachedTokens: number;
  /** p99 of how late requests left against the Poisson schedule (client health). */
  lateP99Ms: number;
}

/** mulberry32: small, fast and seedable. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARS_PER_TOKEN = 4;
const POOL_CHARS = 1 << 21;

/**
 * A pool of seeded 4-character words; prompts are slices of it at random offsets, so building a
 * 6k-token prompt costs a substring, not 6k draws.
 */
function wordPool(seed: number): string {
  const r = rng(seed ^ 0x5eed);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const words: string[] = [];
  for (let i = 0; i < 4096; i++) {
    words.push(` ${letters[(r() * 26) | 0]}${letters[(r() * 26) | 0]}${letters[(r() * 26) | 0]}`);
  }
  const parts: string[] = [];
  for (let n = 0; n < POOL_CHARS; n += 4) parts.push(words[(r() * words.length) | 0]!);
  return parts.join('');
}

/** Exactly `chars` characters: `head` then pool text from a random offset. */
function text(pool: string, r: () => number, head: string, chars: number): string {
  const need = Math.max(0, chars - head.length);
  const at = Math.floor(r() * (pool.length - need - 1));
  return head + pool.slice(at, at + need);
}

/** The requests of a spec, made on demand: the same seed gives the same sequence. */
class Prompts {
  private readonly pool: string;
  private readonly systems: string[] = [];
  private readonly r: () => number;

  constructor(
    private readonly shape: Shape,
    private readonly seed: number,
  ) {
    this.pool = wordPool(seed);
    this.r = rng(seed);
    for (let g = 0; g < shape.groups; g++)
      // The group number leads, so groups differ from their first cache block on.
      this.systems.push(
        text(
          this.pool,
          this.r,
          `Tenant ${g} of ${seed}. Instructions: `,
          shape.systemTokens * CHARS_PER_TOKEN,
        ),
      );
  }

  /** Request i: its group (-1 when it has none) and its messages. */
  next(i: number): { group: number; messages: { role: string; content: string }[] } {
    const s = this.shape;
    if (s.kind === 'tiny')
      return { group: -1, messages: [{ role: 'user', content: `warm ${this.seed} ${i}` }] };
    // The request number leads, so no two requests share a cache block.
    const q = text(this.pool, this.r, `Request ${this.seed}-${i}: `, s.questionTokens * CHARS_PER_TOKEN);
    if (s.kind === 'low') return { group: -1, messages: [{ role: 'user', content: q }] };
    const group = Math.floor(this.r() * s.groups);
    return {
      group,
      messages: [
        { role: 'system', content: this.systems[group]! },
        { role: 'user', content: q },
      ],
    };
  }
}

interface Outcome {
  kind: 'completed' | 'aborted' | 'failed';
  failure?: string;
  tokens: number;
  e2e?: number;
  endAt: number;
  promptTokens?: number;
  cachedTokens?: number;
}

interface Chunk {
  choices?: { delta?: { content?: string } }[];
  usage?: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } | null;
  error?: unknown;
}

/** A percentile summary that survives having no samples (NaN). */
function pcts(xs: number[]): Pcts {
  return { p50: percentile(xs, 50), p90: percentile(xs, 90), p99: percentile(xs, 99) };
}

async function runSpec(spec: LoadSpec, onStart: () => void): Promise<LoadResult> {
  const s = spec.shape;
  const prompts = new Prompts(s, spec.seed);
  const decide = rng(spec.seed ^ 0xab0);
  const arrivals = rng(spec.seed ^ 0xa77);
  // One keep-alive agent per run: sockets of a previous run (replicas since restarted) are gone.
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, keepAliveMsecs: 1000 });
  const live = new Set<ClientRequest>();
  const ttfts: number[] = [];
  const itls: number[] = [];
  const e2es: number[] = [];
  const late: number[] = [];
  const outcomes: Outcome[] = [];
  let rr = 0;
  let tStart = performance.now();
  let measureFrom = 0;
  let measureTo = Number.POSITIVE_INFINITY;
  let done = 0;
  let windowTokens = 0;
  /** Set when a closed loop cuts what is still in flight at its end. */
  let cutting = false;

  const one = (i: number): Promise<Outcome> => {
    const { group, messages } = prompts.next(i);
    const abortAt = decide() < spec.abortFraction ? Math.max(1, Math.ceil(s.maxTokens / 4)) : 0;
    const t =
      spec.pick === 'group' && group >= 0
        ? spec.targets[group % spec.targets.length]!
        : spec.targets[rr++ % spec.targets.length]!;
    const body = JSON.stringify({
      model: 'sim-model',
      messages,
      max_tokens: s.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
    });
    return new Promise<Outcome>((resolve) => {
      const t0 = performance.now();
      // Open loop: only requests sent after the warm part give latency samples.
      const sampled = spec.mode === 'closed' || t0 >= measureFrom;
      let tokens = 0;
      let firstAt = 0;
      let firstTokens = 0;
      let last = 0;
      let sawDone = false;
      let errorEvent = false;
      let timedOut = false;
      let settled = false;
      let promptTokens: number | undefined;
      let cachedTokens: number | undefined;
      const finish = (o: Omit<Outcome, 'endAt' | 'tokens'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        live.delete(req);
        const out = (cutting || timedOut) && o.kind === 'failed' ? { ...o, failure: 'timeout' } : o;
        if (sampled && !cutting) {
          // A request that never got a token counts its whole budget as TTFT (a lower bound), so
          // that an overloaded target's percentiles are not taken over its survivors only.
          if (tokens === 0) ttfts.push(spec.timeoutS * 1000);
          else if (tokens > firstTokens) itls.push((last - firstAt) / (tokens - firstTokens));
        }
        resolve({ ...out, tokens, endAt: performance.now() });
      };
      const failed = () => finish({ kind: 'failed', failure: errorEvent ? 'error-event' : 'cut' });
      const onEvent = (data: string): boolean => {
        if (data === '[DONE]') {
          sawDone = true;
          return true;
        }
        let chunk: Chunk;
        try {
          chunk = JSON.parse(data) as Chunk;
        } catch {
          return true;
        }
        if (chunk.error) errorEvent = true;
        if (chunk.usage) {
          promptTokens = chunk.usage.prompt_tokens;
          cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
        }
        const content = chunk.choices?.[0]?.delta?.content;
        if (!content) return true;
        const now = performance.now();
        const n = Math.max(1, Math.round(content.length / CHARS_PER_TOKEN));
        if (now >= measureFrom && now <= measureTo) windowTokens += n;
        if (tokens === 0) {
          firstAt = now;
          firstTokens = n;
          if (sampled) ttfts.push(now - t0);
        }
        last = now;
        tokens += n;
        if (abortAt && tokens >= abortAt) {
          req.destroy();
          finish({ kind: 'aborted' });
          return false;
        }
        return true;
      };
      const req = request(
        {
          host: '127.0.0.1',
          port: t.port,
          method: 'POST',
          path: '/v1/chat/completions',
          agent,
          headers: {
            host: t.host,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            accept: 'text/event-stream',
            ...(t.authorization ? { authorization: t.authorization } : {}),
          },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            res.on('end', () => finish({ kind: 'failed', failure: `status-${res.statusCode}` }));
            res.on('error', () => finish({ kind: 'failed', failure: `status-${res.statusCode}` }));
            return;
          }
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (d: string) => {
            buf += d;
            for (let k = buf.indexOf('\n\n'); k >= 0; k = buf.indexOf('\n\n')) {
              const event = buf.slice(0, k);
              buf = buf.slice(k + 2);
              if (event.startsWith('data: ') && !onEvent(event.slice(6))) return;
            }
          });
          res.on('end', () => {
            if (sawDone && !errorEvent && tokens >= s.maxTokens)
              finish({ kind: 'completed', e2e: performance.now() - t0, promptTokens, cachedTokens });
            else failed();
          });
          res.on('error', failed);
        },
      );
      req.on('error', () => finish({ kind: 'failed', failure: 'error-before-headers' }));
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, spec.timeoutS * 1000);
      live.add(req);
      req.end(body);
    }).then((o) => {
      outcomes.push(o);
      if (o.kind !== 'completed') return o;
      if (spec.mode === 'closed') {
        if (o.endAt >= measureFrom && o.endAt <= measureTo) {
          done++;
          e2es.push(o.e2e!);
        }
      } else if (o.endAt - o.e2e! >= measureFrom) e2es.push(o.e2e!);
      return o;
    });
  };

  tStart = performance.now();
  onStart();
  const limit = spec.maxRequests ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  measureFrom = tStart + (spec.warmS ?? 0) * 1000;
  measureTo = tStart + spec.durationS * 1000;
  if (spec.mode === 'closed') {
    const end = measureTo;
    // What is in flight at the end is cut: capacity is read from the window, not from the tail.
    const timer = setTimeout(() => {
      cutting = true;
      for (const req of live) req.destroy();
    }, spec.durationS * 1000);
    await Promise.all(
      Array.from({ length: spec.concurrency ?? 1 }, async () => {
        while (performance.now() < end && sent < limit) await one(sent++);
      }),
    );
    clearTimeout(timer);
  } else {
    const rate = spec.rate ?? 1;
    const end = tStart + spec.durationS * 1000;
    const pending: Promise<Outcome>[] = [];
    let at = tStart;
    for (;;) {
      at += (-Math.log(1 - arrivals()) / rate) * 1000;
      if (at >= end || sent >= limit) break;
      const wait = at - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      late.push(Math.max(0, performance.now() - at));
      pending.push(one(sent++));
    }
    // Every request ends by itself or at its timeout: a run lasts at most durationS + timeoutS.
    await Promise.all(pending);
  }
  agent.destroy();
  const tEnd = Math.max(tStart + 1, ...outcomes.map((o) => o.endAt));
  const failures: Record<string, number> = {};
  let failedBeforeFirstToken = 0;
  let failedMidStream = 0;
  let tokens = 0;
  let clientClosed = 0;
  let prompt = 0;
  let cached = 0;
  for (const o of outcomes) {
    // A closed loop's requests cut at its end are not failures of the target.
    if (cutting && o.failure === 'timeout') continue;
    tokens += o.tokens;
    if (o.kind === 'aborted' || o.failure === 'timeout') clientClosed++;
    if (o.kind === 'failed') {
      failures[o.failure!] = (failures[o.failure!] ?? 0) + 1;
      if (o.failure === 'timeout') continue;
      if (o.tokens === 0) failedBeforeFirstToken++;
      else failedMidStream++;
    }
    if (o.promptTokens !== undefined) {
      prompt += o.promptTokens;
      cached += o.cachedTokens ?? 0;
    }
  }
  const elapsedS = (tEnd - tStart) / 1000;
  const windowS = Math.max(0.001, spec.durationS - (spec.warmS ?? 0));
  return {
    sent,
    completed: outcomes.filter((o) => o.kind === 'completed').length,
    aborted: outcomes.filter((o) => o.kind === 'aborted').length,
    failures,
    failedBeforeFirstToken,
    failedMidStream,
    tokens,
    clientClosed,
    elapsedS,
    completedPerS: spec.mode === 'closed' ? done / windowS : 0,
    tokensPerS: windowTokens / windowS,
    ttftMs: pcts(ttfts),
    itlMs: pcts(itls),
    e2eMs: pcts(e2es),
    promptTokens: prompt,
    cachedTokens: cached,
    lateP99Ms: late.length ? percentile(late, 99) : 0,
  };
}

// A run never outlives its requests' timeouts, and the process ends with its stdin, so a target
// that stops answering cannot keep the section from ending.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify({ ready: true, pid: process.pid }));
  createInterface({ input: process.stdin }).on('line', (line) => {
    const msg = JSON.parse(line) as { cmd: string; spec: LoadSpec };
    if (msg.cmd !== 'run') return;
    void runSpec(msg.spec, () => console.log(JSON.stringify({ started: msg.spec.id }))).then(
      (r) => console.log(JSON.stringify({ result: msg.spec.id, ...r })),
      (err: unknown) => console.log(JSON.stringify({ result: msg.spec.id, error: String(err) })),
    );
  });
  process.stdin.on('end', () => process.exit(0));
}
