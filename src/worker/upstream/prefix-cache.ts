/**
 * Approximate prefix-cache awareness, as GIE/llm-d's approximate scorer does it: a prompt is cut
 * into fixed-size blocks of characters, block i gets a hash chained on block i-1's (so two prompts
 * share block i's hash only if they agree on everything up to the end of block i, like vLLM's
 * automatic prefix caching), and each route gets an LRU of the block hashes it was last sent —
 * a model of what its engine probably still holds in its KV cache.
 *
 * With 4 characters per token (llm-sim's rule, and the usual rule of thumb for English), 64
 * characters are 16 tokens: llm-sim's and vLLM's default KV block, so on the simulator the blocks
 * here are exactly the engine's.
 *
 * Everything here runs per request on the worker's event loop, so it is written for speed: no
 * substrings, typed arrays instead of Maps, no allocation per lookup.
 */
import { Buffer } from 'node:buffer';

/** One request's prompt as the picker sees it: its chained block hashes (full blocks only). */
export type PromptKey = Uint32Array;

/** 16 tokens of 4 characters: the engines' usual KV block (GIE's default block size too). */
export const DEFAULT_BLOCK_CHARS = 64;
export const DEFAULT_MAX_BLOCKS = 512;

// Multipliers: odd (so each multiply is a bijection on 32 bits) with well-spread bits (golden
// ratio, murmur3, xxhash32 primes). `| 0` keeps them int32: as doubles they would make every
// lane a double in the optimized loop.
const M0 = 0x9e3779b1 | 0;
const M1 = 0x85ebca77 | 0;
const M2 = 0xc2b2ae3d | 0;
const M3 = 0x27d4eb2f | 0;
const SEED = 0x811c9dc5 | 0;

/** murmur3's finalizer: a bijection that spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b | 0);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35 | 0);
  return h ^ (h >>> 16);
}

// The prompt's UTF-16 code units, two per 32-bit word, hashed from typed-array reads: about 5
// times faster than `charCodeAt` per character, which V8 does not hoist out of the loop. Long
// pieces are copied in natively (`Buffer#write`); short ones (roles, separators) by a loop, which
// beats the native call's fixed cost — on little-endian machines, where both lay units out alike.
// Own ArrayBuffer (allocUnsafeSlow), so the views are aligned. Shared by every hasher: hashing is
// synchronous, begin → add… → finish, never interleaved.
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
let words = new Int32Array(scratch.buffer, 0, scratch.length >>> 2);
let units = new Uint16Array(scratch.buffer, 0, scratch.length >>> 1);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SHORT_PIECE = LITTLE_ENDIAN ? 48 : 0;

function growScratch(bytes: number): void {
  let size = scratch.length;
  while (size < bytes) size *= 2;
  const next = Buffer.allocUnsafeSlow(size);
  scratch.copy(next);
  scratch = next;
  words = new Int32Array(scratch.buffer, 0, size >>> 2);
  units = new Uint16Array(scratch.buffer, 0, size >>> 1);
}

/** Block sizes must be whole groups of 4 lanes × 2 code units. */
export function checkBlockChars(blockChars: number): void {
  if (!Number.isInteger(blockChars) || blockChars < 8 || blockChars % 8 !== 0)
    throw new RangeError(`blockChars must be a positive multiple of 8, got ${blockChars}`);
}

/**
 * A prompt's block hashes from its text given piece by piece (`add`), without concatenating the
 * pieces first (which would cost V8 a flattening copy of the whole prompt): what `promptKey`
 * feeds a request body's messages to. `finish` gives exactly `blockHashes` of the concatenation.
 */
export class PromptHasher {
  private length = 0;
  private readonly limit: number;

  constructor(
    readonly blockChars = DEFAULT_BLOCK_CHARS,
    readonly maxBlocks = DEFAULT_MAX_BLOCKS,
  ) {
    checkBlockChars(blockChars);
    this.limit = blockChars * Math.max(0, Math.floor(maxBlocks));
  }

