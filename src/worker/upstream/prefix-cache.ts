/**
 * Approximate prefix-cache awareness, as GIE/llm-d's approximate scorer does it: a prompt is cut
 * into fixed-size blocks, block i gets a hash chained on block i-1's (so two prompts share block
 * i's hash only if they agree on everything up to the end of block i, like vLLM's automatic prefix
 * caching), and each route gets an LRU of the block hashes it was last sent — a model of what its
 * engine probably still holds in its KV cache.
 *
 * Blocks are cut from the prompt's UTF-8 bytes, so a block of `blockChars` is that many characters
 * of ASCII text (fewer of other scripts). Hashing bytes rather than UTF-16 code units halves the
 * words to hash for the English and code that most prompts are, and copying a string out as
 * UTF-8 is as fast as copying it as UTF-16. With 4 characters per token (llm-sim's rule, and the
 * usual rule of thumb for English), 64 characters are 16 tokens: llm-sim's and vLLM's default KV
 * block, so on the simulator block boundaries here are the engine's for ASCII prompts (the picker
 * uses 4 engine blocks per block, see llm-picker.ts).
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

// The prompt's UTF-8 bytes, read 4 at a time as 32-bit words: a native copy (`Buffer#write`) then
// typed-array reads is 5 times faster than `charCodeAt` per character, which V8 does not hoist out
// of the loop. Short ASCII pieces (roles, separators) are copied by a loop, which beats the native
// call's fixed cost. Own ArrayBuffer (allocUnsafeSlow), so the Int32Array view is aligned. Shared
// by every hasher: hashing is synchronous, begin → add… → finish, never interleaved.
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
let words = new Int32Array(scratch.buffer, 0, scratch.length >>> 2);
const SHORT_PIECE = 32;

function growScratch(bytes: number): void {
  let size = scratch.length;
  while (size < bytes) size *= 2;
  const next = Buffer.allocUnsafeSlow(size);
  scratch.copy(next);
  scratch = next;
  words = new Int32Array(scratch.buffer, 0, size >>> 2);
}

/** Block sizes must be whole groups of 4 lanes × 4 bytes. */
export function checkBlockChars(blockChars: number): void {
  if (!Number.isInteger(blockChars) || blockChars < 16 || blockChars % 16 !== 0)
    throw new RangeError(`blockChars must be a positive multiple of 16, got ${blockChars}`);
}

/**
 * A prompt's block hashes from its text given piece by piece (`add`), without concatenating the
 * pieces first (which would cost V8 a flattening copy of the whole prompt): what `promptKey`
 * feeds a request body's messages to. `finish` gives exactly `blockHashes` of the concatenation
 * (save for a surrogate pair split between two pieces, which only a broken body has): pieces are
 * written where the previous one ended, and the last one stops where a single write of the whole
 * text would (at the limit, never inside a character).
 */
export class PromptHasher {
  private length = 0;
  private full = false;
  private readonly limit: number;

  constructor(
    readonly blockChars = DEFAULT_BLOCK_CHARS,
    readonly maxBlocks = DEFAULT_MAX_BLOCKS,
  ) {
    checkBlockChars(blockChars);
    this.limit = blockChars * Math.max(0, Math.floor(maxBlocks));
  }

  /** Bytes received so far (up to the limit). */
  get size(): number {
    return this.length;
  }

  /** Starts a new prompt. */
  begin(): void {
    this.length = 0;
    this.full = this.limit === 0;
    if (this.limit > scratch.length) growScratch(this.limit);
  }

  /** The next piece of text; false once the blocks to hash are complete (more is not needed). */
  add(text: string): boolean {
    if (this.full) return false;
    const at = this.length;
    const room = this.limit - at;
    const n = text.length;
    if (n <= SHORT_PIECE && n <= room) {
      const b = scratch;
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === n) {
        this.length = at + n;
        this.full = this.length === this.limit;
        return !this.full;
      }
    }
    const written = scratch.write(text, at, room, 'utf8');
    this.length = at + written;
    // Fewer than 4 bytes of room left: the next character may not have fitted (a write never
    // splits one), in which case nothing more fits either.
    this.full =
      this.length === this.limit || (room - written < 4 && Buffer.byteLength(text, 'utf8') !== written);
    return !this.full;
  }

  /** The hashes of the full blocks received. */
  finish(): Uint32Array {
    return hashBlocks(Math.floor(this.length / this.blockChars), this.blockChars);
  }
}

