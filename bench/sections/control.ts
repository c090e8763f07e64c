/**
 * Control-plane section: the embedded system (manager + wildcard worker + embedded stores) with
 * N live circuits on external sessions: start-service → first proxied 200, terminate → first
 * refused request / live WebSocket closed, and an inference endpoint's route added → its first
 * request / removed → its last.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Context, log } from '../context.ts';
import { httpGet, pool, wsOpen } from '../lib/net.ts';
import { type Child, type Msg, sleep, start, tsArgv } from '../lib/proc.ts';
import { Samples } from '../lib/stats.ts';
import { PROXY_CPU } from '../options.ts';

export async function run(ctx: Context): Promise<void> {
  const { counts } = ctx.opts;
  console.log('\n== Control plane: embedded system (manager + wildcard worker + embedded stores)');
  const cp = await ControlPlane.start(ctx);
  const probe = await cp.probe();
  if (probe !== 201) {
    ctx.out.skipped.control = `skipped: needs external sessions (POST /v1/sessions {external} answered ${probe})`;
    console.log(`  ${ctx.out.skipped.control}`);
    await cp.stop();
    return;
  }
  let live = 0;
  for (const level of counts.circuitLevels) {
    await fill(cp, level - live, level);
    const opened = await measureStart(ctx, cp, level);
    await measureTerminate(ctx, cp, level, opened.slice(0, counts.terminateSamples));
    await measureEndpointRoutes(ctx, cp, level, counts.terminateSamples);
    // The timed circuits stay live, but for the terminated ones.
    live = level + counts.controlSamples - counts.terminateSamples;
  }
  await cp.stop();
}

/** A circuit opened through the API: its session, where its app answers, and the app cookie. */
interface Opened {
  sessionId: string;
  port: number;
  host: string;
  path: string;
  cookie: string;
}

/** The embedded system in its own process (bench/servers/embedded.ts), driven through its API. */
class ControlPlane {
  private constructor(
    private readonly sys: Child,
    /** External sessions with one HTTP service on the upstream. */
    private readonly external: unknown,
  ) {}

  static async start(ctx: Context): Promise<ControlPlane> {
    const sys = ctx.children.add(
      await start('embedded', tsArgv('bench/servers/embedded.ts'), { cpus: PROXY_CPU }),
    );
    const external = {
      services: [{ name: 'app', protocol: 'http', host: '127.0.0.1', port: ctx.upstream.http }],
    };
    return new ControlPlane(sys, external);
  }

  stop(): Promise<void> {
    return this.sys.stop();
  }

