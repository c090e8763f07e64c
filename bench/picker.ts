/**
 * Micro-benchmark of the LLM-aware picker (src/worker/upstream/llm-picker.ts): the cost of one
 * routing decision for a 16k-character chat prompt — prompt text out of the parsed body, block
 * hashing, scoring every route and recording the prompt on the chosen one — with 8 and 64
 * routes, for the `llm` and `prefix` policies; and `blockHashes` alone on 16k characters. JSON.parse
 * is done per request but outside the timed region (the worker parses the body for other reasons
 * anyway). No I/O.
 *
 * Workload: a realistic mix of shared system prompts (a few popular ones, a long tail) and unique
 * questions, a quarter of them follow-up turns of an earlier conversation (a long shared prefix);
 * requests complete at random so in-flight counts move, and engine signals are refreshed as a
 * scraper would.
 *
 *   node --import tsx bench/picker.ts        (about 5 s; the last line is {"picker": {...}})
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { type LlmCandidate, LlmPicker, type LlmPolicy } from '../src/worker/upstream/llm-picker.ts';
import { blockHashes } from '../src/worker/upstream/prefix-cache.ts';
import { Samples } from './lib/stats.ts';

const PROMPT_CHARS = 16_384;
const SYSTEM_PROMPTS = 24;
const BODIES = 3_000;
const WARMUP = 2_000;
const PICKS = 20_000;
/** Each configuration stops measuring after this long (the whole run stays well under 30 s). */
const CONFIG_BUDGET_MS = 3_000;

/** Deterministic text: pseudo-random words, so that every prompt is distinct where it should be. */
function text(chars: number, seed: number): string {
  const words = (
    'the model answers questions about code data systems and people with care using context ' +
    'from documents tables logs and earlier turns of the conversation when it is relevant'
  ).split(' ');
  let s = seed >>> 0 || 1;
  const parts: string[] = [];
  let n = 0;
  while (n < chars) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const w = `${words[(s >>> 8) % words.length]}${s % 7 === 0 ? '.' : ''} `;
    parts.push(w);
    n += w.length;
  }
  return parts.join('').slice(0, chars);
}

/** Request bodies as JSON text (parsed per request, outside the timed region). */
function workload(): string[] {
  const systems: string[] = [];
  for (let i = 0; i < SYSTEM_PROMPTS; i++) systems.push(text(8_000 + ((i * 2_203) % 5_000), 1_000 + i));
  const bodies: string[] = [];
  const history: { system: string; question: string }[] = [];
  let s = 7;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  for (let i = 0; i < BODIES; i++) {
    // Popularity ~ Zipf: a few system prompts take most of the traffic.
    const system = systems[Math.min(SYSTEM_PROMPTS - 1, Math.floor(SYSTEM_PROMPTS * rnd() ** 2.5))]!;
    const prev = history.length > 0 && rnd() < 0.25 ? history[Math.floor(rnd() * history.length)]! : null;
    let messages: { role: string; content: string }[];
    if (prev === null) {
      const question = text(PROMPT_CHARS - system.length - 20, 50_000 + i);
      messages = [
        { role: 'system', content: system },
        { role: 'user', content: question },
      ];
      history.push({ system, question });
    } else {
      // A follow-up turn: the earlier exchange is the shared prefix, the new question is new.
      const answer = text(600, 90_000 + i);
      const room = Math.max(
        200,
        PROMPT_CHARS - prev.system.length - prev.question.length - answer.length - 40,
      );
      messages = [
        { role: 'system', content: prev.system },
        { role: 'user', content: prev.question.slice(0, Math.max(0, prev.question.length - 800)) },
        { role: 'assistant', content: answer },
        { role: 'user', content: text(Math.min(room, 1_600), 70_000 + i) },
      ];
    }
    bodies.push(JSON.stringify({ model: 'bench', stream: true, messages }));
  }
  return bodies;
}

interface Route extends LlmCandidate {
  engine: { waiting: number; running: number; kvUsage: number; at: number };
}

interface Result {
  p50: number;
  p99: number;
  mean: number;
  picks: number;
}

