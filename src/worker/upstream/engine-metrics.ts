/**
 * The engines' own view of their load, for the `llm` balancing policy: each route's Prometheus
 * page (vLLM, SGLang, llm-sim) scraped every few hundred milliseconds to a second, reduced to
 * requests waiting, requests running and KV-cache usage. Those see what in-flight counts through
 * one worker process cannot: requests from other workers and other clients, and whether the
 * engine has room to admit more. GIE/llm-d's endpoint picker reads the same series.
 */
import { Buffer } from 'node:buffer';
import { Agent, request } from 'undici';

/** One engine page, reduced. */
export interface EngineMetrics {
  /** Requests queued in the engine, not yet admitted (summed over every model/engine on the page). */
  waiting: number;
  /** Requests in the engine's running batch (summed likewise). */
  running: number;
  /** KV-cache blocks in use, 0..1 (the fullest engine on the page). */
  kvUsage: number;
  /** The KV cache's size in tokens when the page says (vLLM `cache_config_info`, SGLang), else null. */
  cacheTokens: number | null;
  /**
   * The engine's inter-token latency histogram, cumulative (seconds summed, tokens counted), when
   * the page has one (vLLM `inter_token_latency_seconds`, formerly `time_per_output_token_seconds`;
   * SGLang's), else null. Two readings give the engine's pace between them.
   */
  itl: { sumS: number; count: number } | null;
}

/** What the picker reads per route: the last page and when it was read (the scraper's clock). */
export interface EngineSignals extends EngineMetrics {
  at: number;
  /**
   * The engine's recent milliseconds per output token (`PaceMeter`), null while unknown. The
   * engine observes it at every token, where the proxy's own measure waits for streams to end.
   */
  msPerToken: number | null;
}

// What a series is to us.
const WAITING = 1;
const RUNNING = 2;
const KV = 3;
const CACHE_CONFIG = 4;
const CACHE_TOKENS = 5;
const ITL_SUM = 6;
const ITL_COUNT = 7;
const OLD_ITL_SUM = 8;
const OLD_ITL_COUNT = 9;

// vLLM (V0 and V1) and SGLang names; `gpu_cache_usage_perc` is vLLM's name before
// `kv_cache_usage_perc` (some versions export both: the max of equal values is harmless).
const KINDS = new Map<string, number>([
  ['vllm:num_requests_waiting', WAITING],
  ['vllm:num_requests_running', RUNNING],
  ['vllm:kv_cache_usage_perc', KV],
  ['vllm:gpu_cache_usage_perc', KV],
  ['vllm:cache_config_info', CACHE_CONFIG],
  ['sglang:num_queue_reqs', WAITING],
  ['sglang:num_running_reqs', RUNNING],
  ['sglang:token_usage', KV],
  ['sglang:max_total_num_tokens', CACHE_TOKENS],
  // Inter-token latency: the current name first; the deprecated one counts only when the page
  // lacks it (vLLM versions in between export both, with the same samples).
  ['vllm:inter_token_latency_seconds_sum', ITL_SUM],
  ['vllm:inter_token_latency_seconds_count', ITL_COUNT],
  ['sglang:inter_token_latency_seconds_sum', ITL_SUM],
  ['sglang:inter_token_latency_seconds_count', ITL_COUNT],
  ['vllm:time_per_output_token_seconds_sum', OLD_ITL_SUM],
  ['vllm:time_per_output_token_seconds_count', OLD_ITL_COUNT],
  ['sglang:time_per_output_token_seconds_sum', OLD_ITL_SUM],
  ['sglang:time_per_output_token_seconds_count', OLD_ITL_COUNT],
]);

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

/**
 * Reads the engine series out of a Prometheus text page. Several series of one name (several
 * models, data-parallel engines: label sets) are summed for queues and maxed for KV usage — the
 * fullest engine is the one that will queue or evict. Comments, HELP/TYPE lines, timestamps,
 * NaN/Inf samples and lines that do not parse are skipped. Null when the page has none of the
 * queue or KV series (not an engine page, or an engine that exposes nothing we know).
 */
