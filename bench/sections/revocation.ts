/**
 * Revocation section: how long a logout takes to reach the data plane. The embedded system
 * (manager + wildcard worker) holds L live login sessions, each with its own app cookie (minted
 * under it) and a WebSocket open through the worker; then N of them are ended one at a time
 * (`DELETE /v1/login-sessions/{id}`, what a logout or a platform's sign-out does), timing from the
 * call to (a) the first request with that cookie that is refused and (b) that WebSocket's close.
 * Run on the embedded KV and on a real etcd (the worker learns of revocations from its watch
 * either way). The other login sessions' cookies must keep working (checked at the end).
 */
import { type Context, log } from '../context.ts';
import { httpGet, pool, wsOpen } from '../lib/net.ts';
import { type Child, type Msg, sleep, start, tsArgv } from '../lib/proc.ts';
import { Samples } from '../lib/stats.ts';
import { PROXY_CPU } from '../options.ts';

interface Signed {
  loginSessionId: string;
  cookie: string;
}

class System {
  private constructor(
    readonly sys: Child,
    readonly token: string,
  ) {}

  static async start(ctx: Context, env: NodeJS.ProcessEnv): Promise<System> {
    const sys = ctx.children.add(
      await start('embedded', tsArgv('bench/servers/embedded.ts'), {
        cpus: PROXY_CPU,
        env: { ...process.env, ...env },
      }),
    );
    return new System(sys, sys.info.token as string);
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
    token = this.token,
  ): Promise<{ status: number; body: Msg }> {
    const res = await fetch(`${this.sys.info.url as string}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Msg };
  }
}

export async function run(ctx: Context): Promise<void> {
  const { counts } = ctx.opts;
  console.log(
    `\n== Revocation: ${counts.revocationSessions} login sessions with a cookie and a WebSocket each; end ${counts.revocationSamples}, one at a time`,
  );
  await variant(ctx, 'embedded', {});
  let etcd: { url: string; stop(): Promise<void> } | null = null;
  try {
    const infra = await import('../../test/support/infra/servers.ts');
    const h = await infra.startEtcd({});
    etcd = { url: h.url, stop: () => h.stop() };
  } catch (err) {
    ctx.out.note(`Revocation on etcd: not measured (${(err as Error).message.split('\n')[0]}).`);
  }
  if (etcd) {
    try {
      await variant(ctx, 'etcd', { BENCH_ETCD_URL: etcd.url });
    } finally {
      await etcd.stop();
    }
  }
}

async function variant(ctx: Context, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { counts } = ctx.opts;
  const s = await System.start(ctx, env);
  try {
    const external = {
      services: [{ name: 'app', protocol: 'http', host: '127.0.0.1', port: ctx.upstream.http }],
    };
    const session = await s.api('POST', '/v1/sessions', { external });
    const sessionId = session.body.id as string;
    const port = s.sys.info.wildcardPort as number;
    // Every login session opens the app under its own grant: its cookie is bound to it.
    const signed: Signed[] = [];
    await pool(Array.from({ length: counts.revocationSessions }), 16, async () => {
      const ls = await s.api('POST', '/v1/login-sessions', { user: 'admin' });
      const r = await s.api(
        'POST',
        `/v1/sessions/${sessionId}/start-service`,
        { service: 'app', frontend: 'wildcard' },
        ls.body.token as string,
      );
      const setup = new URL(r.body.setupUrl as string);
      const g = await httpGet(port, setup.host, `${setup.pathname}${setup.search}`);
      const set = g.headers['set-cookie'];
      if (g.status !== 302 || !set) throw new Error(`setup answered ${g.status}`);
      signed.push({
        loginSessionId: ls.body.loginSession.id as string,
        cookie: String(Array.isArray(set) ? set[0] : set).split(';')[0]!,
      });
    });
    const host = new URL((await s.api('GET', `/v1/circuits?sessionId=${sessionId}`)).body.items[0].appUrl)
      .host;
    const sockets = await Promise.all(signed.map((x) => wsOpen(port, host, x.cookie)));
    for (const w of sockets) w.on('error', () => {});
    log(`${name}: ${signed.length} login sessions, cookies and WebSockets open`);

    const refused = new Samples();
    const closed = new Samples();
    for (let i = 0; i < counts.revocationSamples; i++) {
      const x = signed[i]!;
      const ws = sockets[i]!;
      const t = performance.now();
      const wsClosed = new Promise<number>((r) => ws.once('close', () => r(performance.now() - t)));
      const del = s.api('DELETE', `/v1/login-sessions/${x.loginSessionId}?reason=bench`);
      let refusedMs = Number.NaN;
      for (let k = 0; k < 20_000; k++) {
        const g = await httpGet(port, host, '/', x.cookie).catch(() => ({ status: 0 }));
        if (g.status === 401) {
          refusedMs = performance.now() - t;
          break;
        }
      }
      refused.add(refusedMs);
      closed.add(await Promise.race([wsClosed, sleep(10_000).then(() => Number.POSITIVE_INFINITY)]));
      await del;
    }
    // Nobody else was signed out.
    const others = signed.slice(counts.revocationSamples);
    const still = await Promise.all(others.slice(0, 50).map((x) => httpGet(port, host, '/', x.cookie)));
    const wrong = still.filter((g) => g.status !== 200).length;
    if (wrong > 0)
      ctx.out.note(`Revocation (${name}): ${wrong} of ${still.length} other cookies were refused too.`);
    const openOthers = sockets.slice(counts.revocationSamples).filter((w) => !w.destroyed).length;
    for (const w of sockets) w.destroy();
    ctx.out.record('revocation', name, 'refusedP50Ms', refused.p(50));
    ctx.out.record('revocation', name, 'refusedP99Ms', refused.p(99));
    ctx.out.record('revocation', name, 'wsClosedP50Ms', closed.p(50));
    ctx.out.record('revocation', name, 'wsClosedP99Ms', closed.p(99));
    ctx.out.record('revocation', name, 'sessions', signed.length);
    log(
      `${name}: end login session → cookie refused p50 ${refused.p(50).toFixed(1)} / p99 ${refused.p(99).toFixed(1)} ms; ` +
        `WebSocket closed p50 ${closed.p(50).toFixed(1)} / p99 ${closed.p(99).toFixed(1)} ms; ` +
        `${openOthers} of ${others.length} other WebSockets still open`,
    );
  } finally {
    await s.sys.stop();
  }
}
