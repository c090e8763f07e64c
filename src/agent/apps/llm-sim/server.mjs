// llm-sim: a simulated OpenAI-compatible inference engine (no GPU, no model), one process = one
// replica, for the inference-endpoint tests, the demo and the benchmark. It behaves like vLLM
// where a router can see it (queueing, batching, prefix caching, streaming, usage, metrics,
// aborts, faults); its numbers are only meant to compare policies on the same simulator.
// Plain JavaScript on Node built-ins, run by the agent's own Node (`{node}`).
//
// Usage: node server.mjs --host 127.0.0.1 --port 8000 [options]      (--help lists them)
//   --host, --port            bind address (port 0: any; the chosen port is printed:
//                             "llm-sim listening on http://HOST:PORT", then "llm-sim ready")
//   --model NAME              served model name (sim-model)
//   --max-num-seqs N          running set size (16)
//   --step-budget N           tokens per step, decodes + prefill chunks (2048)
//   --num-blocks N            KV cache blocks (1024)
//   --block-size N            tokens per block (16)
//   --time-scale X            wall ms per simulated ms (1; 0.1 runs 10× faster)
//   --seed N                  seed of the generated words (0)
//   --t0-ms, --per-seq-ms, --per-prefill-token-ms
//                             step time = t0 + perSeq·scheduled + perPrefillToken·prefillTokens
//                             simulated ms (5, 0.5, 0.02), × the slow factor, × time scale
//   --stream-interval N       tokens per streamed chunk (1)
//   --startup-delay-ms N      /health (and completions) answer 503 for this long (0)
//   --fault F                 crash | hang | slow:K | status:503 | status:429 | broken | JSON body
// Every option may also come from LLMSIM_<OPTION> (LLMSIM_TIME_SCALE=0.1); flags win.
//
// Model (details in engine.mjs, kv-cache.mjs, text.mjs): a token is 4 characters of prompt text;
// KV blocks carry chained hashes for prefix caching, LRU-evicted; each step decodes one token per
// running request and prefills uncached prompt tokens within the budget; output is filler words,
// max_tokens of them (default 64), finish_reason "length".
//
// Routes:
//   POST /v1/chat/completions, POST /v1/completions   OpenAI shapes; stream, stream_options
//        {include_usage, continuous_usage_stats}; usage.prompt_tokens_details.cached_tokens;
//        x-request-id is echoed and names the request (its id is chatcmpl-/cmpl-<that id>).
//        A client that closes its connection aborts the request at the next step boundary.
//   GET  /v1/models, GET /health, GET /metrics (Prometheus, vLLM's names + llmsim_*)
//   GET  /_sim/state, POST /_sim/fault {kind, factor?, status?, durationMs?}  (loopback clients
//        only; note that a proxy on the same host, AppProxy included, connects from loopback)
import { createServer } from 'node:http';
import { Engine } from './engine.mjs';
import { Faults, parseFault, parseFaultFlag } from './faults.mjs';
import { Metrics } from './metrics.mjs';
import {
  ApiError,
  completionObject,
  parseCompletionRequest,
  streamChunk,
  usage,
  usageChunk,
} from './openai.mjs';
import { usage as cliUsage, OptionError, parseOptions } from './options.mjs';
import { countTokens } from './text.mjs';

const MAX_BODY = 32 * 1024 * 1024;