  /** Code units received so far (up to the last block hashed). */
  get size(): number {
    return this.length;
  }

  /** Starts a new prompt. */
  begin(): void {
    this.length = 0;
    if (this.limit * 2 > scratch.length) growScratch(this.limit * 2);
  }

  /** The next piece of text; false once the blocks to hash are complete (more is not needed). */
  add(text: string): boolean {
    const at = this.length;
    const room = this.limit - at;
    if (room <= 0) return false;
    const take = Math.min(text.length, room);
    if (take <= SHORT_PIECE) {
      const u = units;
      for (let i = 0; i < take; i++) u[at + i] = text.charCodeAt(i);
    } else scratch.write(text, at * 2, take * 2, 'utf16le');
    this.length = at + take;
    return this.length < this.limit;
  }

  /** The hashes of the full blocks received. */
  finish(): Uint32Array {
    return hashBlocks(Math.floor(this.length / this.blockChars), this.blockChars);
  }
}

/**
 * Chained hashes of the first `maxBlocks` full blocks of `prompt` (a trailing partial block is
 * not hashed: the engine does not cache it either). h_i depends on h_{i-1} and block i's code
 * units only, so a shared prefix gives shared leading hashes and a change in block k changes
 * h_k and every hash after it.
 */
export function blockHashes(
  prompt: string,
  blockChars = DEFAULT_BLOCK_CHARS,
  maxBlocks = DEFAULT_MAX_BLOCKS,
): Uint32Array {
  checkBlockChars(blockChars);
  const n = Math.max(0, Math.min(Math.floor(prompt.length / blockChars), Math.floor(maxBlocks)));
  if (n === 0) return new Uint32Array(0);
  const bytes = n * blockChars * 2;
  if (bytes > scratch.length) growScratch(bytes);
  scratch.write(prompt, 0, bytes, 'utf16le');
  return hashBlocks(n, blockChars);
}

/**
 * The hashes of the first n blocks in the scratch. Per block: 4 independent multiply-xor lanes
 * over 2-unit words (independent so the CPU overlaps the multiplies), then the lanes are folded
 * into the previous block's hash and finalized. Each step is a bijection of its state, so a
 * change of one word, or of the previous hash alone, always changes the block's hash; only two
 * changes in the same lane of the same block can cancel out, with a chance of the order of 2^-16
 * at worst — a rare wrong guess of what an engine holds, which costs one suboptimal route, never a
 * wrong answer.
 */
function hashBlocks(n: number, blockChars: number): Uint32Array {
  const out = new Uint32Array(n);
  const w = words;
  const perBlock = blockChars >>> 1;
  // The block size is part of the seed: keys made with another block size never match.
  let h = fmix32(SEED ^ blockChars);
  for (let k = 0, from = 0; k < n; k++, from += perBlock) {
    let a = 0x243f6a88 | 0;
    let b = 0x85a308d3 | 0;
    let c = 0x13198a2e | 0;
    let d = 0x03707344 | 0;
    const end = from + perBlock;
    for (let i = from; i < end; i += 4) {
      a = Math.imul(a ^ w[i]!, M0);
      b = Math.imul(b ^ w[i + 1]!, M1);
      c = Math.imul(c ^ w[i + 2]!, M2);
      d = Math.imul(d ^ w[i + 3]!, M3);
    }
    let x = Math.imul(h ^ a, M0);
    x ^= x >>> 15;
    x = Math.imul(x ^ b, M1);
    x ^= x >>> 15;
    x = Math.imul(x ^ c, M2);
    x ^= x >>> 15;
    x = Math.imul(x ^ d, M3);
    h = fmix32(x);
    out[k] = h;
  }
  return out;
}

const GOLDEN = 0x9e3779b1 | 0;

/** Generations of a `BlockLru`: blocks are evicted a quarter of the capacity at a time. */
export const LRU_GENERATIONS = 4;

