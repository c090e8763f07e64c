import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  estimateTokens,
  inspectRequest,
  withIncludeUsage,
} from '../../../../src/worker/inference/openai-body.ts';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const JSON_TYPE = 'application/json';

describe('inspectRequest', () => {
  test('a streaming chat request: model, stream, budget, prompt size, usage asked', () => {
    const r = inspectRequest(
      body({
        model: 'm',
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hello there' }],
      }),
      JSON_TYPE,
    );
    assert.equal(r.model, 'm');
    assert.equal(r.stream, true);
    assert.equal(r.maxTokens, 100);
    assert.equal(r.includeUsageAsked, true);
    // `user: hello there\n` = 18 chars: the simulator's prompt text, 5 tokens there.
    assert.equal(r.promptChars, 18);
    assert.equal(estimateTokens(r.promptChars), 5);
    assert.equal(r.json?.model, 'm');
  });

  test('max_completion_tokens wins over max_tokens; null or invalid ones fall through', () => {
    const max = (o: object) => inspectRequest(body(o), JSON_TYPE).maxTokens;
    assert.equal(max({ max_completion_tokens: 10, max_tokens: 99 }), 10);
    assert.equal(max({ max_completion_tokens: null, max_tokens: 99 }), 99);
    assert.equal(max({ max_completion_tokens: '10', max_tokens: 7 }), 7);
    assert.equal(max({ max_tokens: -1 }), null);
    assert.equal(max({ max_tokens: 12.7 }), 12);
    assert.equal(max({}), null);
  });

  test('stream only when exactly true; include_usage only for streams and only when true', () => {
    const r = (o: object) => inspectRequest(body(o), JSON_TYPE);
    assert.equal(r({ stream: 'true' }).stream, false);
    assert.equal(r({ stream: 1 }).stream, false);
    assert.equal(r({ stream: false, stream_options: { include_usage: true } }).includeUsageAsked, false);
    assert.equal(r({ stream: true, stream_options: { include_usage: 'yes' } }).includeUsageAsked, false);
    assert.equal(r({ stream: true, stream_options: [true] }).includeUsageAsked, false);
    assert.equal(r({ stream: true }).includeUsageAsked, false);
  });

  test('not a JSON object → json null and defaults, never a throw', () => {
    const none = {
      json: null,
      model: null,
      stream: false,
      maxTokens: null,
      promptChars: 0,
      includeUsageAsked: false,
    };
    for (const b of ['', 'not json', '{"model":', '[1,2]', 'null', '42', '"s"', '\u00ff\u00fe'])
      assert.deepEqual(inspectRequest(body(b), JSON_TYPE), none, b);
    assert.deepEqual(inspectRequest(Buffer.from([0xff, 0xfe, 0x00]), undefined), none);
    // Declared as something else: not parsed (the engine refuses it too).
    assert.deepEqual(inspectRequest(body({ model: 'm' }), 'text/plain'), none);
    assert.deepEqual(inspectRequest(body({ model: 'm' }), 'application/x-www-form-urlencoded'), none);
  });

  test('content types: JSON with parameters, +json, any case, or none at all', () => {
    for (const ct of [
      undefined,
      '',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/vnd.x+json',
    ])
      assert.equal(inspectRequest(body({ model: 'm' }), ct).model, 'm', String(ct));
  });

  test('a model that is not a string is null', () => {
    assert.equal(inspectRequest(body({ model: 5 }), JSON_TYPE).model, null);
  });

  test('prompt size: content parts, tool calls, tools, completion prompts, token ids', () => {
    const chars = (o: object) => inspectRequest(body(o), JSON_TYPE).promptChars;
    assert.equal(
      chars({
        messages: [
          { role: 'system', content: 'abc' }, // 6 + 3 + 3
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hello' },
              { type: 'image_url', image_url: {} },
            ],
          }, // 4+3+5
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }],
          }, // 9+3+1+7
          'junk',
          { content: 'xy' }, // no role: 0 + 3 + 2
        ],
      }),
      12 + 12 + 20 + 5,
    );
    const tools = [{ type: 'function', function: { name: 'f' } }];
    assert.equal(chars({ messages: [], tools }), JSON.stringify(tools).length);
    assert.equal(chars({ prompt: 'abcdefgh' }), 8);
    assert.equal(chars({ prompt: ['ab', 'cd'] }), 4);
    assert.equal(chars({ prompt: [1, 2, 3] }), 12);
    assert.equal(chars({ prompt: [[1, 2], [3]] }), 12);
    assert.equal(chars({ messages: 'nope', prompt: 7 }), 0);
  });
});

describe('withIncludeUsage', () => {
  test('sets include_usage, keeps the other stream options and fields, leaves the input alone', () => {
    const json = { model: 'm', stream: true, stream_options: { continuous_usage_stats: true }, n: 1 };
    const before = structuredClone(json);
    const out = JSON.parse(withIncludeUsage(json).toString('utf8'));
    assert.deepEqual(out, {
      model: 'm',
      stream: true,
      stream_options: { continuous_usage_stats: true, include_usage: true },
      n: 1,
    });
    assert.deepEqual(json, before);
  });

  test('no or malformed stream_options → a fresh one', () => {
    assert.deepEqual(JSON.parse(withIncludeUsage({ stream: true }).toString()).stream_options, {
      include_usage: true,
    });
    assert.deepEqual(
      JSON.parse(withIncludeUsage({ stream: true, stream_options: 'x' }).toString()).stream_options,
      {
        include_usage: true,
      },
    );
    assert.deepEqual(
      JSON.parse(withIncludeUsage({ stream: true, stream_options: { include_usage: false } }).toString())
        .stream_options,
      { include_usage: true },
    );
  });

  test('UTF-8 survives the round trip', () => {
    const json = inspectRequest(
      body({ messages: [{ role: 'user', content: 'héllo 世界 🙂' }], stream: true }),
      JSON_TYPE,
    ).json!;
    assert.equal(JSON.parse(withIncludeUsage(json).toString('utf8')).messages[0].content, 'héllo 世界 🙂');
  });
});

test('estimateTokens ≈ chars / 4, rounded up; nothing for nothing', () => {
  assert.equal(estimateTokens(0), 0);
  assert.equal(estimateTokens(1), 1);
  assert.equal(estimateTokens(4), 1);
  assert.equal(estimateTokens(5), 2);
  assert.equal(estimateTokens(4000), 1000);
  assert.equal(estimateTokens(-3), 0);
  assert.equal(estimateTokens(Number.NaN), 0);
});
