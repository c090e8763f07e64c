/** `appproxy session …`: create, list, show, delete sessions and read their events. */

import { type Command, Option } from 'commander';
import {
  circuitIdleOption,
  connectionIdleOption,
  type IdleOptions,
  idleTimeoutArg,
  sessionIdleFrom,
  timeoutOption,
} from '../args.ts';
import { renderEvents, renderSession, renderSessions } from '../render.ts';
import { sessionLabel, waitForRunning } from '../wait.ts';
import { type Action, emptyNote, resolveSession } from './context.ts';

export function registerSessionCommands(program: Command, action: Action): void {
  const session = program.command('session').description('create, inspect and delete sessions');

  session
    .command('create')
    .description('create a session from a template (POST /v1/sessions)')
    .argument('<template>', 'template name (see `appproxy template list`)')
    .option('--name <name>', 'session name (default: chosen by the manager)')
    .addOption(
      new Option(
        '--session-idle-timeout <duration|never>',
        'terminate the session once every live circuit of it moved no byte for this long (e.g. 2h, or never)',
      ).argParser(idleTimeoutArg),
    )
    .addOption(connectionIdleOption("the default for the session's circuits"))
    .addOption(circuitIdleOption("the default for the session's circuits"))
    .option('--wait', 'wait until the session is RUNNING (or fails)')
    .addOption(timeoutOption('the session with --wait'))
    .addHelpText(
      'after',
      '\nIdle timeouts left out come from the template, else the configuration; they must stay within\n' +
        "the administrator's limits (idlePolicy.minTimeout, default 1s; maxTimeout; allowNever).\n",
    )
    .action(
      action(
        async (
          ctx,
          template: string,
          opts: IdleOptions & { name?: string; wait?: boolean; timeout: number },
        ) => {
          const idle = sessionIdleFrom(opts);
          let s = await ctx.client.createSession({
            template,
            ...(opts.name ? { name: opts.name } : {}),
            ...(idle ? { idle } : {}),
          });
          if (!ctx.json && !opts.wait) ctx.note(`session ${sessionLabel(s)} created (${s.state})`);
          if (opts.wait) s = await waitForRunning(ctx.client, s, ctx.waitOptions(opts.timeout));
          ctx.emit(s, () => renderSession(s, ctx.p, ctx.now));
        },
      ),
    );

  session
    .command('list')
    .alias('ls')
    .description('list sessions (GET /v1/sessions)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listSessions();
        if (emptyNote(ctx, 'sessions', res.items)) return;
        ctx.emit(res, () => renderSessions(res.items, ctx.p, ctx.now));
      }),
    );

  session
    .command('get')
    .description('show one session (GET /v1/sessions/{id})')
    .argument('<session>', 'session id or name')
    .action(
      action(async (ctx, ref: string) => {
        const s = await resolveSession(ctx.client, ref);
        ctx.emit(s, () => renderSession(s, ctx.p, ctx.now));
      }),
    );

  session
    .command('delete')
    .alias('rm')
    .description('terminate a session and close its circuits (DELETE /v1/sessions/{id})')
    .argument('<session>', 'session id or name')
    .option('--no-wait', 'return once termination has started instead of when it is TERMINATED')
    .addOption(timeoutOption('termination'))
    .action(
      action(async (ctx, ref: string, opts: { wait: boolean; timeout: number }) => {
        const target = await resolveSession(ctx.client, ref);
        const s = await ctx.client.deleteSession(target.id, { wait: opts.wait, timeoutMs: opts.timeout });
        ctx.emit(
          s,
          () => `session ${sessionLabel(s)} ${s.state === 'TERMINATED' ? 'terminated' : `is ${s.state}`}\n`,
        );
      }),
    );

  session
    .command('events')
    .description(
      'what the lifecycle and the idle policies did to a session and its circuits, oldest first ' +
        '(GET /v1/sessions/{id}/events)',
    )
    .argument('<session>', 'session id or name')
    .action(
      action(async (ctx, ref: string) => {
        const s = await resolveSession(ctx.client, ref);
        const res = await ctx.client.sessionEvents(s.id);
        if (emptyNote(ctx, 'events', res.items)) return;
        ctx.emit(res, () => renderEvents(res.items, ctx.p));
      }),
    );
}
