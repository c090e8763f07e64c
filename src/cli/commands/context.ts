/** What every client command's action shares: the run's context and the session lookup. */

import type { Command } from 'commander';
import type { ApiClient, CircuitIdleRequest, User } from '../../client/api-client.ts';
import { ApiError } from '../../client/errors.ts';
import type { ServiceInfo, Session } from '../../contracts/records.ts';
import { CliError } from '../errors.ts';
import { formatJson, type Painter } from '../format.ts';
import { idleText } from '../render.ts';
import type { Connection, Runtime } from '../runtime.ts';
import { ProgressLine, sessionLabel } from '../wait.ts';

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

/** What an action needs: the API client, output writers and the run's options. */
export class Ctx {
  readonly rt: Runtime;
  readonly json: boolean;
  readonly client: ApiClient;
  readonly p: Painter;

  constructor(rt: Runtime, cmd: Command) {
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    this.rt = rt;
    this.json = globals.json === true;
    this.client = rt.client(globals);
    this.p = rt.stdoutPainter;
  }

  out(text: string): void {
    this.rt.io.stdout.write(text);
  }

  note(text: string): void {
    this.rt.io.stderr.write(`${text}\n`);
  }

  /** `--json` prints the raw answer; otherwise the human rendering. */
  emit(raw: unknown, human: () => string): void {
    this.out(this.json ? formatJson(raw) : human());
  }

  progress(): ProgressLine {
    return new ProgressLine(this.rt.io.stderr, this.rt.io.now);
  }

  waitOptions(timeoutMs: number) {
    const io = this.rt.io;
    return {
      timeoutMs,
      intervalMs: io.pollIntervalMs,
      progress: this.progress(),
      now: io.now,
      sleep: io.sleep,
    };
  }

  get now(): number {
    return this.rt.io.now();
  }

  /** What this run talks to, and with which credential (resolved when the client was made). */
  get connection(): Connection {
    return this.rt.connection!;
  }
}

/**
 * Resolves a user by id (or `me`), or else by name: by the user list for admins, by the caller
 * itself for everyone else (users see only themselves).
 */
export async function resolveUser(client: ApiClient, ref: string): Promise<User> {
  let notFound: ApiError;
  try {
    return await client.getUser(ref);
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 404 || err.code === 'AP_ERR_VALIDATION'))) throw err;
    notFound = err;
  }
  let users: User[];
  try {
    users = (await client.listUsers()).items;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
    users = [await client.getUser('me')];
  }
  const named = users.find((u) => u.name === ref);
  if (named) return named;
  throw new ApiError({
    code: 'AP_ERR_USER_NOT_FOUND',
    status: 404,
    message: `no user with id or name "${ref}"`,
    requestId: notFound.requestId,
  });
}

/** A `--user` option as the API's `user` filter: `me` as is, else the user's id. */
export async function userIdOf(client: ApiClient, ref: string | undefined): Promise<string | undefined> {
  if (ref === undefined || ref === 'me') return ref;
  return (await resolveUser(client, ref)).id;
}

/**
 * Resolves a session by id, or else by unique name. When several sessions share the name, the one
 * that is not TERMINATED wins; otherwise the name is ambiguous.
 */
export async function resolveSession(client: ApiClient, ref: string): Promise<Session> {
  let notFound: ApiError;
  try {
    return await client.getSession(ref);
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 404 || err.code === 'AP_ERR_VALIDATION'))) throw err;
    notFound = err;
  }
  const { items } = await client.listSessions();
  const named = items.filter((s) => s.name === ref);
  const live = named.filter((s) => s.state !== 'TERMINATED');
  const pick = named.length === 1 ? named[0] : live.length === 1 ? live[0] : undefined;
  if (pick) return pick;
  if (named.length === 0) {
    throw new ApiError({
      code: notFound.code === 'AP_ERR_VALIDATION' ? 'AP_ERR_SESSION_NOT_FOUND' : notFound.code,
      status: 404,
      message: `no session with id or name "${ref}"`,
      requestId: notFound.requestId,
    });
  }
  throw new CliError(
    `session name "${ref}" is ambiguous (${named.map((s) => `${s.id} ${s.state}`).join(', ')}); use the id`,
  );
}

/**
 * The session's service of that name. A session lists its services only once its agent reported
 * them; until then any name passes (undefined) and the manager judges it when the session runs.
 */
export function serviceOf(s: Session, service: string): ServiceInfo | undefined {
  const known = s.services.find((svc) => svc.name === service);
  if (s.services.length > 0 && !known) {
    throw new CliError(
      `session ${sessionLabel(s)} has no service "${service}" (services: ${s.services.map((x) => x.name).join(', ')})`,
    );
  }
  return known;
}

/**
 * A re-used circuit keeps the idle settings it was created with: say so when they differ from
 * those asked for (the request is not an error, but the options did not take effect).
 */
export async function noteKeptIdle(ctx: Ctx, circuitId: string, asked: CircuitIdleRequest): Promise<void> {
  const c = await ctx.client.getCircuit(circuitId).catch(() => null);
  if (!c) return;
  const differs =
    (asked.connectionIdleTimeoutMs !== undefined &&
      asked.connectionIdleTimeoutMs !== c.idle.connectionIdleTimeoutMs) ||
    (asked.circuitIdleTimeoutMs !== undefined && asked.circuitIdleTimeoutMs !== c.idle.circuitIdleTimeoutMs);
  if (!differs) return;
  ctx.note(
    `note: circuit ${c.id} was re-used and keeps its idle timeouts (connection ${idleText(c.idle.connectionIdleTimeoutMs)}, ` +
      `circuit ${idleText(c.idle.circuitIdleTimeoutMs)}); \`appproxy circuit delete ${c.id}\` first to apply new ones`,
  );
}

export function emptyNote(ctx: Ctx, what: string, items: unknown[]): boolean {
  if (items.length > 0 || ctx.json) return false;
  ctx.note(`no ${what}`);
  return true;
}

/** Turns a command body into a commander action: commander passes the command last; `ctx` replaces it. */
export type Action = <A extends unknown[]>(
  fn: (ctx: Ctx, ...args: A) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

export function actionFor(rt: Runtime): Action {
  return <A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      await fn(new Ctx(rt, cmd), ...(args.slice(0, -1) as A));
    };
}
