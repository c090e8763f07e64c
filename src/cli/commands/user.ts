/** `appproxy user …`: create, list, show, disable, enable and delete users; set passwords. */

import type { Command } from 'commander';
import type { Role, User } from '../../client/api-client.ts';
import { passwordStdinOption, roleOption } from '../args.ts';
import { CliError, UsageError } from '../errors.ts';
import { canPrompt, confirm, promptNewPassword, readStdinLines } from '../prompt.ts';
import { renderUser, renderUsers } from '../render.ts';
import { type Action, type Ctx, emptyNote, resolveUser } from './context.ts';

const USER_ARG = 'user id or name (`me`: yourself)';

export function registerUserCommands(program: Command, action: Action): void {
  const user = program.command('user').description('users: create, inspect, disable, delete; passwords');

  user
    .command('create')
    .description('create a user (POST /v1/users; admins)')
    .argument('<name>', 'sign-in name: lowercase letters, digits, ".", "_", "-"')
    .option('--display-name <text>', 'the name shown to people')
    .addOption(roleOption('role of the new user (default: user)'))
    .addOption(passwordStdinOption('read the password from stdin (default: none)'))
    .action(
      action(
        async (ctx, name: string, opts: { displayName?: string; role?: Role; passwordStdin?: boolean }) => {
          const password = opts.passwordStdin
            ? (await readStdinLines(ctx.rt.io, 1, 'the password'))[0]
            : undefined;
          const u = await ctx.client.createUser({
            name,
            ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
            ...(opts.role ? { role: opts.role } : {}),
            ...(password !== undefined ? { password } : {}),
          });
          if (!ctx.json && !u.hasPassword) {
            ctx.note(
              `user ${u.name} has no password: set one with \`appproxy user set-password ${u.name}\` ` +
                '(or they sign in through the identity provider)',
            );
          }
          ctx.emit(u, () => renderUser(u, ctx.p, ctx.now));
        },
      ),
    );

  user
    .command('list')
    .alias('ls')
    .description('list users (GET /v1/users; admins)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listUsers();
        if (emptyNote(ctx, 'users', res.items)) return;
        ctx.emit(res, () => renderUsers(res.items, ctx.p, ctx.now));
      }),
    );

  user
    .command('get')
    .description('show one user (GET /v1/users/{id})')
    .argument('<user>', USER_ARG)
    .action(
      action(async (ctx, ref: string) => {
        const u = await resolveUser(ctx.client, ref);
        ctx.emit(u, () => renderUser(u, ctx.p, ctx.now));
      }),
    );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(name)
      .description(
        disabled
          ? 'disable a user: their sign-ins end and every worker refuses their cookies and cuts their connections (admins)'
          : 'enable a disabled user again; they sign in anew (admins)',
      )
      .argument('<user>', 'user id or name')
      .action(
        action(async (ctx, ref: string) => {
          const target = await resolveUser(ctx.client, ref);
          const u = await ctx.client.updateUser(target.id, { disabled });
          ctx.emit(u, () =>
            u.disabled
              ? `user ${u.name} disabled: their sign-ins ended and their app access is cut\n`
              : `user ${u.name} enabled\n`,
          );
        }),
      );
  }

  user
    .command('delete')
    .alias('rm')
    .description(
      'delete a user: their sign-ins end, their tokens are revoked, their sessions terminated (DELETE /v1/users/{id}; admins)',
    )
    .argument('<user>', 'user id or name')
    .option('--yes', 'do not ask for confirmation')
    .action(
      action(async (ctx, ref: string, opts: { yes?: boolean }) => {
        const target = await resolveUser(ctx.client, ref);
        if (!opts.yes) {
          if (!canPrompt(ctx.rt.io)) throw new UsageError('deleting a user needs confirmation: pass --yes');
          const question = `Delete user ${target.name} (${target.id})? Their sessions are terminated.`;
          if (!(await confirm(ctx.rt.io, question))) throw new CliError('not deleted');
        }
        const u = await ctx.client.deleteUser(target.id);
        // The answer carries the freed name (`deleted:<id>`): say which user it was.
        ctx.emit(u, () => `user ${target.name} deleted\n`);
      }),
    );

  user
    .command('set-password')
    .description("set a user's password; their other sign-ins end (PUT /v1/users/{id}/password)")
    .argument('<user>', USER_ARG)
    .addOption(
      passwordStdinOption(
        'read the new password from stdin (for yourself: the current one on the line before)',
      ),
    )
    .addHelpText(
      'after',
      '\nOn a terminal it asks for the new password twice, without echo, and for your own password\n' +
        'the current one first. With --password-stdin: the new password on one line; for yourself the\n' +
        'current password on the line before it.\n',
    )
    .action(
      action(async (ctx, ref: string, opts: { passwordStdin?: boolean }) => setPassword(ctx, ref, opts)),
    );
}

async function setPassword(ctx: Ctx, ref: string, opts: { passwordStdin?: boolean }): Promise<void> {
  const io = ctx.rt.io;
  const me = (await ctx.client.whoami()).user;
  const target: User = ref === 'me' ? me : await resolveUser(ctx.client, ref);
  const self = target.id === me.id;
  // Users changing their own password prove they know the current one (admins need not).
  const needCurrent = self && target.hasPassword;
  let current: string | undefined;
  let password: string;
  if (opts.passwordStdin) {
    const lines = await readStdinLines(
      io,
      needCurrent ? 2 : 1,
      needCurrent ? 'the current password, then the new one' : 'the new password',
    );
    [current, password] = needCurrent ? [lines[0], lines[1]!] : [undefined, lines[0]!];
  } else if (canPrompt(io)) {
    if (needCurrent) current = await io.prompt('Current password: ', { echo: false });
    password = await promptNewPassword(io);
  } else {
    throw new UsageError('no terminal to ask for the password on: pipe it with --password-stdin');
  }
  await ctx.client.setPassword(self ? 'me' : target.id, {
    password,
    ...(current !== undefined ? { currentPassword: current } : {}),
  });
  ctx.emit({ user: target.id, name: target.name, changed: true }, () =>
    self
      ? 'password changed; your other sign-ins ended\n'
      : `password of ${target.name} changed; their sign-ins ended\n`,
  );
}
