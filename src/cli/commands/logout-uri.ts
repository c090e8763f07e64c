/** `appproxy logout-uri list|add|remove`: the URIs every sign-out visits after the workers (admins). */

import type { Command } from 'commander';
import { formatKeyValues } from '../format.ts';
import { renderLogoutUris } from '../render.ts';
import { type Action, emptyNote } from './context.ts';

export function registerLogoutUriCommands(program: Command, action: Action): void {
  const uri = program
    .command('logout-uri')
    .description('logout URIs every sign-out visits, e.g. the platform web server (admins)');

  uri
    .command('list')
    .alias('ls')
    .description('list the logout URIs (GET /v1/logout-uris)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listLogoutUris();
        if (emptyNote(ctx, 'logout URIs', res.items)) return;
        ctx.emit(res, () => renderLogoutUris(res.items, ctx.p));
      }),
    );

  uri
    .command('add')
    .description('add a logout URI; it applies to the next sign-out (POST /v1/logout-uris)')
    .argument('<uri>', 'the URI a browser visits to sign out there (https://…)')
    .option(
      '--next-param <param>',
      'query parameter the URI takes a continuation URL in (default: visited in the background)',
    )
    .option('--description <text>', 'what it is')
    .action(
      action(async (ctx, target: string, opts: { nextParam?: string; description?: string }) => {
        const u = await ctx.client.addLogoutUri({
          uri: target,
          ...(opts.nextParam !== undefined ? { nextParam: opts.nextParam } : {}),
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        });
        ctx.emit(u, () =>
          formatKeyValues(
            [
              ['ID', u.id],
              ['URI', u.uri],
              ['Next param', u.nextParam ?? '- (visited in the background)'],
              ['Description', u.description || '-'],
            ],
            ctx.p,
          ),
        );
      }),
    );

  uri
    .command('remove')
    .alias('rm')
    .description('remove a logout URI (DELETE /v1/logout-uris/{id})')
    .argument('<id>', 'logout URI id (see `appproxy logout-uri list`)')
    .action(
      action(async (ctx, id: string) => {
        const u = await ctx.client.removeLogoutUri(id);
        ctx.emit(u, () => `logout URI ${u.id} (${u.uri}) removed\n`);
      }),
    );
}
