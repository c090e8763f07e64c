/**
 * Choosing a route of an inference endpoint with the prompt in mind (`prefix` and `llm` balancing
 * policies; the others are `balancer.ts`). Pure over its inputs — the entries' weights, in-flight
 * counts and engine signals, the request's prompt key — plus its own model of which routes hold
 * which prompt prefixes (`prefix-cache.ts`), which it updates after every pick: the chosen route
 * will hold the prompt's blocks once it has served it.
 *
 * Why prefix affinity: a request whose prompt prefix is already in a replica's KV cache skips the
 * prefill of that prefix, which dominates time to first token for long prompts (llm-d measured a
 * 57× lower TTFT p90 than load-only routing on shared-context workloads, inference.md §2). Why not
 * affinity alone: a hot prefix then piles every request on one replica (llm-d's prefix-only scorer
 * reached ~55 % success under high sharing), so `llm` weighs the cache against load.
 *
 * Per pick: one pass over the entries with a binary search of each route's LRU (≈ log2(blocks)
 * probes of a typed-array table), no allocation.
 */
import {
  type BlockLru,
  checkBlockChars,
  PrefixCacheModel,
  PromptHasher,
  type PromptKey,
} from './prefix-cache.ts';
import { writePrompt } from './prompt.ts';

export type { PromptKey } from './prefix-cache.ts';

/** What the picker reads of a route. */
export interface LlmCandidate {
  /** The route's identity (e.g. `host:port`): its prefix model is kept under it. */
  readonly key: string;
  /** Traffic share; 0 = staged, never picked. */
  weight: number;
  /** Requests in flight to it through this process. */
  inflight: number;
  /** Its engine's last reading (`EngineScraper.signals`), or null. */
  engine: CandidateSignals | null;
}

/** An engine reading as the picker uses it (`EngineSignals` fits). */
export interface CandidateSignals {
  /** Requests queued in the engine. */
  waiting: number;
  /** Requests in the engine's batch. */
  running: number;
  /** KV-cache usage, 0..1. */
  kvUsage: number;
  /** When it was read, on the picker's clock (`now`). */
  at: number;
  /** The engine's KV cache size in tokens, when known: the route's prefix model is sized to it. */
  cacheTokens?: number | null;
  /** The engine's recent ms per output token, when its page says (`EngineSignals.msPerToken`). */
  msPerToken?: number | null;
}

export type LlmPolicy = 'prefix' | 'llm';

/** The picker's default block size (see `LlmPickerOptions.blockChars`). */
export const PICKER_BLOCK_CHARS = 256;

export interface LlmPickerOptions {
  /**
   * Characters per prefix block (UTF-8 bytes: characters of ASCII text, see prefix-cache.ts); a
   * multiple of 16. Default 256 (64 tokens of 4 characters, 4 of vLLM's and llm-sim's 16-token
   * blocks, boundaries aligned). GIE hashes 64-character blocks;
   * here each block costs a lookup per route and a write on the chosen one on every pick, and 4×
   * finer blocks made a pick about 2× slower (bench/picker.ts) for no routing difference: prefixes
   * worth routing for are thousands of characters, a match is at most 255 short.
   */
  blockChars?: number;
  /**
   * Leading blocks of a prompt that count. Default: 16k characters' worth (GIE's
   * maxPrefixBlocksToMatch covers as much): shared system prompts, documents and conversation
   * history sit at the start, and hashing megabyte prompts whole would cost more than it tells.
   */
  maxBlocks?: number;
  /**
   * Blocks each route's model holds when its engine does not report its cache size. Default:
   * 512k characters' worth (≈ 128k tokens, a mid-size GPU's KV cache for an 8B model).
   */
  capacityBlocks?: number;
  /** For sizing a route's model from its engine's cache size in tokens. Default 4. */
  charsPerToken?: number;
  /** Engine signals older than this are ignored. Default 5000 ms (the endpoint default). */
  staleMs?: number;
  /** `llm`: how many queued requests (per unit of weight) holding the whole prompt is worth. Default 4. */
  prefixWeight?: number;
  /** `llm`: prompts shorter than this earn a proportionally smaller prefix bonus. Default 2048 characters. */
  fullPrefixChars?: number;
  /** `llm`: KV usage above which an engine is penalized. Default 0.8. */
  kvKnee?: number;
  /** `llm`: the penalty (in queued requests) of a full KV cache. Default 4. */
  kvWeight?: number;
  /** `llm`: the most load (per unit of weight) a pick may add over the least-loaded route. Default 4. */
  spreadThreshold?: number;
  /** …plus this share of the least-loaded route's load (default 0.5). */
  spreadRatio?: number;
  /**
   * `llm`: a route's pace (its recent milliseconds per output token) this many times the fastest
   * route's or less counts as equal. Default 1.6: equal replicas under uneven load differ by up
   * to ~1.5× (a bigger batch, another request's prefill, make every step longer; measured on
   * llm-sim at 0.6 × capacity), and the load term already weighs load.
   */
  paceTolerance?: number;
  /** `llm`: a route's pace older than this is forgotten (it counts as fast again). Default 30 s. */
  paceTtlMs?: number;
  /** The clock of the engine signals' `at`; performance.now() by default (as `EngineScraper`). */
  now?: () => number;
  random?: () => number;
}