/**
 * Chained hashes of the first `maxBlocks` full blocks of `prompt` (a trailing partial block is
 * not hashed: the engine does not cache it either). h_i depends on h_{i-1} and block i's bytes
 * only, so a shared prefix gives shared leading hashes and a change in block k changes h_k and
 * every hash after it.
 */
export function blockHashes(
  prompt: string,
  blockChars = DEFAULT_BLOCK_CHARS,
  maxBlocks = DEFAULT_MAX_BLOCKS,
): Uint32Array {
  checkBlockChars(blockChars);
  const limit = blockChars * Math.max(0, Math.floor(maxBlocks));
  if (limit > scratch.length) growScratch(limit);
  const written = limit > 0 ? scratch.write(prompt, 0, limit, 'utf8') : 0;
  return hashBlocks(Math.floor(written / blockChars), blockChars);
}

/**
 * The hashes of the first n blocks in the scratch. Per block: 4 independent multiply-xor lanes
 * over 4-byte words (independent so the CPU overlaps the multiplies), then the lanes are folded
 * into the previous block's hash and finalized. Each step is a bijection of its state, so a
 * change of one word, or of the previous hash alone, always changes the block's hash. Only two
 * changes in the same lane of the same block can cancel out: with a chance of about 1/255 when
 * both are in the top bytes of their words (a multiply never moves a difference down), far less
 * otherwise. Two edits of one block placed so is about one pair in 64; the result would be a
 * wrong guess of what an engine holds — one suboptimal route, never a wrong answer — which is not
 * worth the 15-30 % that mixing each step (a shift and an xor) adds to hashing.
 */
