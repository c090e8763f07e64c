/** The client commands: session, app, tunnel, circuit, worker, template, doctor. */

import { isIP } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ApiClient, CircuitIdleRequest, SessionIdleRequest } from '../client/api-client.ts';
import { ApiError } from '../client/errors.ts';
import type { TemplateInfo } from '../contracts/agent.ts';
import type {
  Circuit,
  DoctorReport,
  LifecycleEvent,
  Session,
  StartServiceResult,
  TcpAccessMode,
  WorkerInfo,
} from '../contracts/records.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';
import { CliError, UsageError } from './errors.ts';
import {
  flatten,
  formatAge,
  formatJson,
  formatKeyValues,
  formatTable,
  formatTime,
  type Painter,
  paintState,
  type Style,
} from './format.ts';
import { defaultIo, Runtime } from './runtime.ts';
import { hostPort, Tunnel } from './tunnel.ts';
import { VERSION } from './version.ts';
import { ProgressLine, sessionLabel, waitForRunning } from './wait.ts';

const DEFAULT_WAIT_MS = 120_000;

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

/** commander argParser for duration options: `30s`, `2m`, `500ms`. */
export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** What an idle option parses to: milliseconds, or `never` (commander turns a parsed `null` into ''). */
type IdleValue = number | 'never';