/** How picks were decided (cumulative; for metrics and tests). */
export interface PickCounts {
  /** By the session-affinity value. */
  affinity: number;
  /** `prefix`: longest match (ties by load). */
  prefix: number;
  /** `llm`: by the combined score. */
  scored: number;
  /** `llm`: the score's choice was too loaded; least-loaded instead. */
  spread: number;
  /** `llm`: no prompt block (unknown or short prompt); least-loaded. */
  noPrompt: number;
  /** `llm`: some route had no fresh engine signals; least in flight. */
  noSignals: number;
  /** `llm`: scored picks made while some eligible route was paced slower than the tolerance. */
  paced: number;
}

/** A route's observed pace: an exponentially weighted mean of ms per output token. */
interface Pace {
  msPerToken: number;
  at: number;
  samples: number;
}

/**
 * Weight of a new pace sample: ~10 streams make the mean, so a replica that turns slow is seen
 * within a second or two of traffic, and one long stream does not swing it.
 */
const PACE_ALPHA = 0.1;
/** Samples before a route's pace counts (one stream's pace is noise). */
const PACE_MIN_SAMPLES = 5;
/** The most a pace can weigh: a route 8× slower already costs 8 fast routes' queues. */
const PACE_MAX_SLOWNESS = 8;

export class LlmPicker {
  readonly blockChars: number;
  readonly maxBlocks: number;
  readonly counts: PickCounts = {
    affinity: 0,
    prefix: 0,
    scored: 0,
    spread: 0,
    noPrompt: 0,
    noSignals: 0,
    paced: 0,
  };
  private readonly model: PrefixCacheModel;
  private readonly hasher: PromptHasher;
  private readonly charsPerToken: number;
  private readonly staleMs: number;
  private readonly prefixWeight: number;
  private readonly fullPrefixBlocks: number;
  private readonly kvKnee: number;
  private readonly kvWeight: number;
  private readonly spreadThreshold: number;
  private readonly spreadRatio: number;
  private readonly paceTolerance: number;
  private readonly paceTtlMs: number;
  private readonly paces = new Map<string, Pace>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    public mode: LlmPolicy,
    opts: LlmPickerOptions = {},
  ) {
    this.blockChars = opts.blockChars ?? PICKER_BLOCK_CHARS;
    checkBlockChars(this.blockChars);
    this.maxBlocks = Math.max(1, Math.floor(opts.maxBlocks ?? 16_384 / this.blockChars));
    this.hasher = new PromptHasher(this.blockChars, this.maxBlocks);
    this.model = new PrefixCacheModel(
      Math.max(1, Math.floor(opts.capacityBlocks ?? 524_288 / this.blockChars)),
    );
    this.charsPerToken = opts.charsPerToken ?? 4;
    this.staleMs = opts.staleMs ?? 5_000;
    this.prefixWeight = opts.prefixWeight ?? 4;
    this.fullPrefixBlocks = Math.max(1, Math.round((opts.fullPrefixChars ?? 2048) / this.blockChars));
    this.kvKnee = Math.min(0.99, Math.max(0, opts.kvKnee ?? 0.8));
    this.kvWeight = opts.kvWeight ?? 4;
    this.spreadThreshold = opts.spreadThreshold ?? 4;
    this.spreadRatio = opts.spreadRatio ?? 0.5;
    this.paceTolerance = Math.max(1, opts.paceTolerance ?? 1.6);
    this.paceTtlMs = opts.paceTtlMs ?? 30_000;
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
  }

  /**
   * The prompt key of a parsed request body with this picker's block size and limit (keys are
   * only comparable within one block size): `blockHashes(promptOf(body), blockChars, maxBlocks)`,
   * computed without building the prompt string. Null when the body has no prompt text.
   */
  promptKey(body: unknown): PromptKey | null {
    const h = this.hasher;
    h.begin();
    if (!writePrompt(body, h) || h.size === 0) return null;
    return h.finish();
  }

  /**
   * The route for one request, or null when no entry has a weight above 0. `prompt`: the
   * request's key (`promptKey`), null when unknown. `affinity`: a session-affinity value (e.g. a
   * header's): when given, it alone decides, by rendezvous hashing over the eligible entries, so
   * a session stays on its route while that route stays, and only the sessions of a route that
   * leaves (or a share of them when one joins) move.
   */
  pick<E extends LlmCandidate>(
    entries: readonly E[],
    prompt: PromptKey | null,
    affinity?: string | null,
  ): E | null {
    const n = prompt === null ? 0 : Math.min(prompt.length, this.maxBlocks);
    let chosen: E | null;
    if (affinity !== undefined && affinity !== null && affinity !== '') {
      chosen = this.rendezvous(entries, affinity);
      if (chosen !== null) this.counts.affinity++;
    } else if (this.mode === 'prefix') chosen = this.longestPrefix(entries, prompt, n);
    else chosen = this.scored(entries, prompt, n);
    if (chosen !== null && n > 0) this.record(chosen, prompt!, n);
    return chosen;
  }

  /** The route left: its prefix model is dropped (call on every removal, or models accumulate). */
  forget(key: string): void {
    this.model.forget(key);
    this.paces.delete(key);
  }

  /**
   * A stream the route answered: `msPerToken` between its first and last output token. Feeds the
   * route's pace, which `llm` weighs: a replica whose steps are slower (a weaker GPU, a noisy
   * neighbour, thermal throttling) answers every request it takes slower, whatever its queue.
   */
  observePace(key: string, msPerToken: number): void {
    if (!(msPerToken > 0) || !Number.isFinite(msPerToken)) return;
    const now = this.now();
    const p = this.paces.get(key);
    if (p === undefined || now - p.at > this.paceTtlMs) {
      this.paces.set(key, { msPerToken, at: now, samples: 1 });
      return;
    }
    p.msPerToken += PACE_ALPHA * (msPerToken - p.msPerToken);
    p.at = now;
    p.samples++;
  }

  /** A route's pace (ms per output token), when it has enough recent samples; else null. */
  pace(key: string): number | null {
    const p = this.paces.get(key);
    if (p === undefined || p.samples < PACE_MIN_SAMPLES || this.now() - p.at > this.paceTtlMs) return null;
    return p.msPerToken;
  }

  /** The prefix model of one route (tests, observability). */
  routeModel(key: string): BlockLru | undefined {
    return this.model.route(key);
  }

  /** Routes with a prefix model, and its storage in bytes. */
  get modelStats(): { routes: number; bytes: number } {
    return { routes: this.model.size, bytes: this.model.bytes };
  }

  /** The chosen route now holds the prompt's blocks; its model follows its engine's cache size. */
  private record(e: LlmCandidate, prompt: PromptKey, n: number): void {
    const tokens = e.engine?.cacheTokens;
    const capacity =
      typeof tokens === 'number' && tokens > 0
        ? Math.max(1, Math.floor((tokens * this.charsPerToken) / this.blockChars))
        : undefined;
    this.model.record(e.key, prompt, n, capacity);
  }

  /** `prefix`: the longest held prefix; ties (no match anywhere included) to the least loaded. */
  private longestPrefix<E extends LlmCandidate>(
    entries: readonly E[],
    prompt: PromptKey | null,
    n: number,
  ): E | null {
    let best: E | null = null;
    let bestMatch = -1;
    let tieWeight = 0;
    let hint = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      const m = n > 0 ? this.model.matched(e.key, prompt!, n, hint) : 0;
      if (m > 0) hint = m;
      if (best === null || m > bestMatch) {
        best = e;
        bestMatch = m;
        tieWeight = e.weight;
        continue;
      }
      if (m < bestMatch) continue;
      // Fewer in flight per unit of weight; exact ties by weighted chance (a fixed order would
      // send every new prefix to the first route when the endpoint is idle).
      const c = e.inflight * best.weight - best.inflight * e.weight;
      if (c < 0) {
        best = e;
        tieWeight = e.weight;
      } else if (c === 0) {
        tieWeight += e.weight;
        if (this.random() * tieWeight < e.weight) best = e;
      }
    }
    if (best !== null) this.counts.prefix++;
    return best;
  }

  /**
   * `llm`. Each eligible route gets a cost in units of "requests queued ahead, per unit of
   * weight"; the cheapest wins (exact ties by weighted chance):
   *
   *   cost = load + kvPenalty − prefixBonus
   *   load        = (engine waiting + sent since the engine was read + ¼ · engine running) / weight
   *   kvPenalty   = kvWeight · max(0, kvUsage − kvKnee) / (1 − kvKnee)
   *   prefixBonus = prefixWeight · matchedBlocks / max(promptBlocks, fullPrefixChars / blockChars)
   *
   * - load: the engine's waiting queue is what a newcomer waits behind (whoever put it there:
   *   other workers and clients too); it lags by a scrape interval, so the requests this process
   *   sent since (its in flight beyond the engine's running + waiting) count whole; the running
   *   batch counts a quarter (`engineLoad`).
   * - kvPenalty: below ~80 % KV usage (llm-d's saturation default) an engine has room and usage
   *   says nothing; towards 100 % it must queue new requests or evict cached prefixes, so a full
   *   cache costs as much as the largest prefix bonus (kvWeight = prefixWeight = 4): a full
   *   engine does not win on cache alone.
   * - prefixBonus: the share of the prompt's prefill the route probably skips. A whole-prompt hit
   *   is worth 4 queued requests: a queued request ahead costs about one prefill (on a replica
   *   already at its batch limit) while a hit on a long shared context removes most of ours; more
   *   than that and hot prefixes queue, less and affinity gives way to noise in the load counts.
   *   Prompts under `fullPrefixChars` (2k characters ≈ 512 tokens) earn proportionally less:
   *   their prefill is cheap, staying on a busier route to save it is not.
   *
   * - pace: a route whose engine took `sl` times longer per output token than the fastest
   *   route's (beyond `paceTolerance`; the engines' inter-token latency histograms when every
   *   route's page has one, else the streams this process saw end) serves everything `sl` times slower — the queue
   *   ahead, the prefill it has to do and the request's own step — so its cost is
   *   sl · (1 + load + kvPenalty + prefixWeight − prefixBonus) − 1 − prefixWeight (the formula
   *   above when sl = 1), and its load in the guard below sl · (1 + load) − 1. A slow replica
   *   thus keeps the requests it serves about as fast as the others (a cache hit there against a
   *   long prefill elsewhere), and sheds the rest, instead of queueing its tenants at a third of
   *   the speed (what queue-only signals do: its queue looks short because it takes fewer).
   *
   * Guard (spread): if the winner's load exceeds the least-loaded route's by more than
   * `spreadThreshold` (4 requests per unit of weight) plus `spreadRatio` (½) of that least load,
   * the least-loaded route (load + kvPenalty)
   * takes the request instead. That caps what any cache affinity can cost in queueing, whatever
   * the weights above, and replicates a hot prefix: the second route records it, shares the next
   * requests by load, and so on as demand grows.
   *
   * Load only (least `load + kvPenalty`, ties by weighted chance) when the prompt has no full
   * block (nothing to match). When any eligible route lacks fresh engine signals (never scraped,
   * scraping failing, or older than staleMs), the engines' queues are not comparable across
   * routes: the load is then this proxy's in flight only, with the same prefix bonus and guard
   * (as `prefix` with a guard) — a route added a moment ago must not make every request lose its
   * cache affinity until its first scrape.
   */
  private scored<E extends LlmCandidate>(
    entries: readonly E[],
    prompt: PromptKey | null,
    n: number,
  ): E | null {
    const now = this.now();
    let eligible = 0;
    let fresh = true;
    let enginePaces = true;
    let minEngine = Number.POSITIVE_INFINITY;
    let minObserved = Number.POSITIVE_INFINITY;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      eligible++;
      const s = e.engine;
      if (s === null || !(now - s.at <= this.staleMs)) fresh = false;
      const ep = s?.msPerToken;
      if (typeof ep === 'number' && ep > 0) {
        if (ep < minEngine) minEngine = ep;
      } else enginePaces = false;
      const p = this.paces.size > 0 ? this.pace(e.key) : null;
      if (p !== null && p < minObserved) minObserved = p;
    }
    if (eligible === 0) return null;
    if (!fresh) this.counts.noSignals++;
    // Slowness of each route relative to the fastest: by the engines' own pace when every route's
    // engine reports one (live, per token), else by the streams this process saw end; 1 for all
    // when neither is known. The two are not mixed: each has its own bias.
    const byEngine = fresh && enginePaces;
    const min = byEngine ? minEngine : minObserved;
    const paced = min < Number.POSITIVE_INFINITY ? min : 0;
    if (n === 0) {
      this.counts.noPrompt++;
      return this.leastLoaded(entries, fresh, paced, byEngine);
    }
    const denom = Math.max(n, this.fullPrefixBlocks);
    const bonusPerBlock = this.prefixWeight / denom;
    let best: E | null = null;
    let bestCost = Number.POSITIVE_INFINITY;
    let bestLoad = 0;
    let tieWeight = 0;
    let minLoad = Number.POSITIVE_INFINITY;
    let hint = 0;
    let anySlow = false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      // Without fresh signals from every route, the engines' queues are not comparable: the
      // load is what this proxy has in flight (as `prefix` does), the prefix still counts.
      const s = fresh ? e.engine! : null;
      const sl = paced > 0 ? this.slowness(e, paced, byEngine) : 1;
      if (sl > 1) anySlow = true;
      const queue = (s ? engineLoad(e.inflight, s) : e.inflight) / e.weight;
      // On a slower route everything ahead of the request, its own prefill and its step take
      // `sl` times longer: its load in units of the fastest route's queue.
      const load = sl * (1 + queue) - 1;
      if (load < minLoad) minLoad = load;
      const m = this.model.matched(e.key, prompt!, n, hint);
      if (m > 0) hint = m;
      const work = queue + (s ? this.kvPenalty(s.kvUsage) : 0) + this.prefixWeight - m * bonusPerBlock;
      const cost = sl * (1 + work) - 1 - this.prefixWeight;
      if (cost < bestCost) {
        best = e;
        bestCost = cost;
        bestLoad = load;
        tieWeight = e.weight;
      } else if (cost === bestCost) {
        tieWeight += e.weight;
        if (this.random() * tieWeight < e.weight) {
          best = e;
          bestLoad = load;
        }
      }
    }
    if (anySlow) this.counts.paced++;
    // The guard grows with the load: when every queue is long, a few requests more on the affine
    // route cost less than the prefill a cache miss elsewhere would add to a long queue.
    if (bestLoad - minLoad > this.spreadThreshold + this.spreadRatio * minLoad) {
      this.counts.spread++;
      return this.leastLoaded(entries, fresh, paced, byEngine);
    }
    this.counts.scored++;
    return best;
  }

  /** A route's pace over the fastest's (`minPace` > 0), 1 within the tolerance, at most 8. */
  private slowness(e: LlmCandidate, minPace: number, byEngine: boolean): number {
    const p = byEngine ? e.engine!.msPerToken! : this.pace(e.key);
    if (p === null) return 1;
    const r = p / minPace;
    return r <= this.paceTolerance ? 1 : Math.min(r, PACE_MAX_SLOWNESS);
  }

  private kvPenalty(usage: number): number {
    if (!(usage > this.kvKnee)) return 0;
    const u = Math.min(usage, 1);
    return (this.kvWeight * (u - this.kvKnee)) / (1 - this.kvKnee);
  }

  /**
   * Least load per unit of weight: with engine signals (fresh for every eligible entry), in
   * flight + waiting plus the KV penalty; without, in flight only. Exact ties by weighted chance.
   */
  private leastLoaded<E extends LlmCandidate>(
    entries: readonly E[],
    withEngine: boolean,
    minPace = 0,
    byEngine = false,
  ): E | null {
    let best: E | null = null;
    let bestCost = Number.POSITIVE_INFINITY;
    let tieWeight = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      let work: number;
      if (withEngine) {
        const s = e.engine!;
        work = engineLoad(e.inflight, s) / e.weight + this.kvPenalty(s.kvUsage);
      } else work = e.inflight / e.weight;
      const cost = minPace > 0 ? this.slowness(e, minPace, byEngine) * (1 + work) - 1 : work;
      if (cost < bestCost) {
        best = e;
        bestCost = cost;
        tieWeight = e.weight;
      } else if (cost === bestCost) {
        tieWeight += e.weight;
        if (this.random() * tieWeight < e.weight) best = e;
      }
    }
    return best;
  }

  /**
   * Weighted rendezvous (highest random weight) hashing: every eligible entry scores
   * −weight / ln(u), u uniform in (0, 1) from hash(value, key); the highest wins. Each value's
   * winner depends only on its own scores, so adding or removing another entry moves only the
   * values that entry wins or won, and shares follow the weights.
   */
  private rendezvous<E extends LlmCandidate>(entries: readonly E[], value: string): E | null {
    const hv = hashString(value, 0x5bd1e995 | 0);
    let best: E | null = null;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      const h = fmix32(hv ^ hashString(e.key, 0x27d4eb2f | 0)) >>> 0;
      const u = (h + 0.5) / 4294967296;
      const score = -e.weight / Math.log(u);
      if (score > bestScore) {
        best = e;
        bestScore = score;
      }
    }
    return best;
  }
}