/**
 * The block hashes one route probably holds, with a capacity in blocks, least recently sent
 * first out — at the granularity of generations: each block carries the generation in which it
 * was last sent; a generation takes 1/8 of the capacity, and when the current one is full the
 * oldest is dropped as a whole. Between 7/8 and all of the capacity is held at any time, the
 * blocks sent least recently go first, and there is no recency list to maintain: sending a block
 * the route holds is one write into the slot its lookup already reads, a new block goes into the
 * empty slot the lookup stopped at, and dropping a generation is a sequential pass over the table
 * every capacity/8 insertions (a few slot visits per insertion). An exact LRU needs its list's
 * neighbours and the evicted block's slot per insertion: three cache misses instead of one, and
 * per-block eviction was the bulk of a pick's cost.
 *
 * Storage: one open-addressing table of (hash, generation) pairs in an Int32Array (linear
 * probing, backward-shift deletion, load ≤ 1/2, so a lookup is usually one cache line): no Map,
 * no object per block, nothing for the GC to trace. It grows with use up to the capacity (an idle
 * route holds half a KiB).
 *
 * A chain is sent last block first, so a block's generation is never older than those of the
 * blocks after it: a chain loses its tail before its head, the set stays prefix-closed (as in
 * vLLM, which frees a request's blocks tail first for the same reason), and "how many leading
 * blocks are held" is a binary search (`matchLength`: ~log2(n) lookups, 9 for 256 blocks).
 */
export class BlockLru {
  private cap = 0;
  /** Blocks per generation, and generations kept (budget × kept ≤ capacity; kept a power of 2). */
  private budget = 1;
  private kept = 1;
  /** Blocks stamped with each kept generation, by generation & (kept - 1). */
  private counts = new Int32Array(1);
  private count = 0;
  /** The current generation (≥ 1; 0 marks an empty slot). */
  private gen = 1;
  /** 2 int32 per slot: hash, generation (0 = empty). */
  private table: Int32Array;
  private mask: number;
  private shift: number;
  /** Blocks dropped to make room (for observability). */
  evictions = 0;

  constructor(capacity: number) {
    this.table = new Int32Array(32 * 2);
    this.mask = 31;
    this.shift = 27;
    this.configure(capacity);
  }

  /** Blocks held. */
  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Bytes of typed-array storage (what a route's model costs). */
  get bytes(): number {
    return this.table.byteLength + this.counts.byteLength;
  }

  /** Changes the capacity; a smaller one drops the oldest generations now. */
  setCapacity(capacity: number): void {
    if (Math.max(0, Math.floor(capacity)) === this.cap) return;
    this.configure(capacity);
    // Drop the generations the new ring does not keep, count the others into it; then the oldest
    // go while over capacity.
    this.sweep(this.gen - this.kept + 1);
    this.recount();
    while (this.count > this.cap) this.advance();
  }

  /** Forgets every block (storage shrinks back). */
  clear(): void {
    this.table = new Int32Array(32 * 2);
    this.mask = 31;
    this.shift = 27;
    this.counts.fill(0);
    this.count = 0;
  }

  /** Whether the block is held (does not count as a use). */
  has(hash: number): boolean {
    return this.find(hash | 0) >= 0;
  }

  /** The hashes held (unordered; tests, debugging). */
  hashes(): number[] {
    const out: number[] = [];
    const t = this.table;
    for (let i = 0; i < t.length; i += 2) if (t[i + 1] !== 0) out.push(t[i]! >>> 0);
    return out;
  }

  /** The block is being sent: it is held, as of the current generation. */
  touch(hash: number): void {
    if (this.cap === 0) return;
    const h = hash | 0;
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const t = this.table;
    const mask = this.mask;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    for (;;) {
      const g = t[i * 2 + 1]!;
      if (g === 0) break;
      if (t[i * 2] === h) {
        if (g !== this.gen) {
          const ring = this.kept - 1;
          this.counts[g & ring]!--;
          t[i * 2 + 1] = this.gen;
          if (++this.counts[this.gen & ring]! >= this.budget) this.advance();
        }
        return;
      }
      i = (i + 1) & mask;
    }
    t[i * 2] = h;
    t[i * 2 + 1] = this.gen;
    this.count++;
    if (++this.counts[this.gen & (this.kept - 1)]! >= this.budget) this.advance();
  }

  /**
   * How many leading blocks of the chain are held (the first `n` considered). `hint`: a likely
   * answer (e.g. another route's for the same chain: routes that hold a shared system prompt tend
   * to hold exactly it), checked first — 3 lookups instead of a binary search when right.
   */
  matchLength(chain: Uint32Array, n = chain.length, hint = 0): number {
    if (n > chain.length) n = chain.length;
    if (n <= 0 || this.count === 0) return 0;
    if (this.find(chain[0]! | 0) < 0) return 0;
    // Invariants: block lo is held; block hi is not, or hi = n (nothing known past lo).
    let lo = 0;
    let hi = n;
    if (hint > 1 && hint < n) {
      if (this.find(chain[hint - 1]! | 0) >= 0) {
        if (this.find(chain[hint]! | 0) < 0) return hint;
        lo = hint;
      } else hi = hint - 1;
    }
    if (hi === n) {
      if (this.find(chain[n - 1]! | 0) >= 0) return n;
      hi = n - 1;
    }
    // The set is prefix-closed (see the class comment): binary search for the first missing block.
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (this.find(chain[mid]! | 0) >= 0) lo = mid;
      else hi = mid;
    }
    return lo + 1;
  }

