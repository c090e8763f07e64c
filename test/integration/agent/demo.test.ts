/** The built-in demo template, run for real: its HTTP, WebSocket, SSE, upload, download and TCP paths. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { builtinTemplates } from '../../../src/agent/templates.ts';
import { until } from '../../support/poll.ts';
import { type AgentHarness, harness, pidExists } from './harness.ts';

describe('demo template', () => {
  let h: AgentHarness;
  let web: number;
  let echo: number;

  before(async () => {
    h = harness(builtinTemplates());
    await h.agent.launch('demo-1', 'demo');
    const running = await h.report('demo-1', 'RUNNING');
    assert.equal(running.reason, null);
    const services = running.services ?? [];
    assert.deepEqual(
      services.map((s) => [s.name, s.protocol, s.host]),
      [
        ['web', 'http', '127.0.0.1'],
        ['echo', 'tcp', '127.0.0.1'],
      ],
    );
    web = services[0]!.port;
    echo = services[1]!.port;
    assert.ok(web > 0 && echo > 0 && web !== echo);
  });
  after(() => h.cleanup());

  test('GET / serves the demo page', async () => {
    const res = await fetch(`http://127.0.0.1:${web}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /<title>AppProxy demo<\/title>/);
  });

  test('WebSocket echo round trip', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${web}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const echoed = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('hello through AppProxy');
    assert.equal(await echoed, 'hello through AppProxy');
    ws.close();
  });

  test('SSE sends N events then ends', async () => {
    const res = await fetch(`http://127.0.0.1:${web}/sse?count=4`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await res.text(); // ends after the 4th event
    const events = text.split('\n').filter((l) => l.startsWith('data: {"n"'));
    assert.deepEqual(
      events.map((l) => JSON.parse(l.slice(6)).n),
      [1, 2, 3, 4],
    );
    assert.match(text, /event: end/);
  });

  test('upload of 5 MiB answers its length and sha256', async () => {
    const hash = createHash('sha256');
    const result = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: web, path: '/upload', method: 'POST' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      });
      req.on('error', reject);
      // Streamed in 64 KiB chunks (chunked encoding), as a browser upload would be.
      for (let i = 0; i < 80; i++) {
        const chunk = randomBytes(64 * 1024);
        hash.update(chunk);
        req.write(chunk);
      }
      req.end();
    });
    assert.deepEqual(result, { bytes: 5 * 1024 * 1024, sha256: hash.digest('hex') });
  });

  test('download of N bytes has the length and hash announced', async () => {
    const n = 3_000_017;
    const res = await fetch(`http://127.0.0.1:${web}/download?bytes=${n}`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, n);
    const sha = createHash('sha256').update(body).digest('hex');
    assert.equal(res.headers.get('x-sha256'), sha);
    // The documented pattern: byte[i] = i % 251.
    const expected = Buffer.alloc(n);
    for (let i = 0; i < n; i++) expected[i] = i % 251;
    assert.ok(body.equals(expected));
  });

  test('GET /headers echoes the request headers', async () => {
    const res = await fetch(`http://127.0.0.1:${web}/headers`, { headers: { 'x-test': 'yes' } });
    const body = (await res.json()) as { headers: Record<string, string> };
    assert.equal(body.headers['x-test'], 'yes');
  });

  test('TCP echo round trip', async () => {
    const payload = randomBytes(256 * 1024);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port: echo });
      const chunks: Buffer[] = [];
      let size = 0;
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= payload.length) {
          sock.end();
          resolve(Buffer.concat(chunks));
        }
      });
      sock.on('error', reject);
      sock.write(payload);
    });
    assert.ok(received.equals(payload));
  });

  test('terminate stops every process, removes the folder, reports TERMINATED once', async () => {
    const procs = h.agent.processes('demo-1');
    assert.equal(procs.length, 2);
    const dir = join(h.dataDir, 'sessions', 'demo-1');
    assert.ok(existsSync(dir));
    assert.deepEqual(h.agent.running(), ['demo-1']);

    await h.agent.terminate('demo-1');
    for (const p of procs) assert.equal(pidExists(p.pid), false, `${p.service} (pid ${p.pid}) still exists`);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(h.agent.running(), []);
    const final = await h.report('demo-1', 'TERMINATED');
    assert.match(final.reason ?? '', /terminated on request/);

    // Harmless twice, and for an unknown id.
    await h.agent.terminate('demo-1');
    await h.agent.terminate('no-such-session');
    await until(() => h.reports.length >= 2, 'reports', { timeoutMs: 1000 });
    assert.deepEqual(
      h.reports.filter((r) => r.sessionId === 'demo-1').map((r) => r.state),
      ['RUNNING', 'TERMINATED'],
    );
  });
});
