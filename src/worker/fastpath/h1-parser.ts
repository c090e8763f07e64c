/**
 * A strict HTTP/1.1 message-head parser and chunked-body decoder for the fast path
 * (fastpath/connection.ts): RFC 9112 message syntax with RFC 9110's token and field-value grammar.
 *
 * Written here rather than reusing llhttp (through Node's internal `_http_common` binding):
 * the fast path must know the exact byte offset where each message starts and ends — to stop at a
 * message boundary when a client pipelines, and to hand a message it does not serve to `node:http`
 * with its bytes untouched — and Node's binding parses a whole buffer through every message in it
 * without saying where one ended. Heads are small (a few hundred bytes): one pass over a byte
 * table per head costs less than the binding's C++→JS callback with an array of header strings.
 *
 * Three answers for a head: `incomplete` (read more), `invalid` (an attack shape or malformed
 * bytes: 400 and close — CL with TE, duplicate or malformed Content-Length, duplicate Host, bare
 * CR or LF, whitespace before a colon, control bytes, oversized heads) and `ok` with `fallback`
 * set when the message is valid but outside the fast path's subset (HTTP/1.0, upgrades,
 * `Expect`, `Transfer-Encoding` other than exactly `chunked`, obs-fold, other methods and target
 * forms): those go to `node:http` untouched.
 */

/** Header bytes as latin1 (what node:http gives too): the fastest decoding Buffer offers. */
function latin1(buf: Buffer, from: number, to: number): string {
  return buf.toString('latin1', from, to);
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** RFC 9110 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

/** field-vchar, SP and HTAB (obs-text included): what a field value may contain. */
const FIELD = new Uint8Array(256);
FIELD[SP] = 1;
FIELD[HTAB] = 1;
for (let c = 0x21; c <= 0x7e; c++) FIELD[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD[c] = 1;

/** What an origin-form request target may contain (visible ASCII). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

const FAST_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** Largest head accepted (request line and headers), as the node:http path's limit. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** More header lines than this go to node:http (which bounds them itself). */
const MAX_FAST_HEADERS = 100;

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Responses only: the body runs until the connection closes. */
  | { kind: 'close' };

export interface MessageHead {
  /** Offset just past the head's closing CRLF CRLF. */
  headEnd: number;
  /** Header names (lower case) and values (trimmed), in order: [name, value, name, value, …]. */
  headers: string[];
  /** Names as sent, parallel to `headers` (for the rewritten head). */
  rawNames: string[];
  body: BodyFraming;
  /** `Connection: close` (or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** Why node:http must serve it (valid, but outside the fast path), else null. */
  fallback: string | null;
}

export interface RequestHead extends MessageHead {
  method: string;
  target: string;
  host: string | undefined;
  cookie: string | undefined;
  /** Values of Connection, lower case, for the hop-by-hop names it lists. */
  connection: string | undefined;
}

export interface ResponseHead extends MessageHead {
  status: number;
  reason: string;
}

export type HeadResult<T> =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string; status: 400 | 431 | 502 }
  | { state: 'ok'; head: T };

const INCOMPLETE = { state: 'incomplete' } as const;

function invalid(reason: string, status: 400 | 431 | 502 = 400) {
  return { state: 'invalid', reason, status } as const;
}

/**
 * Finds the head's end (CRLF CRLF) from `start`; -1 when not there yet, -2 when a bare LF or CR
 * comes first (never valid in a head).
 */
function findHeadEnd(buf: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === LF) return -2; // an LF without its CR (a CR LF pair skips its LF below)
    if (c !== CR) continue;
    if (i + 1 >= end) return -1;
    if (buf[i + 1] !== LF) return -2;
    // A line ended at i: is the next one empty?
    if (i + 2 >= end) return -1;
    if (buf[i + 2] === CR) {
      if (i + 3 >= end) return -1;
      if (buf[i + 3] !== LF) return -2;
      return i + 4;
    }
    i++;
  }
  return -1;
}

/** Parses header lines in [from, headEnd - 2): shared by requests and responses. */
function parseFields(
  buf: Buffer,
  from: number,
  headEnd: number,
  out: { headers: string[]; rawNames: string[] },
): string | null {
  let i = from;
  const stop = headEnd - 2; // the final CRLF
  while (i < stop) {
    const c = buf[i]!;
    if (c === SP || c === HTAB) return 'obs-fold';
    const nameStart = i;
    while (i < stop && TCHAR[buf[i]!] === 1) i++;
    if (i === nameStart) return 'bad header name';
    if (buf[i] !== COLON) return 'bad header name';
    const name = latin1(buf, nameStart, i);
    i++;
    while (i < stop && (buf[i] === SP || buf[i] === HTAB)) i++;
    const valueStart = i;
    let valueEnd = i;
    while (i < stop && buf[i] !== CR) {
      const b = buf[i]!;
      if (FIELD[b] !== 1) return 'bad header value';
      if (b !== SP && b !== HTAB) valueEnd = i + 1;
      i++;
    }
    // findHeadEnd guaranteed CR LF here.
    i += 2;
    out.rawNames.push(name);
    out.headers.push(name.toLowerCase(), latin1(buf, valueStart, valueEnd));
    if (out.rawNames.length > MAX_FAST_HEADERS) return 'too many headers';
  }
  return null;
}

