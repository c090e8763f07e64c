/**
 * `appproxy endpoint …`: inference endpoints — one stable URL in front of replicas (its routes) —
 * their routes and keys; and `endpoint up`/`down`, which stand replicas of a template up behind a
 * new endpoint in one step and take them all down again.
 */

import { Argument, type Command, InvalidArgumentError, Option } from 'commander';
import type {
  ApiClient,
  BalancingPolicy,
  Endpoint,
  EndpointKey,
  EndpointRoute,
  EndpointRouteRequest,
  EndpointSettingsRequest,
  EndpointUsage,
  NewEndpointKey,
  UsageTotals,
} from '../../client/api-client.ts';
import { ApiError } from '../../client/errors.ts';
import { BALANCING_POLICIES } from '../../contracts/endpoint.ts';
import type { FrontendMode, Session } from '../../contracts/records.ts';
import { formatDuration } from '../../core/duration.ts';
import { durationArg, lifetimeArg, listArg, timeoutOption } from '../args.ts';
import { CliError, UsageError } from '../errors.ts';
import {
  flatten,
  formatAge,
  formatKeyValues,
  formatTable,
  formatTime,
  type Painter,
  paintState,
  type Style,
} from '../format.ts';
import type { CliIo } from '../runtime.ts';
import { hostPort } from '../tunnel.ts';
import { sessionLabel, waitForRunning } from '../wait.ts';
import { type Action, type Ctx, emptyNote, resolveSession, serviceOf } from './context.ts';

// ------------------------------------------------------------------ route specs

/** A route as given on the command line, before session names are resolved to ids. */
export type RouteSpec =
  | { kind: 'session'; session: string; service?: string; weight?: number }
  | { kind: 'address'; host: string; port: number; weight?: number };

const ROUTE_SPEC_FORMS = 'session:<session>[/<service>][@weight] or <host>:<port>[@weight]';
const MAX_WEIGHT = 10_000;

/**
 * Parses `session:<session>[/<service>][@weight]` or `<host>:<port>[@weight]` (an IPv6 host in
 * brackets). Throws commander's InvalidArgumentError, so a bad spec is a usage error (exit 2)
 * before any request is sent.
 */
export function parseRouteSpec(text: string): RouteSpec {
  const fail = (why: string) =>
    new InvalidArgumentError(
      `${why}; a route is ${ROUTE_SPEC_FORMS} (e.g. session:chat-1/api@50, 10.0.0.5:8000)`,
    );
  let body = text.trim();
  let weight: number | undefined;
  const at = body.lastIndexOf('@');
  if (at >= 0) {
    const w = body.slice(at + 1);
    if (!/^\d{1,5}$/.test(w) || Number(w) > MAX_WEIGHT) {
      throw fail(`weight "${w}" is not an integer 0-${MAX_WEIGHT}`);
    }
    weight = Number(w);
    body = body.slice(0, at);
  }
  const weighted = weight === undefined ? {} : { weight };
  if (body.startsWith('session:')) {
    const rest = body.slice('session:'.length);
    const slash = rest.indexOf('/');
    const session = slash < 0 ? rest : rest.slice(0, slash);
    const service = slash < 0 ? undefined : rest.slice(slash + 1);
    if (session === '') throw fail(`"${text}" names no session`);
    if (service === '') throw fail(`"${text}" has an empty service after "/"`);
    return { kind: 'session', session, ...(service !== undefined ? { service } : {}), ...weighted };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:/[\]@]+)):(\d{1,5})$/.exec(body);
  if (!m) throw fail(`"${text}" is neither`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw fail(`port ${m[3]} is not 1-65535`);
  return { kind: 'address', host: (m[1] ?? m[2])!, port, ...weighted };
}

function routeSpecsArg(value: string, previous: RouteSpec[] | undefined): RouteSpec[] {
  return [...(previous ?? []), parseRouteSpec(value)];
}

/**
 * The one service a session route names when the spec leaves it out: the session's only service.
 * Several, or none reported yet (the agent reports them once the session runs), need it named.
 */
function defaultService(s: Session): string {
  if (s.services.length === 1) return s.services[0]!.name;
  const label = sessionLabel(s);
  if (s.services.length === 0) {
    throw new CliError(
      `session ${label} lists no service yet (${s.state}); name one: session:${label}/<service>`,
    );
  }
  throw new UsageError(
    `session ${label} has several services (${s.services.map((x) => x.name).join(', ')}); name one: session:${label}/<service>`,
  );
}

