/**
 * What the worker needs to know of an OpenAI-compatible request body (`/v1/chat/completions`,
 * `/v1/completions`) before it is sent upstream: the model asked for, whether the answer streams,
 * the completion budget and the prompt's size (for the token reservation of the key's TPM limit),
 * and whether the client asked for the usage chunk. The body is parsed once; the worker forwards
 * the original bytes unless it must inject `stream_options.include_usage` (`withIncludeUsage`), so
 * that usage is recorded for every stream even when the client did not ask for it.
 */

export interface InspectedRequest {
  /** The body as a JSON object; null when it is not one (the engine will answer the error). */
  json: Record<string, unknown> | null;
  model: string | null;
  /** `stream: true` (anything else answers one JSON object). */
  stream: boolean;
  /** `max_completion_tokens`, else `max_tokens`; null when absent or not a number ≥ 0. */
  maxTokens: number | null;
  /** Characters of prompt text, framing included (see `promptChars`). */
  promptChars: number;
  /** The client set `stream_options.include_usage: true` (it wants the usage-only chunk). */
  includeUsageAsked: boolean;
}

/**
 * Characters per token of the estimate. Four is OpenAI's published rule of thumb for English with
 * BPE tokenizers (and the llm-sim engine's exact rule). A real tokenizer on the request path
 * would cost more than the whole proxying; the estimate is only used where the engine reports
 * nothing (reservations before the answer, streams cut before their usage chunk).
 */
export const CHARS_PER_TOKEN = 4;

const NONE: Omit<InspectedRequest, 'json'> = Object.freeze({
  model: null,
  stream: false,
  maxTokens: null,
  promptChars: 0,
  includeUsageAsked: false,
});

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A body declared as something else than JSON is not parsed: engines (vLLM's FastAPI included)
 * refuse it anyway, and guessing would make the proxy disagree with the engine. No content type
 * at all is parsed (some clients omit it).
 */
function jsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  const semi = contentType.indexOf(';');
  const mime = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return mime === 'application/json' || mime.endsWith('+json');
}

/** Never throws: a body that is not a JSON object gives `json: null` and the defaults. */
export function inspectRequest(body: Buffer, contentType: string | undefined): InspectedRequest {
  if (body.length === 0 || !jsonContentType(contentType)) return { json: null, ...NONE };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { json: null, ...NONE };
  }
  if (!isObject(parsed)) return { json: null, ...NONE };
  const json = parsed;
  const stream = json.stream === true;
  const so = json.stream_options;
  return {
    json,
    model: typeof json.model === 'string' ? json.model : null,
    stream,
    maxTokens: tokenCount(json.max_completion_tokens) ?? tokenCount(json.max_tokens),
    promptChars: promptChars(json),
    includeUsageAsked: stream && isObject(so) && so.include_usage === true,
  };
}

function tokenCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
}

/**
 * Prompt characters: each chat message counts as `role: content\n` (the framing a chat template
 * adds is a few tokens per message; this is also exactly the llm-sim engine's prompt text, so the
 * estimate is exact there); text parts of multi-part content, tool-call names and arguments, and
 * the `tools` definitions count too, since the engine puts them in the prompt. A `/v1/completions`
 * prompt may be a string, strings, or token ids (each id counts as one token's worth of chars).
 * Images and audio parts are not counted: their token cost depends on the model.
 */
function promptChars(json: Record<string, unknown>): number {
  let n = 0;
  const messages = json.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      if (!isObject(m)) continue;
      n += (typeof m.role === 'string' ? m.role.length : 0) + 3;
      n += contentChars(m.content);
      if (Array.isArray(m.tool_calls)) {
        for (const c of m.tool_calls) {
          const f = isObject(c) ? c.function : undefined;
          if (!isObject(f)) continue;
          if (typeof f.name === 'string') n += f.name.length;
          if (typeof f.arguments === 'string') n += f.arguments.length;
        }
      }
    }
  }
  n += completionPromptChars(json.prompt);
  if (Array.isArray(json.tools) && json.tools.length > 0) {
    try {
      n += JSON.stringify(json.tools).length;
    } catch {
      // unserializable cannot happen for parsed JSON; nothing to count if it did
    }
  }
  return n;
}

function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const p of content) if (isObject(p) && typeof p.text === 'string') n += p.text.length;
  return n;
}

function completionPromptChars(prompt: unknown): number {
  if (typeof prompt === 'string') return prompt.length;
  if (!Array.isArray(prompt)) return 0;
  let n = 0;
  for (const p of prompt) {
    if (typeof p === 'string') n += p.length;
    else if (typeof p === 'number') n += CHARS_PER_TOKEN;
    else if (Array.isArray(p)) n += p.length * CHARS_PER_TOKEN;
  }
  return n;
}

/**
 * The body re-serialized with `stream_options.include_usage = true`, the client's other stream
 * options kept. The input object is not changed. Only for streaming requests: engines refuse
 * `stream_options` without `stream: true`.
 */
export function withIncludeUsage(json: Record<string, unknown>): Buffer {
  const so = isObject(json.stream_options) ? json.stream_options : {};
  return Buffer.from(JSON.stringify({ ...json, stream_options: { ...so, include_usage: true } }), 'utf8');
}

/** ≈ chars / 4, rounded up (a non-empty prompt is at least one token). */
export function estimateTokens(chars: number): number {
  if (!Number.isFinite(chars) || chars <= 0) return 0;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}
