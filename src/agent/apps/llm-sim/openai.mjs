// OpenAI wire shapes of the simulator: request validation for /v1/chat/completions and
// /v1/completions, the response objects, stream chunks and error bodies.
//
// Chat messages become the prompt text `${role}: ${content}\n`, message after message (content
// parts of type "text" are joined); that text is what is tokenized and prefix-cached.

export const DEFAULT_MAX_TOKENS = 64;

export class ApiError extends Error {
  constructor(status, message, { type = 'invalid_request_error', code = null, param = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = code;
    this.param = param;
  }

  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const bad = (message, param = null, code = 'invalid_value') => new ApiError(400, message, { param, code });

/**
 * Checks a completion request body and returns what the engine needs; throws ApiError.
 * @param {'chat' | 'text'} kind
 */
export function parseCompletionRequest(kind, body, servedModel) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad('The request body must be a JSON object.', null, 'invalid_json');
  }
  if (body.model !== undefined && body.model !== servedModel) {
    throw new ApiError(404, `The model \`${body.model}\` does not exist.`, {
      code: 'model_not_found',
      param: 'model',
    });
  }
  const prompt = kind === 'chat' ? chatPrompt(body.messages) : textPrompt(body.prompt);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS;
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) {
    throw bad('max_tokens must be an integer >= 1.', 'max_tokens');
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    throw bad('stream must be a boolean.', 'stream');
  }
  const stream = body.stream === true;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (!stream) throw bad('stream_options is only allowed when stream is true.', 'stream_options');
    if (typeof so !== 'object' || Array.isArray(so))
      throw bad('stream_options must be an object.', 'stream_options');
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw bad('Only n = 1 is supported.', 'n');
  if (body.seed !== undefined && body.seed !== null && !Number.isSafeInteger(body.seed)) {
    throw bad('seed must be an integer.', 'seed');
  }
  return {
    prompt,
    maxTokens,
    stream,
    includeUsage: stream && so?.include_usage === true,
    // vLLM's extension: every chunk carries the usage so far.
    continuousUsage: stream && so?.continuous_usage_stats === true,
    requestSeed: body.seed ?? 0,
  };
}

function chatPrompt(messages) {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw bad('messages must be a non-empty array.', 'messages');
  }
  let text = '';
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object' || typeof m.role !== 'string') {
      throw bad(`messages[${i}] must be an object with a string role.`, `messages[${i}]`);
    }
    text += `${m.role}: ${contentText(m.content, i)}\n`;
  });
  return text;
}

function contentText(content, i) {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
  }
  throw bad(`messages[${i}].content must be a string or an array of parts.`, `messages[${i}].content`);
}

function textPrompt(prompt) {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
  throw bad('prompt must be a string (or an array of one string).', 'prompt');
}

export function usage(promptTokens, completionTokens, cachedTokens) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

/** The non-streaming answer. */
export function completionObject(kind, meta, text, usageObject) {
  const choice =
    kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'length' }
      : { index: 0, text, logprobs: null, finish_reason: 'length' };
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [choice],
    usage: usageObject,
  };
}

/**
 * One stream chunk. `usageField`: undefined leaves the key out (no include_usage), null or an
 * object sets it (include_usage: null on content chunks; continuous_usage_stats: the usage so far).
 */
export function streamChunk(kind, meta, text, { first, finished }, usageField) {
  const choice =
    kind === 'chat'
      ? {
          index: 0,
          delta: first ? { role: 'assistant', content: text } : { content: text },
          logprobs: null,
          finish_reason: finished ? 'length' : null,
        }
      : { index: 0, text, logprobs: null, finish_reason: finished ? 'length' : null };
  const chunk = {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [choice],
  };
  if (usageField !== undefined) chunk.usage = usageField;
  return chunk;
}

/** The last chunk when include_usage is set: no choices, the request's usage. */
export function usageChunk(kind, meta, usageObject) {
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [],
    usage: usageObject,
  };
}
