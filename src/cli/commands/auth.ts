/** `appproxy login|logout|whoami`: signing the CLI in and out, and who it acts as. */

import type { Command } from 'commander';
import type { ApiClient, LogoutResult, Whoami } from '../../client/api-client.ts';
import { browserSignIn, SignInCancelledError, SignInExpiredError } from '../../client/cli-login.ts';
import { ApiError, NetworkError } from '../../client/errors.ts';
import { formatDuration } from '../../core/duration.ts';
import { passwordStdinOption } from '../args.ts';
import { removeCredentials, type StoredCredentials, writeCredentials } from '../credentials.ts';
import { CliError, UsageError } from '../errors.ts';
import { formatJson } from '../format.ts';
import { canPrompt, readStdinLines } from '../prompt.ts';
import { renderLogout, renderWhoami } from '../render.ts';
import type { Connection } from '../runtime.ts';
import type { Action, Ctx } from './context.ts';

interface LoginOptions {
  name?: string;
  passwordStdin?: boolean;
  browser?: boolean;
}

export function registerAuthCommands(program: Command, action: Action): void {
  program
    .command('login')
    .description('sign in to a manager and store the credentials for the commands that follow')
    .option('--name <name>', 'sign in with this user name and a password instead of from a browser')
    .addOption(passwordStdinOption('with --name: read the password from stdin'))
    .option('--browser', 'also try to open the approval page with the system browser (xdg-open)')
    .addHelpText(
      'after',
      '\nWithout --name: prints a link and a code to approve in a browser signed in to AppProxy, then\n' +
        'waits for the approval (Ctrl-C stops). --name N asks for the password on a terminal, or reads\n' +
        'it from stdin with --password-stdin. With --token T: checks that token and stores it.\n' +
        'The credentials go to <config dir>/credentials.json (0600); `appproxy logout` removes them.\n',
    )
    .action(action(async (ctx, opts: LoginOptions) => login(ctx, opts)));

  program
    .command('logout')
    .description('sign out: end the stored sign-in on the manager (POST /v1/auth/logout) and forget it')
    .option('--everywhere', 'end every login session of yours (browsers and CLIs), not just this one')
    .action(action(async (ctx, opts: { everywhere?: boolean }) => logout(ctx, opts.everywhere === true)));

  program
    .command('whoami')
    .description('show the user and the credential the CLI acts as (GET /v1/auth/whoami)')
    .action(
      action(async (ctx) => {
        const w = await ctx.client.whoami();
        const conn = ctx.connection;
        ctx.emit(w, () =>
          renderWhoami(w, ctx.p, ctx.now, [
            ['Manager', conn.url],
            ['Token from', tokenOrigin(conn)],
          ]),
        );
      }),
    );
}

function tokenOrigin(conn: Connection): string {
  switch (conn.tokenSource) {
    case 'flag':
      return '--token';
    case 'env':
      return 'APPPROXY_TOKEN';
    case 'credentials':
      return `${conn.credentialsFile} (appproxy login)`;
    case 'file':
      return conn.tokenFile;
    default:
      return '-';
  }
}

function credentialsFileOf(conn: Connection): string {
  if (conn.credentialsFile === null) {
    throw new CliError(
      'no config folder to store credentials in: set APPPROXY_CONFIG_DIR (or HOME, or XDG_CONFIG_HOME)',
    );
  }
  return conn.credentialsFile;
}

async function login(ctx: Ctx, opts: LoginOptions): Promise<void> {
  const conn = ctx.connection;
  const file = credentialsFileOf(conn);
  const io = ctx.rt.io;
  // Sign-in routes are public: a stale stored or environment token must not get in the way.
  const anonymous = ctx.rt.clientFor(conn.url, null);
  let token: string;
  if (conn.tokenSource === 'flag') {
    if (opts.name !== undefined || opts.passwordStdin) {
      throw new UsageError('--token stores that token; it does not go with --name or --password-stdin');
    }
    token = conn.token!;
  } else if (opts.name !== undefined) {
    let password: string;
    if (opts.passwordStdin) [password] = (await readStdinLines(io, 1, 'the password')) as [string];
    else if (canPrompt(io)) password = await io.prompt(`Password for ${opts.name}: `, { echo: false });
    else throw new UsageError('no terminal to ask for the password on: pipe it with --password-stdin');
    token = (await anonymous.login(opts.name, password)).token;
  } else {
    if (opts.passwordStdin) throw new UsageError('--password-stdin goes with --name <name>');
    token = await approveInBrowser(ctx, anonymous, opts.browser === true);
  }

  const me = await ctx.rt.clientFor(conn.url, token).whoami();
  const previous = conn.stored ?? conn.storedElsewhere;
  writeCredentials(file, {
    url: conn.url,
    token,
    user: me.user.name,
    savedAt: new Date(ctx.now).toISOString(),
  });
  if (previous && previous.token !== token) await endReplaced(ctx, previous);
  if (conn.tokenSource === 'env') {
    ctx.note(
      'note: APPPROXY_TOKEN is set and takes precedence over the stored credentials; unset it to use them',
    );
  }
  ctx.emit(
    {
      url: conn.url,
      user: me.user,
      via: me.via,
      loginSession: me.loginSession,
      tokenId: me.tokenId,
      credentialsFile: file,
    },
    () =>
      `Signed in as ${me.user.name} to ${conn.url}` +
      (me.via === 'token' && me.tokenId ? ` (API token ${me.tokenId})` : '') +
      `\nCredentials saved in ${file}\n`,
  );
}