/** Content-Length: 1*DIGIT, within a safe integer. */
function contentLength(v: string): number | null {
  if (v.length === 0 || v.length > 15) return null;
  let n = 0;
  for (let k = 0; k < v.length; k++) {
    const d = v.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return n;
}

function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  for (const t of list.split(',')) if (t.trim() === token) return true;
  return false;
}

interface Framing {
  cl: number;
  clCount: number;
  te: string | undefined;
  teCount: number;
  connection: string | undefined;
}

/** Content-Length and Transfer-Encoding, once each; the ambiguous combinations are invalid. */
function framingOf(headers: string[]): Framing | string {
  const f: Framing = { cl: -1, clCount: 0, te: undefined, teCount: 0, connection: undefined };
  for (let k = 0; k < headers.length; k += 2) {
    const name = headers[k]!;
    const v = headers[k + 1]!;
    if (name === 'content-length') {
      const n = contentLength(v);
      if (n === null) return 'bad Content-Length';
      f.clCount++;
      f.cl = n;
    } else if (name === 'transfer-encoding') {
      f.teCount++;
      f.te = v.toLowerCase();
    } else if (name === 'connection') {
      const low = v.toLowerCase();
      f.connection = f.connection === undefined ? low : `${f.connection}, ${low}`;
    }
  }
  if (f.clCount > 1) return 'duplicate Content-Length';
  if (f.clCount > 0 && f.teCount > 0) return 'Content-Length with Transfer-Encoding';
  return f;
}

/** A request head from `start`; see the module comment for the three answers. */
export function parseRequestHead(buf: Buffer, start: number, end: number): HeadResult<RequestHead> {
  const headEnd = findHeadEnd(buf, start, Math.min(end, start + MAX_HEAD_BYTES));
  if (headEnd === -2) return invalid('bare CR or LF');
  if (headEnd === -1) return end - start >= MAX_HEAD_BYTES ? invalid('head too large', 431) : INCOMPLETE;
  // Request line: method SP target SP HTTP-version CRLF.
  let i = start;
  while (TCHAR[buf[i]!] === 1) i++;
  if (i === start || buf[i] !== SP) {
    // Leading empty lines and other oddities are node:http's to judge (it tolerates some).
    if (buf[start] === CR) return fallbackHead(headEnd, 'leading empty line');
    return invalid('bad request line');
  }
  const method = latin1(buf, start, i);
  i++;
  const targetStart = i;
  while (TARGET[buf[i]!] === 1) i++;
  if (i === targetStart || buf[i] !== SP) return invalid('bad request target');
  const target = latin1(buf, targetStart, i);
  i++;
  if (
    buf[i] !== 72 || // H
    buf[i + 1] !== 84 ||
    buf[i + 2] !== 84 ||
    buf[i + 3] !== 80 ||
    buf[i + 4] !== 47 || // /
    buf[i + 6] !== 46 || // .
    buf[i + 8] !== CR
  )
    return invalid('bad HTTP version');
  const major = buf[i + 5]! - 48;
  const minor = buf[i + 7]! - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return invalid('bad HTTP version');
  const fields = { headers: [] as string[], rawNames: [] as string[] };
  const bad = parseFields(buf, i + 10, headEnd, fields);
  if (bad === 'obs-fold' || bad === 'too many headers') return fallbackHead(headEnd, bad);
  if (bad !== null) return invalid(bad);
  const f = framingOf(fields.headers);
  if (typeof f === 'string') return invalid(f);
  let host: string | undefined;
  let hosts = 0;
  let cookie: string | undefined;
  let fallback: string | null = null;
  const h = fields.headers;
  for (let k = 0; k < h.length; k += 2) {
    const name = h[k]!;
    if (name === 'host') {
      hosts++;
      host = h[k + 1];
    } else if (name === 'cookie') cookie = cookie === undefined ? h[k + 1] : `${cookie}; ${h[k + 1]}`;
    else if (name === 'expect') fallback = 'Expect';
    else if (name === 'upgrade') fallback = 'upgrade';
  }
  if (hosts > 1) return invalid('duplicate Host');
  if (major !== 1 || minor !== 1) fallback = `HTTP/${major}.${minor}`;
  else if (hosts === 0) fallback = 'no Host';
  else if (!FAST_METHODS.has(method)) fallback = `method ${method}`;
  else if (target.charCodeAt(0) !== 47) fallback = 'target form';
  let body: BodyFraming = { kind: 'none' };
  if (f.teCount > 0) {
    if (f.teCount > 1 || f.te !== 'chunked') fallback ??= 'Transfer-Encoding';
    else body = { kind: 'chunked' };
  } else if (f.cl > 0) body = { kind: 'length', length: f.cl };
  return {
    state: 'ok',
    head: {
      headEnd,
      headers: fields.headers,
      rawNames: fields.rawNames,
      body,
      close: hasToken(f.connection, 'close'),
      fallback,
      method,
      target,
      host,
      cookie,
      connection: f.connection,
    },
  };
}