function measure(
  mode: LlmPolicy,
  routes: number,
  bodies: string[],
  part: 'pick' | 'key',
): Result & { chars: number; modelKiB: number } {
  const picker = new LlmPicker(mode);
  const entries: Route[] = [];
  for (let i = 0; i < routes; i++)
    entries.push({
      key: `10.0.${i >> 8}.${i & 255}:8000`,
      weight: 1,
      inflight: 0,
      engine: { waiting: 0, running: 0, kvUsage: 0, at: performance.now() },
    });
  // Requests in flight, as the routes they went to; one completes at random per pick on average,
  // so the endpoint hovers around 4 requests per route.
  const open: Route[] = [];
  const samples = new Samples(PICKS);
  let chars = 0;
  let sink = 0;
  const deadline = performance.now() + CONFIG_BUDGET_MS;
  for (let i = 0; i < WARMUP + PICKS; i++) {
    const body = JSON.parse(bodies[i % bodies.length]!);
    const t0 = performance.now();
    let chosen: Route | null = null;
    if (part === 'key') sink ^= picker.promptKey(body)?.length ?? 0;
    else chosen = picker.pick(entries, picker.promptKey(body));
    const dt = performance.now() - t0;
    if (i >= WARMUP) {
      samples.add(dt * 1000);
      if (i === WARMUP) chars = JSON.stringify(body.messages).length;
    }
    if (chosen !== null) {
      chosen.inflight++;
      open.push(chosen);
    }
    while (open.length > routes * 4) {
      const j = Math.floor(Math.random() * open.length);
      const done = open[j]!;
      open[j] = open[open.length - 1]!;
      open.pop();
      done.inflight--;
    }
    // The engines' view, refreshed every 100 picks as a scraper would (queues past a batch of 4).
    if (i % 100 === 0) {
      const now = performance.now();
      for (const e of entries) {
        e.engine.running = Math.min(4, e.inflight);
        e.engine.waiting = Math.max(0, e.inflight - 4);
        e.engine.kvUsage = Math.min(1, e.inflight / 8);
        e.engine.at = now;
      }
    }
    if (i >= WARMUP && performance.now() > deadline) break;
  }
  if (sink === -1) console.log(sink);
  const v = samples.values();
  let sum = 0;
  for (const x of v) sum += x;
  return {
    p50: samples.p(50),
    p99: samples.p(99),
    mean: sum / v.length,
    picks: v.length,
    chars,
    modelKiB: picker.modelStats.bytes / 1024,
  };
}

/** blockHashes alone over flat 16k-character strings, with GIE's 64-character blocks. */
function measureHash(bodies: string[]): Result {
  // Flat strings, as JSON.parse makes them (a sliced string is slower to copy out).
  const texts = bodies
    .slice(0, 200)
    .map((b) => JSON.parse(JSON.stringify(b.slice(0, PROMPT_CHARS))) as string);
  const samples = new Samples(PICKS);
  let sink = 0;
  const deadline = performance.now() + CONFIG_BUDGET_MS;
  for (let i = 0; i < WARMUP + PICKS; i++) {
    const t0 = performance.now();
    sink ^= blockHashes(texts[i % texts.length]!, 64, 256)[0]!;
    const dt = performance.now() - t0;
    if (i >= WARMUP) samples.add(dt * 1000);
    if (i >= WARMUP && performance.now() > deadline) break;
  }
  if (sink === -1) console.log(sink);
  const v = samples.values();
  let sum = 0;
  for (const x of v) sum += x;
  return { p50: samples.p(50), p99: samples.p(99), mean: sum / v.length, picks: v.length };
}

/** Runs every configuration; flat figures in µs (keys `<policy>_<routes>_<stat>_us`). */
export async function runPickerBench(): Promise<Record<string, number>> {
  const bodies = workload();
  const out: Record<string, number> = {};
  const hash = measureHash(bodies);
  out.hash16k_p50_us = round(hash.p50);
  out.hash16k_p99_us = round(hash.p99);
  out.hash16k_mean_us = round(hash.mean);
  const configs: [string, LlmPolicy, number, 'pick' | 'key'][] = [
    ['key', 'llm', 1, 'key'],
    ['llm_8', 'llm', 8, 'pick'],
    ['llm_64', 'llm', 64, 'pick'],
    ['prefix_8', 'prefix', 8, 'pick'],
    ['prefix_64', 'prefix', 64, 'pick'],
  ];
  for (const [name, mode, routes, part] of configs) {
    const r = measure(mode, routes, bodies, part);
    out[`${name}_p50_us`] = round(r.p50);
    out[`${name}_p99_us`] = round(r.p99);
    out[`${name}_mean_us`] = round(r.mean);
    if (name === 'key') out.prompt_chars = r.chars;
    else out[`${name}_model_kib`] = Math.round(r.modelKiB);
    // Between configurations: let the event loop breathe (timers, GC finalizers).
    await new Promise((resolve) => setImmediate(resolve));
  }
  out.load1 = round(loadavg()[0]!);
  return out;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  const r = await runPickerBench();
  const row = (name: string, label: string) =>
    console.log(
      `  ${label.padEnd(38)} p50 ${String(r[`${name}_p50_us`]).padStart(6)} µs   p99 ${String(r[`${name}_p99_us`]).padStart(6)} µs   mean ${String(r[`${name}_mean_us`]).padStart(6)} µs`,
    );
  console.log(`picker micro-benchmark (${r.prompt_chars}-character chat prompts; load average ${r.load1})`);
  row('hash16k', 'blockHashes, 16k chars, 64-char blocks');
  row('key', 'prompt key only (promptOf + hashing)');
  row('llm_8', 'llm, 8 routes (key + pick)');
  row('llm_64', 'llm, 64 routes (key + pick)');
  row('prefix_8', 'prefix, 8 routes (key + pick)');
  row('prefix_64', 'prefix, 64 routes (key + pick)');
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(JSON.stringify({ picker: r }));
}
