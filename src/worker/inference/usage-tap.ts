/**
 * Sees an OpenAI-compatible answer on its way from the engine to the client and takes the token
 * usage out of it, without changing what the client receives — except, when asked, the one
 * usage-only chunk the worker made the engine send (`stream_options.include_usage` injected for a
 * client that did not ask for it, so that every stream is accounted).
 *
 * Streams (SSE): bytes are scanned for event ends (a blank line) with `String#indexOf` over a
 * latin1 view of the chunk, not byte by byte in JS (about 1–2 µs per event); every complete event is forwarded in the same `push` that completes it, so the tap
 * never holds an event back past its blank line, and only the bytes of an unfinished event wait
 * for the next chunk. Events split at any byte, `\n`, `\r\n` and `\r` line ends, comments
 * (`: ping`) and `data: [DONE]` are handled. An event is parsed as JSON only when it contains
 * `"usage"` with a non-null value (the usage chunk, or every chunk under vLLM's
 * `continuous_usage_stats`); the others are only checked for content (a non-empty `content`,
 * `text`, `reasoning_content`, `reasoning` or tool-call `arguments` string), which counts output
 * chunks and times the first and the last.
 *
 * A stream cut before its usage chunk still gives usage: content chunks as completion tokens (one
 * token per chunk, as engines stream by default) and the caller's prompt estimate, flagged
 * `estimated`.
 *
 * JSON answers are forwarded unchanged as they come; a bounded copy (`maxBuffer`) is parsed at the
 * end for `usage`.
 */
import { estimateTokens } from './openai-body.ts';

export interface TapUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Not the engine's numbers: counted chunks and the prompt estimate (the answer was cut). */
  estimated: boolean;
}

export interface UsageTapOptions {
  /** The answer is an SSE stream (`content-type: text/event-stream`); else one JSON body. */
  streaming: boolean;
  /** Remove the usage-only chunk (`choices: []` with `usage`): the client did not ask for it. */
  stripUsageChunk: boolean;
  /**
   * JSON answers: largest copy kept for parsing `usage` (default 1 MiB; beyond it the usage is
   * estimated). Streams: largest unfinished event held; beyond it the tap stops parsing and
   * forwards everything as it comes (the usage is then estimated).
   */
  maxBuffer?: number;
  /** Prompt tokens to report when the engine reported none (e.g. `estimateTokens(promptChars)`). */
  promptTokensEstimate?: number;
  /**
   * Clock of `firstTokenAt` / `lastTokenAt` in ms (default `performance.now()`: monotonic, so
   * compare with a request start taken from the same clock).
   */
  now?: () => number;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/** Fields whose non-empty string value is generated output. */
const CONTENT_KEYS = ['"content"', '"text"', '"reasoning_content"', '"reasoning"', '"arguments"'];
const EMPTY = Buffer.alloc(0);
const DEFAULT_MAX_BUFFER = 1024 * 1024;

// Events are searched as latin1 strings: one byte is one char, so string offsets are byte
// offsets, the ASCII needles cannot match inside multi-byte UTF-8 sequences (their bytes are all
// ≥ 0x80), and String#indexOf runs in the JIT without a native call per search.

function skipBlanks(ev: string, i: number): number {
  for (;;) {
    const c = ev.charCodeAt(i);
    if (c !== SPACE && c !== TAB && c !== CR && c !== LF) return i;
    i++;
  }
}

/** `"usage"` appears with a value other than `null` (cheap: no JSON parse). */
function hasUsageValue(ev: string): boolean {
  let at = ev.indexOf('"usage"');
  while (at >= 0) {
    let i = skipBlanks(ev, at + 7);
    if (ev.charCodeAt(i) === COLON) {
      i = skipBlanks(ev, i + 1);
      if (!ev.startsWith('null', i)) return true;
    }
    at = ev.indexOf('"usage"', at + 7);
  }
  return false;
}

/** Some content key has a non-empty string value. */
function carriesContent(ev: string): boolean {
  for (const key of CONTENT_KEYS) {
    let at = ev.indexOf(key);
    while (at >= 0) {
      let i = skipBlanks(ev, at + key.length);
      if (ev.charCodeAt(i) === COLON) {
        i = skipBlanks(ev, i + 1);
        if (ev.charCodeAt(i) === QUOTE && i + 1 < ev.length && ev.charCodeAt(i + 1) !== QUOTE) return true;
      }
      at = ev.indexOf(key, at + key.length);
    }
  }
  return false;
}

/** The data of an SSE event: its `data:` lines' values (one leading space dropped) joined by LF. */
function eventData(ev: string): string | null {
  let data: string | null = null;
  for (const line of ev.split(/\r\n|\r|\n/)) {
    if (!line.startsWith('data:')) continue;
    const v = line.charCodeAt(5) === SPACE ? line.slice(6) : line.slice(5);
    data = data === null ? v : `${data}\n${v}`;
  }
  return data;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0;
}

interface Reported {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

function readUsage(u: Record<string, unknown>): Reported {
  const details = u.prompt_tokens_details;
  return {
    promptTokens: count(u.prompt_tokens),
    completionTokens: count(u.completion_tokens),
    cachedTokens: isObject(details) ? count(details.cached_tokens) : 0,
  };
}

export class UsageTap {
  /** When the first content chunk passed (clock of `now`); null for JSON answers and before it. */
  firstTokenAt: number | null = null;
  /** When the last content chunk passed. */
  lastTokenAt: number | null = null;
  /** Content-carrying chunks seen (each holds one token unless the engine batches them). */
  contentChunks = 0;