export function parseEngineMetrics(text: string): EngineMetrics | null {
  let waiting = 0;
  let running = 0;
  let kv = -1;
  let cacheTokens = 0;
  let itlSum = 0;
  let itlCount = -1;
  let oldItlSum = 0;
  let oldItlCount = -1;
  let seen = false;
  const len = text.length;
  let pos = 0;
  while (pos < len) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = len;
    let i = pos;
    pos = eol + 1;
    while (i < eol && isSpace(text.charCodeAt(i))) i++;
    // Cheap reject first: most of a page is histograms of other names.
    if (!(text.startsWith('vllm:', i) || text.startsWith('sglang:', i))) continue;
    let nameEnd = i;
    while (nameEnd < eol) {
      const c = text.charCodeAt(nameEnd);
      if (c === 123 /* { */ || isSpace(c)) break;
      nameEnd++;
    }
    const kind = KINDS.get(text.slice(i, nameEnd));
    if (kind === undefined) continue;
    // Labels: only cache_config_info's are read; the others are skipped (quotes and escapes
    // honoured, so a `}` or a space inside a label value does not end them).
    let j = nameEnd;
    let blockSize = Number.NaN;
    let gpuBlocks = Number.NaN;
    if (j < eol && text.charCodeAt(j) === 123) {
      j++;
      let closed = false;
      while (j < eol) {
        while (j < eol && (isSpace(text.charCodeAt(j)) || text.charCodeAt(j) === 44)) j++;
        if (j < eol && text.charCodeAt(j) === 125 /* } */) {
          closed = true;
          j++;
          break;
        }
        const eq = text.indexOf('=', j);
        if (eq < 0 || eq >= eol || text.charCodeAt(eq + 1) !== 34 /* " */) break;
        const label = text.slice(j, eq).trim();
        let k = eq + 2;
        let value = '';
        let start = k;
        let done = false;
        while (k < eol) {
          const c = text.charCodeAt(k);
          if (c === 92 /* \ */) {
            // Prometheus escapes: \\, \" and \n.
            value += text.slice(start, k) + (text.charCodeAt(k + 1) === 110 ? '\n' : text.charAt(k + 1));
            k += 2;
            start = k;
            continue;
          }
          if (c === 34) {
            value += text.slice(start, k);
            done = true;
            k++;
            break;
          }
          k++;
        }
        if (!done) break;
        if (kind === CACHE_CONFIG) {
          if (label === 'block_size') blockSize = Number(value);
          else if (label === 'num_gpu_blocks') gpuBlocks = Number(value);
        }
        j = k;
      }
      if (!closed) continue;
    }
    // The value: the next field; a timestamp may follow it.
    while (j < eol && isSpace(text.charCodeAt(j))) j++;
    let end = j;
    while (end < eol && !isSpace(text.charCodeAt(end))) end++;
    if (end === j) continue;
    const v = Number(text.slice(j, end));
    if (!Number.isFinite(v)) continue;
    switch (kind) {
      case WAITING:
        waiting += Math.max(0, v);
        seen = true;
        break;
      case RUNNING:
        running += Math.max(0, v);
        seen = true;
        break;
      case KV:
        if (v > kv) kv = v;
        seen = true;
        break;
      case CACHE_CONFIG:
        if (blockSize > 0 && gpuBlocks > 0) cacheTokens += blockSize * gpuBlocks;
        break;
      case CACHE_TOKENS:
        if (v > 0) cacheTokens += v;
        break;
      case ITL_SUM:
        itlSum += Math.max(0, v);
        break;
      case ITL_COUNT:
        itlCount = Math.max(0, itlCount) + Math.max(0, v);
        break;
      case OLD_ITL_SUM:
        oldItlSum += Math.max(0, v);
        break;
      case OLD_ITL_COUNT:
        oldItlCount = Math.max(0, oldItlCount) + Math.max(0, v);
        break;
    }
  }
  if (!seen) return null;
  const itl =
    itlCount >= 0
      ? { sumS: itlSum, count: itlCount }
      : oldItlCount >= 0
        ? { sumS: oldItlSum, count: oldItlCount }
        : null;
  return {
    waiting,
    running,
    // Every engine we know exports a fraction; anything outside 0..1 is clamped rather than
    // guessed at.
    kvUsage: Math.min(1, Math.max(0, kv)),
    cacheTokens: cacheTokens > 0 ? cacheTokens : null,
    itl,
  };
}

