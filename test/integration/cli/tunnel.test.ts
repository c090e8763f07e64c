/**
 * `appproxy tunnel` against a canned manager and a stand-in worker that speaks the tunnel wire
 * protocol over real sockets (binary = bytes, text `eof` = half-close, close reason = CloseReason)
 * and relays to a real TCP echo server. The real worker is exercised by test/e2e/ssh.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import { main } from '../../../src/cli/main.ts';
import { circuit, emptyDataDir, FakeManager, runCli, session, startResult } from '../../support/cli.ts';

type WorkerMode = 'echo' | 'refuse-used' | 'idle' | 'circuit-closed' | 'busy';

/** A stand-in worker: `/_appproxy/tunnel` upgrades relayed to a TCP echo server. */
class FakeWorker {
  mode: WorkerMode = 'echo';
  readonly upgrades: { authorization: string | undefined; protocol: string | undefined }[] = [];
  readonly #http: Server;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #echo: NetServer;
  echoPort = 0;
  url = '';

  constructor() {
    // The backend: echoes, and ends its side once the client's side ended (like demo echo.mjs).
    this.#echo = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    this.#http = createHttpServer((_req, res) => res.writeHead(404).end());
    this.#http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.upgrades.push({
        authorization: req.headers.authorization,
        protocol: req.headers['sec-websocket-protocol'],
      });
      if (this.mode === 'refuse-used' || this.mode === 'busy') {
        const [status, code, message] =
          this.mode === 'busy'
            ? [503, 'AP_ERR_CONNECTION_LIMIT', 'The circuit has reached its connection limit.']
            : [401, 'AP_ERR_TUNNEL_TOKEN_USED', 'The tunnel token was already used; ask for a new one.'];
        const body = JSON.stringify({ code, message, requestId: 'req-w1' });
        socket.end(
          `HTTP/1.1 ${status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#relay(ws));
    });
  }

  async start(): Promise<this> {
    this.#echo.listen(0, '127.0.0.1');
    this.#http.listen(0, '127.0.0.1');
    await Promise.all([once(this.#echo, 'listening'), once(this.#http, 'listening')]);
    this.echoPort = (this.#echo.address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${(this.#http.address() as AddressInfo).port}/_appproxy/tunnel`;
    return this;
  }

  async stop(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    this.#http.closeAllConnections();
    await Promise.all([
      new Promise((r) => this.#http.close(r)),
      new Promise((r) => {
        this.#echo.close(r);
      }),
    ]);
  }

  #relay(ws: WebSocket): void {
    if (this.mode === 'idle') {
      setTimeout(() => ws.close(4408, 'idle-timeout'), 100);
      return;
    }
    if (this.mode === 'circuit-closed') {
      setTimeout(() => ws.close(4410, 'circuit-closed'), 100);
      return;
    }
    const backend = connect({ port: this.echoPort, host: '127.0.0.1', allowHalfOpen: true });
    let clientEnded = false;
    backend.on('data', (d) => ws.send(d, { binary: true }));
    backend.on('end', () => ws.send('eof'));
    backend.on('close', () => ws.close(1000, clientEnded ? 'client-closed' : 'backend-closed'));
    backend.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) backend.write(data);
      else if (data.toString() === 'eof') {
        clientEnded = true;
        backend.end();
      }
    });
    ws.on('close', () => backend.destroy());
  }
}