function fallbackHead(headEnd: number, why: string): HeadResult<RequestHead> {
  return {
    state: 'ok',
    head: {
      headEnd,
      headers: [],
      rawNames: [],
      body: { kind: 'none' },
      close: false,
      fallback: why,
      method: '',
      target: '',
      host: undefined,
      cookie: undefined,
      connection: undefined,
    },
  };
}

/**
 * A response head from `start`. `requestMethod` decides whether a body follows (HEAD, and 1xx,
 * 204 and 304 answers, carry none). Anything malformed is `invalid` with status 502 (the app's
 * answer cannot be relayed).
 */
export function parseResponseHead(
  buf: Buffer,
  start: number,
  end: number,
  requestMethod: string,
): HeadResult<ResponseHead> {
  const headEnd = findHeadEnd(buf, start, Math.min(end, start + MAX_HEAD_BYTES));
  if (headEnd === -2) return invalid('bare CR or LF in the response head', 502);
  if (headEnd === -1)
    return end - start >= MAX_HEAD_BYTES ? invalid('response head too large', 502) : INCOMPLETE;
  // Status line: HTTP/1.x SP 3DIGIT SP reason CRLF (the reason may be empty).
  let i = start;
  if (
    buf[i] !== 72 ||
    buf[i + 1] !== 84 ||
    buf[i + 2] !== 84 ||
    buf[i + 3] !== 80 ||
    buf[i + 4] !== 47 ||
    buf[i + 5] !== 49 ||
    buf[i + 6] !== 46 ||
    (buf[i + 7] !== 49 && buf[i + 7] !== 48) ||
    buf[i + 8] !== SP
  )
    return invalid('bad status line', 502);
  const minor = buf[i + 7]! - 48;
  const d0 = buf[i + 9]! - 48;
  const d1 = buf[i + 10]! - 48;
  const d2 = buf[i + 11]! - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return invalid('bad status code', 502);
  const status = d0 * 100 + d1 * 10 + d2;
  i += 12;
  let reasonEnd = i;
  if (buf[i] === SP) {
    i++;
    reasonEnd = i;
    while (buf[reasonEnd] !== CR) {
      if (FIELD[buf[reasonEnd]!] !== 1) return invalid('bad reason phrase', 502);
      reasonEnd++;
    }
  } else if (buf[i] !== CR) return invalid('bad status line', 502);
  const reason = latin1(buf, i, reasonEnd);
  const fields = { headers: [] as string[], rawNames: [] as string[] };
  const bad = parseFields(buf, reasonEnd + 2, headEnd, fields);
  if (bad !== null && bad !== 'too many headers') return invalid(`response: ${bad}`, 502);
  const f = framingOf(fields.headers);
  if (typeof f === 'string') return invalid(`response: ${f}`, 502);
  const close = minor === 0 ? !hasToken(f.connection, 'keep-alive') : hasToken(f.connection, 'close');
  let body: BodyFraming;
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) body = { kind: 'none' };
  else if (f.teCount > 0) {
    const last = f.te!.split(',').pop()!.trim();
    body = f.teCount === 1 && last === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  } else if (f.clCount > 0) body = f.cl === 0 ? { kind: 'none' } : { kind: 'length', length: f.cl };
  else body = { kind: 'close' };
  return {
    state: 'ok',
    head: {
      headEnd,
      headers: fields.headers,
      rawNames: fields.rawNames,
      body,
      close,
      fallback: null,
      status,
      reason,
    },
  };
}

enum Chunk {
  Size,
  SizeCr,
  Ext,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerCr,
  TrailerLine,
  TrailerLineCr,
  Done,
}

/** Largest chunk size accepted (hex digits beyond this are an attack shape). */
const MAX_CHUNK_DIGITS = 12;
/** Chunk extensions and trailers together, per message. */
const MAX_CHUNK_META = 16 * 1024;