/** The API's route for a spec: session names become ids (the API takes ids only). */
async function routeRequest(client: ApiClient, spec: RouteSpec, id?: string): Promise<EndpointRouteRequest> {
  const extra = {
    ...(id !== undefined ? { id } : {}),
    ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
  };
  if (spec.kind === 'address') return { host: spec.host, port: spec.port, ...extra };
  const s = await resolveSession(client, spec.session);
  if (spec.service !== undefined) serviceOf(s, spec.service);
  return { session: s.id, service: spec.service ?? defaultService(s), ...extra };
}

// ------------------------------------------------------------------ lookups

/**
 * Resolves an endpoint by id, or else by name. Names are unique per owner only, so an admin (who
 * sees everyone's) may find several: their own wins, otherwise the name is ambiguous.
 */
export async function resolveEndpoint(client: ApiClient, ref: string): Promise<Endpoint> {
  let notFound: ApiError;
  try {
    return await client.getEndpoint(ref);
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 404 || err.code === 'AP_ERR_VALIDATION'))) throw err;
    notFound = err;
  }
  const named = (await client.listEndpoints()).items.filter((e) => e.name === ref);
  if (named.length === 1) return named[0]!;
  if (named.length === 0) {
    throw new ApiError({
      code: notFound.code === 'AP_ERR_VALIDATION' ? 'AP_ERR_ENDPOINT_NOT_FOUND' : notFound.code,
      status: 404,
      message: `no endpoint with id or name "${ref}"`,
      requestId: notFound.requestId,
    });
  }
  const me = await client.whoami().catch(() => null);
  const own = named.filter((e) => e.ownerId === me?.user.id);
  if (own.length === 1) return own[0]!;
  throw new CliError(
    `endpoint name "${ref}" is ambiguous (${named.map((e) => `${e.id} of ${e.ownerId}`).join(', ')}); use the id`,
  );
}

/** Session names by id, to show routes by name; empty when the list cannot be read (ids then). */
async function sessionNames(client: ApiClient): Promise<Map<string, string>> {
  try {
    const { items } = await client.listSessions();
    return new Map(items.map((s) => [s.id, s.name]));
  } catch {
    return new Map();
  }
}

// ------------------------------------------------------------------ rendering

const ROUTE_STATE_STYLE: Record<string, Style> = { serving: 'green', staged: 'yellow', unresolved: 'red' };
const KEY_STATE_STYLE: Record<string, Style> = { live: 'green', expired: 'dim', revoked: 'dim' };

function routeTarget(r: EndpointRoute, names: Map<string, string>): string {
  if (r.kind === 'session' && r.sessionId !== null) {
    return `session:${names.get(r.sessionId) ?? r.sessionId}/${r.service ?? '?'}`;
  }
  return r.backend ? hostPort(r.backend.host, r.backend.port) : '-';
}

/** One word for a route's health report, whatever its shape: its state or status, else JSON. */
function healthWord(h: unknown): string {
  if (h === undefined || h === null) return '-';
  if (typeof h !== 'object') return String(h);
  const o = h as Record<string, unknown>;
  for (const k of ['state', 'status']) if (typeof o[k] === 'string') return o[k];
  if (typeof o.healthy === 'boolean') return o.healthy ? 'healthy' : 'unhealthy';
  return JSON.stringify(h);
}

export function renderRoutes(routes: EndpointRoute[], names: Map<string, string>, p: Painter): string {
  const withHealth = routes.some((r) => r.health !== undefined);
  let out = formatTable(
    [
      { header: 'ROUTE' },
      { header: 'TARGET', maxWidth: 60 },
      { header: 'BACKEND' },
      { header: 'WEIGHT', align: 'right' },
      { header: 'STATE' },
      ...(withHealth ? [{ header: 'HEALTH', maxWidth: 40 }] : []),
    ],
    routes.map((r) => {
      const style = ROUTE_STATE_STYLE[r.state];
      return [
        r.id,
        routeTarget(r, names),
        r.backend ? hostPort(r.backend.host, r.backend.port) : '-',
        String(r.weight),
        style ? p.paint(r.state, style) : r.state,
        ...(withHealth ? [healthWord(r.health)] : []),
      ];
    }),
    p,
  );
  // The whole report of each route, whatever fields the manager gives it.
  for (const r of routes) {
    if (r.health === null || typeof r.health !== 'object') continue;
    out += `\nHealth of route ${r.id}\n${indent(formatKeyValues(flatten(r.health), p))}`;
  }
  return out;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}

const KNOWN_FIELDS = new Set([
  'id',
  'name',
  'ownerId',
  'state',
  'url',
  'circuitId',
  'settings',
  'routes',
  'revision',
  'createdAt',
  'updatedAt',
]);

