/**
 * The usage tap against real llm-sim output (a real engine process, its bytes recorded once):
 * whatever the chunking, the client receives the stream byte for byte, minus exactly the usage-only
 * chunk when it is stripped, and every complete event leaves in the push that completed it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TapUsage, UsageTap, type UsageTapOptions } from '../../../../src/worker/inference/usage-tap.ts';
import { type Sim, startSim } from '../../../support/llm-sim.ts';

let sim: Sim;
/** Raw answers of the engine, as received. */
const rec: Record<'usage' | 'continuous' | 'plain' | 'json' | 'text', Buffer> = {} as never;
const PROMPT = [{ role: 'user', content: 'Tell me about the sea and the sky, briefly.' }];
const MAX_TOKENS = 8;

async function raw(path: string, body: object): Promise<Buffer> {
  const res = await sim.post(path, body);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

before(async () => {
  sim = await startSim(['--time-scale', '0.01']);
  const chat = { messages: PROMPT, max_tokens: MAX_TOKENS };
  rec.usage = await raw('/v1/chat/completions', {
    ...chat,
    stream: true,
    stream_options: { include_usage: true },
  });
  rec.continuous = await raw('/v1/chat/completions', {
    ...chat,
    stream: true,
    stream_options: { include_usage: true, continuous_usage_stats: true },
  });
  rec.plain = await raw('/v1/chat/completions', { ...chat, stream: true });
  rec.json = await raw('/v1/chat/completions', chat);
  rec.text = await raw('/v1/completions', {
    prompt: 'Once upon a time',
    max_tokens: 5,
    stream: true,
    stream_options: { include_usage: true },
  });
});

after(() => sim.stop());

/** The engine's usage of a recorded stream, read independently of the tap. */
function engineUsage(stream: Buffer): TapUsage {
  const events = stream.toString('utf8').split('\n\n');
  const last = events.filter((e) => e.includes('"choices":[]'));
  assert.equal(last.length, 1);
  const u = JSON.parse(last[0]!.slice('data: '.length)).usage;
  return {
    promptTokens: u.prompt_tokens,
    completionTokens: u.completion_tokens,
    cachedTokens: u.prompt_tokens_details.cached_tokens,
    estimated: false,
  };
}

/** The stream minus its usage-only event, computed without the tap (events end with `sep + sep`). */
function withoutUsageChunk(stream: string, sep = '\n'): string {
  const blank = sep + sep;
  return stream
    .split(blank)
    .filter((e) => !(e.includes('"choices":[]') && e.includes('"usage":{')))
    .join(blank);
}

/** Runs chunks through a tap; returns everything forwarded and what each push forwarded. */
function run(opts: UsageTapOptions, chunks: Buffer[]): { tap: UsageTap; out: Buffer; pushes: Buffer[] } {
  const tap = new UsageTap(opts);
  const pushes: Buffer[] = [];
  for (const c of chunks) pushes.push(tap.push(c) ?? Buffer.alloc(0));
  const tail = tap.end();
  return { tap, out: Buffer.concat([...pushes, tail ?? Buffer.alloc(0)]), pushes };
}

/** The complete events of a prefix (up to and including its last blank line), for any line end. */
function completeEvents(prefix: string, sep: string): string {
  const blank = sep + sep;
  const at = prefix.lastIndexOf(blank);
  return at < 0 ? '' : prefix.slice(0, at + blank.length);
}

function everySplit(stream: Buffer, sep: string, strip: boolean): void {
  const expected = strip ? withoutUsageChunk(stream.toString('latin1'), sep) : stream.toString('latin1');
  for (let i = 0; i <= stream.length; i++) {
    const { tap, out, pushes } = run({ streaming: true, stripUsageChunk: strip }, [
      stream.subarray(0, i),
      stream.subarray(i),
    ]);
    assert.equal(out.toString('latin1'), expected, `split at ${i}`);
    // Nothing held back: the first push forwarded every event complete in its bytes.
    const prefix = stream.subarray(0, i).toString('latin1');
    let want: string;
    if (sep === '\r\n' && prefix.endsWith('\r\n\r')) {
      // The blank line's CR ends the event: it leaves now, without waiting for the LF (which then
      // follows it, or goes with it when the event is the stripped one).
      const events = prefix.split('\r\n\r\n');
      const last = events[events.length - 1]!;
      const cut = strip && last.includes('"choices":[]');
      want = cut
        ? withoutUsageChunk(`${prefix}\n`, sep)
        : strip
          ? withoutUsageChunk(`${prefix}\n`, sep).slice(0, -1)
          : prefix;
    } else {
      const done = completeEvents(prefix, sep);
      want = strip ? withoutUsageChunk(done, sep) : done;
    }
    assert.equal(pushes[0]!.toString('latin1'), want, `first push at ${i}`);
    assert.deepEqual(
      tap.usage(),
      engineUsage(Buffer.from(stream.toString('latin1').replaceAll(sep, '\n'), 'latin1')),
    );
    assert.equal(tap.contentChunks, MAX_TOKENS);
  }
}

describe('UsageTap on an SSE stream', () => {
  test('the recorded stream is what the engine sends: content chunks, a usage chunk, [DONE]', () => {
    const s = rec.usage.toString('utf8');
    assert.ok(s.endsWith('data: [DONE]\n\n'));
    assert.equal(s.split('"usage":null').length - 1, MAX_TOKENS);
    assert.deepEqual(engineUsage(rec.usage).completionTokens, MAX_TOKENS);
    assert.ok(engineUsage(rec.usage).promptTokens > 0);
  });

  test('every split point, usage chunk stripped: output = input minus exactly that chunk', () => {
    everySplit(rec.usage, '\n', true);
  });

  test('every split point, nothing stripped: output = input', () => {
    everySplit(rec.usage, '\n', false);
  });

  test('every split point with CRLF line ends (a split between CR and LF included)', () => {
    const crlf = Buffer.from(rec.usage.toString('latin1').replaceAll('\n', '\r\n'), 'latin1');
    everySplit(crlf, '\r\n', true);
    everySplit(crlf, '\r\n', false);
  });

  test('every split point with CR-only line ends', () => {
    const cr = Buffer.from(rec.usage.toString('latin1').replaceAll('\n', '\r'), 'latin1');
    everySplit(cr, '\r', true);
  });

  test('one byte at a time, and random three-way splits', () => {
    const expected = withoutUsageChunk(rec.usage.toString('latin1'));
    const bytes = [...rec.usage].map((b) => Buffer.from([b]));
    const one = run({ streaming: true, stripUsageChunk: true }, bytes);
    assert.equal(one.out.toString('latin1'), expected);
    assert.deepEqual(one.tap.usage(), engineUsage(rec.usage));
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 300; k++) {
      const a = rnd(rec.usage.length + 1);
      const b = a + rnd(rec.usage.length - a + 1);
      const r = run({ streaming: true, stripUsageChunk: true }, [
        rec.usage.subarray(0, a),
        rec.usage.subarray(a, b),
        rec.usage.subarray(b),
      ]);
      assert.equal(r.out.toString('latin1'), expected, `${a}/${b}`);
    }
  });

  test('one chunk holding the whole stream: forwarded at once, and as the same buffer when unchanged', () => {
    const r = run({ streaming: true, stripUsageChunk: false }, [rec.usage]);
    assert.equal(r.pushes[0], rec.usage);
    const s = run({ streaming: true, stripUsageChunk: true }, [rec.usage]);
    assert.equal(s.pushes[0]!.toString('latin1'), withoutUsageChunk(rec.usage.toString('latin1')));
  });

  test('comments, other fields, extra blank lines and [DONE] pass through untouched', () => {
    const events = rec.usage.toString('latin1').split('\n\n');
    const mixed = `: ping\n\n${events.slice(0, 3).join('\n\n')}\n\n: keep-alive\n\nid: 7\nevent: message\n${events
      .slice(3)
      .join('\n\n')}\n\n\n`;
    const input = Buffer.from(mixed, 'latin1');
    for (let i = 0; i <= input.length; i += 7) {
      const r = run({ streaming: true, stripUsageChunk: true }, [input.subarray(0, i), input.subarray(i)]);
      assert.equal(r.out.toString('latin1'), withoutUsageChunk(mixed), `split at ${i}`);
      assert.deepEqual(r.tap.usage(), engineUsage(rec.usage));
      assert.equal(r.tap.contentChunks, MAX_TOKENS);
    }
  });

  test('continuous usage stats: every chunk carries usage; only the usage-only chunk is removed', () => {
    const s = rec.continuous.toString('latin1');
    assert.equal(s.split('"usage":{').length - 1, MAX_TOKENS + 1);
    for (let i = 0; i <= rec.continuous.length; i += 3) {
      const r = run({ streaming: true, stripUsageChunk: true }, [
        rec.continuous.subarray(0, i),
        rec.continuous.subarray(i),
      ]);
      assert.equal(r.out.toString('latin1'), withoutUsageChunk(s), `split at ${i}`);
      assert.deepEqual(r.tap.usage(), engineUsage(rec.continuous));
      assert.equal(r.tap.contentChunks, MAX_TOKENS);
    }
  });

  test('/v1/completions streams (text chunks) count and strip the same way', () => {
    const r = run({ streaming: true, stripUsageChunk: true }, [rec.text]);
    assert.equal(r.out.toString('latin1'), withoutUsageChunk(rec.text.toString('latin1')));
    assert.deepEqual(r.tap.usage(), engineUsage(rec.text));
    assert.equal(r.tap.contentChunks, 5);
  });

  test('a stream without a usage chunk (not asked): estimated from the chunks and the prompt estimate', () => {
    const r = run({ streaming: true, stripUsageChunk: true, promptTokensEstimate: 11 }, [rec.plain]);
    assert.equal(r.out.toString('latin1'), rec.plain.toString('latin1'));
    assert.deepEqual(r.tap.usage(), {
      promptTokens: 11,
      completionTokens: MAX_TOKENS,
      cachedTokens: 0,
      estimated: true,
    });
    // The caller's estimate at the end wins over the constructor's.
    assert.equal(r.tap.usage(20)?.promptTokens, 20);
  });

  test('a stream cut mid-event: complete content chunks counted, the partial one forwarded as is', () => {
    const s = rec.usage.toString('latin1');
    // Cut in the middle of the fourth content event.
    let at = 0;
    for (let k = 0; k < 3; k++) at = s.indexOf('\n\n', at) + 2;
    const cut = rec.usage.subarray(0, at + 40);
    const r = run({ streaming: true, stripUsageChunk: true }, [cut]);
    assert.equal(r.out.toString('latin1'), cut.toString('latin1'));
    assert.deepEqual(r.tap.usage(9), {
      promptTokens: 9,
      completionTokens: 3,
      cachedTokens: 0,
      estimated: true,
    });
  });

  test('a stream cut inside the usage chunk: estimated; cut right after it: the engine`s numbers', () => {
    const s = rec.usage.toString('latin1');
    const u = s.indexOf('"choices":[]');
    const inside = run({ streaming: true, stripUsageChunk: true }, [rec.usage.subarray(0, u + 30)]);
    assert.equal(inside.tap.usage(4)?.estimated, true);
    assert.equal(inside.tap.usage(4)?.completionTokens, MAX_TOKENS);
    // The usage event is whole but its blank line never came: still the engine's numbers, and
    // still not given to a client that did not ask for it.
    const end = s.indexOf('\n\n', u);
    const whole = run({ streaming: true, stripUsageChunk: true }, [rec.usage.subarray(0, end + 1)]);
    assert.deepEqual(whole.tap.usage(4), engineUsage(rec.usage));
    assert.equal(whole.out.toString('latin1'), s.slice(0, s.lastIndexOf('\n\n', u) + 2));
  });

  test('no data at all (headers, then the connection closed): no usage', () => {
    assert.equal(run({ streaming: true, stripUsageChunk: true }, []).tap.usage(5), null);
    assert.equal(
      run({ streaming: true, stripUsageChunk: true }, [Buffer.from(': ping\n\n')]).tap.usage(5),
      null,
    );
  });

  test('role-only and empty chunks are not tokens; reasoning and tool arguments are', () => {
    const ev = (delta: object) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: null }], usage: null })}\n\n`;
    const stream =
      ev({ role: 'assistant', content: '' }) +
      ev({ content: 'a' }) +
      ev({ reasoning_content: 'think' }) +
      ev({ tool_calls: [{ index: 0, function: { arguments: '{"x"' } }] }) +
      ev({ content: null }) +
      ev({ content: '' }) +
      'data: {"choices":[{"delta":{"content" : "spaced"}}]}\n\n' +
      'data: [DONE]\n\n';
    const r = run({ streaming: true, stripUsageChunk: false }, [Buffer.from(stream)]);
    assert.equal(r.tap.contentChunks, 4);
    assert.equal(r.out.toString(), stream);
  });

  test('error events are forwarded and counted as an answer, not as tokens', () => {
    const stream = 'data: {"error":{"message":"boom","type":"server_error"}}\n\ndata: [DONE]\n\n';
    const r = run({ streaming: true, stripUsageChunk: true, promptTokensEstimate: 3 }, [Buffer.from(stream)]);
    assert.equal(r.out.toString(), stream);
    assert.deepEqual(r.tap.usage(), {
      promptTokens: 3,
      completionTokens: 0,
      cachedTokens: 0,
      estimated: true,
    });
  });

  test('multi-byte UTF-8 split anywhere is forwarded intact and still parsed', () => {
    const usage = {
      prompt_tokens: 3,
      completion_tokens: 2,
      total_tokens: 5,
      prompt_tokens_details: { cached_tokens: 1 },
    };
    const stream = Buffer.from(
      `data: {"choices":[{"delta":{"content":"日本🙂"}}],"usage":null}\n\n` +
        `data: {"choices":[{"delta":{"content":"é"}}],"usage":null}\n\n` +
        `data: {"id":"ü","choices":[],"usage":${JSON.stringify(usage)}}\n\ndata: [DONE]\n\n`,
    );
    const expected = withoutUsageChunk(stream.toString('latin1'));
    for (let i = 0; i <= stream.length; i++) {
      const r = run({ streaming: true, stripUsageChunk: true }, [stream.subarray(0, i), stream.subarray(i)]);
      assert.equal(r.out.toString('latin1'), expected);
      assert.deepEqual(r.tap.usage(), {
        promptTokens: 3,
        completionTokens: 2,
        cachedTokens: 1,
        estimated: false,
      });
    }
  });

  test('an event larger than maxBuffer: the tap stops holding bytes and forwards all unchanged', () => {
    const r = run({ streaming: true, stripUsageChunk: true, maxBuffer: 64 }, [
      rec.usage.subarray(0, 100),
      rec.usage.subarray(100),
    ]);
    assert.equal(r.out.toString('latin1'), rec.usage.toString('latin1'));
    assert.equal(r.tap.usage(2)?.estimated, true);
  });

  test('times of the first and last content chunks, TTFT and time per output token', () => {
    let clock = 1000;
    const tap = new UsageTap({ streaming: true, stripUsageChunk: true, now: () => clock });
    const events = rec.usage.toString('latin1').split('\n\n');
    for (const e of events) {
      clock += 10;
      tap.push(Buffer.from(`${e}\n\n`, 'latin1'));
    }
    tap.end();
    assert.equal(tap.firstTokenAt, 1010);
    assert.equal(tap.lastTokenAt, 1010 + 10 * (MAX_TOKENS - 1));
    assert.equal(tap.ttftMs(1000), 10);
    assert.equal(tap.tpotMs(), 10);
    assert.deepEqual(tap.tokenTimes, { firstAt: 1010, lastAt: 1080, chunks: MAX_TOKENS });
  });
});

describe('UsageTap on a JSON answer', () => {
  test('every split point: forwarded unchanged as it comes, usage parsed at the end', () => {
    const body = rec.json;
    const u = JSON.parse(body.toString()).usage;
    for (let i = 0; i <= body.length; i++) {
      const tap = new UsageTap({ streaming: false, stripUsageChunk: true });
      const a = tap.push(body.subarray(0, i));
      const b = tap.push(body.subarray(i));
      assert.equal(tap.end(), null);
      assert.equal(Buffer.concat([a ?? Buffer.alloc(0), b ?? Buffer.alloc(0)]).toString(), body.toString());
      assert.deepEqual(tap.usage(), {
        promptTokens: u.prompt_tokens,
        completionTokens: u.completion_tokens,
        cachedTokens: u.prompt_tokens_details.cached_tokens,
        estimated: false,
      });
      assert.equal(tap.firstTokenAt, null);
    }
  });

  test('no usage in the answer: completion estimated from the text', () => {
    const tap = new UsageTap({ streaming: false, stripUsageChunk: false });
    tap.push(
      Buffer.from(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'x'.repeat(40) } }] })),
    );
    tap.end();
    assert.deepEqual(tap.usage(6), {
      promptTokens: 6,
      completionTokens: 10,
      cachedTokens: 0,
      estimated: true,
    });
  });

  test('larger than maxBuffer: forwarded anyway, completion estimated from the size', () => {
    const tap = new UsageTap({ streaming: false, stripUsageChunk: false, maxBuffer: 100 });
    const body = Buffer.from(
      JSON.stringify({ choices: [{ text: 'y'.repeat(400) }], usage: { prompt_tokens: 1 } }),
    );
    const first = body.subarray(0, 50);
    const rest = body.subarray(50);
    assert.equal(tap.push(first), first);
    assert.equal(tap.push(rest), rest);
    tap.end();
    const u = tap.usage(2)!;
    assert.equal(u.estimated, true);
    assert.equal(u.completionTokens, Math.ceil(body.length / 4));
  });

  test('not JSON (an HTML error page): no usage', () => {
    const tap = new UsageTap({ streaming: false, stripUsageChunk: false });
    assert.equal(tap.push(Buffer.from('<html>bad gateway</html>'))?.toString(), '<html>bad gateway</html>');
    tap.end();
    assert.equal(tap.usage(3), null);
  });
});
