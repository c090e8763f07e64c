/** `appproxy tunnel`: a local port that reaches a tcp service of a session. */

import { isIP } from 'node:net';
import type { Command } from 'commander';
import {
  circuitIdleFrom,
  circuitIdleOption,
  connectionIdleOption,
  type IdleOptions,
  NEW_CIRCUIT_ONLY,
  portArg,
  timeoutOption,
} from '../args.ts';
import { CliError, UsageError } from '../errors.ts';
import { renderTunnelReady } from '../render.ts';
import { Tunnel } from '../tunnel.ts';
import { sessionLabel, waitForRunning } from '../wait.ts';
import { type Action, noteKeptIdle, resolveSession, serviceOf } from './context.ts';

export function registerTunnelCommands(program: Command, action: Action): void {
  program
    .command('tunnel')
    .description(
      'open a local port that reaches a tcp service of a session through an authenticated tunnel ' +
        '(each connection: POST /v1/circuits/{id}/tunnel-token, then a WebSocket to the worker)',
    )
    .argument('<session>', 'session id or name')
    .argument('<service>', 'tcp service name (e.g. ssh)')
    .option('--local-port <port>', 'local port to listen on (default: any free port)', portArg, 0)
    .option('--bind <address>', 'local address to listen on', '127.0.0.1')
    .addOption(connectionIdleOption(NEW_CIRCUIT_ONLY))
    .addOption(circuitIdleOption(NEW_CIRCUIT_ONLY))
    .addOption(timeoutOption('the session to run'))
    .addHelpText(
      'after',
      '\nExample:\n  appproxy tunnel my-ssh ssh --local-port 2222\n  ssh -p 2222 me@127.0.0.1\n\n' +
        'Connection lines (opened, closed with bytes and the reason) go to stderr. Ctrl-C stops.\n',
    )
    .action(
      action(
        async (
          ctx,
          ref: string,
          service: string,
          opts: IdleOptions & { localPort: number; bind: string; timeout: number },
        ) => {
          if (isIP(opts.bind) === 0 && opts.bind !== 'localhost') {
            throw new UsageError(`--bind must be an IP address (got "${opts.bind}")`);
          }
          let s = await resolveSession(ctx.client, ref);
          const known = serviceOf(s, service);
          if (known && known.protocol !== 'tcp') {
            throw new CliError(
              `service "${service}" of session ${sessionLabel(s)} is ${known.protocol}; a tunnel carries tcp services ` +
                `(use \`appproxy app open ${ref} ${service}\`)`,
            );
          }
          const idle = circuitIdleFrom(opts);
          s = await waitForRunning(ctx.client, s, ctx.waitOptions(opts.timeout));
          const started = await ctx.client.startService(s.id, {
            service,
            access: { mode: 'tunnel' },
            ...(idle ? { idle } : {}),
          });
          if (started.reused && idle) await noteKeptIdle(ctx, started.circuitId, idle);
          const target = { session: sessionLabel(s), service };
          let stop!: () => void;
          let fail!: (err: Error) => void;
          const stopped = new Promise<void>((resolve, reject) => {
            stop = resolve;
            fail = reject;
          });
          const tunnel = new Tunnel({
            host: opts.bind,
            port: opts.localPort,
            mintToken: () => ctx.client.tunnelToken(started.circuitId),
            log: (line) => ctx.note(line),
            onFatal: (err) => fail(err),
          });
          const addr = await tunnel.listen();
          const unsubscribe = ctx.rt.io.onInterrupt(() => stop());
          try {
            ctx.emit(
              { circuitId: started.circuitId, session: s.id, service, host: addr.host, port: addr.port },
              () => renderTunnelReady(target, addr, ctx.p),
            );
            await stopped;
          } finally {
            unsubscribe();
            await tunnel.close();
          }
        },
      ),
    );
}