export function renderEndpoint(e: Endpoint, names: Map<string, string>, p: Painter, now: number): string {
  const { access, balancing, ...settings } = e.settings;
  // Fields and settings this CLI does not know yet are shown as the manager gave them.
  const extra = Object.entries(e).filter(([k]) => !KNOWN_FIELDS.has(k));
  let out = formatKeyValues(
    [
      ['ID', e.id],
      ['Name', e.name],
      ['State', paintState(e.state, p)],
      ['URL', e.url ?? '-'],
      [
        'Access',
        access === 'public' ? 'public (no key)' : `${access} (Authorization: Bearer <endpoint key>)`,
      ],
      ['Balancing', balancing],
      ...flatten(settings).map(([k, v]): [string, string] => [`settings.${k}`, v]),
      ['Owner', e.ownerId],
      ['Circuit', e.circuitId ?? '-'],
      ['Revision', String(e.revision)],
      ...extra.flatMap(([k, v]) => flatten(v, k)),
      ['Created', formatTime(e.createdAt, now)],
      ['Updated', formatTime(e.updatedAt, now)],
    ],
    p,
  );
  out +=
    e.routes.length > 0
      ? `\n${renderRoutes(e.routes, names, p)}`
      : `\nno routes: add one with \`appproxy endpoint route add ${e.name} session:<session>\`\n`;
  return out;
}

export function renderEndpoints(items: Endpoint[], p: Painter, now: number): string {
  return formatTable(
    [
      { header: 'NAME', maxWidth: 40 },
      { header: 'ID' },
      { header: 'STATE' },
      { header: 'ACCESS' },
      { header: 'BALANCING' },
      { header: 'ROUTES', align: 'right' },
      { header: 'URL' },
      { header: 'AGE', align: 'right' },
    ],
    items.map((e) => [
      e.name,
      e.id,
      paintState(e.state, p),
      e.settings.access,
      e.settings.balancing,
      `${e.routes.filter((r) => r.state === 'serving').length}/${e.routes.length}`,
      e.url ?? '-',
      formatAge(e.createdAt, now),
    ]),
    p,
  );
}

export function renderUsage(u: EndpointUsage, p: Painter): string {
  const row = (who: string, t: UsageTotals) => [
    who,
    String(t.requests),
    String(t.promptTokens),
    String(t.cachedTokens),
    String(t.completionTokens),
    String(t.estimatedRequests),
  ];
  return formatTable(
    [
      { header: 'KEY', maxWidth: 40 },
      { header: 'REQUESTS', align: 'right' },
      { header: 'PROMPT', align: 'right' },
      { header: 'CACHED', align: 'right' },
      { header: 'COMPLETION', align: 'right' },
      { header: 'ESTIMATED', align: 'right' },
    ],
    [
      ...u.keys.map((k) => row(k.keyId === null ? '(no key)' : `${k.name ?? k.keyId}`, k)),
      row('total', u.total),
    ],
    p,
  );
}

export function renderKeys(items: EndpointKey[], p: Painter, now: number): string {
  return formatTable(
    [
      { header: 'ID' },
      { header: 'NAME', maxWidth: 40 },
      { header: 'MODELS', maxWidth: 40 },
      { header: 'STATE' },
      { header: 'EXPIRES' },
      { header: 'AGE', align: 'right' },
    ],
    items.map((k) => {
      const style = KEY_STATE_STYLE[k.state];
      return [
        k.id,
        k.name,
        k.models.join(',') || 'any',
        style ? p.paint(k.state, style) : k.state,
        k.expiresAt ?? 'never',
        formatAge(k.createdAt, now),
      ];
    }),
    p,
  );
}

function renderNewKey(k: NewEndpointKey, endpoint: Endpoint, p: Painter): string {
  return (
    formatKeyValues(
      [
        ['ID', k.id],
        ['Name', k.name],
        ['Endpoint', `${endpoint.name} (${endpoint.id})`],
        ['Models', k.models.join(', ') || 'any'],
        ['Expires', k.expiresAt ?? 'never (until revoked)'],
      ],
      p,
    ) + `\n  ${p.paint(k.key, 'bold')}\n\n`
  );
}

const KEY_ONCE =
  'Store this key now: it is not shown again. Clients send it as `Authorization: Bearer <key>`.';

/** The OpenAI-style base URL under an endpoint's URL (`…/v1`), whether or not the URL ends in `/`. */
function apiBase(url: string): string {
  return `${url.replace(/\/+$/, '')}/v1`;
}

