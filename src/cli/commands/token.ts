/** `appproxy token …`: API tokens for programs — create (the secret is shown once), list, revoke. */

import { type Command, Option } from 'commander';
import { lifetimeArg, listArg, userOption } from '../args.ts';
import { formatKeyValues } from '../format.ts';
import { renderTokens } from '../render.ts';
import { type Action, emptyNote, userIdOf } from './context.ts';

export function registerTokenCommands(program: Command, action: Action): void {
  const token = program.command('token').description('API tokens for programs: create, list, revoke');

  token
    .command('create')
    .description('create an API token; its secret is printed this once (POST /v1/tokens)')
    .requiredOption('--name <name>', 'what the token is for (e.g. ci)')
    .addOption(
      new Option('--expires-in <duration>', 'lifetime, e.g. 30d or 12h (default: until revoked)').argParser(
        lifetimeArg,
      ),
    )
    .addOption(
      new Option(
        '--scope <scope>',
        'extra right, repeatable: login-sessions (a platform server signs its users in; admins only)',
      ).argParser(listArg),
    )
    .addOption(userOption('admins: the user the token acts as'))
    .action(
      action(async (ctx, opts: { name: string; expiresIn?: number; scope?: string[]; user?: string }) => {
        const user = await userIdOf(ctx.client, opts.user);
        const t = await ctx.client.createToken({
          name: opts.name,
          ...(opts.expiresIn !== undefined ? { expiresIn: opts.expiresIn } : {}),
          ...(opts.scope ? { scopes: opts.scope } : {}),
          ...(user !== undefined ? { user } : {}),
        });
        ctx.emit(t, () => {
          const expires = t.expiresAt ?? 'never (until revoked)';
          return (
            formatKeyValues(
              [
                ['ID', t.id],
                ['Name', t.name],
                ['User', t.userId],
                ['Scopes', t.scopes.join(', ') || '-'],
                ['Expires', expires],
              ],
              ctx.p,
            ) + `\n  ${ctx.p.paint(t.token, 'bold')}\n\n`
          );
        });
        if (!ctx.json) {
          ctx.note('Store this token now: it is not shown again. Use it as APPPROXY_TOKEN or --token.');
        }
      }),
    );

  token
    .command('list')
    .alias('ls')
    .description("list API tokens: yours; admins: everyone's, or one user's (GET /v1/tokens)")
    .addOption(userOption("only this user's tokens"))
    .action(
      action(async (ctx, opts: { user?: string }) => {
        const user = await userIdOf(ctx.client, opts.user);
        const res = await ctx.client.listTokens(user !== undefined ? { user } : {});
        if (emptyNote(ctx, 'tokens', res.items)) return;
        ctx.emit(res, () => renderTokens(res.items, ctx.p, ctx.now));
      }),
    );

  token
    .command('revoke')
    .description(
      'revoke an API token: refused at once, with the cookies and tunnels minted under it (DELETE /v1/tokens/{id})',
    )
    .argument('<id>', 'token id (see `appproxy token list`)')
    .action(
      action(async (ctx, id: string) => {
        const t = await ctx.client.revokeToken(id);
        ctx.emit(t, () => `token ${t.id} (${t.name}) revoked\n`);
      }),
    );
}
