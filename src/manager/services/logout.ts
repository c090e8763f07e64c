/**
 * The logout URI list and the chain a browser walks through it.
 *
 * The list is dynamic: every worker origin the signing-out login session was handed a setup link
 * for, with the logout path its worker registered (from `cookie_grants`; an origin is where its app cookie lives: one per port-mode host —
 * cookies ignore ports — and one per wildcard subdomain; closed circuits are left out, nothing
 * answers there), plus the URIs admins add (`/v1/logout-uris`: the platform's web server, other
 * apps), read at logout time, so changes are live.
 *
 * The chain (`/logout/walk` pages, see `http/pages.ts`) is signed state the browser carries: the
 * list and the position. Each hop is a top-level navigation (the only way a browser lets another
 * origin drop its own cookies without third-party cookie rules getting in the way): a worker's
 * `/_appproxy/logout` gets a `next` that the manager signed (`issueLogoutNext`), which is the only
 * kind of absolute URL it follows; an external URI that takes a continuation parameter gets the
 * next hop in it; one that does not is visited in the background. A hop that does not answer is
 * skipped by the page (it probes before leaving), so one dead URI does not strand the browser.
 */
import { randomUUID } from 'node:crypto';
import { LOGOUT_PATH } from '../../contracts/auth.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import type { SetupTokenIssuer } from '../../core/setup-token.ts';
import type { LogoutRepo, LogoutUriRow } from '../repos/logout.ts';
import { type Principal, requireAdmin } from './auth.ts';

/** One stop of a logout: where, and how it continues. */
export interface LogoutStop {
  uri: string;
  /** Query parameter that takes the continuation; null: visited in the background. */
  nextParam: string | null;
  source: 'worker' | 'external';
}

export interface LogoutUri {
  id: string;
  uri: string;
  nextParam: string | null;
  description: string;
  createdAt: string;
}

function toLogoutUri(r: LogoutUriRow): LogoutUri {
  return {
    id: r.id,
    uri: r.uri,
    nextParam: r.next_param,
    description: r.description,
    createdAt: r.created_at.toISOString(),
  };
}

/** How long a browser has to walk a logout chain. */
const CHAIN_TTL_MS = 10 * 60_000;
const CHAIN_PURPOSE = 'logout-chain';
const PARAM = /^[A-Za-z0-9_.-]{1,64}$/;

export interface LogoutServiceDeps {
  repo: LogoutRepo;
  /** The logout path a worker registered (absent: the default every worker serves). */
  logoutPathOf: (authority: string) => string | undefined;
  issuer: SetupTokenIssuer;
  /** The manager's public base URL (no trailing slash). */
  publicUrl: () => string;
}

export class LogoutService {
  constructor(private readonly d: LogoutServiceDeps) {}

  // ------------------------------------------------------------------ the list

  /** Where a browser must go to drop the cookies of these login sessions (or of every grant of `userId`). */
  async stopsFor(f: { loginSessionIds?: string[]; userId?: string }): Promise<LogoutStop[]> {
    const stops: LogoutStop[] = [];
    const seen = new Set<string>();
    for (const o of await this.d.repo.grantedOrigins(f)) {
      const u = new URL(o.app_url);
      // Port mode: cookies belong to the host whatever the port, so one of its circuits clears them all.
      const key = o.frontend_mode === 'port' ? `${u.protocol}//${u.hostname}` : u.origin;
      if (seen.has(key)) continue;
      seen.add(key);
      const path = this.d.logoutPathOf(o.worker) ?? LOGOUT_PATH;
      stops.push({ uri: `${u.origin}${path}`, nextParam: 'next', source: 'worker' });
    }
    for (const r of await this.d.repo.listUris())
      stops.push({ uri: r.uri, nextParam: r.next_param, source: 'external' });
    return stops;
  }

  // ------------------------------------------------------------------ admins' URIs

  async list(p: Principal): Promise<LogoutUri[]> {
    requireAdmin(p);
    return (await this.d.repo.listUris()).map(toLogoutUri);
  }

  async add(
    p: Principal,
    input: { uri: string; nextParam?: string | null; description?: string },
  ): Promise<LogoutUri> {
    requireAdmin(p);
    let u: URL;
    try {
      u = new URL(input.uri);
    } catch {
      throw invalid('/uri', 'uri must be an absolute http(s) URL.');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw invalid('/uri', 'uri must be an http(s) URL.');
    if (u.username || u.password) throw invalid('/uri', 'uri must not carry credentials.');
    const nextParam = input.nextParam ?? null;
    if (nextParam !== null && !PARAM.test(nextParam))
      throw invalid(
        '/nextParam',
        'nextParam must be a query parameter name (letters, digits, "_", ".", "-").',
      );
    const existing = (await this.d.repo.listUris()).find((r) => r.uri === u.href);
    if (existing)
      throw new AppProxyError('AP_ERR_CONFLICT', 'This logout URI is listed already.', { id: existing.id });
    const row = await this.d.repo.addUri({
      id: randomUUID(),
      uri: u.href,
      nextParam,
      description: input.description ?? '',
      createdBy: p.userId,
    });
    return toLogoutUri(row);
  }

  async remove(p: Principal, id: string): Promise<LogoutUri> {
    requireAdmin(p);
    const row = await this.d.repo.deleteUri(id);
    if (!row) throw new AppProxyError('AP_ERR_LOGOUT_URI_NOT_FOUND');
    return toLogoutUri(row);
  }

  // ------------------------------------------------------------------ the chain

  /** The URL of the first page of a chain through `stops` (the sign-in page when there are none). */
  async chainUrl(stops: LogoutStop[]): Promise<string> {
    if (stops.length === 0) return this.doneUrl();
    return this.walkUrl(await this.d.issuer.signState(CHAIN_PURPOSE, { stops, i: 0 }, CHAIN_TTL_MS));
  }

  /**
   * One step of a chain: the stop to visit now, how to leave for it, and where to go after it
   * (`after`: the next step's page). Null when the state is not a chain this manager signed.
   */
  async step(
    state: string,
  ): Promise<
    | { stop: LogoutStop; target: string; after: string; index: number; total: number }
    | { done: string }
    | null
  > {
    const v = await this.d.issuer.verifyState(CHAIN_PURPOSE, state);
    if (!v || !Array.isArray(v.stops) || typeof v.i !== 'number') return null;
    const stops = v.stops as LogoutStop[];
    const i = v.i;
    if (i >= stops.length) return { done: this.doneUrl() };
    const stop = stops[i]!;
    const after =
      i + 1 >= stops.length
        ? this.doneUrl()
        : this.walkUrl(await this.d.issuer.signState(CHAIN_PURPOSE, { stops, i: i + 1 }, CHAIN_TTL_MS));
    let target = stop.uri;
    if (stop.nextParam !== null) {
      const next = stop.source === 'worker' ? await this.d.issuer.issueLogoutNext(after) : after;
      const u = new URL(stop.uri);
      u.searchParams.set(stop.nextParam, next);
      target = u.href;
    }
    return { stop, target, after, index: i, total: stops.length };
  }

  private walkUrl(state: string): string {
    return `${this.d.publicUrl()}/logout/walk?state=${encodeURIComponent(state)}`;
  }

  /** Where a finished logout lands: the sign-in page. */
  doneUrl(): string {
    return `${this.d.publicUrl()}/login?signed_out=1`;
  }
}

function invalid(field: string, message: string): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: 'body', message }]);
}