/** A ready-to-paste streaming chat completion and the SDK settings for the endpoint. */
export function usageExample(url: string, key: string | null, model: string): string {
  const base = apiBase(url);
  const body = JSON.stringify({
    model,
    stream: true,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  const auth = key ? `  -H 'Authorization: Bearer ${key}' \\\n` : '';
  // The SDKs insist on an API key even where the endpoint takes none.
  const apiKey = key ?? 'unused';
  return (
    'Try it (a streaming chat completion):\n\n' +
    `curl -N ${base}/chat/completions \\\n${auth}  -H 'Content-Type: application/json' \\\n  -d '${body}'\n\n` +
    'OpenAI SDKs:\n' +
    `  Python  OpenAI(base_url="${base}", api_key="${apiKey}")\n` +
    `  Node    new OpenAI({ baseURL: "${base}", apiKey: "${apiKey}" })\n`
  );
}

/**
 * The model the endpoint serves, asked of the endpoint itself (`GET /v1/models`), for the
 * example. A new key may take a moment to reach the worker, so a refusal is retried briefly;
 * null when no answer names a model.
 */
async function servedModel(io: CliIo, url: string, key: string | null): Promise<string | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      const res = await io.fetch(`${apiBase(url)}/models`, {
        headers: { accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        signal: AbortSignal.timeout(5000),
      });
      if (res.ok) {
        const body = (await res.json()) as { data?: { id?: unknown }[] };
        const id = body.data?.[0]?.id;
        return typeof id === 'string' ? id : null;
      }
      await res.body?.cancel();
      if (res.status !== 401 && res.status !== 503) return null;
    } catch {
      return null;
    }
    await io.sleep(300);
  }
  return null;
}

// ------------------------------------------------------------------ options

const balancingOption = (description: string) =>
  new Option('--balancing <policy>', description).choices(BALANCING_POLICIES as string[]);

const modeOption = () =>
  new Option(
    '--mode <mode>',
    'frontend of the URL: port (a port of its own) or wildcard (a host of its own)',
  ).choices(['port', 'wildcard']);

function replicasArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 256) {
    throw new InvalidArgumentError('expected a number of replicas 1-256');
  }
  return n;
}

