// Faults of one replica, set at start (--fault) or at run time (POST /_sim/fault). One fault at a
// time: setting one replaces the previous one (replacing a hang resumes the engine).
//
//   crash            exit 1 at once
//   hang             no step starts or ends and no request is answered (they are held, sockets
//                    open) until cleared; /_sim/* keeps answering so a test can clear it
//   slow  factor     every step lasts factor × longer (simulated and wall time)
//   status status    every new completion request is answered `status` (503 or 429) with
//                    Retry-After; /health stays 200 (the replica is alive, only overloaded)
//   broken           /health stays 200, but every completion fails after its first chunk: the
//                    connection is destroyed (non-streaming: when its first token is generated,
//                    before any byte of the answer)
//   clear            back to normal
// `durationMs` (optional) clears the fault by itself after that long.
import { ApiError } from './openai.mjs';

const KINDS = new Set(['crash', 'hang', 'slow', 'status', 'broken', 'clear']);

/** A fault from the --fault flag: `kind`, `kind:value` (slow:3, status:429) or a JSON object. */
export function parseFaultFlag(text) {
  if (text.trim().startsWith('{')) return parseFault(JSON.parse(text));
  const [kind, value] = text.split(':');
  if (kind === 'slow') return parseFault({ kind, factor: Number(value ?? 2) });
  if (kind === 'status') return parseFault({ kind, status: Number(value ?? 503) });
  return parseFault({ kind });
}

/** Validates a fault (the body of POST /_sim/fault); throws ApiError 400. */
export function parseFault(body) {
  const bad = (message) => new ApiError(400, message, { code: 'invalid_fault' });
  if (body === null || typeof body !== 'object' || !KINDS.has(body.kind)) {
    throw bad(`kind must be one of ${[...KINDS].join(', ')}`);
  }
  const f = { kind: body.kind };
  if (body.kind === 'slow') {
    f.factor = body.factor ?? 2;
    if (typeof f.factor !== 'number' || !Number.isFinite(f.factor) || f.factor <= 0) {
      throw bad('factor must be a number > 0');
    }
  }
  if (body.kind === 'status') {
    f.status = body.status ?? 503;
    if (f.status !== 503 && f.status !== 429) throw bad('status must be 503 or 429');
  }
  if (body.durationMs !== undefined && body.durationMs !== null) {
    if (!Number.isSafeInteger(body.durationMs) || body.durationMs < 1)
      throw bad('durationMs must be an integer >= 1');
    f.durationMs = body.durationMs;
  }
  return f;
}

export class Faults {
  /**
   * @param {import('./engine.mjs').Engine} engine
   * @param {{ crash(): void, cleared(): void }} hooks `cleared` runs when a hang ends
   */
  constructor(engine, hooks) {
    this.engine = engine;
    this.hooks = hooks;
    this.current = null;
    this.timer = null;
  }

  get hung() {
    return this.current?.kind === 'hang';
  }

  get broken() {
    return this.current?.kind === 'broken';
  }

  /** { status, retryAfterS } while a status fault is set, else null. */
  get status() {
    if (this.current?.kind !== 'status') return null;
    const left = this.current.until === null ? 1000 : Math.max(0, this.current.until - Date.now());
    return { status: this.current.status, retryAfterS: Math.max(1, Math.ceil(left / 1000)) };
  }

  set(f) {
    if (f.kind === 'crash') return this.hooks.crash();
    const wasHung = this.hung;
    clearTimeout(this.timer);
    this.timer = null;
    this.engine.slowFactor = f.kind === 'slow' ? f.factor : 1;
    if (f.kind === 'clear') {
      this.current = null;
    } else {
      this.current = { ...f, since: Date.now(), until: f.durationMs ? Date.now() + f.durationMs : null };
      if (f.durationMs) this.timer = setTimeout(() => this.set({ kind: 'clear' }), f.durationMs);
    }
    if (this.hung) this.engine.pause();
    else if (wasHung) {
      this.engine.resume();
      this.hooks.cleared();
    }
  }

  describe() {
    if (!this.current) return { kind: 'none' };
    const { since, until, ...f } = this.current;
    return { ...f, since: new Date(since).toISOString(), until: until && new Date(until).toISOString() };
  }
}