/** Runs the CLI in-process until its listening line appears; `interrupt()` plays Ctrl-C. */
function startTunnel(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  let interruptHandler: (() => void) | null = null;
  let onOut: () => void = () => {};
  const done = main(args, {
    stdout: {
      write: (s: string) => {
        stdout += s;
        onOut();
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
        onOut();
      },
    },
    env,
    onInterrupt: (h) => {
      interruptHandler = h;
      return () => {
        interruptHandler = null;
      };
    },
  });
  const until = (re: RegExp, what: string, stream: () => string = () => stderr) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(stream());
        if (m) {
          onOut = () => {};
          resolve(m);
        }
      };
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}:\n${stdout}\n${stderr}`)),
        10_000,
      );
      onOut = () => {
        check();
      };
      void done.then(() => {
        clearTimeout(timer);
        check();
        reject(new Error(`the CLI exited before ${what}:\n${stdout}\n${stderr}`));
      });
      check();
    });
  return {
    done,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async port(): Promise<number> {
      const m = await until(/listening on 127\.0\.0\.1:(\d+)/, 'the listening line', () => stdout);
      return Number(m[1]);
    },
    until,
    interrupt(): void {
      assert.ok(interruptHandler, 'no interrupt handler installed');
      interruptHandler();
    },
  };
}

function connectLocal(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the socket receives until the peer ends it. */
function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

describe('appproxy tunnel', () => {
  let fake: FakeManager;
  let worker: FakeWorker;
  let env: Record<string, string>;
  let tokens = 0;
  const sshSession = session({
    id: 'ses_ssh1',
    name: 'box',
    template: 'ssh',
    services: [{ name: 'ssh', protocol: 'tcp', backend: { host: '127.0.0.1', port: 42000 } }],
  });

  before(async () => {
    fake = await new FakeManager().start();
    worker = await new FakeWorker().start();
  });
  after(async () => {
    await fake.stop();
    await worker.stop();
  });
  beforeEach(() => {
    fake.routes.clear();
    fake.requests.length = 0;
    worker.upgrades.length = 0;
    worker.mode = 'echo';
    env = { APPPROXY_URL: fake.url, APPPROXY_TOKEN: 'tok', APPPROXY_DATA_DIR: emptyDataDir() };
    fake.on('GET /v1/sessions/ses_ssh1', { body: sshSession });
    fake.on('POST /v1/sessions/ses_ssh1/start-service', {
      body: startResult({
        circuitId: 'cir_t1',
        appUrl: 'http://127.0.0.1:7105/',
        setupUrl: null,
        expiresAt: null,
      }),
    });
    fake.on('POST /v1/circuits/cir_t1/tunnel-token', () => ({
      body: { token: `tt-${++tokens}`, expiresAt: '2099-01-01T00:00:00Z', url: worker.url },
    }));
  });

  it('starts the service in tunnel mode, prints where it listens, and relays bytes with a fresh token per connection', async () => {
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const port = await t.port();
    assert.match(t.stdout, /^Tunnel to box\/ssh listening on 127\.0\.0\.1:\d+$/m);
    assert.match(t.stdout, new RegExp(`ssh -p ${port} <user>@127\\.0\\.0\\.1`));
    assert.match(t.stdout, new RegExp(`scp -P ${port} FILE <user>@127\\.0\\.0\\.1:`));
    const start = fake.requests.find((r) => r.url.endsWith('/start-service'));
    assert.deepEqual(start?.body, { service: 'ssh', access: { mode: 'tunnel' } });

    for (const payload of ['hello', 'second connection']) {
      const s = await connectLocal(port);
      const received = readAll(s);
      s.end(payload); // half-close: the echo answers after our FIN and then ends its side
      assert.equal((await received).toString(), payload);
      await once(s, 'close');
    }
    await t.until(
      /connection 2 .* closed \(client-closed\): sent 17 B, received 17 B/,
      'the second close line',
    );
    assert.match(t.stderr, /connection 1 from 127\.0\.0\.1:\d+ open\n/);
    assert.match(
      t.stderr,
      /connection 1 from 127\.0\.0\.1:\d+ closed \(client-closed\): sent 5 B, received 5 B, \d+ms/,
    );
    // One single-use token per connection, carried as a bearer token with the tunnel subprotocol.
    assert.equal(worker.upgrades.length, 2);
    assert.notEqual(worker.upgrades[0]!.authorization, worker.upgrades[1]!.authorization);
    for (const u of worker.upgrades) {
      assert.match(u.authorization ?? '', /^Bearer tt-\d+$/);
      assert.equal(u.protocol, 'appproxy-tunnel.v1');
    }
    assert.equal(fake.requests.filter((r) => r.url.endsWith('/tunnel-token')).length, 2);

    t.interrupt();
    assert.equal(await t.done, 0, t.stderr);
  });

  it('asks for the idle timeouts of the new circuit; a re-used circuit that keeps others is noted', async () => {
    const t = startTunnel(
      ['tunnel', 'ses_ssh1', 'ssh', '--connection-idle-timeout', '20s', '--circuit-idle-timeout', 'never'],
      env,
    );
    await t.port();
    const start = fake.requests.find((r) => r.url.endsWith('/start-service'));
    assert.deepEqual(start?.body, {
      service: 'ssh',
      access: { mode: 'tunnel' },
      idle: { connectionIdleTimeoutMs: 20_000, circuitIdleTimeoutMs: null },
    });
    t.interrupt();
    assert.equal(await t.done, 0, t.stderr);
    assert.doesNotMatch(t.stderr, /re-used/);

    fake.on('POST /v1/sessions/ses_ssh1/start-service', {
      body: startResult({
        circuitId: 'cir_t1',
        appUrl: 'http://127.0.0.1:7105/',
        setupUrl: null,
        expiresAt: null,
        reused: true,
      }),
    });
    fake.on('GET /v1/circuits/cir_t1', {
      body: circuit({
        id: 'cir_t1',
        protocol: 'tcp',
        service: 'ssh',
        idle: { connectionIdleTimeoutMs: 1_800_000, circuitIdleTimeoutMs: null },
      }),
    });
    const again = startTunnel(['tunnel', 'ses_ssh1', 'ssh', '--connection-idle-timeout', '20s'], env);
    await again.port();
    assert.match(
      again.stderr,
      /^note: circuit cir_t1 was re-used and keeps its idle timeouts \(connection 30m, circuit never\); `appproxy circuit delete cir_t1` first to apply new ones$/m,
    );
    again.interrupt();
    assert.equal(await again.done, 0, again.stderr);
  });

  it('keeps large streams intact both ways (backpressure)', async () => {
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const port = await t.port();
    const payload = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const s = await connectLocal(port);
    const received = readAll(s);
    s.end(payload);
    const back = await received;
    assert.equal(back.length, payload.length);
    assert.ok(back.equals(payload), 'the echoed bytes differ');
    await t.until(/closed \(client-closed\): sent 16\.0 MiB, received 16\.0 MiB/, 'the close line');
    t.interrupt();
    assert.equal(await t.done, 0);
  });

  it("shows the worker's close reason and closes the local connection (idle-timeout)", async () => {
    worker.mode = 'idle';
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const s = await connectLocal(await t.port());
    s.resume();
    await once(s, 'end');
    await t.until(/connection 1 from \S+ closed \(idle-timeout\)/, 'the idle close line');
    t.interrupt();
    assert.equal(await t.done, 0);
  });

  it('stops with an error once the circuit is closed', async () => {
    worker.mode = 'circuit-closed';
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const s = await connectLocal(await t.port());
    s.resume();
    await once(s, 'end');
    assert.equal(await t.done, 1);
    assert.match(t.stderr, /closed \(circuit-closed\)/);
    assert.match(t.stderr, /error: the circuit was closed/);
  });

  it("a refused token: the worker's error code is printed and the command fails", async () => {
    worker.mode = 'refuse-used';
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const s = await connectLocal(await t.port());
    s.resume();
    await once(s, 'end');
    assert.equal(await t.done, 1);
    assert.match(t.stderr, /connection 1 from \S+ refused: .*\[AP_ERR_TUNNEL_TOKEN_USED\]/);
    assert.match(
      t.stderr,
      /^error: The tunnel token was already used; ask for a new one\. \[AP_ERR_TUNNEL_TOKEN_USED\] \(request req-w1\)$/m,
    );
  });

  it('the connection limit refuses one connection only; the tunnel goes on', async () => {
    worker.mode = 'busy';
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const port = await t.port();
    const s = await connectLocal(port);
    s.resume();
    await once(s, 'end');
    await t.until(/refused: .*\[AP_ERR_CONNECTION_LIMIT\]/, 'the refusal line');
    worker.mode = 'echo';
    const s2 = await connectLocal(port);
    const received = readAll(s2);
    s2.end('still here');
    assert.equal((await received).toString(), 'still here');
    t.interrupt();
    assert.equal(await t.done, 0);
  });

  it('a token the manager will not mint (circuit gone) ends the command with its code', async () => {
    fake.on('POST /v1/circuits/cir_t1/tunnel-token', {
      status: 409,
      body: {
        code: 'AP_ERR_TUNNEL_NOT_AVAILABLE',
        message: 'The circuit is not a TCP circuit in tunnel mode.',
        requestId: 'req-9',
      },
    });
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const s = await connectLocal(await t.port());
    s.resume();
    await once(s, 'end');
    assert.equal(await t.done, 1);
    assert.match(t.stderr, /error: .* \[AP_ERR_TUNNEL_NOT_AVAILABLE\] \(request req-9\)/);
  });

  it('Ctrl-C with a live connection closes it and exits 0', async () => {
    const t = startTunnel(['tunnel', 'ses_ssh1', 'ssh'], env);
    const s = await connectLocal(await t.port());
    s.write('ping');
    await t.until(/connection 1 from \S+ open/, 'the open line');
    s.resume();
    // The echoed bytes may still sit unread in the tunnel's socket: the kernel then resets.
    const closed = new Promise((resolve) => {
      s.once('end', resolve);
      s.once('error', resolve);
    });
    t.interrupt();
    assert.equal(await t.done, 0);
    await closed;
    assert.match(t.stderr, /connection 1 from \S+ closed \(client-closed\)/);
  });

  it('--json prints the listening address as JSON; --local-port is honoured', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const free = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    fake.on('GET /v1/sessions/box', {
      status: 404,
      body: { code: 'AP_ERR_SESSION_NOT_FOUND', message: 'no', requestId: 'r' },
    });
    fake.on('GET /v1/sessions', { body: { items: [sshSession] } });
    const t = startTunnel(['--json', 'tunnel', 'box', 'ssh', '--local-port', String(free)], env);
    const line = await t.until(/^\{[\s\S]*\}\n$/, 'the JSON answer', () => t.stdout);
    const json = JSON.parse(line[0]);
    assert.deepEqual(json, {
      circuitId: 'cir_t1',
      session: 'ses_ssh1',
      service: 'ssh',
      host: '127.0.0.1',
      port: free,
    });
    t.interrupt();
    assert.equal(await t.done, 0);
  });

  it('refuses a non-tcp or unknown service before starting anything', async () => {
    fake.on('GET /v1/sessions/ses_1a2b', { body: session() });
    const http = await runCli(['tunnel', 'ses_1a2b', 'web'], { env });
    assert.equal(http.code, 1);
    assert.match(http.stderr, /service "web" of session demo-1a2b is http; a tunnel carries tcp services/);
    const unknown = await runCli(['tunnel', 'ses_1a2b', 'nope'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /has no service "nope" \(services: web\)/);
    assert.equal(fake.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('an unknown session fails with the not-found code', async () => {
    fake.on('GET /v1/sessions', { body: { items: [] } });
    const r = await runCli(['tunnel', 'ghost', 'ssh'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no session with id or name "ghost" \[AP_ERR_NOT_FOUND\]/);
  });

  it('argument errors are usage errors (exit 2)', async () => {
    for (const args of [
      ['tunnel', 'box'],
      ['tunnel', 'box', 'ssh', '--local-port', 'abc'],
      ['tunnel', 'box', 'ssh', '--local-port', '70000'],
      ['tunnel', 'box', 'ssh', '--bind', 'my host'],
      ['tunnel', 'box', 'ssh', '--connection-idle-timeout', 'never'],
      ['tunnel', 'box', 'ssh', '--circuit-idle-timeout', '5'],
    ]) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(fake.requests.length, 0);
  });

  it('a local port in use is a clear failure', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = await runCli(['tunnel', 'ses_ssh1', 'ssh', '--local-port', String(port)], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`));
    } finally {
      busy.close();
    }
  });
});