/** commander argParser for circuit and session idle timeouts: a duration, or `never` (no timeout). */
export function idleTimeoutArg(value: string): IdleValue {
  if (value.trim().toLowerCase() === 'never') return 'never';
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}; or "never" for no timeout`);
  }
}

/** commander argParser for the connection idle timeout: a duration (connections always have one). */
export function connectionIdleArg(value: string): number {
  if (value.trim().toLowerCase() === 'never') {
    throw new InvalidArgumentError('connections always have an idle timeout; give a duration (e.g. 30m, 8h)');
  }
  return durationArg(value);
}

/** commander argParser for port options: an integer 0–65535 (0 = any free port). */
export function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError('expected a port number 0-65535 (0 = any free port)');
  }
  return n;
}

/** commander argParser for `--allow-from`: repeatable, comma-separated addresses or CIDRs. */
function allowFromArg(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected an address or CIDR, e.g. 10.0.0.0/8');
  return [...(previous ?? []), ...items];
}

/** An idle timeout for humans: `30m`, or `never`. */
function idleText(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'never' : formatDuration(ms);
}

interface IdleOptions {
  connectionIdleTimeout?: number;
  circuitIdleTimeout?: IdleValue;
  sessionIdleTimeout?: IdleValue;
}

const NEW_CIRCUIT_ONLY = 'new circuits only (a re-used circuit keeps its own)';

/** `--connection-idle-timeout`; `scope` says what it applies to. */
function connectionIdleOption(scope: string): Option {
  return new Option(
    '--connection-idle-timeout <duration>',
    `close a tcp, tunnel or WebSocket connection after this long with no byte either way (e.g. 20s, 30m); ${scope}`,
  ).argParser(connectionIdleArg);
}

/** `--circuit-idle-timeout`; `scope` says what it applies to. */
function circuitIdleOption(scope: string): Option {
  return new Option(
    '--circuit-idle-timeout <duration|never>',
    `close the circuit (its address) after this long with no byte moved (e.g. 30m, or never); ${scope}`,
  ).argParser(idleTimeoutArg);
}

const idleMs = (v: IdleValue): number | null => (v === 'never' ? null : v);

/** The idle options as a start-service `idle` (absent when none is given). */
function circuitIdleFrom(opts: IdleOptions): CircuitIdleRequest | undefined {
  const idle: CircuitIdleRequest = {};
  if (opts.connectionIdleTimeout !== undefined) idle.connectionIdleTimeoutMs = opts.connectionIdleTimeout;
  if (opts.circuitIdleTimeout !== undefined) idle.circuitIdleTimeoutMs = idleMs(opts.circuitIdleTimeout);
  return Object.keys(idle).length > 0 ? idle : undefined;
}

/** The idle options as a create-session `idle` (absent when none is given). */
function sessionIdleFrom(opts: IdleOptions): SessionIdleRequest | undefined {
  const idle: SessionIdleRequest = { ...circuitIdleFrom(opts) };
  if (opts.sessionIdleTimeout !== undefined) idle.sessionIdleTimeoutMs = idleMs(opts.sessionIdleTimeout);
  return Object.keys(idle).length > 0 ? idle : undefined;
}

function timeoutOption(what: string): Option {
  return new Option('--timeout <duration>', `how long to wait for ${what} (e.g. 30s, 2m)`)
    .argParser(durationArg)
    .default(DEFAULT_WAIT_MS, formatDuration(DEFAULT_WAIT_MS));
}

/** What an action needs: the API client, output writers and the run's options. */
class Ctx {
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

// Renderings

function stateWithReason(state: string, reason: string | null, p: Painter): string {
  return reason ? `${paintState(state, p)} (${reason})` : paintState(state, p);
}

function renderSession(s: Session, p: Painter, now: number): string {
  let out = formatKeyValues(
    [
      ['ID', s.id],
      ['Name', s.name],
      ['Template', s.template],
      ['State', stateWithReason(s.state, s.stateReason, p)],
      ['Owner', s.ownerId],
      ['Session idle timeout', idleText(s.idleTimeoutMs)],
      ['Created', formatTime(s.createdAt, now)],
      ['Updated', formatTime(s.updatedAt, now)],
    ],
    p,
  );
  if (s.services.length > 0) {
    out +=
      '\n' +
      formatTable(
        [{ header: 'SERVICE' }, { header: 'PROTOCOL' }, { header: 'BACKEND' }],
        s.services.map((svc) => [
          svc.name,
          svc.protocol,
          svc.backend ? `${svc.backend.host}:${svc.backend.port}` : '-',
        ]),
        p,
      );
  }
  return out;
}

function renderSessions(items: Session[], p: Painter, now: number): string {
  const withReason = items.some((s) => s.stateReason);
  const columns = [
    { header: 'NAME', maxWidth: 40 },
    { header: 'ID' },
    { header: 'TEMPLATE' },
    { header: 'STATE' },
    { header: 'SERVICES', maxWidth: 40 },
    { header: 'AGE', align: 'right' as const },
    ...(withReason ? [{ header: 'REASON', maxWidth: 60 }] : []),
  ];
  const rows = items.map((s) => [
    s.name,
    s.id,
    s.template,
    paintState(s.state, p),
    s.services.map((svc) => svc.name).join(',') || '-',
    formatAge(s.createdAt, now),
    ...(withReason ? [s.stateReason ?? ''] : []),
  ]);
  return formatTable(columns, rows, p);
}

function slotText(c: Circuit): string {
  return 'port' in c.slot ? `port ${c.slot.port}` : `subdomain ${c.slot.subdomain}`;
}

function renderCircuit(c: Circuit, p: Painter, now: number): string {
  return formatKeyValues(
    [
      ['ID', c.id],
      ['Session', c.sessionId],
      ['Service', `${c.service} (${c.protocol})`],
      ['State', stateWithReason(c.state, c.stateReason, p)],
      ['App URL', c.appUrl],
      ['Worker', c.worker],
      ['Frontend', `${c.frontendMode}, ${slotText(c)}`],
      ['Backends', c.backends.map((b) => `${b.host}:${b.port}`).join(', ') || '-'],
      ...(c.access
        ? [
            [
              'Access',
              c.access.mode === 'allow-list'
                ? `allow-list (${c.access.allowFrom.join(', ')})`
                : c.access.mode,
            ] as [string, string],
          ]
        : []),
      ...(c.idle
        ? [
            [
              'Idle timeouts',
              `connection ${idleText(c.idle.connectionIdleTimeoutMs)}, circuit ${idleText(c.idle.circuitIdleTimeoutMs)}`,
            ] as [string, string],
          ]
        : []),
      ['Owner', c.ownerId],
      ['Created', formatTime(c.createdAt, now)],
      ['Closed', formatTime(c.closedAt, now)],
    ],
    p,
  );
}

function renderCircuits(items: Circuit[], p: Painter, now: number): string {
  return formatTable(
    [
      { header: 'ID' },
      { header: 'SESSION' },
      { header: 'SERVICE' },
      { header: 'STATE' },
      { header: 'WORKER' },
      { header: 'APP URL' },
      { header: 'AGE', align: 'right' },
    ],
    items.map((c) => [
      c.id,
      c.sessionId,
      c.service,
      paintState(c.state, p),
      c.worker,
      c.appUrl,
      formatAge(c.createdAt, now),
    ]),
    p,
  );
}

const EVENT_STYLE: Record<string, Style> = {
  'session-error': 'red',
  'session-idle-terminated': 'yellow',
  'circuit-idle-closed': 'yellow',
};

function renderEvents(items: LifecycleEvent[], p: Painter): string {
  return formatTable(
    [{ header: 'TIME' }, { header: 'KIND' }, { header: 'CIRCUIT' }, { header: 'DETAIL' }],
    items.map((e) => {
      const style = EVENT_STYLE[e.kind];
      return [e.at, style ? p.paint(e.kind, style) : e.kind, e.circuitId ?? '-', e.detail || '-'];
    }),
    p,
  );
}

function renderWorkers(items: WorkerInfo[], p: Painter, now: number): string {
  // The DRAINING column appears only when some worker drains (the usual table stays as it was).
  const draining = items.some((w) => w.draining);
  return formatTable(
    [
      { header: 'AUTHORITY' },
      { header: 'MODE' },
      { header: 'PROTOCOLS' },
      { header: 'SLOTS' },
      { header: 'PUBLIC' },
      { header: 'HEALTHY' },
      ...(draining ? [{ header: 'DRAINING' }] : []),
      { header: 'CIRCUITS', align: 'right' as const },
      { header: 'LAST SEEN', align: 'right' as const },
    ],
    items.map((w) => [
      w.authority,
      w.frontendMode,
      w.protocols.join(',') || '-',
      w.portRange ? `${w.portRange[0]}-${w.portRange[1]}` : w.wildcardDomain ? `*.${w.wildcardDomain}` : '-',
      `${w.publicScheme}://${w.publicHost}${w.publicPort !== null ? `:${w.publicPort}` : ''}`,
      w.healthy ? p.paint('yes', 'green') : p.paint('no', 'red'),
      ...(draining ? [w.draining ? p.paint('yes', 'yellow') : 'no'] : []),
      String(w.circuits),
      w.lastSeenAt ? `${formatAge(w.lastSeenAt, now)} ago` : '-',
    ]),
    p,
  );
}