// Checked before `up` creates anything, so a bad name does not leave sessions behind (the
// manager's own rule for endpoint names).
const ENDPOINT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The sessions `endpoint up <name>` makes are `<name>-1` … `<name>-N`. */
function replicaPattern(name: string): RegExp {
  return new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`);
}

// ------------------------------------------------------------------ commands

export function registerEndpointCommands(program: Command, action: Action): void {
  const endpoint = program
    .command('endpoint')
    .description('inference endpoints: one stable URL over replicas (routes), with keys');

  endpoint
    .command('create')
    .description('create an endpoint; answers once its URL is served (POST /v1/endpoints)')
    .argument('<name>', 'endpoint name (lowercase letters, digits, ".", "_", "-")')
    .option('--public', 'no key needed (only where the administrator allows public endpoints)')
    .addOption(balancingOption('how requests are spread over the routes (default: least-inflight)'))
    .addOption(modeOption())
    .addOption(
      new Option('--route <spec>', `a route, repeatable: ${ROUTE_SPEC_FORMS}`).argParser(routeSpecsArg),
    )
    .addHelpText(
      'after',
      '\nA session route follows its session: it serves while the session runs and leaves when it ends.\n' +
        "Without /<service> it takes the session's only service. Weight 0 stages a route (no traffic);\n" +
        'the default is 100. Address routes (<host>:<port>) are for admins.\n',
    )
    .action(
      action(
        async (
          ctx,
          name: string,
          opts: { public?: boolean; balancing?: BalancingPolicy; mode?: FrontendMode; route?: RouteSpec[] },
        ) => {
          const routes = [];
          for (const spec of opts.route ?? []) routes.push(await routeRequest(ctx.client, spec));
          const settings: EndpointSettingsRequest = {
            ...(opts.public ? { access: 'public' as const } : {}),
            ...(opts.balancing ? { balancing: opts.balancing } : {}),
          };
          const e = await ctx.client.createEndpoint({
            name,
            ...(opts.mode ? { frontend: opts.mode } : {}),
            ...(Object.keys(settings).length > 0 ? { settings } : {}),
            ...(routes.length > 0 ? { routes } : {}),
          });
          const names = await sessionNames(ctx.client);
          ctx.emit(e, () => renderEndpoint(e, names, ctx.p, ctx.now));
          if (!ctx.json && e.settings.access === 'token') {
            ctx.note(
              `next: \`appproxy endpoint token create ${e.name} --name <what for>\` makes a key for clients`,
            );
          }
        },
      ),
    );

  endpoint
    .command('list')
    .alias('ls')
    .description("list endpoints: yours; admins: everyone's (GET /v1/endpoints)")
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listEndpoints();
        if (emptyNote(ctx, 'endpoints', res.items)) return;
        ctx.emit(res, () => renderEndpoints(res.items, ctx.p, ctx.now));
      }),
    );

  endpoint
    .command('get')
    .description('show an endpoint: settings, URL, routes (GET /v1/endpoints/{id})')
    .argument('<endpoint>', 'endpoint id or name')
    .action(
      action(async (ctx, ref: string) => {
        const e = await resolveEndpoint(ctx.client, ref);
        const names = ctx.json ? new Map<string, string>() : await sessionNames(ctx.client);
        ctx.emit(e, () => renderEndpoint(e, names, ctx.p, ctx.now));
      }),
    );

  endpoint
    .command('usage')
    .description(
      'token usage of an endpoint, total and per key, as the engines reported it (GET /v1/endpoints/{id}/usage)',
    )
    .argument('<endpoint>', 'endpoint id or name')
    .action(
      action(async (ctx, ref: string) => {
        const e = await resolveEndpoint(ctx.client, ref);
        const u = await ctx.client.endpointUsage(e.id);
        ctx.emit(u, () => renderUsage(u, ctx.p));
      }),
    );

  endpoint
    .command('set')
    .description(
      'change settings of an endpoint in place; no request in flight is cut (PATCH /v1/endpoints/{id})',
    )
    .argument('<endpoint>', 'endpoint id or name')
    .addOption(balancingOption('how requests are spread over the routes'))
    .addOption(
      new Option('--access <access>', 'token (clients send a key) or public').choices(['token', 'public']),
    )
    .addOption(
      new Option(
        '--headers-timeout <duration>',
        'how long a route may take to answer headers (e.g. 5m)',
      ).argParser(durationArg),
    )
    .option('--name <name>', 'rename the endpoint (its URL stays)')
    .action(
      action(
        async (
          ctx,
          ref: string,
          opts: {
            balancing?: BalancingPolicy;
            access?: 'token' | 'public';
            headersTimeout?: number;
            name?: string;
          },
        ) => {
          const settings: EndpointSettingsRequest = {
            ...(opts.balancing ? { balancing: opts.balancing } : {}),
            ...(opts.access ? { access: opts.access } : {}),
            ...(opts.headersTimeout !== undefined ? { headersTimeoutMs: opts.headersTimeout } : {}),
          };
          if (Object.keys(settings).length === 0 && opts.name === undefined) {
            throw new UsageError(
              'nothing to change: give --balancing, --access, --headers-timeout or --name',
            );
          }
          const target = await resolveEndpoint(ctx.client, ref);
          const e = await ctx.client.updateEndpoint(target.id, {
            ...(opts.name !== undefined ? { name: opts.name } : {}),
            ...(Object.keys(settings).length > 0 ? { settings } : {}),
          });
          const names = ctx.json ? new Map<string, string>() : await sessionNames(ctx.client);
          ctx.emit(e, () => renderEndpoint(e, names, ctx.p, ctx.now));
        },
      ),
    );

  endpoint
    .command('delete')
    .alias('rm')
    .description(
      'delete an endpoint: its URL stops answering and its keys are revoked (DELETE /v1/endpoints/{id})',
    )
    .argument('<endpoint>', 'endpoint id or name')
    .action(
      action(async (ctx, ref: string) => {
        const target = await resolveEndpoint(ctx.client, ref);
        const e = await ctx.client.deleteEndpoint(target.id);
        ctx.emit(
          e,
          () => `endpoint ${e.name} (${e.id}) ${e.state === 'DELETED' ? 'deleted' : `is ${e.state}`}\n`,
        );
      }),
    );

  registerRouteCommands(endpoint, action);
  registerKeyCommands(endpoint, action);
  registerUpDown(endpoint, action);
}