function hashBlocks(n: number, blockChars: number): Uint32Array {
  const out = new Uint32Array(n);
  const w = words;
  const perBlock = blockChars >>> 2;
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

// A node's fields, 4 int32 each (so 4 nodes share a cache line): its block hash, the next more
// recent node, the next less recent node (-1 = none), and the `insertChain` call that last placed
// it.
const KEY = 0;
const NEWER = 1;
const OLDER = 2;
const MARK = 3;

/**
 * The block hashes one route probably holds: an LRU with a capacity in blocks. Storage is an
 * open-addressing table of (hash, node) pairs (linear probing, backward-shift deletion, load ≤
 * 1/2: a lookup is usually one cache line) and a doubly linked recency list of nodes, all in
 * typed arrays: no Map, no object per block, nothing for the GC to trace. It grows with use up to
 * the capacity (an idle route holds a few KiB).
 *
 * A chain is placed with block 0 the most recent, then block 1, and so on, so a block is always
 * more recent than the blocks after it (vLLM frees a request's blocks tail first for the same
 * reason): eviction takes a chain's tail before its head, the set stays prefix-closed, and "how
 * many leading blocks are held" is a binary search (`matchLength`: ~log2(n) lookups, 7 for 64
 * blocks). Placing a chain whose blocks are already held in that order (a hot system prompt sent
 * again) walks the list instead of looking each block up, and moves whole runs at once.
 *
 * (An approximate LRU by generations — a generation number per block, the oldest generation
 * swept out of the table at once — needs no list, but its sweeps cost more than the list's
 * pointer updates: ~30 % slower with 8 routes, no faster with 64, on bench/picker.ts's workload.)
 */
export class BlockLru {
  private cap: number;
  private count = 0;
  /** Node storage, 4 int32 per node (see KEY…MARK). */
  private nodes: Int32Array;
  /** Nodes `nodes` has room for. */
  private room: number;
  /** 2 int32 per slot: hash, node + 1 (0 = empty). */
  private table: Int32Array;
  private mask: number;
  private shift: number;
  private head = -1;
  private tail = -1;
  private mark = 0;
  /** Blocks dropped to make room (for observability). */
  evictions = 0;

  constructor(capacity: number) {
    this.cap = Math.max(0, Math.floor(capacity));
    this.room = 0;
    this.nodes = this.table = new Int32Array(0);
    this.mask = this.shift = 0;
    this.reset();
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
    return this.nodes.byteLength + this.table.byteLength;
  }

  /** Changes the capacity; a smaller one drops the least recent blocks now. */
  setCapacity(capacity: number): void {
    const cap = Math.max(0, Math.floor(capacity));
    if (cap >= this.count) {
      this.cap = cap;
      return;
    }
    // Rare (an engine reported a smaller cache): rebuild with the `cap` most recent blocks.
    const kept = this.hashes().slice(0, cap);
    this.evictions += this.count - kept.length;
    this.cap = cap;
    this.reset();
    for (let i = kept.length - 1; i >= 0; i--) this.touch(kept[i]!);
  }

  /** Forgets every block (storage shrinks back). */
  clear(): void {
    this.reset();
  }

  /** Whether the block is held (does not count as a use). */
  has(hash: number): boolean {
    return this.find(hash | 0) >= 0;
  }

  /** Block hashes held, most recent first (tests, debugging). */
  hashes(): number[] {
    const out: number[] = [];
    for (let x = this.head; x !== -1; x = this.nodes[x * 4 + OLDER]!)
      out.push(this.nodes[x * 4 + KEY]! >>> 0);
    return out;
  }

  /**
   * One block is being used: held as the most recent one, the least recent dropped if full.
   * (Chains go through `insertChain`, which keeps them prefix-closed.)
   */
  touch(hash: number): void {
    const h = hash | 0;
    const x = this.find(h);
    if (x >= 0) {
      if (x !== this.head) {
        this.unlinkRun(x, x);
        this.linkRunAfter(x, x, -1);
      }
      return;
    }
    if (this.cap === 0) return;
    const y = this.alloc();
    this.nodes[y * 4 + KEY] = h;
    this.index(y, h);
    this.linkRunAfter(y, y, -1);
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
   * The chain was sent here: its first `n` blocks (up to the capacity) are now held, block 0 the
   * most recent, then block 1, and so on.
   */
  insertChain(chain: Uint32Array, n = chain.length): void {
    n = Math.min(n, chain.length, this.cap);
    if (n <= 0) return;
    if (this.mark === 0x7fffffff) {
      for (let x = 0; x < this.count; x++) this.nodes[x * 4 + MARK] = 0;
      this.mark = 0;
    }
    const mark = ++this.mark;
    // Nodes placed by this call are the list's first ones, `prev` the last of them. The list is
    // full only when count = cap > i, so the node `alloc` evicts (the tail) is never placed.
    let prev = -1;
    let i = 0;
    while (i < n) {
      const h = chain[i]! | 0;
      const x = this.find(h);
      if (x < 0) {
        const y = this.alloc();
        const nd = this.nodes;
        nd[y * 4 + KEY] = h;
        nd[y * 4 + MARK] = mark;
        this.index(y, h);
        this.linkRunAfter(y, y, prev);
        prev = y;
        i++;
        continue;
      }
      const nd = this.nodes;
      // The same hash twice in one chain (a collision): already placed.
      if (nd[x * 4 + MARK] === mark) {
        i++;
        continue;
      }
      // x and the nodes after it that hold the chain's next blocks, in order: one run.
      nd[x * 4 + MARK] = mark;
      let z = x;
      let j = i + 1;
      while (j < n) {
        const o = nd[z * 4 + OLDER]!;
        if (o < 0 || nd[o * 4 + KEY] !== (chain[j]! | 0) || nd[o * 4 + MARK] === mark) break;
        nd[o * 4 + MARK] = mark;
        z = o;
        j++;
      }
      if (!(prev < 0 ? x === this.head : nd[x * 4 + NEWER] === prev)) {
        this.unlinkRun(x, z);
        this.linkRunAfter(x, z, prev);
      }
      prev = z;
      i = j;
    }
  }

  /** The node holding h, or -1. */
  private find(h: number): number {
    const t = this.table;
    const mask = this.mask;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    for (;;) {
      const s = t[i * 2 + 1]!;
      if (s === 0) return -1;
      if (t[i * 2] === h) return s - 1;
      i = (i + 1) & mask;
    }
  }

  private index(x: number, h: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = Math.imul(h, GOLDEN) >>> this.shift;
    while (t[i * 2 + 1] !== 0) i = (i + 1) & mask;
    t[i * 2] = h;
    t[i * 2 + 1] = x + 1;
  }

  /** Removes node x from the table, shifting later entries of its probe run back into the gap. */
  private unindex(x: number): void {
    const t = this.table;
    const mask = this.mask;
    const shift = this.shift;
    let i = Math.imul(this.nodes[x * 4 + KEY]!, GOLDEN) >>> shift;
    while (t[i * 2 + 1] !== x + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = t[j * 2 + 1]!;
      if (s === 0) break;
      const h = t[j * 2]!;
      const home = Math.imul(h, GOLDEN) >>> shift;
      // The entry at j may fill the gap at i unless its home slot lies in (i, j] (cyclically).
      if (((j - home) & mask) >= ((j - i) & mask)) {
        t[i * 2] = h;
        t[i * 2 + 1] = s;
        i = j;
      }
    }
    t[i * 2] = 0;
    t[i * 2 + 1] = 0;
  }

  /** A node for a new block: a fresh one while below capacity, else the least recent one. */
  private alloc(): number {
    if (this.count < this.cap) {
      if (this.count === this.room) this.grow();
      return this.count++;
    }
    const y = this.tail;
    this.unindex(y);
    this.unlinkRun(y, y);
    this.evictions++;
    return y;
  }

  /** Takes the run x … z (x the most recent, z reached by OLDER links) out of the list. */
  private unlinkRun(x: number, z: number): void {
    const nd = this.nodes;
    const n = nd[x * 4 + NEWER]!;
    const o = nd[z * 4 + OLDER]!;
    if (n >= 0) nd[n * 4 + OLDER] = o;
    else this.head = o;
    if (o >= 0) nd[o * 4 + NEWER] = n;
    else this.tail = n;
  }

  /** Puts the run x … z right after node p (p = -1: at the head, the most recent). */
  private linkRunAfter(x: number, z: number, p: number): void {
    const nd = this.nodes;
    const o = p < 0 ? this.head : nd[p * 4 + OLDER]!;
    nd[x * 4 + NEWER] = p;
    nd[z * 4 + OLDER] = o;
    if (p < 0) this.head = x;
    else nd[p * 4 + OLDER] = x;
    if (o >= 0) nd[o * 4 + NEWER] = z;
    else this.tail = z;
  }

  /** Doubles node storage (up to the capacity) and rehashes into a table twice as large. */
  private grow(): void {
    this.room = Math.min(this.cap, this.room * 2);
    const nodes = new Int32Array(this.room * 4);
    nodes.set(this.nodes);
    this.nodes = nodes;
    const slots = tableSizeFor(this.room);
    if (slots * 2 !== this.table.length) {
      this.table = new Int32Array(slots * 2);
      this.mask = slots - 1;
      this.shift = 32 - Math.log2(slots);
      for (let x = 0; x < this.count; x++) this.index(x, nodes[x * 4 + KEY]!);
    }
  }

  private reset(): void {
    this.room = Math.max(1, Math.min(this.cap, 64));
    this.nodes = new Int32Array(this.room * 4);
    const slots = tableSizeFor(this.room);
    this.table = new Int32Array(slots * 2);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    this.count = 0;
    this.head = -1;
    this.tail = -1;
  }
}

/** A power of two at least twice the node count (load ≤ 1/2 keeps probe runs short). */
function tableSizeFor(nodes: number): number {
  let slots = 16;
  while (slots < nodes * 2) slots *= 2;
  return slots;
}

/** Default per-route capacity: 8192 blocks (of 64 characters: ≈ 131k tokens of KV). */
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