function renderDoctor(r: DoctorReport, p: Painter): string {
  if (r.violations.length === 0) return `no violations (checked at ${r.checkedAt})\n`;
  return (
    formatTable(
      [{ header: 'KIND' }, { header: 'SUBJECT' }, { header: 'DETAIL', maxWidth: 90 }],
      r.violations.map((v) => [p.paint(v.kind, 'red'), v.subject, v.detail]),
      p,
    ) +
    `${r.violations.length} violation${r.violations.length === 1 ? '' : 's'} (checked at ${r.checkedAt})\n`
  );
}

function renderTemplates(items: TemplateInfo[], p: Painter): string {
  return formatTable(
    [
      { header: 'NAME' },
      { header: 'AVAILABLE' },
      { header: 'SERVICES' },
      { header: 'DESCRIPTION', maxWidth: 70 },
    ],
    items.map((t) => [
      t.name,
      t.available
        ? p.paint('yes', 'green')
        : `${p.paint('no', 'red')}${t.unavailableReason ? ` (${t.unavailableReason})` : ''}`,
      t.services.map((s) => `${s.name} (${s.protocol})`).join(', ') || '-',
      t.description,
    ]),
    p,
  );
}

function renderStartService(
  r: StartServiceResult,
  p: Painter,
  now: number,
  target: { session: string; service: string },
): string {
  const circuit: [string, string] = ['Circuit', `${r.circuitId}${r.reused ? ' (reused)' : ''}`];
  if (r.setupUrl === null) {
    // A TCP circuit: no setup link. Either a raw TCP address (allow-list, public) or a port that
    // only carries authenticated tunnels.
    if (r.appUrl.startsWith('tcp://')) {
      return (
        `TCP address (connect from an allowed address):\n\n  ${p.paint(r.appUrl, 'bold')}\n\n` +
        formatKeyValues([circuit], p)
      );
    }
    return (
      'This TCP service is reached through an authenticated tunnel. Run:\n\n' +
      `  ${p.paint(`appproxy tunnel ${target.session} ${target.service}`, 'bold')}\n\n` +
      formatKeyValues([['Tunnel origin', r.appUrl], circuit], p)
    );
  }
  const expiresAt = r.expiresAt ?? '';
  const expires = Date.parse(expiresAt);
  const validity = Number.isNaN(expires)
    ? `until ${expiresAt}`
    : expires > now
      ? `for ${formatDuration(expires - now)}, until ${expiresAt}`
      : `until ${expiresAt}`;
  return (
    `Open this link in your browser (single use, valid ${validity}):\n\n` +
    `  ${p.paint(p.paint(r.setupUrl, 'cyan'), 'bold')}\n\n` +
    formatKeyValues([['App URL', r.appUrl], circuit], p)
  );
}