function registerRouteCommands(endpoint: Command, action: Action): void {
  const route = endpoint.command('route').description("an endpoint's routes (replicas): add, remove, list");

  route
    .command('add')
    .description('add a route; it takes traffic once its backend is known (POST /v1/endpoints/{id}/routes)')
    .argument('<endpoint>', 'endpoint id or name')
    .addArgument(new Argument('<route-spec>', ROUTE_SPEC_FORMS).argParser(parseRouteSpec))
    .option('--id <id>', 'route id (letters, digits, ".", "_", "-"; default: chosen by the manager)')
    .action(
      action(async (ctx, ref: string, spec: RouteSpec, opts: { id?: string }) => {
        const target = await resolveEndpoint(ctx.client, ref);
        // The manager does not say clearly that a route id is taken, so the CLI does.
        if (opts.id !== undefined && target.routes.some((r) => r.id === opts.id)) {
          throw new CliError(
            `endpoint ${target.name} has a route "${opts.id}" already; \`appproxy endpoint route remove ${target.name} ${opts.id}\` first, or pick another --id`,
          );
        }
        const body = await routeRequest(ctx.client, spec, opts.id);
        const e = await ctx.client.addEndpointRoute(target.id, body);
        const before = new Set(target.routes.map((r) => r.id));
        const added = e.routes.find((r) => (opts.id !== undefined ? r.id === opts.id : !before.has(r.id)));
        const names = ctx.json ? new Map<string, string>() : await sessionNames(ctx.client);
        ctx.emit(e, () => renderRoutes(e.routes, names, ctx.p));
        if (!ctx.json && added) ctx.note(`route ${added.id} added to endpoint ${e.name} (${added.state})`);
      }),
    );

  route
    .command('remove')
    .alias('rm')
    .description(
      'remove a route: it gets no new request; requests in flight finish (DELETE /v1/endpoints/{id}/routes/{route})',
    )
    .argument('<endpoint>', 'endpoint id or name')
    .argument('<route-id>', 'route id (see `appproxy endpoint route list`)')
    .action(
      action(async (ctx, ref: string, routeId: string) => {
        const target = await resolveEndpoint(ctx.client, ref);
        const e = await ctx.client.removeEndpointRoute(target.id, routeId);
        ctx.emit(e, () => `route ${routeId} removed from endpoint ${e.name} (${e.routes.length} left)\n`);
      }),
    );

  route
    .command('list')
    .alias('ls')
    .description("list an endpoint's routes with their state, weight and health (GET /v1/endpoints/{id})")
    .argument('<endpoint>', 'endpoint id or name')
    .action(
      action(async (ctx, ref: string) => {
        const e = await resolveEndpoint(ctx.client, ref);
        if (emptyNote(ctx, 'routes', e.routes)) return;
        const names = ctx.json ? new Map<string, string>() : await sessionNames(ctx.client);
        ctx.emit({ items: e.routes }, () => renderRoutes(e.routes, names, ctx.p));
      }),
    );
}

function registerKeyCommands(endpoint: Command, action: Action): void {
  const token = endpoint
    .command('token')
    .description("an endpoint's keys (what clients send as Bearer): create, list, revoke");

  token
    .command('create')
    .description('create a key; it is printed this once (POST /v1/endpoints/{id}/tokens)')
    .argument('<endpoint>', 'endpoint id or name')
    .requiredOption('--name <name>', 'what the key is for (e.g. ci, alice)')
    .addOption(
      new Option('--expires-in <duration>', 'lifetime, e.g. 30d or 12h (default: until revoked)').argParser(
        lifetimeArg,
      ),
    )
    .addOption(
      new Option('--model <model>', 'a model the key may ask for, repeatable (default: any)').argParser(
        listArg,
      ),
    )
    .action(
      action(async (ctx, ref: string, opts: { name: string; expiresIn?: number; model?: string[] }) => {
        const e = await resolveEndpoint(ctx.client, ref);
        const k = await ctx.client.createEndpointKey(e.id, {
          name: opts.name,
          ...(opts.expiresIn !== undefined ? { expiresIn: opts.expiresIn } : {}),
          ...(opts.model ? { models: opts.model } : {}),
        });
        ctx.emit(k, () => renderNewKey(k, e, ctx.p));
        if (!ctx.json) ctx.note(KEY_ONCE);
      }),
    );

  token
    .command('list')
    .alias('ls')
    .description("list an endpoint's keys, never their secrets (GET /v1/endpoints/{id}/tokens)")
    .argument('<endpoint>', 'endpoint id or name')
    .action(
      action(async (ctx, ref: string) => {
        const e = await resolveEndpoint(ctx.client, ref);
        const res = await ctx.client.listEndpointKeys(e.id);
        if (emptyNote(ctx, 'keys', res.items)) return;
        ctx.emit(res, () => renderKeys(res.items, ctx.p, ctx.now));
      }),
    );

  token
    .command('revoke')
    .description(
      'revoke a key: refused as soon as the change reaches the workers (DELETE /v1/endpoints/{id}/tokens/{key})',
    )
    .argument('<endpoint>', 'endpoint id or name')
    .argument('<token-id>', 'key id (see `appproxy endpoint token list`)')
    .action(
      action(async (ctx, ref: string, keyId: string) => {
        const e = await resolveEndpoint(ctx.client, ref);
        const k = await ctx.client.revokeEndpointKey(e.id, keyId);
        ctx.emit(k, () => `key ${k.id} (${k.name}) of endpoint ${e.name} ${k.state}\n`);
      }),
    );
}