/**
 * A request in the engine's running batch costs a newcomer this share of a queued one: it makes
 * each step a little longer (vLLM's and llm-sim's step time grows by well under a millisecond
 * per sequence), where a queued one is waited for whole. Counting the batch as a queue made
 * Poisson bursts look like overload and spread prefixes over replicas whose KV caches could not
 * hold them all (measured: KV usage 98 % and engine queues of 9–16 at 0.6 × capacity).
 */
const RUNNING_COST = 0.25;

/**
 * A route's load, in queued requests, from fresh engine signals and this proxy's in flight: the
 * engine's waiting queue, plus the requests sent since the engine was read (in flight beyond
 * what it reported: it has not counted them yet, so they count whole), plus its batch at
 * RUNNING_COST. Missing or nonsense values count as 0.
 */
function engineLoad(inflight: number, s: CandidateSignals): number {
  // biome-ignore lint/complexity/useMathMinMax: Math.max(0, NaN) is NaN; the comparison reads it as 0
  const waiting = s.waiting > 0 ? s.waiting : 0;
  // biome-ignore lint/complexity/useMathMinMax: as above
  const running = s.running > 0 ? s.running : 0;
  return waiting + Math.max(0, inflight - running - waiting) + RUNNING_COST * running;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b | 0);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35 | 0);
  return h ^ (h >>> 16);
}

/** FNV-1a over UTF-16 code units from `seed`, finalized (short strings: keys and header values). */
function hashString(s: string, seed: number): number {
  let h = (0x811c9dc5 | 0) ^ seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}
