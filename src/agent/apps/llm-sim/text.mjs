// Tokens and text of the simulator. No real tokenizer and no model, but a fixed, documented rule
// that a router can reproduce exactly:
//
// - A token is 4 UTF-16 code units of the prompt text: prompt_tokens = ceil(length / 4). Token i
//   is text[4i, 4i+4); the last one may be shorter.
// - KV block k holds tokens [k·B, (k+1)·B) (B = block size), i.e. text[4kB, 4(k+1)B). Only full
//   blocks are hashed, each with a chained 64-bit hash (two 32-bit FNV-style lanes) of its text
//   and of the previous block's hash, as vLLM's automatic prefix caching chains block hashes: two
//   prompts share block k's hash only if they agree on every token up to the end of block k.
// - Generated tokens are words of three letters with a leading space (" the"), so each one is
//   exactly 4 characters and re-reads as exactly one token when fed back in a later prompt. Which
//   word comes next depends only on the seed, the request's own `seed` and its prompt text.

export const CHARS_PER_TOKEN = 4;

export function countTokens(text) {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/**
 * Chained hashes of the full blocks of `text` (floor(tokens / blockSize) of them), as strings
 * usable as Map keys.
 */
export function blockHashes(text, blockSize) {
  const span = blockSize * CHARS_PER_TOKEN;
  const full = Math.floor(countTokens(text) / blockSize);
  const out = new Array(full);
  let a = 0;
  let b = 0;
  for (let k = 0; k < full; k++) {
    const from = k * span;
    const to = Math.min(from + span, text.length);
    // Each lane starts from both lanes of the parent, so a block's hash covers its whole prefix.
    a = Math.imul(0x811c9dc5 ^ a, 0x01000193) ^ b;
    b = Math.imul(0x9e3779b9 ^ b, 0x5bd1e995) ^ a;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    a >>>= 0;
    b >>>= 0;
    out[k] = `${a.toString(16)}.${b.toString(16)}`;
  }
  return out;
}

/** 32-bit FNV-1a of a string, mixed with a start value. */
export function hash32(text, start = 0) {
  let h = (0x811c9dc5 ^ start) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// 64 words, so one draw of the generator picks one uniformly.
const WORDS = (
  'the and for are but not you all any can had her was one our out day get has him his how man ' +
  'new now old see two way who boy did its let put say she too use sky sea sun red air art big ' +
  'box cat dog ear eye fun hat ice joy key map net oak pen run tea top win'
).split(' ');

/** Deterministic filler generator (mulberry32 seeded from the engine seed, request seed and prompt). */
export function fillerWords(seed, requestSeed, prompt) {
  let state = hash32(prompt, Math.imul(seed + 1, 0x9e3779b1) ^ requestSeed) || 1;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    return ` ${WORDS[t & 63]}`;
  };
}