interface UpOptions {
  replicas: number;
  template: string;
  service: string;
  balancing: BalancingPolicy;
  public?: boolean;
  mode?: FrontendMode;
  timeout: number;
}

/** What `endpoint up` has made so far, to say what is left behind when it stops part-way. */
interface UpProgress {
  sessions: Session[];
  endpoint: Endpoint | null;
}

function registerUpDown(endpoint: Command, action: Action): void {
  endpoint
    .command('up')
    .description(
      'start replicas of a template as sessions <name>-1..N, put an endpoint in front of them, make a key, and print how to call it',
    )
    .argument('<name>', 'endpoint name; the sessions are named <name>-1 … <name>-N')
    .addOption(new Option('--replicas <n>', 'how many sessions').argParser(replicasArg).default(3))
    .option('--template <template>', 'template of the replicas', 'llm-sim')
    .option('--service <service>', 'service of each replica the endpoint routes to', 'api')
    .addOption(balancingOption('how requests are spread over the replicas').default('llm'))
    .option('--public', 'no key needed (only where the administrator allows public endpoints)')
    .addOption(modeOption())
    .addOption(timeoutOption('the sessions to run'))
    .addHelpText(
      'after',
      '\nIf it stops part-way it says what it made; `appproxy endpoint down <name>` removes it all.\n',
    )
    .action(action(async (ctx, name: string, opts: UpOptions) => endpointUp(ctx, name, opts)));

  endpoint
    .command('down')
    .description('delete an endpoint and the sessions <name>-N that `endpoint up` started for it')
    .argument('<name>', 'endpoint name (or id)')
    .action(action(async (ctx, ref: string) => endpointDown(ctx, ref)));
}

async function endpointUp(ctx: Ctx, name: string, opts: UpOptions): Promise<void> {
  const { client } = ctx;
  if (!ENDPOINT_NAME.test(name)) {
    throw new UsageError(`endpoint name "${name}" must be 1-63 lowercase letters, digits, ".", "_" or "-"`);
  }
  // Everything that would stop `up` half-way is checked before anything is created.
  const me = (await client.whoami()).user.id;
  if ((await client.listEndpoints()).items.some((e) => e.name === name && e.ownerId === me)) {
    throw new CliError(
      `you have an endpoint named "${name}" already (\`appproxy endpoint down ${name}\` removes it)`,
    );
  }
  const pattern = replicaPattern(name);
  const clashing = (await client.listSessions()).items.filter(
    (s) => s.ownerId === me && pattern.test(s.name) && !isFinal(s),
  );
  if (clashing.length > 0) {
    throw new CliError(
      `sessions named like the replicas exist already (${clashing.map(sessionLabel).join(', ')}); ` +
        `\`appproxy endpoint down ${name}\` removes them`,
    );
  }
  const template = (await client.listTemplates()).items.find((t) => t.name === opts.template);
  if (template && !template.available) {
    throw new CliError(
      `template ${template.name} is not available here: ${template.unavailableReason ?? 'unknown reason'}`,
    );
  }
  if (template && !template.services.some((s) => s.name === opts.service)) {
    throw new UsageError(
      `template ${template.name} has no service "${opts.service}" (services: ${template.services.map((s) => s.name).join(', ')}); use --service`,
    );
  }

  const made: UpProgress = { sessions: [], endpoint: null };
  try {
    const start = ctx.now;
    const created = await Promise.allSettled(
      Array.from({ length: opts.replicas }, (_, i) =>
        client.createSession({ template: opts.template, name: `${name}-${i + 1}` }),
      ),
    );
    for (const r of created) if (r.status === 'fulfilled') made.sessions.push(r.value);
    const failed = created.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    made.sessions.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    ctx.note(`sessions ${made.sessions.map(sessionLabel).join(', ')} created from ${opts.template}`);

    // They start in parallel; waiting for them one after the other takes as long as the slowest.
    for (const [i, s] of made.sessions.entries()) {
      const left = Math.max(0, opts.timeout - (ctx.now - start));
      made.sessions[i] = await waitForRunning(client, s, ctx.waitOptions(left));
    }
    ctx.note(`sessions running after ${formatDuration(ctx.now - start)}`);
    for (const s of made.sessions) serviceOf(s, opts.service);

    made.endpoint = await client.createEndpoint({
      name,
      ...(opts.mode ? { frontend: opts.mode } : {}),
      settings: { balancing: opts.balancing, ...(opts.public ? { access: 'public' as const } : {}) },
      // The route ids are the session names, so `endpoint route remove <name> <name>-2` reads naturally.
      routes: made.sessions.map((s) => ({ id: s.name, session: s.id, service: opts.service })),
    });
    const e = made.endpoint;
    ctx.note(`endpoint ${e.name} created at ${e.url ?? '(no URL)'}`);
    const key = opts.public ? null : await client.createEndpointKey(e.id, { name: `${name}-up` });
    const model = e.url ? await servedModel(ctx.rt.io, e.url, key?.key ?? null) : null;
    if (e.url && !model)
      ctx.note('note: the endpoint did not name its model (GET /v1/models); put it in the example');

    ctx.emit({ endpoint: e, sessions: made.sessions, key, model }, () =>
      renderUp(e, made.sessions, key, model, opts, ctx.p),
    );
  } catch (err) {
    if (made.sessions.length > 0 || made.endpoint) ctx.note(await leftBehind(client, name, made));
    throw err;
  }
}