  private readonly streaming: boolean;
  private readonly strip: boolean;
  private readonly maxBuffer: number;
  private readonly promptEstimate: number;
  private readonly now: () => number;

  private reported: Reported | null = null;
  /** Some data event (streams) or a JSON object (JSON answers) was seen. */
  private answered = false;
  private ended = false;

  // Streams: the unfinished event, and where its scan stands.
  private pending: Buffer = EMPTY;
  private scanPos = 0;
  private lineStart = 0;
  /** The last byte scanned was a CR ending a line: an LF right after it belongs to that line end. */
  private afterCR = false;
  /** …and that CR ended a stripped event: drop the LF too. */
  private dropLF = false;
  /** An event outgrew `maxBuffer`: forward everything as it comes, parse nothing more. */
  private passthrough = false;

  // JSON answers: the bounded copy.
  private chunks: Buffer[] = [];
  private buffered = 0;
  private overflowed = false;
  private total = 0;
  /** Estimated completion tokens of a JSON answer without `usage`. */
  private textTokens = 0;

  constructor(opts: UsageTapOptions) {
    this.streaming = opts.streaming;
    this.strip = opts.stripUsageChunk;
    this.maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
    this.promptEstimate = count(opts.promptTokensEstimate);
    this.now = opts.now ?? (() => performance.now());
  }

  /** Bytes to send to the client now (null: nothing yet). */
  push(chunk: Buffer): Buffer | null {
    if (chunk.length === 0) return null;
    if (this.ended) return chunk;
    if (!this.streaming) return this.pushJson(chunk);
    if (this.passthrough) return chunk;
    return this.pushStream(chunk);
  }

  /** The end of the answer: what is left to send (null: nothing). */
  end(): Buffer | null {
    if (this.ended) return null;
    this.ended = true;
    if (!this.streaming) {
      this.parseJson();
      return null;
    }
    const tail = this.pending;
    this.pending = EMPTY;
    if (tail.length === 0 || this.passthrough) return tail.length ? tail : null;
    // An unfinished event at the end: clients drop it, but it may still be the usage chunk.
    return this.inspect(tail.toString('latin1'), false) ? null : tail;
  }

  /**
   * The answer's usage: the engine's numbers when it reported them, else an estimate (counted
   * content chunks; `promptEstimate`, default the constructor's `promptTokensEstimate`); null when
   * no answer was seen at all (no data event, no JSON object) — nothing to account. Meant for
   * successful (2xx) answers, after `end()` (JSON answers are parsed there).
   */
  usage(promptEstimate?: number): TapUsage | null {
    if (this.reported) return { ...this.reported, estimated: false };
    const prompt = promptEstimate === undefined ? this.promptEstimate : count(promptEstimate);
    if (!this.streaming && this.overflowed) {
      // Too large to parse: the bytes are mostly generated text.
      return {
        promptTokens: prompt,
        completionTokens: estimateTokens(this.total),
        cachedTokens: 0,
        estimated: true,
      };
    }
    if (!this.answered && !(this.streaming && this.passthrough)) return null;
    return {
      promptTokens: prompt,
      completionTokens: this.streaming ? this.contentChunks : this.textTokens,
      cachedTokens: 0,
      estimated: true,
    };
  }

  /** What time to first token and time per output token are computed from. */
  get tokenTimes(): { firstAt: number | null; lastAt: number | null; chunks: number } {
    return { firstAt: this.firstTokenAt, lastAt: this.lastTokenAt, chunks: this.contentChunks };
  }

  /** Time to first token in ms from `startedAt` (same clock as `now`); null when none came. */
  ttftMs(startedAt: number): number | null {
    return this.firstTokenAt === null ? null : this.firstTokenAt - startedAt;
  }

  /**
   * Time per output token after the first, in ms: (last − first) / (tokens − 1), tokens from the
   * engine's usage when reported (a chunk may hold several), else the content chunks.
   */
  tpotMs(): number | null {
    if (this.firstTokenAt === null || this.lastTokenAt === null) return null;
    const tokens = this.reported?.completionTokens || this.contentChunks;
    return tokens > 1 ? (this.lastTokenAt - this.firstTokenAt) / (tokens - 1) : null;
  }