/**
 * Decodes a chunked body as it arrives: every size line, extension and CRLF is checked (a chunk's
 * boundaries are verified, not trusted); data comes out as [start, end) ranges of the buffers fed
 * in. Extensions and trailers are checked for bad bytes and dropped, as node:http does.
 */
export class ChunkedDecoder {
  private state = Chunk.Size;
  private digits = 0;
  private remaining = 0;
  private meta = 0;
  error: string | null = null;

  get done(): boolean {
    return this.state === Chunk.Done;
  }

  /**
   * Consumes buf[start, end); calls `data(from, to)` for each run of body bytes. Answers where it
   * stopped: `end`, or the offset just past the body's end (what follows belongs to the next
   * message), or -1 on a malformed body (`error` says why).
   */
  feed(buf: Buffer, start: number, end: number, data: (from: number, to: number) => void): number {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      switch (this.state) {
        case Chunk.Size: {
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > MAX_CHUNK_DIGITS) return this.fail('chunk size too large');
            this.remaining = this.remaining * 16 + v;
            i++;
            continue;
          }
          if (this.digits === 0) return this.fail('bad chunk size');
          if (c === CR) this.state = Chunk.SizeCr;
          else if (c === 59 /* ; */) this.state = Chunk.Ext;
          else return this.fail('bad chunk size');
          i++;
          continue;
        }
        case Chunk.Ext:
          if (c === CR) this.state = Chunk.SizeCr;
          else if (FIELD[c] !== 1 || ++this.meta > MAX_CHUNK_META) return this.fail('bad chunk extension');
          i++;
          continue;
        case Chunk.SizeCr:
          if (c !== LF) return this.fail('bad chunk size line');
          i++;
          this.digits = 0;
          this.state = this.remaining === 0 ? Chunk.Trailer : Chunk.Data;
          continue;
        case Chunk.Data: {
          const n = Math.min(this.remaining, end - i);
          data(i, i + n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          continue;
        }
        case Chunk.DataCr:
          if (c !== CR) return this.fail('chunk data longer than its size');
          this.state = Chunk.DataLf;
          i++;
          continue;
        case Chunk.DataLf:
          if (c !== LF) return this.fail('bad chunk data end');
          this.state = Chunk.Size;
          i++;
          continue;
        case Chunk.Trailer:
          // Start of a trailer line, or the final CRLF.
          if (c === CR) this.state = Chunk.TrailerCr;
          else if (TCHAR[c] === 1) this.state = Chunk.TrailerLine;
          else return this.fail('bad trailer');
          i++;
          continue;
        case Chunk.TrailerCr:
          if (c !== LF) return this.fail('bad body end');
          this.state = Chunk.Done;
          return i + 1;
        case Chunk.TrailerLine:
          if (c === CR) this.state = Chunk.TrailerLineCr;
          else if ((FIELD[c] !== 1 && c !== COLON) || ++this.meta > MAX_CHUNK_META)
            return this.fail('bad trailer');
          i++;
          continue;
        case Chunk.TrailerLineCr:
          if (c !== LF) return this.fail('bad trailer line');
          this.state = Chunk.Trailer;
          i++;
          continue;
        case Chunk.Done:
          return i;
      }
    }
    return i;
  }

  private fail(why: string): number {
    this.error = why;
    return -1;
  }
}

/**
 * A message body read by its framing, whichever it is: Content-Length counted, chunked decoded
 * (`ChunkedDecoder`), or until the connection closes (never `done`: the caller ends it at EOF).
 * `feed` has the decoder's contract.
 */
export class BodyReader {
  private remaining: number;
  private readonly chunked: ChunkedDecoder | null;
  private finished: boolean;

  constructor(readonly framing: BodyFraming) {
    this.remaining = framing.kind === 'length' ? framing.length : 0;
    this.chunked = framing.kind === 'chunked' ? new ChunkedDecoder() : null;
    this.finished = framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0);
  }

  get done(): boolean {
    return this.chunked ? this.chunked.done : this.finished;
  }

  get error(): string | null {
    return this.chunked?.error ?? null;
  }

  /**
   * Consumes buf[start, end); calls `data(from, to)` for each run of body bytes. Answers where it
   * stopped: `end`, or the offset just past the body's end, or -1 on a malformed body.
   */
  feed(buf: Buffer, start: number, end: number, data: (from: number, to: number) => void): number {
    if (this.chunked) return this.chunked.feed(buf, start, end, data);
    if (this.finished) return start;
    if (this.framing.kind === 'close') {
      if (end > start) data(start, end);
      return end;
    }
    const n = Math.min(this.remaining, end - start);
    this.remaining -= n;
    if (this.remaining === 0) this.finished = true;
    if (n > 0) data(start, start + n);
    return start + n;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