/** TERMINATED and ERROR are final: nothing runs any more and there is nothing to remove. */
function isFinal(s: Session): boolean {
  return s.state === 'TERMINATED' || s.state === 'ERROR';
}

/** What a failed `up` leaves behind, with the sessions' states now, and how to remove it. */
async function leftBehind(client: ApiClient, name: string, made: UpProgress): Promise<string> {
  const sessions = await Promise.all(made.sessions.map((s) => client.getSession(s.id).catch(() => s)));
  const lines = ['endpoint up stopped part-way; it created:'];
  for (const s of sessions) lines.push(`  session ${s.name} (${s.id}, ${s.state})`);
  if (made.endpoint) lines.push(`  endpoint ${made.endpoint.name} (${made.endpoint.id})`);
  lines.push(
    made.endpoint || sessions.some((s) => !isFinal(s))
      ? `remove them with: appproxy endpoint down ${name}`
      : 'none of it is left running: there is nothing to remove',
  );
  return lines.join('\n');
}

function renderUp(
  e: Endpoint,
  sessions: Session[],
  key: NewEndpointKey | null,
  model: string | null,
  opts: UpOptions,
  p: Painter,
): string {
  const serving = e.routes.filter((r) => r.state === 'serving').length;
  let out =
    `Endpoint ${p.paint(e.name, 'bold')} is up: ${sessions.length} replica${sessions.length === 1 ? '' : 's'} ` +
    `of ${opts.template}/${opts.service}, balancing ${e.settings.balancing}, ${serving}/${e.routes.length} routes serving\n\n`;
  out += formatKeyValues(
    [
      ['URL', e.url ?? '-'],
      ['Key', key ? p.paint(key.key, 'bold') : 'none (public)'],
      ['Routes', e.routes.map((r) => `${r.id} ${r.state}`).join(', ') || '-'],
    ],
    p,
  );
  if (key) out += `\n${KEY_ONCE}\n`;
  if (e.url) out += `\n${usageExample(e.url, key?.key ?? null, model ?? '<model>')}`;
  out += `\nRemove it all: appproxy endpoint down ${e.name}\n`;
  return out;
}

async function endpointDown(ctx: Ctx, ref: string): Promise<void> {
  const { client } = ctx;
  let target: Endpoint | null = null;
  let notFound: ApiError | null = null;
  try {
    target = await resolveEndpoint(client, ref);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    notFound = err;
  }
  // The replicas are the sessions `up` made for that name, as the endpoint's owner: another
  // user's sessions that happen to share the name are not touched.
  const name = target?.name ?? ref;
  const owner = target?.ownerId ?? (await client.whoami()).user.id;
  const pattern = replicaPattern(name);
  const replicas = (await client.listSessions()).items
    .filter((s) => s.ownerId === owner && pattern.test(s.name) && !isFinal(s))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  if (!target && replicas.length === 0) throw notFound!;

  // The endpoint first: its URL stops taking requests before the replicas behind it go away.
  const deleted = target ? await client.deleteEndpoint(target.id) : null;
  if (!deleted && !ctx.json) ctx.note(`no endpoint named "${name}"; removing its sessions`);
  const ended = await Promise.all(replicas.map((s) => client.deleteSession(s.id, { wait: true })));
  ctx.emit({ endpoint: deleted, sessions: ended }, () =>
    [
      ...(deleted
        ? [
            `endpoint ${deleted.name} (${deleted.id}) ${deleted.state === 'DELETED' ? 'deleted' : deleted.state}`,
          ]
        : []),
      ...ended.map(
        (s) => `session ${sessionLabel(s)} ${s.state === 'TERMINATED' ? 'terminated' : `is ${s.state}`}`,
      ),
    ]
      .map((l) => `${l}\n`)
      .join(''),
  );
}