/**
 * Tokens a pace needs: fewer is noise (one slow step of one request). Until that many came, the
 * last pace stands (an idle engine keeps it rather than losing it).
 */
const PACE_MIN_TOKENS = 8;

/**
 * An engine's pace (ms per output token) from the cumulative inter-token latency histogram of
 * its successive readings: the mean over the tokens generated since the last pace was taken.
 */
export class PaceMeter {
  private baseSumS = 0;
  private baseCount = -1;
  /** The last pace, or null when unknown. */
  msPerToken: number | null = null;

  /** A new reading's histogram (null: the page has none); returns the pace. */
  read(itl: { sumS: number; count: number } | null): number | null {
    if (itl === null) {
      this.baseCount = -1;
      this.msPerToken = null;
    } else if (this.baseCount < 0 || itl.count < this.baseCount || itl.sumS < this.baseSumS) {
      // First reading, or the counters went back (the engine restarted): start over.
      this.baseSumS = itl.sumS;
      this.baseCount = itl.count;
      this.msPerToken = null;
    } else if (itl.count - this.baseCount >= PACE_MIN_TOKENS) {
      this.msPerToken = ((itl.sumS - this.baseSumS) / (itl.count - this.baseCount)) * 1000;
      this.baseSumS = itl.sumS;
      this.baseCount = itl.count;
    }
    return this.msPerToken;
  }
}

export interface ScrapeTarget {
  /** The route's key (what `signals` is asked with). */
  key: string;
  host: string;
  port: number;
}

export interface EngineScraperOptions {
  /** Metrics path on each route, e.g. `/metrics`. */
  path: string;
  /** Time between the starts of two scrapes of one target. */
  intervalMs: number;
  /** One scrape's whole budget (connect, headers, body); beyond it the scrape fails. */
  timeoutMs: number;
  /** Signals older than this are not returned. */
  staleMs: number;
  /** The clock of `at` and of staleness; performance.now() by default (monotonic). */
  now?: () => number;
  /** Largest page read; a larger one fails the scrape. Default 1 MiB. */
  maxBytes?: number;
  /** For the first scrape's jitter; Math.random by default. */
  random?: () => number;
  /**
   * Called with each new reading (e.g. to set the route entry's `engine` field once per scrape
   * instead of asking `signals` on every pick; the picker checks staleness itself).
   */
  onReading?: (key: string, signals: EngineSignals) => void;
}

export const DEFAULT_MAX_METRICS_BYTES = 1024 * 1024;

class Target {
  key = '';
  signals: EngineSignals | null = null;
  readonly pace = new PaceMeter();
  timer: NodeJS.Timeout | null = null;
  abort: AbortController | null = null;
  stopped = false;
  readonly url: string;

  constructor(
    readonly host: string,
    readonly port: number,
    path: string,
  ) {
    const h = host.includes(':') ? `[${host}]` : host;
    this.url = `http://${h}:${port}${path.startsWith('/') ? path : `/${path}`}`;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.abort = null;
  }
}

function ignore(): void {}

function abortScrape(ac: AbortController): void {
  ac.abort();
}

/**
 * Scrapes each target's engine page in the background and keeps the last reading. One scrape in
 * flight per target (the next starts `intervalMs` after the previous one started, or at once if
 * it took longer); the first scrape of a target is jittered over one interval so that many
 * routes added together are not scraped in lockstep. A failed scrape leaves the last reading to
 * age out (`staleMs`), so one lost page does not blind the picker but a dead engine soon does.
 * Timers are unref'd: the scraper never keeps a process alive.
 */
export class EngineScraper {
  private readonly targets = new Map<string, Target>();
  private readonly agent: Agent;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxBytes: number;
  private closed = false;
  /** Scrapes that produced a reading / that failed (for observability and tests). */
  readonly counts = { ok: 0, failed: 0 };

  constructor(private readonly opts: EngineScraperOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_METRICS_BYTES;
    // A small agent of its own: scrapes never queue behind (or hold) the data plane's pools, one
    // connection per engine suffices for one scrape at a time, and it is kept alive between
    // scrapes (the server's keep-alive hint can shorten that).
    this.agent = new Agent({
      connections: 1,
      pipelining: 1,
      keepAliveTimeout: Math.max(1_000, opts.intervalMs * 2),
      connectTimeout: opts.timeoutMs,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      maxResponseSize: this.maxBytes,
      allowH2: false,
    });
  }

