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
}

export class LlmPicker {
  readonly blockChars: number;
  readonly maxBlocks: number;
  readonly counts: PickCounts = { affinity: 0, prefix: 0, scored: 0, spread: 0, noPrompt: 0, noSignals: 0 };
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
   *   load        = (in flight through us + engine waiting) / weight
   *   kvPenalty   = kvWeight · max(0, kvUsage − kvKnee) / (1 − kvKnee)
   *   prefixBonus = prefixWeight · matchedBlocks / max(promptBlocks, fullPrefixChars / blockChars)
   *
   * - load: in flight is exact and immediate for this process; the engine's waiting queue adds
   *   what other workers and clients put there (it lags by a scrape interval, which is why our
   *   own in-flight count is in too). Running requests are not counted: they are the engine's
   *   batch, not a queue in front of ours.
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
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      eligible++;
      const s = e.engine;
      if (s === null || !(now - s.at <= this.staleMs)) fresh = false;
    }
    if (eligible === 0) return null;
    if (!fresh) this.counts.noSignals++;
    if (n === 0) {
      this.counts.noPrompt++;
      return this.leastLoaded(entries, fresh);
    }
    const denom = Math.max(n, this.fullPrefixBlocks);
    const bonusPerBlock = this.prefixWeight / denom;
    let best: E | null = null;
    let bestCost = Number.POSITIVE_INFINITY;
    let bestLoad = 0;
    let tieWeight = 0;
    let minLoad = Number.POSITIVE_INFINITY;
    let hint = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      // Without fresh signals from every route, the engines' queues are not comparable: the
      // load is what this proxy has in flight (as `prefix` does), the prefix still counts.
      const s = fresh ? e.engine! : null;
      const load = (e.inflight + (s ? queued(s) : 0)) / e.weight;
      if (load < minLoad) minLoad = load;
      const m = this.model.matched(e.key, prompt!, n, hint);
      if (m > 0) hint = m;
      const cost = load + (s ? this.kvPenalty(s.kvUsage) : 0) - m * bonusPerBlock;
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
    // The guard grows with the load: when every queue is long, a few requests more on the affine
    // route cost less than the prefill a cache miss elsewhere would add to a long queue.
    if (bestLoad - minLoad > this.spreadThreshold + this.spreadRatio * minLoad) {
      this.counts.spread++;
      return this.leastLoaded(entries, fresh);
    }
    this.counts.scored++;
    return best;
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
  private leastLoaded<E extends LlmCandidate>(entries: readonly E[], withEngine: boolean): E | null {
    let best: E | null = null;
    let bestCost = Number.POSITIVE_INFINITY;
    let tieWeight = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (!(e.weight > 0)) continue;
      let cost: number;
      if (withEngine) {
        const s = e.engine!;
        cost = (e.inflight + queued(s)) / e.weight + this.kvPenalty(s.kvUsage);
      } else cost = e.inflight / e.weight;
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

/** The engine's waiting queue; a missing or nonsense value counts as empty. */
function queued(s: CandidateSignals): number {
  const w = s.waiting;
  if (w > 0) return w;
  return 0;
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
