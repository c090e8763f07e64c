// The engine of one replica: a waiting FIFO, a running set, and a loop of steps.
//
// Each step (continuous batching, chunked prefill, in this order):
//   1. requests whose client went away leave (waiting or running: "the next step boundary");
//   2. every running request past prefill decodes one token (1 token of the step budget each);
//   3. running requests still in prefill get the next chunk of their uncached prompt tokens,
//      while the budget lasts;
//   4. waiting requests are admitted in FIFO order while the running set has room
//      (< maxNumSeqs), budget is left and their KV blocks fit (kv-cache.mjs); the head of the
//      queue that does not fit blocks those behind it, as vLLM's FCFS scheduler does. An admitted
//      request's cached prefix costs nothing; its first chunk starts in the same step.
// The step lasts (t0 + perSeq·scheduled + perPrefillToken·prefillTokens) simulated ms, times the
// `slow` fault factor; it takes that times timeScale in wall time. At its end each request whose
// prefill completed yields its first token, each decoding request its next one, and requests
// that reached max_tokens finish (their blocks stay cached for reuse). The next step starts at
// once while there is work; an idle engine does not step.
//
// Per request the engine counts steps and simulated time (deterministic, unlike wall time):
// ttftSteps = steps that ended between its arrival and its first token, the step in flight at
// arrival included; ttftSimMs = simulated time from the end of the step in flight at arrival (or
// from arrival on an idle engine) to its first token.
import { KvCache } from './kv-cache.mjs';
import { blockHashes, countTokens, fillerWords } from './text.mjs';

const RECENT = 100;

export class Engine {
  /**
   * @param {object} opts parsed options (options.mjs)
   * @param {{ observeTtft(seconds: number): void, observeItl(seconds: number): void }} metrics
   */
  constructor(opts, metrics) {
    this.opts = opts;
    this.metrics = metrics;
    this.kv = new KvCache({ numBlocks: opts.numBlocks, blockSize: opts.blockSize });
    this.waiting = [];
    this.running = [];
    this.steps = 0;
    this.simMs = 0;
    this.slowFactor = 1;
    this.counters = {
      requests: 0,
      finished: 0,
      aborted: 0,
      broken: 0,
      promptTokens: 0,
      generationTokens: 0,
      tokensAfterAbort: 0,
    };
    /** summaries of the last requests that left the engine, newest last */
    this.recent = [];
    this.nextId = 1;
    /** the step being executed: { stepMs, items: [{ r, prefill }] } */
    this.inFlight = null;
    this.timer = null;
    this.paused = false;
    /** a step that ended while paused, applied on resume */
    this.stalledStep = null;
    this.clockAt = null;
  }

  /** Largest prompt + max_tokens a request may ask for: what fits in the whole cache. */
  get maxModelLen() {
    return this.opts.numBlocks * this.opts.blockSize;
  }

  /**
   * Queues a request. `sink.tokens(r, text, { first, finished })` receives its output, once per
   * `streamInterval` tokens and at the end.
   */
  submit({ id, kind, prompt, maxTokens, requestSeed = 0, sink }) {
    const promptTokens = Math.max(1, countTokens(prompt));
    const r = {
      id: id ?? `${this.nextId++}`,
      kind,
      promptTokens,
      maxTokens,
      blockHashes: blockHashes(prompt, this.opts.blockSize),
      nextWord: fillerWords(this.opts.seed, requestSeed, prompt),
      sink,
      state: 'waiting',
      kv: null,
      cachedTokens: 0,
      computed: 0,
      generated: 0,
      pending: '',
      closed: false,
      closedAtMs: null,
      closedAtStep: null,
      closeReason: null,
      arrivalMs: performance.now(),
      arrivalStep: this.steps,
      arrivalSimMs: this.simMs + (this.inFlight ? this.inFlight.stepMs : 0),
      admittedStep: null,
      firstTokenStep: null,
      ttftSimMs: null,
      ttftMs: null,
      tokensAfterAbort: 0,
    };
    this.counters.requests++;
    this.counters.promptTokens += promptTokens;
    this.waiting.push(r);
    this.#wake();
    return r;
  }

