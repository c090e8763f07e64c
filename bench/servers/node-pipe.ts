/**
 * A plain, circuit-less Node TCP relay (`net` + `pipe`): what AppProxy's TCP path is measured as
 * until TCP circuits exist. Usage: node bench/servers/node-pipe.ts <upstreamPort>
 * Prints {ready, pid, port}.
 */
import { connect, createServer } from 'node:net';

const upstreamPort = Number(process.argv[2]);
const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const up = connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
  const destroyBoth = () => {
    client.destroy();
    up.destroy();
  };
  client.on('error', destroyBoth);
  up.on('error', destroyBoth);
  client.on('close', () => up.destroy());
  up.on('close', () => client.destroy());
  client.pipe(up);
  up.pipe(client);
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ ready: true, pid: process.pid, port }));
});
process.on('SIGTERM', () => process.exit(0));