  async api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Msg }> {
    const res = await fetch(`${this.sys.info.url as string}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.sys.info.token as string}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Msg };
  }

  /** Whether external sessions can be created: the status of a trial one (deleted again). */
  async probe(): Promise<number> {
    const s = await this.api('POST', '/v1/sessions', { external: this.external });
    if (s.status === 201) await this.api('DELETE', `/v1/sessions/${s.body.id}?wait=true`);
    return s.status;
  }

  async newSession(): Promise<string> {
    const s = await this.api('POST', '/v1/sessions', { external: this.external });
    if (s.status !== 201) throw new Error(`create external session: ${s.status} ${JSON.stringify(s.body)}`);
    return s.body.id as string;
  }

  /** start-service → setup (cookie) → the first proxied 200; returns once it came, with its cookie. */
  async openCircuit(sessionId: string): Promise<Opened> {
    const r = await this.api('POST', `/v1/sessions/${sessionId}/start-service`, {
      service: 'app',
      frontend: 'wildcard',
    });
    if (r.status !== 200) throw new Error(`start-service: ${r.status} ${JSON.stringify(r.body)}`);
    const setup = new URL(r.body.setupUrl as string);
    const port = Number(setup.port);
    const s = await httpGet(port, setup.host, `${setup.pathname}${setup.search}`);
    const setCookie = s.headers['set-cookie'];
    if (s.status !== 302 || !setCookie) throw new Error(`setup answered ${s.status}`);
    const cookie = String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0]!;
    const app = new URL(r.body.appUrl as string);
    for (let i = 0; ; i++) {
      const g = await httpGet(port, app.host, app.pathname, cookie);
      if (g.status === 200) break;
      if (i > 1000) throw new Error(`no proxied 200 (last ${g.status})`);
      await sleep(1);
    }
    return { sessionId, port, host: app.host, path: app.pathname, cookie };
  }
}

/** Opens `add` more circuits, 16 at a time, to reach `level` live ones. */
async function fill(cp: ControlPlane, add: number, level: number): Promise<void> {
  console.log(`  opening ${add} circuits (to ${level} live), 16 at a time`);
  let done = 0;
  await pool(Array.from({ length: add }), 16, async () => {
    await cp.openCircuit(await cp.newSession());
    if (++done % 500 === 0) log(`${done}/${add}`);
  });
}

/** Timed start-service → first proxied 200, one at a time; returns the circuits it opened. */
async function measureStart(ctx: Context, cp: ControlPlane, level: number): Promise<Opened[]> {
  const samples = new Samples();
  const opened: Opened[] = [];
  for (let i = 0; i < ctx.opts.counts.controlSamples; i++) {
    const id = await cp.newSession();
    const t = performance.now();
    opened.push(await cp.openCircuit(id));
    samples.add(performance.now() - t);
  }
  ctx.out.record('control', `${level}`, 'startP50Ms', samples.p(50));
  ctx.out.record('control', `${level}`, 'startP99Ms', samples.p(99));
  log(
    `${level} live: start-service → first proxied 200 p50 ${samples.p(50).toFixed(1)} ms, p99 ${samples.p(99).toFixed(1)} ms`,
  );
  return opened;
}

/** Terminates each circuit's session with a WebSocket open on it; times the refusal and the close. */
async function measureTerminate(
  ctx: Context,
  cp: ControlPlane,
  level: number,
  circuits: Opened[],
): Promise<void> {
  const refused = new Samples();
  const closed = new Samples();
  for (const o of circuits) {
    const r = await terminate(cp, o);
    refused.add(r.refusedMs);
    closed.add(r.closedMs);
  }
  ctx.out.record('control', `${level}`, 'refusedP50Ms', refused.p(50));
  ctx.out.record('control', `${level}`, 'refusedP99Ms', refused.p(99));
  ctx.out.record('control', `${level}`, 'wsClosedP50Ms', closed.p(50));
  ctx.out.record('control', `${level}`, 'wsClosedP99Ms', closed.p(99));
  log(
    `${level} live: terminate → refused p50 ${refused.p(50).toFixed(1)} / p99 ${refused.p(99).toFixed(1)} ms; ` +
      `WebSocket closed p50 ${closed.p(50).toFixed(1)} / p99 ${closed.p(99).toFixed(1)} ms`,
  );
}

/** A backend that answers every request with its name (which replica served it). */
async function namedBackend(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': name.length });
    res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** One GET through an endpoint (keep-alive, with its key): the name of the replica that answered. */
function endpointGet(agent: Agent, url: URL, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(url.port),
        path: '/which',
        agent,
        headers: { host: url.host, authorization: `Bearer ${key}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Route changes of inference endpoints with `level` circuits live on the worker: a route added
 * (PUT of the routes) → the first request the new replica answers, and a route removed → the last
 * request sent after the call that the removed replica still answered. One client sends requests
 * back to back through the endpoint, so the resolution is one proxied round trip.
 */
async function measureEndpointRoutes(
  ctx: Context,
  cp: ControlPlane,
  level: number,
  n: number,
): Promise<void> {
  const [a, b] = await Promise.all([namedBackend('a'), namedBackend('b')]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const added = new Samples();
  const putAnswered = new Samples();
  const removed = new Samples();
  try {
    for (let i = 0; i < n; i++) {
      const ep = await cp.api('POST', '/v1/endpoints', {
        name: `bench-${level}-${i}`,
        frontend: 'wildcard',
        routes: [{ id: 'a', host: '127.0.0.1', port: a.port }],
      });
      if (ep.status !== 201) throw new Error(`create endpoint: ${ep.status} ${JSON.stringify(ep.body)}`);
      const url = new URL(ep.body.url as string);
      const key = (await cp.api('POST', `/v1/endpoints/${ep.body.id}/tokens`, { name: 'bench' })).body
        .key as string;
      for (let t = 0; (await endpointGet(agent, url, key).catch(() => '')) !== 'a'; t++) {
        if (t > 2000) throw new Error('the endpoint never answered');
        await sleep(1);
      }
      // Added: both routes, same weight; the new one's first answer.
      let t0 = performance.now();
      const put = cp
        .api('PUT', `/v1/endpoints/${ep.body.id}/routes`, {
          routes: [
            { id: 'a', host: '127.0.0.1', port: a.port },
            { id: 'b', host: '127.0.0.1', port: b.port },
          ],
        })
        .then(() => putAnswered.add(performance.now() - t0));
      for (let t = 0; ; t++) {
        if ((await endpointGet(agent, url, key)) === 'b') break;
        if (t > 50_000) throw new Error('the added route never answered');
      }
      added.add(performance.now() - t0);
      await put;
      // Removed: a leaves; the send time of the last request a still answered.
      t0 = performance.now();
      let lastA = 0;
      const del = cp.api('DELETE', `/v1/endpoints/${ep.body.id}/routes/a`);
      let settled = false;
      void del.then(() => {
        settled = true;
      });
      // Until the call returned and 200 more requests went to b only.
      for (let onlyB = 0; !settled || onlyB < 200; ) {
        const sent = performance.now();
        if ((await endpointGet(agent, url, key)) === 'a') {
          lastA = sent - t0;
          onlyB = 0;
        } else onlyB++;
      }
      removed.add(lastA);
      await cp.api('DELETE', `/v1/endpoints/${ep.body.id}`);
    }
  } finally {
    agent.destroy();
    await Promise.all([a.close(), b.close()]);
  }
  ctx.out.record('control', `${level}`, 'routeAddedP50Ms', added.p(50));
  ctx.out.record('control', `${level}`, 'routeAddedP99Ms', added.p(99));
  ctx.out.record('control', `${level}`, 'routePutP50Ms', putAnswered.p(50));
  ctx.out.record('control', `${level}`, 'routePutP99Ms', putAnswered.p(99));
  ctx.out.record('control', `${level}`, 'routeRemovedP50Ms', removed.p(50));
  ctx.out.record('control', `${level}`, 'routeRemovedP99Ms', removed.p(99));
  log(
    `${level} live: endpoint route added → its first request p50 ${added.p(50).toFixed(1)} / p99 ${added.p(99).toFixed(1)} ms ` +
      `(the PUT's own answer p50 ${putAnswered.p(50).toFixed(1)} / p99 ${putAnswered.p(99).toFixed(1)} ms); ` +
      `removed → no new request after p50 ${removed.p(50).toFixed(1)} / p99 ${removed.p(99).toFixed(1)} ms`,
  );
}

/**
 * DELETE of the circuit's session, then requests until the first one that is not a 200
 * (`refusedMs`, NaN if none in 20k tries) and the WebSocket's close (`closedMs`, ∞ after 10 s).
 */
async function terminate(cp: ControlPlane, o: Opened): Promise<{ refusedMs: number; closedMs: number }> {
  const ws = await wsOpen(o.port, o.host, o.cookie);
  const t = performance.now();
  const wsClosed = new Promise<number>((r) => ws.once('close', () => r(performance.now() - t)));
  ws.on('error', () => {});
  const del = cp.api('DELETE', `/v1/sessions/${o.sessionId}`);
  let refusedMs = Number.NaN;
  for (let i = 0; i < 20_000; i++) {
    const g = await httpGet(o.port, o.host, o.path, o.cookie).catch(() => ({ status: 0 }));
    if (g.status !== 200) {
      refusedMs = performance.now() - t;
      break;
    }
  }
  const closedMs = await Promise.race([wsClosed, sleep(10_000).then(() => Number.POSITIVE_INFINITY)]);
  await del;
  ws.destroy();
  return { refusedMs, closedMs };
}