  /**
   * The chain was sent here: its first `n` blocks are now held — all of them if they fit in the
   * generations kept besides the current one (3/4 of the capacity), else its head.
   */
  insertChain(chain: Uint32Array, n = chain.length): void {
    // Last block first: see the class comment.
    for (let i = Math.min(n, chain.length, this.cap) - 1; i >= 0; i--) this.touch(chain[i]!);
  }

  private configure(capacity: number): void {
    this.cap = Math.max(0, Math.floor(capacity));
    this.budget = Math.max(1, Math.floor(this.cap / LRU_GENERATIONS));
    let kept = 1;
    while (kept * 2 <= LRU_GENERATIONS && kept * 2 * this.budget <= this.cap) kept *= 2;
    this.kept = kept;
    this.counts = new Int32Array(kept);
  }

  /** The slot holding h, or -1. */
  private find(h: number): number {
    const t = this.table;
    const mask = this.mask;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    for (;;) {
      if (t[i * 2 + 1] === 0) return -1;
      if (t[i * 2] === h) return i;
      i = (i + 1) & mask;
    }
  }

  /** The current generation is full: the next one starts, and the oldest kept one is dropped. */
  private advance(): void {
    this.gen++;
    if (this.gen === 0x7fffffff) this.renumber();
    // The ring slot of the new generation is the one of the generation it drops.
    const slot = this.gen & (this.kept - 1);
    if (this.counts[slot]! > 0) {
      this.sweep(this.gen - this.kept + 1);
      this.count -= this.counts[slot]!;
      this.counts[slot] = 0;
    }
  }

  /** Counts the blocks of each kept generation (after the ring changed). */
  private recount(): void {
    const t = this.table;
    const ring = this.kept - 1;
    this.counts.fill(0);
    let count = 0;
    for (let i = 1; i < t.length; i += 2) {
      const g = t[i]!;
      if (g === 0) continue;
      this.counts[g & ring]!++;
      count++;
    }
    this.count = count;
  }