/** The browser-approved sign-in: prints where to approve which code, polls, Ctrl-C stops. */
async function approveInBrowser(ctx: Ctx, anonymous: ApiClient, openBrowser: boolean): Promise<string> {
  const io = ctx.rt.io;
  const controller = new AbortController();
  const unsubscribe = io.onInterrupt(() => controller.abort());
  const progress = ctx.progress();
  try {
    return await browserSignIn(anonymous, {
      onCode: async (start) => {
        ctx.note(`Open ${start.verificationUriComplete} and approve code ${start.userCode}`);
        ctx.note(
          `(in a browser signed in to AppProxy; the code expires in ${formatDuration(start.expiresInSeconds * 1000)})`,
        );
        if (openBrowser && !(await io.openUrl(start.verificationUriComplete).catch(() => false))) {
          ctx.note('could not launch a browser (no xdg-open); open the link above yourself');
        }
      },
      onWaiting: (elapsedMs) =>
        progress.update(`waiting for approval ${formatDuration(elapsedMs)}…`, 'waiting'),
      now: io.now,
      sleep: io.sleep,
      signal: controller.signal,
    });
  } catch (err) {
    if (err instanceof SignInExpiredError) {
      throw new CliError('the sign-in request expired before it was approved; run `appproxy login` again');
    }
    if (err instanceof SignInCancelledError) throw new CliError('sign-in cancelled; nothing was stored');
    throw err;
  } finally {
    progress.clear();
    unsubscribe();
  }
}

/**
 * The file holds one sign-in: the one it held before is ended when it was a login session, so
 * no live secret is left that nobody holds any more. Best effort: it may have ended already.
 */
async function endReplaced(ctx: Ctx, previous: StoredCredentials): Promise<void> {
  try {
    const client = ctx.rt.clientFor(previous.url, previous.token);
    if ((await client.whoami()).via !== 'login-session') return;
    await client.logout();
    ctx.note(`ended the previous sign-in${previous.user ? ` of ${previous.user}` : ''} at ${previous.url}`);
  } catch {
    // Ended or unreachable: nothing more to do from here.
  }
}

async function logout(ctx: Ctx, everywhere: boolean): Promise<void> {
  const conn = ctx.connection;
  const stored = conn.stored;
  if (conn.credentialsFile === null || stored === null) {
    const elsewhere = conn.storedElsewhere
      ? ` (the stored sign-in is for ${conn.storedElsewhere.url}; pass --url ${conn.storedElsewhere.url})`
      : '';
    ctx.note(`not signed in: no stored credentials for ${conn.url}${elsewhere}`);
    if (ctx.json) ctx.out(formatJson(logoutJson(null, null, null)));
    return;
  }
  const file = conn.credentialsFile;
  const client = ctx.rt.clientFor(stored.url, stored.token);
  let who: Whoami | null;
  try {
    who = await client.whoami();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) who = null;
    else if (err instanceof NetworkError) {
      throw new CliError(
        `${err.message}; nothing was signed out and ${file} is kept (delete it to forget the sign-in anyway)`,
      );
    } else throw err;
  }
  let result: LogoutResult | null = null;
  if (who?.via === 'login-session') result = await client.logout({ everywhere });
  removeCredentials(file);

  const name = who?.user.name ?? stored.user;
  ctx.emit(logoutJson(who, result, file), () => {
    if (who === null)
      return `The stored sign-in${name ? ` of ${name}` : ''} had ended already.\nRemoved ${file}\n`;
    if (result === null) {
      const id = who.tokenId ?? '<id>';
      return (
        `The stored credential of ${name} is an API token: forgot it, but it stays valid until revoked ` +
        `(\`appproxy token revoke ${id}\`).` +
        (everywhere ? '\n--everywhere ends login sessions; no login session was used here.' : '') +
        `\nRemoved ${file}\n`
      );
    }
    return renderLogout(result, ctx.p, `Signed out ${name} from ${stored.url}.`, `Removed ${file}`);
  });
}

/** `logout --json`: what was ended, where a browser should go, and which file was removed. */
function logoutJson(who: Whoami | null, result: LogoutResult | null, removed: string | null) {
  return {
    via: who?.via ?? null,
    user: who?.user ?? null,
    ended: result?.ended ?? [],
    logoutUris: result?.logoutUris ?? [],
    chainUrl: result?.chainUrl ?? null,
    credentialsRemoved: removed,
  };
}