  /**
   * The routes to scrape now. Kept targets (same key, host and port) keep their reading and
   * schedule; new ones start (jittered); removed ones stop (a scrape in flight is aborted). A key
   * whose address changed starts over: the old engine's numbers say nothing about the new one.
   */
  setTargets(targets: readonly ScrapeTarget[]): void {
    if (this.closed) return;
    const wanted = new Set<string>();
    for (const t of targets) {
      wanted.add(t.key);
      const cur = this.targets.get(t.key);
      if (cur !== undefined && cur.host === t.host && cur.port === t.port) continue;
      cur?.stop();
      const tg = new Target(t.host, t.port, this.opts.path);
      this.targets.set(t.key, tg);
      tg.key = t.key;
      this.schedule(tg, this.random() * this.opts.intervalMs);
    }
    for (const [key, tg] of this.targets) {
      if (wanted.has(key)) continue;
      tg.stop();
      this.targets.delete(key);
    }
  }

  /** The route's last reading, or null if it never answered or its reading is older than staleMs. */
  signals(key: string): EngineSignals | null {
    const s = this.targets.get(key)?.signals ?? null;
    if (s === null || !(this.now() - s.at <= this.opts.staleMs)) return null;
    return s;
  }

  /** The route's last reading whatever its age (no clock read: for hot paths that check `at`). */
  latest(key: string): EngineSignals | null {
    return this.targets.get(key)?.signals ?? null;
  }

  /** Keys scraped now. */
  get keys(): string[] {
    return [...this.targets.keys()];
  }

  /** Stops every scrape and closes the connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const tg of this.targets.values()) tg.stop();
    this.targets.clear();
    void this.agent.destroy().catch(() => {});
  }

  private schedule(tg: Target, delayMs: number): void {
    if (tg.stopped || this.closed) return;
    tg.timer = setTimeout(() => this.tick(tg), Math.max(0, delayMs));
    tg.timer.unref();
  }

  private tick(tg: Target): void {
    tg.timer = null;
    if (tg.stopped) return;
    const started = performance.now();
    // Never throws out of the timer: every failure of a scrape is a failed scrape.
    this.scrape(tg)
      .then(
        (ok) => {
          if (ok) this.counts.ok++;
          else this.counts.failed++;
        },
        () => {
          this.counts.failed++;
        },
      )
      .finally(() => this.schedule(tg, this.opts.intervalMs - (performance.now() - started)));
  }

  /** One scrape; true when it produced a reading. */
  private async scrape(tg: Target): Promise<boolean> {
    const ac = new AbortController();
    tg.abort = ac;
    // A whole-scrape bound: headersTimeout/bodyTimeout are idle timers, a page trickling in byte
    // by byte would pass both.
    const timer = setTimeout(abortScrape, this.opts.timeoutMs, ac);
    timer.unref();
    try {
      const res = await request(tg.url, {
        dispatcher: this.agent,
        method: 'GET',
        headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
        signal: ac.signal,
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
      });
      const body = res.body;
      // Destroying an unread body makes undici emit an abort error on it: ours to ignore.
      body.on('error', ignore);
      if (res.statusCode !== 200) {
        // Read a little (the connection stays reusable), destroy beyond.
        await body.dump({ limit: 64 * 1024 }).catch(ignore);
        return false;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > this.maxBytes) {
            body.destroy();
            return false;
          }
          chunks.push(chunk);
        }
      } catch (err) {
        body.destroy();
        throw err;
      }
      if (tg.stopped) return false;
      const m = parseEngineMetrics(Buffer.concat(chunks, size).toString('utf8'));
      if (m === null) return false;
      const reading: EngineSignals = { ...m, at: this.now(), msPerToken: tg.pace.read(m.itl) };
      tg.signals = reading;
      if (this.opts.onReading !== undefined) {
        try {
          this.opts.onReading(tg.key, reading);
        } catch {
          // The listener's failure is not the scrape's (and must not escape the timer).
        }
      }
      return true;
    } finally {
      clearTimeout(timer);
      if (tg.abort === ac) tg.abort = null;
    }
  }
}
