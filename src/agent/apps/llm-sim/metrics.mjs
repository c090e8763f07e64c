// Prometheus text exposition (format 0.0.4) of one replica, with vLLM's metric names so that a
// router or dashboard written for vLLM reads the simulator unchanged.

// vLLM's buckets for vllm:time_to_first_token_seconds.
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];

export class Metrics {
  constructor() {
    this.ttftCounts = new Array(TTFT_BUCKETS.length).fill(0);
    this.ttftCount = 0;
    this.ttftSum = 0;
  }

  /** Wall-clock time to first token, in seconds (what a client behind a router sees). */
  observeTtft(seconds) {
    this.ttftCount++;
    this.ttftSum += seconds;
    for (let i = 0; i < TTFT_BUCKETS.length; i++) if (seconds <= TTFT_BUCKETS[i]) this.ttftCounts[i]++;
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
    out.push(
      '# HELP vllm:time_to_first_token_seconds Time from arrival to the first token (wall clock).',
      '# TYPE vllm:time_to_first_token_seconds histogram',
    );
    TTFT_BUCKETS.forEach((le, i) => {
      out.push(`vllm:time_to_first_token_seconds_bucket{${m},le="${le}"} ${this.ttftCounts[i]}`);
    });
    out.push(
      `vllm:time_to_first_token_seconds_bucket{${m},le="+Inf"} ${this.ttftCount}`,
      `vllm:time_to_first_token_seconds_sum{${m}} ${this.ttftSum}`,
      `vllm:time_to_first_token_seconds_count{${m}} ${this.ttftCount}`,
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
