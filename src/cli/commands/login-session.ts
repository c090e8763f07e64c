/** `appproxy login-session list|end`: the sign-ins of browsers, CLIs and platform servers. */

import type { Command } from 'commander';
import { userOption } from '../args.ts';
import { renderLoginSessions } from '../render.ts';
import { type Action, emptyNote, userIdOf } from './context.ts';

export function registerLoginSessionCommands(program: Command, action: Action): void {
  const ls = program
    .command('login-session')
    .description('login sessions (sign-ins of browsers, CLIs and platform servers): list, end');

  ls.command('list')
    .alias('ls')
    .description(
      "list live login sessions: yours; admins: everyone's, or one user's (GET /v1/login-sessions)",
    )
    .addOption(userOption("only this user's login sessions"))
    .option('--all', 'also those that ended or expired')
    .action(
      action(async (ctx, opts: { user?: string; all?: boolean }) => {
        const user = await userIdOf(ctx.client, opts.user);
        const res = await ctx.client.listLoginSessions({
          ...(user !== undefined ? { user } : {}),
          ...(opts.all ? {} : { live: true }),
        });
        if (emptyNote(ctx, opts.all ? 'login sessions' : 'live login sessions', res.items)) return;
        ctx.emit(res, () => renderLoginSessions(res.items, ctx.p, ctx.now));
      }),
    );

  ls.command('end')
    .description(
      'end a login session and the CLI sign-ins approved from it; workers refuse their cookies and close ' +
        'their connections (DELETE /v1/login-sessions/{id})',
    )
    .argument('<id>', 'login session id, or `current` for the one this CLI uses')
    .action(
      action(async (ctx, id: string) => {
        const res = await ctx.client.endLoginSession(id);
        ctx.emit(res, () => {
          if (res.items.length === 0) return `login session ${id} had ended already\n`;
          // The answer lists the ended sessions in no particular order: the one asked for, and its children.
          const asked =
            res.items.find((l) => l.id === id || (id === 'current' && l.current)) ?? res.items[0]!;
          const children = res.items.filter((l) => l !== asked);
          let out = `login session ${asked.id} ended`;
          if (children.length > 0)
            out += `, with the CLI sign-ins approved from it: ${children.map((l) => l.id).join(', ')}`;
          out += '\n';
          if (res.items.some((l) => l.current)) {
            out += 'This was the sign-in this CLI uses: run `appproxy login` to sign in again.\n';
          }
          return out;
        });
      }),
    );
}
