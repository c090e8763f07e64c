/** `appproxy app open`: a setup link (or the way in, for tcp) to a service of a session. */

import { type Command, Option } from 'commander';
import type { TcpAccessMode } from '../../contracts/records.ts';
import {
  accessFrom,
  allowFromArg,
  circuitIdleFrom,
  circuitIdleOption,
  connectionIdleOption,
  type IdleOptions,
  NEW_CIRCUIT_ONLY,
  timeoutOption,
} from '../args.ts';
import { CliError } from '../errors.ts';
import { renderStartService } from '../render.ts';
import { waitForRunning } from '../wait.ts';
import { type Action, noteKeptIdle, resolveSession, serviceOf } from './context.ts';

export function registerAppCommands(program: Command, action: Action): void {
  const app = program.command('app').description('open apps served by sessions');

  app
    .command('open')
    .description('open a service of a session: waits for it to run, then prints a setup link')
    .argument('<session>', 'session id or name')
    .argument('<service>', 'service name (see `appproxy session get`)')
    .addOption(
      new Option('--frontend <mode>', 'frontend mode of the app address').choices(['port', 'wildcard']),
    )
    .option('--next <path>', 'path on the app to land on after setup (e.g. /lab)')
    .option('--browser', 'also try to open the link with the system browser (xdg-open)')
    .addOption(
      new Option(
        '--access <mode>',
        'tcp services: tunnel (default: through `appproxy tunnel`), allow-list, or public',
      ).choices(['tunnel', 'allow-list', 'public']),
    )
    .option(
      '--allow-from <cidrs>',
      'tcp services: client addresses/CIDRs allowed to connect (repeatable or comma-separated; implies --access allow-list)',
      allowFromArg,
    )
    .addOption(connectionIdleOption(NEW_CIRCUIT_ONLY))
    .addOption(circuitIdleOption(NEW_CIRCUIT_ONLY))
    .addOption(timeoutOption('the session to run'))
    .action(
      action(
        async (
          ctx,
          ref: string,
          service: string,
          opts: IdleOptions & {
            frontend?: 'port' | 'wildcard';
            next?: string;
            browser?: boolean;
            access?: TcpAccessMode;
            allowFrom?: string[];
            timeout: number;
          },
        ) => {
          if (opts.next !== undefined && !opts.next.startsWith('/')) {
            throw new CliError(`--next must be a path starting with "/" (got "${opts.next}")`, 2);
          }
          const access = accessFrom(opts);
          const idle = circuitIdleFrom(opts);
          let s = await resolveSession(ctx.client, ref);
          serviceOf(s, service);
          s = await waitForRunning(ctx.client, s, ctx.waitOptions(opts.timeout));
          const result = await ctx.client.startService(s.id, {
            service,
            ...(opts.frontend ? { frontend: opts.frontend } : {}),
            ...(opts.next ? { next: opts.next } : {}),
            ...(access ? { access } : {}),
            ...(idle ? { idle } : {}),
          });
          if (result.reused && idle) await noteKeptIdle(ctx, result.circuitId, idle);
          ctx.emit(result, () => renderStartService(result, ctx.p, ctx.now, { session: ref, service }));
          if (opts.browser) {
            if (result.setupUrl === null) {
              ctx.note('a tcp service has no page to open in a browser');
            } else {
              const opened = await ctx.rt.io.openUrl(result.setupUrl).catch(() => false);
              if (!opened) ctx.note('could not launch a browser (no xdg-open); open the link above yourself');
            }
          }
        },
      ),
    );
}