  /**
   * The request's client is gone (or the server cut it): it leaves at the next step boundary.
   * A token of the step in flight is dropped, not sent.
   */
  abort(r, reason = 'client-closed') {
    if (r.closed || r.state === 'done') return;
    r.closed = true;
    r.closedAtMs = Date.now();
    r.closedAtStep = this.steps;
    r.closeReason = reason;
    this.#wake();
  }

  /** hang: no step starts or ends until resume(); the step in flight is applied then. */
  pause() {
    this.paused = true;
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    const stalled = this.stalledStep;
    this.stalledStep = null;
    this.clockAt = null;
    if (stalled) this.#finish(stalled);
    else this.#wake();
  }

  /** Starts the loop if it is idle and there is something to do. */
  #wake() {
    if (this.timer || this.inFlight || this.paused) return;
    this.timer = setImmediate(() => {
      this.timer = null;
      this.#boundary();
    });
  }

  #boundary() {
    if (this.paused) return;
    this.#sweep();
    const items = this.#schedule();
    if (items.length === 0) {
      this.clockAt = null; // idle: the next step's wall clock starts when it does
      return;
    }
    const o = this.opts;
    let prefill = 0;
    for (const it of items) prefill += it.prefill;
    const stepMs = (o.t0Ms + o.perSeqMs * items.length + o.perPrefillTokenMs * prefill) * this.slowFactor;
    const step = { stepMs, items, prefillTokens: prefill, index: this.steps + 1 };
    this.inFlight = step;
    // Wall clock kept on a running schedule so timer granularity (~1 ms) does not add up over
    // short steps (a late step makes the next one shorter); it restarts after idleness, or when
    // the process fell behind by over 50 ms rather than rushing through the backlog.
    const wallMs = stepMs * o.timeScale;
    const now = performance.now();
    if (this.clockAt === null || now - this.clockAt > 50) this.clockAt = now;
    this.clockAt += wallMs;
    const delay = this.clockAt - now;
    if (delay < 0.5) setImmediate(() => this.#finish(step));
    else setTimeout(() => this.#finish(step), delay);
  }

  /** Requests whose client left are removed; their blocks stay cached for reuse. */
  #sweep() {
    if (this.waiting.some((r) => r.closed)) {
      for (const r of this.waiting) if (r.closed) this.#leave(r, 'aborted');
      this.waiting = this.waiting.filter((r) => !r.closed);
    }
    if (this.running.some((r) => r.closed)) {
      for (const r of this.running)
        if (r.closed) this.#leave(r, r.closeReason === 'broken' ? 'broken' : 'aborted');
      this.running = this.running.filter((r) => !r.closed);
    }
  }

  #schedule() {
    const items = [];
    let budget = this.opts.stepBudget;
    for (const r of this.running) {
      if (budget === 0) break;
      if (r.computed === r.promptTokens) {
        items.push({ r, prefill: 0 });
        budget--;
      }
    }
    for (const r of this.running) {
      if (budget === 0) break;
      if (r.computed < r.promptTokens) {
        const n = Math.min(r.promptTokens - r.computed, budget);
        items.push({ r, prefill: n });
        budget -= n;
      }
    }
    while (this.waiting.length > 0 && this.running.length < this.opts.maxNumSeqs && budget > 0) {
      const r = this.waiting[0];
      const cached = this.kv.admit(r);
      if (cached < 0) break;
      this.waiting.shift();
      r.state = 'running';
      r.cachedTokens = cached;
      r.computed = cached;
      r.admittedStep = this.steps + 1;
      this.running.push(r);
      const n = Math.min(r.promptTokens - r.computed, budget);
      items.push({ r, prefill: n });
      budget -= n;
    }
    return items;
  }

  #finish(step) {
    if (this.paused) {
      this.stalledStep = step;
      return;
    }
    this.inFlight = null;
    this.steps++;
    this.simMs += step.stepMs;
    let done = false;
    for (const { r, prefill } of step.items) {
      if (r.state !== 'running') continue;
      // Closed before this step began yet scheduled: a token generated after the close. The
      // sweep at each boundary prevents this; the counter proves it stayed so.
      const lateClose = r.closed && r.closedAtStep < step.index - 1;
      if (prefill > 0) {
        r.computed += prefill;
        this.kv.commit(r, r.computed);
        if (r.computed < r.promptTokens) continue;
      }
      if (lateClose) {
        r.tokensAfterAbort++;
        this.counters.tokensAfterAbort++;
      }
      if (r.closed) continue; // leaves at the next boundary; its token is not sent
      this.#token(r);
      if (r.state === 'done') done = true;
    }
    if (done) this.running = this.running.filter((r) => r.state !== 'done');
    this.#boundary();
  }

  #token(r) {
    const first = r.generated === 0;
    r.generated++;
    this.counters.generationTokens++;
    r.pending += r.nextWord();
    const now = performance.now();
    if (!first) this.metrics.observeItl((now - r.lastTokenMs) / 1000);
    r.lastTokenMs = now;
    if (first) {
      r.firstTokenStep = this.steps;
      r.ttftSimMs = this.simMs - r.arrivalSimMs;
      r.ttftMs = now - r.arrivalMs;
      this.metrics.observeTtft(r.ttftMs / 1000);
    }
    const finished = r.generated === r.maxTokens;
    if (finished) this.#leave(r, 'finished');
    if (finished || first || r.generated % this.opts.streamInterval === 0) {
      const text = r.pending;
      r.pending = '';
      r.sink.tokens(r, text, { first, finished });
    }
  }

  #leave(r, outcome) {
    r.state = 'done';
    this.kv.release(r);
    if (outcome === 'finished') this.counters.finished++;
    else if (outcome === 'broken') this.counters.broken++;
    else this.counters.aborted++;
    this.recent.push(summary(r, outcome, this.steps));
    if (this.recent.length > RECENT) this.recent.shift();
  }

  /** What GET /_sim/state shows. */
  state() {
    const kv = this.kv;
    return {
      steps: this.steps,
      simMs: this.simMs,
      paused: this.paused,
      stepping: this.inFlight !== null && this.stalledStep === null,
      stalled: this.stalledStep !== null,
      waiting: this.waiting.length,
      running: this.running.length,
      waitingIds: this.waiting.map((r) => r.id),
      runningIds: this.running.map((r) => r.id),
      kv: {
        numBlocks: kv.numBlocks,
        blockSize: kv.blockSize,
        usedBlocks: kv.usedBlocks,
        cachedBlocks: kv.refs.size,
        usage: kv.usage(),
        evictions: kv.evictions,
      },
      prefixCache: {
        queryTokens: kv.queryTokens,
        hitTokens: kv.hitTokens,
        hitRate: kv.queryTokens === 0 ? 0 : kv.hitTokens / kv.queryTokens,
      },
      counters: { ...this.counters },
      recent: this.recent,
    };
  }
}

function summary(r, outcome, steps) {
  return {
    id: r.id,
    kind: r.kind,
    outcome,
    promptTokens: r.promptTokens,
    cachedTokens: r.cachedTokens,
    completionTokens: r.generated,
    arrivalStep: r.arrivalStep,
    admittedStep: r.admittedStep,
    firstTokenStep: r.firstTokenStep,
    endStep: steps,
    queueSteps: r.admittedStep === null ? null : r.admittedStep - r.arrivalStep - 1,
    ttftSteps: r.firstTokenStep === null ? null : r.firstTokenStep - r.arrivalStep,
    ttftSimMs: r.ttftSimMs,
    ttftMs: r.ttftMs,
    closedAtMs: r.closedAtMs,
    closedAtStep: r.closedAtStep,
    closeReason: r.closeReason,
    tokensAfterAbort: r.tokensAfterAbort,
  };
}
