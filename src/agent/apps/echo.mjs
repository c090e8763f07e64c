// TCP echo service of the `demo` template: every byte received is sent back on the same connection.
// Usage: node echo.mjs --host 127.0.0.1 --port 9000   (or HOST / PORT in the environment)
import { createServer } from 'node:net';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const host = arg('host', process.env.HOST ?? '127.0.0.1');
const port = Number(arg('port', process.env.PORT ?? '0'));

const sockets = new Set();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  // pipe() applies backpressure, and ends our side once the client's data is all echoed.
  socket.pipe(socket);
});
server.on('error', (err) => {
  console.error(`demo echo: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const a = server.address();
  console.log(`demo echo listening on tcp://${a.address}:${a.port}`);
});

process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  for (const s of sockets) s.destroy();
});
