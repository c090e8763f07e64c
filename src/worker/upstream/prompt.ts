/**
 * The prompt text of an OpenAI-compatible request body, for prefix-cache-aware routing
 * (`prefix-cache.ts`). It does not have to be what the engine tokenizes, only a deterministic
 * function of the request in which **the same conversation prefix gives the same text prefix**:
 * a conversation grows by appending messages, so each message is rendered on its own and appended.
 *
 * Chat messages are rendered as llm-sim renders them (`${role}: ${content}\n`, text parts joined),
 * so on the simulator the text — hence the block boundaries — is exactly what the engine caches.
 * Anything a chat template puts before the first message (tool definitions) goes first, as chat
 * templates do: it is part of every turn's prefix.
 */

/** Receives a prompt's text in pieces, in order; `add` returns false once it needs no more. */
export interface PromptSink {
  add(text: string): boolean;
}

/**
 * Feeds the prompt text of a parsed request body to `sink` (stopping early when the sink has
 * enough): chat completions (`messages`, with `tools`), text completions (`prompt`). False when
 * the body carries no prompt (not a completion request).
 */
export function writePrompt(body: unknown, sink: PromptSink): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.messages)) {
    writeChat(b.messages, b.tools, sink);
    return true;
  }
  const p = b.prompt;
  if (typeof p === 'string') {
    sink.add(p);
    return true;
  }
  // A batch of prompts: each one is a separate sequence on the engine; the first one's prefix is
  // what the batch shares most often (and a joined text is a sequence nobody caches).
  if (Array.isArray(p) && typeof p[0] === 'string') {
    sink.add(p[0]);
    return true;
  }
  return false;
}

class Concat implements PromptSink {
  text = '';
  add(text: string): boolean {
    this.text += text;
    return true;
  }
}

/** The prompt text, or null when the body carries none (not a completion request, or no text). */
export function promptOf(body: unknown): string | null {
  const c = new Concat();
  return writePrompt(body, c) && c.text.length > 0 ? c.text : null;
}

function writeChat(messages: unknown[], tools: unknown, sink: PromptSink): void {
  // Tool definitions are constant over a conversation and chat templates render them into the
  // system preamble, so they lead. JSON.stringify keeps the client's own key order: the same
  // client sends the same text every turn.
  if (Array.isArray(tools) && tools.length > 0) {
    sink.add('tools: ');
    sink.add(JSON.stringify(tools));
    if (!sink.add('\n')) return;
  }
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m === null || typeof m !== 'object') continue;
    const msg = m as Record<string, unknown>;
    if (typeof msg.role === 'string') sink.add(msg.role);
    sink.add(': ');
    writeContent(msg.content, sink);
    // An assistant turn that called tools has no (or little) content; the calls are what the next
    // turn's prompt repeats, and what tells two agent runs apart.
    if (Array.isArray(msg.tool_calls) && msg.tool_calls.length > 0) sink.add(JSON.stringify(msg.tool_calls));
    if (!sink.add('\n')) return;
  }
}

function writeContent(content: unknown, sink: PromptSink): void {
  if (typeof content === 'string') {
    sink.add(content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (let i = 0; i < content.length; i++) {
    const part = content[i];
    // Text parts count; images, audio and files do not (their payloads can be megabytes of base64
    // and say nothing stable about the text prefix).
    if (part !== null && typeof part === 'object') {
      const t = (part as { text?: unknown }).text;
      if (typeof t === 'string') sink.add(t);
    }
  }
}