let opts;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof OptionError)) throw err;
  process.stderr.write(`llm-sim: ${err.message}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(cliUsage());
  process.exit(0);
}

const metrics = new Metrics();
const engine = new Engine(opts, metrics);
/** Requests that arrived during a hang, answered when it ends. */
let held = [];
const faults = new Faults(engine, {
  crash: () => process.exit(1),
  cleared: () => {
    const run = held;
    held = [];
    for (const h of run) if (!h.res.destroyed) h.run();
  },
});
if (opts.fault) {
  try {
    faults.set(parseFaultFlag(opts.fault));
  } catch (err) {
    process.stderr.write(`llm-sim: --fault: ${err.message}\n`);
    process.exit(2);
  }
}
const startedAt = Date.now();
/** Set (and "llm-sim ready" printed) once the startup delay is over. */
let isReady = false;
const ready = () => isReady;
let requestCounter = 0;

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function apiError(res, err, headers) {
  json(res, err.status, err.body(), headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      // Too large: answered 413 at once; the rest is read and dropped, the connection closed.
      if (size > MAX_BODY) {
        chunks.length = 0;
        reject(
          new ApiError(413, `The request body is larger than ${MAX_BODY} bytes.`, { code: 'body_too_large' }),
        );
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client gone before its body arrived: nothing to answer (the caller sees res.destroyed).
    const gone = () =>
      reject(new ApiError(400, 'The client closed the connection.', { code: 'client_closed' }));
    req.on('error', gone);
    req.on('close', () => {
      if (!req.complete) gone();
    });
  });
}

async function completion(kind, req, res) {
  let body;
  try {
    const text = await readBody(req);
    if (!ready()) {
      const left = Math.ceil((opts.startupDelayMs - (Date.now() - startedAt)) / 1000);
      throw Object.assign(
        new ApiError(503, 'The model is still loading.', { type: 'server_error', code: 'model_loading' }),
        {
          headers: { 'retry-after': String(Math.max(1, left)) },
        },
      );
    }
    const status = faults.status;
    if (status) {
      throw Object.assign(
        status.status === 429
          ? new ApiError(429, 'Rate limit reached (simulated).', {
              type: 'requests',
              code: 'rate_limit_exceeded',
            })
          : new ApiError(503, 'The engine is overloaded (simulated); try again later.', {
              type: 'server_error',
              code: 'service_unavailable',
            }),
        { headers: { 'retry-after': String(status.retryAfterS) } },
      );
    }
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(400, 'The request body is not valid JSON.', { code: 'invalid_json' });
    }
    body = parseCompletionRequest(kind, body, opts.model);
    const promptTokens = Math.max(1, countTokens(body.prompt));
    if (engine.kv.blocksFor(promptTokens, body.maxTokens) > opts.numBlocks) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${engine.maxModelLen} tokens; the request asks for ` +
          `${promptTokens} prompt + ${body.maxTokens} completion tokens.`,
        { code: 'context_length_exceeded', param: 'max_tokens' },
      );
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const headers = err.status === 413 ? { connection: 'close' } : err.headers;
    return void (res.destroyed || apiError(res, err, headers));
  }
  if (res.destroyed) return;

  const given = req.headers['x-request-id'];
  const rid =
    typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given)
      ? given
      : `${process.pid}-${++requestCounter}`;
  const meta = {
    id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${rid}`,
    created: Math.floor(Date.now() / 1000),
    model: opts.model,
  };
  const sink = body.stream ? streamSink(kind, meta, body, res) : wholeSink(kind, meta, rid, res);
  if (body.stream) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': rid,
    });
    res.flushHeaders();
  }
  const r = engine.submit({
    id: meta.id,
    kind,
    prompt: body.prompt,
    maxTokens: body.maxTokens,
    requestSeed: body.requestSeed,
    sink,
  });
  r.requestId = rid;
  res.on('close', () => {
    if (!res.writableFinished) engine.abort(r);
  });
}

/** Cuts the connection as a broken replica does (the engine forgets the request first). */
function cut(r, res) {
  engine.abort(r, 'broken');
  res.destroy();
}

function streamSink(kind, meta, body, res) {
  let chunks = 0;
  const send = (obj, done) => res.write(`data: ${JSON.stringify(obj)}\n\n`, done);
  return {
    tokens(r, text, flags) {
      if (res.destroyed) return;
      if (faults.broken && chunks > 0) return cut(r, res);
      const usageField = body.continuousUsage
        ? usage(r.promptTokens, r.generated, r.cachedTokens)
        : body.includeUsage
          ? null
          : undefined;
      chunks++;
      if (faults.broken)
        return void send(streamChunk(kind, meta, text, flags, usageField), () => cut(r, res));
      send(streamChunk(kind, meta, text, flags, usageField));
      if (!flags.finished) return;
      if (body.includeUsage) send(usageChunk(kind, meta, usage(r.promptTokens, r.generated, r.cachedTokens)));
      res.end('data: [DONE]\n\n');
    },
  };
}

function wholeSink(kind, meta, rid, res) {
  let text = '';
  return {
    tokens(r, more, { finished }) {
      if (res.destroyed) return;
      if (faults.broken) return cut(r, res);
      text += more;
      if (!finished) return;
      json(res, 200, completionObject(kind, meta, text, usage(r.promptTokens, r.generated, r.cachedTokens)), {
        'x-request-id': rid,
      });
    },
  };
}

const isLoopback = (a = '') => a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');

async function control(route, req, res) {
  if (!isLoopback(req.socket.remoteAddress)) {
    req.resume();
    return json(res, 403, {
      error: { message: 'Only loopback clients may use /_sim.', type: 'forbidden', code: null },
    });
  }
  if (route === 'GET /_sim/state') {
    return json(res, 200, {
      model: opts.model,
      options: opts,
      ready: ready(),
      fault: faults.describe(),
      held: held.length,
      ...engine.state(),
    });
  }
  if (route === 'POST /_sim/fault') {
    let f;
    try {
      const text = await readBody(req);
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ApiError(400, 'The request body is not valid JSON.', { code: 'invalid_json' });
      }
      f = parseFault(parsed);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return apiError(res, err);
    }
    if (f.kind === 'crash') {
      // Answered first so the caller knows it was taken, then gone without any cleanup.
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      return void res.end('{"fault":{"kind":"crash"}}', () => process.exit(1));
    }
    faults.set(f);
    return json(res, 200, { fault: faults.describe() });
  }
  req.resume();
  json(res, 404, {
    error: { message: `No route ${route}.`, type: 'invalid_request_error', code: 'not_found' },
  });
}

function handle(route, req, res) {
  if (route === 'POST /v1/chat/completions') return completion('chat', req, res);
  if (route === 'POST /v1/completions') return completion('text', req, res);
  req.resume();
  if (route === 'GET /health') {
    if (ready()) return void res.writeHead(200, { 'content-length': 0 }).end();
    return json(res, 503, {
      error: { message: 'The model is still loading.', type: 'server_error', code: 'model_loading' },
    });
  }
  if (route === 'GET /v1/models') {
    return json(res, 200, {
      object: 'list',
      data: [
        {
          id: opts.model,
          object: 'model',
          created: Math.floor(startedAt / 1000),
          owned_by: 'llm-sim',
          root: opts.model,
          parent: null,
          max_model_len: engine.maxModelLen,
        },
      ],
    });
  }
  if (route === 'GET /metrics') {
    const text = metrics.render(engine, opts.model);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    return void res.end(text);
  }
  json(res, 404, {
    error: { message: `No route ${route}.`, type: 'invalid_request_error', code: 'not_found' },
  });
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  const route = `${req.method} ${path}`;
  const onError = (err) => {
    process.stderr.write(`llm-sim: ${route}: ${err.stack ?? err}\n`);
    if (!res.headersSent)
      json(res, 500, { error: { message: 'Internal error.', type: 'server_error', code: null } });
    else res.destroy();
  };
  if (path.startsWith('/_sim/')) return void control(route, req, res).catch(onError);
  const run = () => Promise.resolve(handle(route, req, res)).catch(onError);
  if (faults.hung) held.push({ res, run });
  else run();
});
// Streams may stay silent for long (queued requests, slow steps): no timeout of ours cuts them.
server.requestTimeout = 0;
server.on('error', (err) => {
  process.stderr.write(`llm-sim: ${err.message}\n`);
  process.exit(1);
});
server.listen(opts.port, opts.host, () => {
  const a = server.address();
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  process.stdout.write(`llm-sim listening on http://${host}:${a.port} (model ${opts.model})\n`);
  const announce = () => {
    isReady = true;
    process.stdout.write('llm-sim ready\n');
  };
  const left = opts.startupDelayMs - (Date.now() - startedAt);
  if (left > 0) setTimeout(announce, left);
  else announce();
});

process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
});
