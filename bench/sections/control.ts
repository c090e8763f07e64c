/**
 * Control-plane section: the embedded system (manager + wildcard worker + embedded stores) with
 * N live circuits on external sessions: start-service → first proxied 200, and terminate → first
 * refused request / live WebSocket closed.
 */
import { type Context, log } from '../context.ts';
import { httpGet, pool, wsOpen } from '../lib/net.ts';
import { type Msg, sleep, start, tsArgv } from '../lib/proc.ts';
import { Samples } from '../lib/stats.ts';
import { PROXY_CPU } from '../options.ts';

export async function run(ctx: Context): Promise<void> {
  const { out, children } = ctx;
  const { counts } = ctx.opts;
  console.log('\n== Control plane: embedded system (manager + wildcard worker + embedded stores)');
  const sys = await start('embedded', tsArgv('bench/servers/embedded.ts'), { cpus: PROXY_CPU });
  children.add(sys);
  const url = sys.info.url as string;
  const token = sys.info.token as string;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Msg };
  };
  const external = {
    services: [{ name: 'app', protocol: 'http', host: '127.0.0.1', port: ctx.upstream.http }],
  };
  const probe = await api('POST', '/v1/sessions', { external });
  if (probe.status !== 201) {
    out.skipped.control = `skipped: needs external sessions (POST /v1/sessions {external} answered ${probe.status})`;
    console.log(`  ${out.skipped.control}`);
    await sys.stop();
    return;
  }
  await api('DELETE', `/v1/sessions/${probe.body.id}?wait=true`);

  interface Opened {
    sessionId: string;
    port: number;
    host: string;
    path: string;
    cookie: string;
  }
  const newSession = async () => {
    const s = await api('POST', '/v1/sessions', { external });
    if (s.status !== 201) throw new Error(`create external session: ${s.status} ${JSON.stringify(s.body)}`);
    return s.body.id as string;
  };
  /** start-service → setup (cookie) → the first proxied 200; returns when it came and its cookie. */
  const openCircuit = async (sessionId: string): Promise<Opened> => {
    const r = await api('POST', `/v1/sessions/${sessionId}/start-service`, {
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
  };

  let live = 0;
  for (const level of counts.circuitLevels) {
    const add = level - live;
    console.log(`  opening ${add} circuits (to ${level} live), 16 at a time`);
    let done = 0;
    await pool(Array.from({ length: add }), 16, async () => {
      await openCircuit(await newSession());
      if (++done % 500 === 0) log(`${done}/${add}`);
    });
    live = level;
    const samples = new Samples();
    const opened: Opened[] = [];
    for (let i = 0; i < counts.controlSamples; i++) {
      const id = await newSession();
      const t = performance.now();
      opened.push(await openCircuit(id));
      samples.add(performance.now() - t);
    }
    live += counts.controlSamples;
    out.record('control', `${level}`, 'startP50Ms', samples.p(50));
    out.record('control', `${level}`, 'startP99Ms', samples.p(99));
    log(
      `${level} live: start-service → first proxied 200 p50 ${samples.p(50).toFixed(1)} ms, p99 ${samples.p(99).toFixed(1)} ms`,
    );

    const refused = new Samples();
    const closed = new Samples();
    for (const o of opened.slice(0, counts.terminateSamples)) {
      const ws = await wsOpen(o.port, o.host, o.cookie);
      const t = performance.now();
      const wsClosed = new Promise<number>((r) => ws.once('close', () => r(performance.now() - t)));
      ws.on('error', () => {});
      const del = api('DELETE', `/v1/sessions/${o.sessionId}`);
      let refusedAt = Number.NaN;
      for (let i = 0; i < 20_000; i++) {
        const g = await httpGet(o.port, o.host, o.path, o.cookie).catch(() => ({ status: 0 }));
        if (g.status !== 200) {
          refusedAt = performance.now() - t;
          break;
        }
      }
      const c = await Promise.race([wsClosed, sleep(10_000).then(() => Number.POSITIVE_INFINITY)]);
      await del;
      refused.add(refusedAt);
      closed.add(c);
      ws.destroy();
    }
    live -= counts.terminateSamples;
    out.record('control', `${level}`, 'refusedP50Ms', refused.p(50));
    out.record('control', `${level}`, 'refusedP99Ms', refused.p(99));
    out.record('control', `${level}`, 'wsClosedP50Ms', closed.p(50));
    out.record('control', `${level}`, 'wsClosedP99Ms', closed.p(99));
    log(
      `${level} live: terminate → refused p50 ${refused.p(50).toFixed(1)} / p99 ${refused.p(99).toFixed(1)} ms; ` +
        `WebSocket closed p50 ${closed.p(50).toFixed(1)} / p99 ${closed.p(99).toFixed(1)} ms`,
    );
  }
  await sys.stop();
}
