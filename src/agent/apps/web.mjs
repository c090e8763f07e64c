// Demo web app of the `demo` template. Plain JavaScript (run by the agent's own Node, no loader).
// Usage: node web.mjs --host 127.0.0.1 --port 8080   (or HOST / PORT in the environment)
//
//   GET  /                 HTML page "AppProxy demo" that exercises the endpoints below
//   GET  /ws               WebSocket echo (text and binary)
//   GET  /sse?count=N&interval=MS   N server-sent events (default 10, every 200 ms); count=0 never ends
//   POST /upload           streams the body through SHA-256; answers {"bytes":N,"sha256":"hex"}
//   GET  /download?bytes=N N bytes of the pattern byte[i] = i % 251, with x-sha256 of the whole body
//   GET  /headers          the request as seen here: method, url, headers, remote address (JSON)
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const host = arg('host', process.env.HOST ?? '127.0.0.1');
const port = Number(arg('port', process.env.PORT ?? '0'));

const MAX_DOWNLOAD = 16 * 1024 ** 3;
// 251 is prime, so the pattern never lines up with power-of-two chunk or buffer sizes; a chunk
// whose length is a multiple of 251 can be repeated as is.
const PATTERN_CHUNK = Buffer.alloc(251 * 256);
for (let i = 0; i < PATTERN_CHUNK.length; i++) PATTERN_CHUNK[i] = i % 251;

function patternSha256(bytes) {
  const hash = createHash('sha256');
  let left = bytes;
  while (left > 0) {
    const n = Math.min(left, PATTERN_CHUNK.length);
    hash.update(n === PATTERN_CHUNK.length ? PATTERN_CHUNK : PATTERN_CHUNK.subarray(0, n));
    left -= n;
  }
  return hash.digest('hex');
}

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>AppProxy demo</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
code{background:#eee;padding:0 .2em}.ok{color:#070}.bad{color:#b00}</style></head>
<body>
<h1>AppProxy demo</h1>
<p class="ok">It works: this page was served by the demo app of your session.</p>
<ul>
<li>WebSocket echo at <code>/ws</code>: <span id="ws">connecting…</span></li>
<li>Server-sent events at <a href="sse?count=5">/sse?count=5</a>: <span id="sse">waiting…</span></li>
<li><a href="download?bytes=1048576">Download 1 MiB</a> · <a href="headers">Request headers</a></li>
<li>Upload: <input type="file" id="file"> <span id="up"></span></li>
</ul>
<script>
const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
const ws = new WebSocket(wsUrl);
const wsOut = document.getElementById('ws');
ws.onopen = () => ws.send('hello through AppProxy');
ws.onmessage = (e) => { wsOut.textContent = 'echoed "' + e.data + '"'; wsOut.className = 'ok'; };
ws.onerror = () => { wsOut.textContent = 'failed'; wsOut.className = 'bad'; };
const es = new EventSource('sse?count=5');
const sseOut = document.getElementById('sse');
let seen = 0;
es.onmessage = () => { seen++; sseOut.textContent = seen + ' event(s)'; sseOut.className = 'ok'; };
es.addEventListener('end', () => es.close());
document.getElementById('file').onchange = async (e) => {
  const f = e.target.files[0]; if (!f) return;
  const r = await fetch('upload', { method: 'POST', body: f });
  document.getElementById('up').textContent = JSON.stringify(await r.json());
};
</script>
</body>
</html>
`;

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function intParam(url, name, fallback) {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  return /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
}

function sse(req, res, url) {
  const count = intParam(url, 'count', 10);
  const interval = intParam(url, 'interval', 200);
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(interval) || interval < 10) {
    return json(res, 400, { error: 'count must be an integer >= 0 and interval an integer >= 10 (ms)' });
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write(': demo stream\n\n');
  let n = 0;
  const timer = setInterval(() => {
    n++;
    res.write(`id: ${n}\ndata: ${JSON.stringify({ n, time: new Date().toISOString() })}\n\n`);
    if (count > 0 && n >= count) {
      clearInterval(timer);
      res.end('event: end\ndata: {}\n\n');
    }
  }, interval);
  req.on('close', () => clearInterval(timer));
}

function upload(req, res) {
  // Hash as the body streams in; nothing is buffered beyond one chunk.
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => json(res, 200, { bytes, sha256: hash.digest('hex') }));
  req.on('error', () => res.destroy());
}

function download(req, res, url) {
  const bytes = intParam(url, 'bytes', 1024 * 1024);
  if (!Number.isSafeInteger(bytes) || bytes > MAX_DOWNLOAD) {
    return json(res, 400, { error: `bytes must be an integer between 0 and ${MAX_DOWNLOAD}` });
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': bytes,
    'x-sha256': patternSha256(bytes),
    'x-pattern': 'byte[i] = i % 251',
  });
  let left = bytes;
  let closed = false;
  req.on('close', () => {
    closed = true;
  });
  // Write until the socket buffer is full, then wait for 'drain' (backpressure).
  const pump = () => {
    while (left > 0 && !closed) {
      const n = Math.min(left, PATTERN_CHUNK.length);
      left -= n;
      const ok = res.write(n === PATTERN_CHUNK.length ? PATTERN_CHUNK : PATTERN_CHUNK.subarray(0, n));
      if (!ok) return void res.once('drain', pump);
    }
    if (!closed) res.end();
  };
  pump();
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://demo.invalid');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /' || route === 'HEAD /') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(PAGE),
    });
    return void res.end(req.method === 'HEAD' ? undefined : PAGE);
  }
  if (route === 'GET /sse') return void sse(req, res, url);
  if (route === 'POST /upload' || route === 'PUT /upload') return void upload(req, res);
  if (route === 'GET /download') return void download(req, res, url);
  if (url.pathname === '/headers') {
    return void json(res, 200, {
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress,
    });
  }
  // Drain any body so keep-alive connections stay usable.
  req.resume();
  json(res, 404, { error: `no route for ${route}` });
});

const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('upgrade', (req, socket, head) => {
  if (new URL(req.url ?? '/', 'http://demo.invalid').pathname !== '/ws') {
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.on('error', (err) => {
  console.error(`demo web: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const a = server.address();
  console.log(`demo web listening on http://${a.address}:${a.port}`);
});

process.once('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Connections mid-upgrade are not tracked by closeAllConnections; do not wait on them.
  setTimeout(() => process.exit(0), 1000).unref();
});