  // ------------------------------------------------------------------ streams

  private pushStream(chunk: Buffer): Buffer | null {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const len = buf.length;
    const str = buf.toString('latin1');
    let pos = this.scanPos;
    let lineStart = this.lineStart;
    let eventStart = 0;
    let fwdFrom = 0;
    const out: Buffer[] = [];

    if (this.afterCR) {
      // The previous chunk ended on a CR: a LF here completes that CRLF.
      if (str.charCodeAt(pos) === LF) {
        if (pos === eventStart) {
          eventStart = pos + 1;
          if (this.dropLF) fwdFrom = pos + 1;
        }
        pos++;
        lineStart = pos;
      }
      this.afterCR = false;
      this.dropLF = false;
    }

    // Next CR / LF at or after pos; -2 = not searched yet, -1 = none left in buf.
    let cr = -2;
    let lf = -2;
    while (pos < len) {
      if (lf !== -1 && lf < pos) lf = str.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = str.indexOf('\r', pos);
      if (lf === -1 && cr === -1) break;
      const t = lf === -1 ? cr : cr === -1 ? lf : Math.min(cr, lf);
      let next = t + 1;
      if (t === cr) {
        if (next < len) {
          if (str.charCodeAt(next) === LF) next++;
        } else this.afterCR = true;
      }
      const blank = t === lineStart;
      pos = next;
      lineStart = next;
      if (!blank) continue;
      // A blank line: the event [eventStart, t) is complete (its blank line ends at next).
      if (t > eventStart && this.inspect(str.slice(eventStart, t), true)) {
        if (eventStart > fwdFrom) out.push(buf.subarray(fwdFrom, eventStart));
        fwdFrom = next;
        if (this.afterCR) this.dropLF = true;
      }
      eventStart = next;
    }

    if (eventStart > fwdFrom)
      out.push(fwdFrom === 0 && eventStart === len ? buf : buf.subarray(fwdFrom, eventStart));
    // Copied: a view would keep the whole chunk alive for a few bytes.
    this.pending = eventStart < len ? Buffer.from(buf.subarray(eventStart)) : EMPTY;
    this.scanPos = pos - eventStart;
    this.lineStart = lineStart - eventStart;
    if (this.pending.length > this.maxBuffer) {
      // Not an SSE stream we understand (or an absurd event): stop holding bytes back.
      this.passthrough = true;
      out.push(this.pending);
      this.pending = EMPTY;
    }
    if (out.length === 0) return null;
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /**
   * Accounts one event (without its blank line); true when it is the usage-only chunk and must
   * be removed. `complete`: an unfinished tail at the end is not counted as a token (clients drop
   * it), but a usage it carries is taken.
   */
  private inspect(ev: string, complete: boolean): boolean {
    if (ev.indexOf('data:') < 0) return false; // a comment, or only id:/event:/retry: fields
    this.answered = true;
    if (hasUsageValue(ev)) {
      // Back to bytes, then decoded as the UTF-8 it is.
      const data = eventData(Buffer.from(ev, 'latin1').toString('utf8'));
      let obj: unknown;
      try {
        obj = data === null ? null : JSON.parse(data);
      } catch {
        obj = null;
      }
      if (isObject(obj) && isObject(obj.usage)) {
        // With continuous usage stats every chunk carries the usage so far: the last one wins.
        this.reported = readUsage(obj.usage);
        if (Array.isArray(obj.choices) && obj.choices.length === 0) return this.strip;
      }
    }
    if (complete && carriesContent(ev)) {
      const t = this.now();
      if (this.firstTokenAt === null) this.firstTokenAt = t;
      this.lastTokenAt = t;
      this.contentChunks++;
    }
    return false;
  }

  // ------------------------------------------------------------------ JSON answers

  private pushJson(chunk: Buffer): Buffer {
    this.total += chunk.length;
    if (!this.overflowed) {
      if (this.buffered + chunk.length > this.maxBuffer) {
        this.overflowed = true;
        this.chunks = [];
        this.buffered = 0;
      } else {
        // Kept by reference: forwarded chunks are never written to again.
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
    }
    return chunk;
  }

  private parseJson(): void {
    if (this.overflowed || this.buffered === 0) return;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    let obj: unknown;
    try {
      obj = JSON.parse(body.toString('utf8'));
    } catch {
      return;
    }
    if (!isObject(obj)) return;
    this.answered = true;
    if (isObject(obj.usage)) {
      this.reported = readUsage(obj.usage);
      return;
    }
    // No usage in the answer: estimate the completion from the generated text.
    let chars = 0;
    if (Array.isArray(obj.choices)) {
      for (const c of obj.choices) {
        if (!isObject(c)) continue;
        if (typeof c.text === 'string') chars += c.text.length;
        const m = c.message;
        if (isObject(m) && typeof m.content === 'string') chars += m.content.length;
      }
    }
    this.textTokens = estimateTokens(chars);
  }
}
