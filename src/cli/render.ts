/** The human renderings of the API's answers: detail blocks, tables and the next steps to take. */

import type {
  ApiToken,
  Flag,
  FlagChange,
  LoginSession,
  LogoutResult,
  LogoutUri,
  User,
  Whoami,
} from '../client/api-client.ts';
import type { TemplateInfo } from '../contracts/agent.ts';
import type {
  Circuit,
  DoctorReport,
  LifecycleEvent,
  Session,
  StartServiceResult,
  WorkerInfo,
} from '../contracts/records.ts';
import { formatDuration } from '../core/duration.ts';
import {
  formatAge,
  formatKeyValues,
  formatTable,
  formatTime,
  type Painter,
  paintState,
  type Style,
} from './format.ts';
import { hostPort } from './tunnel.ts';

/** An idle timeout for humans: `30m`, or `never`. */
export function idleText(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'never' : formatDuration(ms);
}

function stateWithReason(state: string, reason: string | null, p: Painter): string {
  return reason ? `${paintState(state, p)} (${reason})` : paintState(state, p);
}

export function renderSession(s: Session, p: Painter, now: number): string {
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

export function renderSessions(items: Session[], p: Painter, now: number): string {
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

export function renderCircuit(c: Circuit, p: Painter, now: number): string {
  return formatKeyValues(
    [
      ['ID', c.id],
      c.endpointId ? ['Endpoint', c.endpointId] : ['Session', c.sessionId ?? '-'],
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
      ...(c.flow === 'legacy'
        ? [['Flow', "legacy (Backend.AI's per-user appproxy_permit cookie)"] as [string, string]]
        : []),
      ['Owner', c.ownerId],
      ['Created', formatTime(c.createdAt, now)],
      ['Closed', formatTime(c.closedAt, now)],
    ],
    p,
  );
}

export function renderCircuits(items: Circuit[], p: Painter, now: number): string {
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
      c.sessionId ?? `endpoint ${c.endpointId}`,
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

export function renderEvents(items: LifecycleEvent[], p: Painter): string {
  return formatTable(
    [{ header: 'TIME' }, { header: 'KIND' }, { header: 'CIRCUIT' }, { header: 'DETAIL' }],
    items.map((e) => {
      const style = EVENT_STYLE[e.kind];
      return [e.at, style ? p.paint(e.kind, style) : e.kind, e.circuitId ?? '-', e.detail || '-'];
    }),
    p,
  );
}

export function renderWorkers(items: WorkerInfo[], p: Painter, now: number): string {
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

export function renderDoctor(r: DoctorReport, p: Painter): string {
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

export function renderTemplates(items: TemplateInfo[], p: Painter): string {
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

export function renderStartService(
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

/** Lines printed once the tunnel listens: what to run, with the ssh and scp forms for an ssh service. */
export function renderTunnelReady(
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

// ------------------------------------------------------------------ identity

function userLabel(u: User): string {
  return u.displayName ? `${u.name} (${u.displayName})` : u.name;
}

function yesNo(v: boolean, p: Painter, yesStyle: Style = 'yellow'): string {
  return v ? p.paint('yes', yesStyle) : 'no';
}

export function renderUser(u: User, p: Painter, now: number): string {
  return formatKeyValues(
    [
      ['Name', u.name],
      ['ID', u.id],
      ['Display name', u.displayName ?? '-'],
      ['Role', u.role],
      ['Disabled', yesNo(u.disabled, p, 'red')],
      ['Password', u.hasPassword ? 'set' : 'none'],
      ['Identity provider', u.identityProvider ?? '-'],
      ['Created', formatTime(u.createdAt, now)],
    ],
    p,
  );
}

export function renderUsers(items: User[], p: Painter, now: number): string {
  return formatTable(
    [
      { header: 'NAME' },
      { header: 'ID' },
      { header: 'ROLE' },
      { header: 'DISABLED' },
      { header: 'SIGN-IN' },
      { header: 'DISPLAY NAME', maxWidth: 40 },
      { header: 'AGE', align: 'right' },
    ],
    items.map((u) => [
      u.name,
      u.id,
      u.role,
      yesNo(u.disabled, p, 'red'),
      [u.hasPassword ? 'password' : '', u.identityProvider ? 'idp' : ''].filter(Boolean).join(',') || '-',
      u.displayName ?? '-',
      formatAge(u.createdAt, now),
    ]),
    p,
  );
}

/** Who the CLI acts as, and through which credential. */
export function renderWhoami(w: Whoami, p: Painter, now: number, extra: [string, string][] = []): string {
  const credential: [string, string] =
    w.via === 'token'
      ? ['API token', w.tokenId ?? '- (the admin token)']
      : ['Login session', w.loginSession ? `${w.loginSession.id} (${w.loginSession.kind})` : '-'];
  return formatKeyValues(
    [
      ['User', userLabel(w.user)],
      ['User ID', w.user.id],
      ['Role', w.user.role],
      ['Via', w.via],
      credential,
      ...(w.loginSession ? [['Expires', formatTime(w.loginSession.expiresAt, now)] as [string, string]] : []),
      ...(w.scopes.length > 0 ? [['Scopes', w.scopes.join(', ')] as [string, string]] : []),
      ...extra,
    ],
    p,
  );
}

export function renderTokens(items: ApiToken[], p: Painter, now: number): string {
  const style: Record<ApiToken['state'], Style> = { live: 'green', expired: 'dim', revoked: 'dim' };
  return formatTable(
    [
      { header: 'ID' },
      { header: 'NAME', maxWidth: 40 },
      { header: 'USER' },
      { header: 'SCOPES' },
      { header: 'STATE' },
      { header: 'EXPIRES' },
      { header: 'LAST USED', align: 'right' },
      { header: 'AGE', align: 'right' },
    ],
    items.map((t) => [
      t.id,
      t.name,
      t.userId,
      t.scopes.join(',') || '-',
      p.paint(t.state, style[t.state]),
      t.expiresAt ?? 'never',
      t.lastUsedAt ? `${formatAge(t.lastUsedAt, now)} ago` : '-',
      formatAge(t.createdAt, now),
    ]),
    p,
  );
}

const onOff = (v: boolean | null): string => (v === null ? '-' : v ? 'on' : 'off');

export function renderFlags(items: Flag[], p: Painter): string {
  return formatTable(
    [
      { header: 'FLAG' },
      { header: 'VALUE' },
      { header: 'DEFAULT' },
      { header: 'OVERRIDES', maxWidth: 50 },
      { header: 'WHAT', maxWidth: 70 },
    ],
    items.map((f) => [
      f.name,
      f.value === f.default ? onOff(f.value) : p.paint(onOff(f.value), 'yellow'),
      onOff(f.default),
      f.overrides.map((o) => `${o.scope}=${onOff(o.value)}`).join(', ') || '-',
      f.description,
    ]),
    p,
  );
}

export function renderFlagChanges(items: FlagChange[], p: Painter, now: number): string {
  return formatTable(
    [
      { header: 'AT' },
      { header: 'FLAG' },
      { header: 'SCOPE' },
      { header: 'CHANGE' },
      { header: 'BY' },
      { header: 'AGE', align: 'right' as const },
    ],
    items.map((c) => [
      c.at,
      c.name,
      c.scope,
      c.value === null
        ? `unset (was ${onOff(c.previous)})`
        : c.previous === null
          ? `set ${onOff(c.value)}`
          : `${onOff(c.previous)} → ${onOff(c.value)}`,
      c.byName ?? c.by ?? '-',
      formatAge(c.at, now),
    ]),
    p,
  );
}

export function renderLoginSessions(items: LoginSession[], p: Painter, now: number): string {
  const ended = items.some((l) => l.endedAt);
  return formatTable(
    [
      { header: 'ID' },
      { header: 'USER' },
      { header: 'KIND' },
      { header: 'FROM', maxWidth: 30 },
      { header: 'EXPIRES' },
      { header: 'AGE', align: 'right' as const },
      ...(ended ? [{ header: 'ENDED' }] : []),
    ],
    items.map((l) => [
      l.current ? `${l.id} ${p.paint('(current)', 'green')}` : l.id,
      l.userId,
      l.parentId ? `${l.kind} (from ${l.parentId})` : l.kind,
      l.clientAddress ?? '-',
      l.expiresAt,
      formatAge(l.createdAt, now),
      ...(ended ? [l.endedAt ? `${l.endedAt} (${l.endReason ?? 'ended'})` : '-'] : []),
    ]),
    p,
  );
}

export function renderLogoutUris(items: LogoutUri[], p: Painter): string {
  return formatTable(
    [
      { header: 'ID' },
      { header: 'URI', maxWidth: 80 },
      { header: 'NEXT PARAM' },
      { header: 'DESCRIPTION', maxWidth: 50 },
    ],
    items.map((u) => [u.id, u.uri, u.nextParam ?? '- (background)', u.description || '-']),
    p,
  );
}

/**
 * What a sign-out ended (under `title`, before the `removed` line), then where a browser should go
 * to drop the app cookies it set under the ended sign-ins.
 */
export function renderLogout(r: LogoutResult, p: Painter, title: string, removed: string): string {
  let out = `${title}\n`;
  out +=
    r.ended.length === 0
      ? 'No login session was ended.\n'
      : `Ended ${r.ended.length === 1 ? 'login session' : `${r.ended.length} login sessions`}: ${r.ended.join(', ')}\n`;
  out += `${removed}\n`;
  if (r.logoutUris.length > 0) {
    out +=
      '\nApp cookies set in a browser under this sign-in are refused already; to delete them too, open in that browser:\n\n' +
      `  ${p.paint(r.chainUrl, 'bold')}\n\n` +
      'It visits, in order:\n' +
      r.logoutUris
        .map((s) => `  ${s.uri}${s.source === 'external' ? ' (added by an admin)' : ''}\n`)
        .join('');
  }
  return out;
}
