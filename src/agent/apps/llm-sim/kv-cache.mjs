// The KV cache of one replica: `numBlocks` blocks of `blockSize` tokens, with automatic prefix
// caching by chained block hashes (see text.mjs).
//
// - Admission reserves every block the request can need, ceil((prompt + max_tokens) / B), so the
//   engine never preempts (vLLM allocates as it goes and preempts by recompute; the simulator
//   trades that for a simpler, deterministic model). A request that does not fit waits.
// - Hits: the leading blocks of the prompt whose hashes are cached, at most floor((P - 1) / B) of
//   them: as in vLLM, the last prompt token is always computed to produce the first output token.
//   Hits cost no prefill and are counted in tokens (hits × B).
// - A prompt block becomes cached (findable by others) only once its prefill is done, so two
//   identical prompts admitted in the same step both prefill.
// - Blocks a request held stay cached after it ends, evictable in LRU order; they are released
//   tail first, so a prefix's last blocks go before its first ones (as vLLM frees in reverse).
// - Usage (vllm:kv_cache_usage_perc) counts blocks held by running requests; cached blocks that
//   nobody holds are free space that happens to still hold data.

export class KvCache {
  constructor({ numBlocks, blockSize }) {
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    /** hash → number of running requests holding the block */
    this.refs = new Map();
    /** hashes of cached blocks nobody holds, least recently released first */
    this.evictable = new Set();
    /** blocks held by requests that carry no hash (prompt blocks not yet prefilled, output) */
    this.anonymous = 0;
    this.queryTokens = 0;
    this.hitTokens = 0;
    this.evictions = 0;
  }

  get usedBlocks() {
    return this.refs.size - this.evictable.size + this.anonymous;
  }

  usage() {
    return this.usedBlocks / this.numBlocks;
  }

  /** Blocks a request of this size reserves; more than numBlocks means it can never run. */
  blocksFor(promptTokens, maxTokens) {
    return Math.ceil((promptTokens + maxTokens) / this.blockSize);
  }

  /** Leading cached blocks of a prompt (its last token is never a hit). */
  lookup(hashes, promptTokens) {
    const max = Math.min(hashes.length, Math.floor((promptTokens - 1) / this.blockSize));
    let n = 0;
    while (n < max && this.refs.has(hashes[n])) n++;
    return n;
  }

  /**
   * Reserves the request's blocks if they fit: its hits are held, the rest allocated (evicting
   * the least recently released cached blocks when needed). Sets `r.kv` and returns the number of
   * cached tokens, or -1 when it does not fit now.
   */
  admit(r) {
    const hits = this.lookup(r.blockHashes, r.promptTokens);
    const fresh = this.blocksFor(r.promptTokens, r.maxTokens) - hits;
    let hitsUnheld = 0;
    for (let i = 0; i < hits; i++) if (this.evictable.has(r.blockHashes[i])) hitsUnheld++;
    const free = this.numBlocks - this.refs.size - this.anonymous + this.evictable.size - hitsUnheld;
    if (fresh > free) return -1;
    for (let i = 0; i < hits; i++) this.#hold(r.blockHashes[i]);
    while (this.numBlocks - this.refs.size - this.anonymous < fresh) this.#evictOne();
    this.anonymous += fresh;
    r.kv = { held: r.blockHashes.slice(0, hits), anonymous: fresh };
    this.queryTokens += r.promptTokens;
    this.hitTokens += hits * this.blockSize;
    return hits * this.blockSize;
  }

  /** After prefill progress: the request's prompt blocks now fully computed become cached. */
  commit(r, computedTokens) {
    const full = Math.min(r.blockHashes.length, Math.floor(computedTokens / this.blockSize));
    const kv = r.kv;
    while (kv.held.length < full) {
      const h = r.blockHashes[kv.held.length];
      // Another request computed the same block meanwhile: share it and drop our copy.
      if (this.refs.has(h)) this.#hold(h);
      else this.refs.set(h, 1);
      this.anonymous--;
      kv.anonymous--;
      kv.held.push(h);
    }
  }

  /** The request ended: its anonymous blocks are freed, its cached ones become evictable. */
  release(r) {
    const kv = r.kv;
    if (!kv) return;
    r.kv = null;
    this.anonymous -= kv.anonymous;
    for (let i = kv.held.length - 1; i >= 0; i--) {
      const h = kv.held[i];
      const n = this.refs.get(h) - 1;
      this.refs.set(h, n);
      if (n === 0) this.evictable.add(h);
    }
  }

  #hold(h) {
    const n = this.refs.get(h);
    if (n === 0) this.evictable.delete(h);
    this.refs.set(h, n + 1);
  }

  #evictOne() {
    const oldest = this.evictable.values().next();
    if (oldest.done) throw new Error('kv cache: nothing to evict (accounting error)');
    this.evictable.delete(oldest.value);
    this.refs.delete(oldest.value);
    this.evictions++;
  }
}