/** The `--access`/`--allow-from` pair as a start-service `access` (allow-from alone means allow-list). */
function accessFrom(opts: {
  access?: TcpAccessMode;
  allowFrom?: string[];
}): { mode: TcpAccessMode; allowFrom?: string[] } | undefined {
  if (opts.access === undefined && opts.allowFrom === undefined) return undefined;
  const mode = opts.access ?? 'allow-list';
  if (opts.allowFrom !== undefined && mode !== 'allow-list') {
    throw new UsageError(`--allow-from goes with --access allow-list (got --access ${mode})`);
  }
  if (mode === 'allow-list' && opts.allowFrom === undefined) {
    throw new UsageError('--access allow-list needs --allow-from <address or CIDR>');
  }
  return opts.allowFrom ? { mode, allowFrom: opts.allowFrom } : { mode };
}

/** Lines printed once the tunnel listens: what to run, with the ssh and scp forms for an ssh service. */
function renderTunnelReady(
  target: { session: string; service: string },
  addr: { host: string; port: number },
  p: Painter,
): string {
  const where = hostPort(addr.host, addr.port);
  let out = `Tunnel to ${target.session}/${target.service} listening on ${where}\n`;
  const sshHost = addr.host === '0.0.0.0' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  if (target.service === 'ssh') {
    const userHost = `<user>@${sshHost.includes(':') ? `[${sshHost}]` : sshHost}`;
    out +=
      `\n  ${p.paint(`ssh -p ${addr.port} ${userHost}`, 'bold')}\n` +
      `  ${p.paint(`scp -P ${addr.port} FILE ${userHost}:`, 'bold')}\n\n` +
      '<user> is the account that runs the session (the ssh template authorizes its keys).\n';
  } else {
    out += `\nConnect to ${where}; every connection gets its own authenticated tunnel.\n`;
  }
  out += 'Ctrl-C stops the tunnel.\n';
  return out;
}

/**
 * A re-used circuit keeps the idle settings it was created with: say so when they differ from
 * those asked for (the request is not an error, but the options did not take effect).
 */