  /**
   * Drops every block of a generation before `oldest` (counts are the caller's): one pass over the
   * table from an empty slot (no probe run wraps past it), deleting with backward shift, which only
   * moves entries of the run being scanned.
   */
  private sweep(oldest: number): void {
    const t = this.table;
    const mask = this.mask;
    const shift = this.shift;
    let start = 0;
    while (t[start * 2 + 1] !== 0) start++;
    for (let k = 1; k <= mask + 1; k++) {
      const i = (start + k) & mask;
      let g = t[i * 2 + 1]!;
      while (g !== 0 && g < oldest) {
        // Delete slot i: pull back the next entry of the run that may sit here, and so on.
        this.evictions++;
        let gap = i;
        let j = i;
        for (;;) {
          j = (j + 1) & mask;
          const gj = t[j * 2 + 1]!;
          if (gj === 0) break;
          const hj = t[j * 2]!;
          const home = Math.imul(hj, GOLDEN) >>> shift;
          if (((j - home) & mask) >= ((j - gap) & mask)) {
            t[gap * 2] = hj;
            t[gap * 2 + 1] = gj;
            gap = j;
          }
        }
        t[gap * 2] = 0;
        t[gap * 2 + 1] = 0;
        g = t[i * 2 + 1]!;
      }
    }
  }

  /** Generation numbers about to overflow (after ~2^31 generations): restart them at 1.. kept. */
  private renumber(): void {
    const t = this.table;
    const base = this.gen - this.kept;
    for (let i = 1; i < t.length; i += 2) if (t[i] !== 0) t[i] = Math.max(1, t[i]! - base);
    this.gen -= base;
    this.recount();
  }

  /** Twice the slots (up to twice the capacity), every entry rehashed. */
  private grow(): void {
    const slots = this.mask + 1;
    if (slots >= tableSizeFor(this.cap)) return;
    const old = this.table;
    const t = new Int32Array(slots * 4);
    const mask = slots * 2 - 1;
    const shift = this.shift - 1;
    for (let k = 0; k < old.length; k += 2) {
      const g = old[k + 1]!;
      if (g === 0) continue;
      const h = old[k]!;
      let i = Math.imul(h, GOLDEN) >>> shift;
      while (t[i * 2 + 1] !== 0) i = (i + 1) & mask;
      t[i * 2] = h;
      t[i * 2 + 1] = g;
    }
    this.table = t;
    this.mask = mask;
    this.shift = shift;
  }
}

/** A power of two at least twice the capacity (load ≤ 1/2 keeps probe runs short). */
function tableSizeFor(capacity: number): number {
  let slots = 32;
  while (slots < capacity * 2) slots *= 2;
  return slots;
}

export const DEFAULT_CAPACITY_BLOCKS = 8192;

/**
 * Which routes probably hold which prompt prefixes: one `BlockLru` per route, by route key.
 * Routes appear when first recorded; `forget` drops one (its storage goes with it).
 */
export class PrefixCacheModel {
  private readonly routes = new Map<string, BlockLru>();

  constructor(public capacityBlocks = DEFAULT_CAPACITY_BLOCKS) {}

  /** Leading blocks of `key` (its first `n`) that `route` probably holds (`hint`: see matchLength). */
  matched(route: string, key: PromptKey, n = key.length, hint = 0): number {
    const lru = this.routes.get(route);
    return lru === undefined ? 0 : lru.matchLength(key, n, hint);
  }

  /**
   * `route` was sent this prompt: it now holds its blocks. `capacity` (blocks) resizes the route's
   * LRU when given (e.g. from the engine's reported cache size).
   */
  record(route: string, key: PromptKey, n = key.length, capacity?: number): void {
    let lru = this.routes.get(route);
    if (lru === undefined) {
      lru = new BlockLru(capacity ?? this.capacityBlocks);
      this.routes.set(route, lru);
    } else if (capacity !== undefined && capacity !== lru.capacity) lru.setCapacity(capacity);
    lru.insertChain(key, n);
  }

  /** The route's LRU, if it was ever recorded. */
  route(route: string): BlockLru | undefined {
    return this.routes.get(route);
  }

  /** The route left: its blocks are dropped. */
  forget(route: string): boolean {
    return this.routes.delete(route);
  }

  /** Routes with a model. */
  get size(): number {
    return this.routes.size;
  }

  /** Bytes of typed-array storage over every route. */
  get bytes(): number {
    let b = 0;
    for (const lru of this.routes.values()) b += lru.bytes;
    return b;
  }

  clear(): void {
    this.routes.clear();
  }
}
