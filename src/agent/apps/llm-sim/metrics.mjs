// Prometheus text exposition (format 0.0.4) of one replica, with vLLM's metric names so that a
// router or dashboard written for vLLM reads the simulator unchanged.

// vLLM's buckets for vllm:time_to_first_token_seconds.
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];

// vLLM's buckets for vllm:inter_token_latency_seconds.
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];

/** A Prometheus histogram's state: cumulative bucket counts, sum and count. */
class Histogram {
  constructor(buckets) {
    this.buckets = buckets;
    this.counts = new Array(buckets.length).fill(0);
    this.count = 0;
    this.sum = 0;
  }

  observe(v) {
    this.count++;
    this.sum += v;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }

  render(out, name, help, labels) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    this.buckets.forEach((le, i) => {
      out.push(`${name}_bucket{${labels},le="${le}"} ${this.counts[i]}`);
    });
    out.push(
      `${name}_bucket{${labels},le="+Inf"} ${this.count}`,
      `${name}_sum{${labels}} ${this.sum}`,
      `${name}_count{${labels}} ${this.count}`,
    );
  }
}

export class Metrics {
  constructor() {
    this.ttft = new Histogram(TTFT_BUCKETS);
    this.itl = new Histogram(ITL_BUCKETS);
  }

  /** Wall-clock time to first token, in seconds (what a client behind a router sees). */
  observeTtft(seconds) {
    this.ttft.observe(seconds);
  }

  /** Wall-clock time between two tokens of one request, in seconds (one per token after the first). */
  observeItl(seconds) {
    this.itl.observe(seconds);
  }

  /** The whole /metrics page for this engine. */
  render(engine, model) {
    const m = `model_name="${escapeLabel(model)}"`;
    const kv = engine.kv;
    const c = engine.counters;
    const out = [];
    const one = (name, type, help, value, labels = m) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${labels}} ${value}`);
    };
    one('vllm:num_requests_running', 'gauge', 'Requests in the running set.', engine.running.length);
    one('vllm:num_requests_waiting', 'gauge', 'Requests waiting to be admitted.', engine.waiting.length);
    one(
      'vllm:kv_cache_usage_perc',
      'gauge',
      'Fraction of KV blocks held by requests (1 = full).',
      kv.usage(),
    );
    one(
      'vllm:cache_config_info',
      'gauge',
      'KV cache configuration.',
      1,
      `block_size="${kv.blockSize}",num_gpu_blocks="${kv.numBlocks}",enable_prefix_caching="True"`,
    );
    one(
      'vllm:prefix_cache_queries_total',
      'counter',
      'Prompt tokens looked up in the prefix cache.',
      kv.queryTokens,
    );
    one('vllm:prefix_cache_hits_total', 'counter', 'Prompt tokens found in the prefix cache.', kv.hitTokens);
    one('vllm:prompt_tokens_total', 'counter', 'Prompt tokens of accepted requests.', c.promptTokens);
    one('vllm:generation_tokens_total', 'counter', 'Tokens generated.', c.generationTokens);
    out.push(
      '# HELP vllm:request_success_total Requests that ended, by finish reason.',
      '# TYPE vllm:request_success_total counter',
      `vllm:request_success_total{${m},finished_reason="length"} ${c.finished}`,
      `vllm:request_success_total{${m},finished_reason="abort"} ${c.aborted + c.broken}`,
    );
    this.ttft.render(
      out,
      'vllm:time_to_first_token_seconds',
      'Time from arrival to the first token (wall clock).',
      m,
    );
    this.itl.render(
      out,
      'vllm:inter_token_latency_seconds',
      'Time between two tokens of a request (wall clock).',
      m,
    );
    one(
      'llmsim_tokens_after_abort_total',
      'counter',
      'Tokens generated in steps that began after the request was known to be aborted (0 when aborts are honoured at step boundaries).',
      c.tokensAfterAbort,
    );
    one('llmsim_steps_total', 'counter', 'Engine steps executed.', engine.steps);
    return `${out.join('\n')}\n`;
  }
}

function escapeLabel(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