async function noteKeptIdle(ctx: Ctx, circuitId: string, asked: CircuitIdleRequest): Promise<void> {
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

function emptyNote(ctx: Ctx, what: string, items: unknown[]): boolean {
  if (items.length > 0 || ctx.json) return false;
  ctx.note(`no ${what}`);
  return true;
}

/**
 * Registers `session`, `app`, `circuit`, `worker` and `template` on the program. The runtime carries
 * the output streams and environment; it defaults to the real process.
 */
export function registerClientCommands(
  program: Command,
  rt: Runtime = new Runtime(defaultIo(), VERSION),
): void {
  const action =
    <A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      await fn(new Ctx(rt, cmd), ...(args.slice(0, -1) as A));
    };

  // session
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

  // app
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
          if (s.services.length > 0 && !s.services.some((svc) => svc.name === service)) {
            throw new CliError(
              `session ${sessionLabel(s)} has no service "${service}" (services: ${s.services.map((x) => x.name).join(', ')})`,
            );
          }
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

  // tunnel
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
          const known = s.services.find((svc) => svc.name === service);
          if (s.services.length > 0 && !known) {
            throw new CliError(
              `session ${sessionLabel(s)} has no service "${service}" (services: ${s.services.map((x) => x.name).join(', ')})`,
            );
          }
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

  // circuit
  const circuit = program.command('circuit').description('inspect and close circuits (app addresses)');

  circuit
    .command('list')
    .alias('ls')
    .description('list circuits (GET /v1/circuits)')
    .option('--session <session>', 'only circuits of this session (id or name)')
    .action(
      action(async (ctx, opts: { session?: string }) => {
        const sessionId = opts.session ? (await resolveSession(ctx.client, opts.session)).id : undefined;
        const res = await ctx.client.listCircuits(sessionId ? { sessionId } : {});
        if (emptyNote(ctx, 'circuits', res.items)) return;
        ctx.emit(res, () => renderCircuits(res.items, ctx.p, ctx.now));
      }),
    );

  circuit
    .command('get')
    .description('show one circuit (GET /v1/circuits/{id})')
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const c = await ctx.client.getCircuit(id);
        ctx.emit(c, () => renderCircuit(c, ctx.p, ctx.now));
      }),
    );

  circuit
    .command('delete')
    .alias('rm')
    .description('close a circuit; its app address stops working (DELETE /v1/circuits/{id})')
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const c = await ctx.client.deleteCircuit(id);
        ctx.emit(c, () => `circuit ${c.id} ${c.state === 'CLOSED' ? 'closed' : `is ${c.state}`}\n`);
      }),
    );

  circuit
    .command('activity')
    .description('show what counts as activity on a circuit and when it will be collected')
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const a = await ctx.client.circuitActivity(id);
        ctx.emit(a, () => formatKeyValues(flatten(a), ctx.p));
      }),
    );

  circuit
    .command('events')
    .description(
      'what the lifecycle and the idle policies did to a circuit, oldest first (GET /v1/circuits/{id}/events)',
    )
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const res = await ctx.client.circuitEvents(id);
        if (emptyNote(ctx, 'events', res.items)) return;
        ctx.emit(res, () => renderEvents(res.items, ctx.p));
      }),
    );

  // worker: `appproxy worker` itself is the server command (runs a worker) when registered first;
  // `list` is added under it, or under a client-only `worker` group when there is none.
  const worker =
    program.commands.find((c) => c.name() === 'worker') ??
    program.command('worker').description('workers (the data plane) known to the manager');
  worker
    .command('list')
    .alias('ls')
    .description('list workers known to the manager (GET /v1/workers)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listWorkers();
        if (emptyNote(ctx, 'workers', res.items)) return;
        ctx.emit(res, () => renderWorkers(res.items, ctx.p, ctx.now));
      }),
    );

  for (const [name, draining] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    worker
      .command(name)
      .description(
        draining
          ? 'drain a worker: no new circuits go to it; its circuits keep running (POST /v1/workers/{authority}/drain)'
          : 'undrain a worker: it gets new circuits again (POST /v1/workers/{authority}/undrain)',
      )
      .argument('<authority>', 'worker authority (see `appproxy worker list`)')
      .action(
        action(async (ctx, authority: string) => {
          const w = draining
            ? await ctx.client.drainWorker(authority)
            : await ctx.client.undrainWorker(authority);
          ctx.emit(w, () => `worker ${w.authority} ${w.draining ? 'is draining' : 'accepts new circuits'}\n`);
        }),
      );
  }

  // doctor
  program
    .command('doctor')
    .description('check the invariants between SQL and KV; exits 1 when any is violated (GET /v1/doctor)')
    .action(
      action(async (ctx) => {
        const r = await ctx.client.doctor();
        ctx.emit(r, () => renderDoctor(r, ctx.p));
        if (r.violations.length > 0) {
          throw new CliError(
            `${r.violations.length} invariant violation${r.violations.length === 1 ? '' : 's'} found`,
          );
        }
      }),
    );

  // template
  const template = program.command('template').description('templates sessions are created from');
  template
    .command('list')
    .alias('ls')
    .description('list templates (GET /v1/templates)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listTemplates();
        if (emptyNote(ctx, 'templates', res.items)) return;
        ctx.emit(res, () => renderTemplates(res.items, ctx.p));
      }),
    );
}
