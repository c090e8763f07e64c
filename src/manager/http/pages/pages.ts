/**
 * The manager's own pages, server-rendered and usable without JavaScript: sign-in, the signed-in
 * page (your sessions and their apps, your sign-ins), sign-out with its logout chain, and the
 * approval of a CLI sign-in. Every state change is a POST carrying the login session's
 * anti-forgery token (`_csrf`; the sign-in form checks a short-lived cookie instead, since no login
 * session exists yet). Redirect targets (`next`) are same-origin paths only. The web console will
 * build on these routes.
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AgentDriver } from '../../../contracts/agent.ts';
import { AppProxyError } from '../../../contracts/errors.ts';
import type { Session } from '../../../contracts/records.ts';
import { safeNext } from '../../../core/redirect.ts';
import { type AuthService, cookieValue, type Principal } from '../../services/auth.ts';
import type { CircuitService } from '../../services/circuits.ts';
import type { CliLogins } from '../../services/cli-login.ts';
import type { Identity } from '../../services/identity.ts';
import type { LoginSessions } from '../../services/login-sessions.ts';
import type { LogoutService } from '../../services/logout.ts';
import type { SessionService } from '../../services/sessions.ts';
import { type ConsoleFiles, sendConsoleIndex } from '../console.ts';
import type { RoutePlugin } from '../context.ts';
import { clearLoginCookie, LOGIN_CSRF_COOKIE, loginCookie, loginCsrfCookie } from './cookies.ts';
import { csrfField, esc, html, newNonce, page, postButton, Raw } from './html.ts';

export interface PageRoutesOptions {
  auth: AuthService;
  logins: LoginSessions;
  identity: Pick<Identity, 'get'>;
  logout: LogoutService;
  cliLogins: CliLogins;
  sessions: Pick<SessionService, 'list' | 'create'>;
  circuits: Pick<CircuitService, 'startService'>;
  agent: Pick<AgentDriver, 'templates'>;
  secureCookies: boolean;
  /** Sign-in with an identity provider, when configured: the button's label. */
  oidcLabel: string | null;
  /** The built web console: `/` serves it to a signed-in browser (`/?plain=1`: the page below). */
  console?: ConsoleFiles | null;
}

type Form = Record<string, string>;

/** The signed-in page without the console (where its own forms return). */
const PLAIN_HOME = '/?plain=1';

const HEADERS = {
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function send(reply: FastifyReply, status: number, body: string, script?: string): FastifyReply {
  const csp = script
    ? `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${script}'; connect-src http: https:; frame-src http: https:; frame-ancestors 'none'; base-uri 'none'`
    : "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";
  return reply
    .code(status)
    .headers({ ...HEADERS, 'content-security-policy': csp, 'content-type': 'text/html; charset=utf-8' })
    .send(body);
}

export function seeOther(reply: FastifyReply, location: string, cookies: string[] = []): FastifyReply {
  if (cookies.length > 0) void reply.header('set-cookie', cookies);
  return reply
    .code(303)
    .headers({ ...HEADERS, location })
    .send();
}

export function errorPage(reply: FastifyReply, err: unknown): FastifyReply {
  const e = err instanceof AppProxyError ? err : new AppProxyError('AP_ERR_INTERNAL');
  if (!(err instanceof AppProxyError)) reply.log.error({ err }, 'page failed');
  return send(
    reply,
    e.status,
    page({
      title: 'Something went wrong',
      body: html`<h1>Something went wrong</h1><p class="error">${e.message}</p><p class="muted"><code>${e.code}</code></p><p><a href="/">Back</a></p>`,
    }),
  );
}

export const pageRoutes: RoutePlugin<PageRoutesOptions> = async (app, d) => {
  // Forms post application/x-www-form-urlencoded; bounded like every body.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const hidden = { schema: { hide: true, security: [] } } as const;

  /** The browser's login session, or null. */
  const who = async (req: FastifyRequest): Promise<Principal | null> => {
    const v = cookieValue(req.headers.cookie, d.auth.cookieName);
    return v === undefined ? null : d.auth.loginCookie(v);
  };

  /** A signed-in POST: the principal when the form's token matches its login session. */
  const signedInPost = async (req: FastifyRequest): Promise<Principal> => {
    const p = await who(req);
    if (!p) throw new AppProxyError('AP_ERR_LOGIN_SESSION_ENDED');
    const form = (req.body ?? {}) as Form;
    if (!sameToken(form._csrf, p.csrfToken)) throw new AppProxyError('AP_ERR_CSRF');
    return p;
  };

  const toLogin = (reply: FastifyReply, next: string) =>
    seeOther(reply, `/login?next=${encodeURIComponent(next)}`);

  // ------------------------------------------------------------------ sign-in
  const loginPage = (
    reply: FastifyReply,
    o: { next: string; error?: string; info?: string; name?: string },
  ) => {
    const token = randomBytes(18).toString('base64url');
    void reply.header('set-cookie', loginCsrfCookie(token, d.secureCookies));
    const oidc = d.oidcLabel
      ? html`<p><a href="/login/oidc?next=${encodeURIComponent(o.next)}">${d.oidcLabel}</a></p><p class="muted">or with a name and password:</p>`
      : html``;
    return send(
      reply,
      o.error ? 401 : 200,
      page({
        title: 'Sign in',
        body: html`<h1>Sign in to AppProxy</h1>
${o.info ? html`<p role="status">${o.info}</p>` : html``}${o.error ? html`<p class="error" role="alert">${o.error}</p>` : html``}
${oidc}<form method="post" action="/login">${csrfField(token)}<input type="hidden" name="next" value="${o.next}">
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required value="${o.name ?? ''}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button class="primary">Sign in</button></p></form>`,
      }),
    );
  };

  app.get('/login', hidden, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const next = safeNext(q.next ?? null) ?? '/';
    if (await who(req)) return seeOther(reply, next);
    const info = q.signed_out
      ? 'You are signed out.'
      : q.ended
        ? 'Your sign-in has ended; sign in again.'
        : undefined;
    return loginPage(reply, { next, ...(info ? { info } : {}) });
  });

  app.post('/login', hidden, async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    const next = safeNext(form.next ?? null) ?? '/';
    if (!sameToken(form._csrf, cookieValue(req.headers.cookie, LOGIN_CSRF_COOKIE)))
      return loginPage(reply, { next, error: 'The sign-in form expired; please try again.' });
    try {
      const { row, secret } = await d.logins.passwordLogin({
        name: form.name ?? '',
        password: form.password ?? '',
        clientAddress: req.ip,
        userAgent: req.headers['user-agent'] ?? null,
      });
      return seeOther(reply, next, [
        loginCookie(d.auth.cookieName, secret, row.expires_at, d.secureCookies),
        clearLoginCookie(LOGIN_CSRF_COOKIE, d.secureCookies),
      ]);
    } catch (err) {
      if (!(err instanceof AppProxyError)) throw err;
      if (err.code === 'AP_ERR_RATE_LIMITED')
        void reply.header(
          'retry-after',
          String((err.detail as { retryAfterSeconds: number }).retryAfterSeconds),
        );
      return loginPage(reply, { next, error: err.message, name: form.name ?? '' }).code(err.status);
    }
  });

  // ------------------------------------------------------------------ signed in
  app.get('/', hidden, async (req, reply) => {
    const p = await who(req);
    if (!p) return toLogin(reply, '/');
    if (d.console && (req.query as { plain?: string }).plain === undefined)
      return sendConsoleIndex(reply, d.console);
    try {
      const [user, sessions, logins] = await Promise.all([
        d.identity.get(p, 'me'),
        d.sessions.list(p, {}),
        d.logins.list(p, { user: 'me', live: true }),
      ]);
      const templates = d.agent.templates().filter((t) => t.available);
      const csrf = p.csrfToken!;
      const live = sessions.filter((s) => s.state !== 'TERMINATED' && s.state !== 'ERROR');
      return send(
        reply,
        200,
        page({
          title: 'AppProxy',
          body: html`<h1>AppProxy</h1>
<p>Signed in as <strong>${user.displayName ?? user.name}</strong> <span class="muted">(${user.name}, ${user.role})</span>
${postButton('/logout', 'Sign out', csrf)}</p>
<h2>Your sessions</h2>${live.length === 0 ? html`<p class="muted">No session yet: start one below.</p>` : sessionTable(live, csrf)}
<h2>Start a session</h2>
<form method="post" action="/sessions">${csrfField(csrf)}<label for="template">Template</label>
<select id="template" name="template">${templates.map((t) => html`<option value="${t.name}">${t.name}</option>`)}</select>
<label for="sname">Name (optional)</label><input id="sname" name="name" maxlength="63">
<p><button class="primary">Start</button></p></form>
<h2>Your sign-ins</h2><table><thead><tr><th>Kind</th><th>Started</th><th>From</th><th></th></tr></thead><tbody>
${logins.map(
  (l) =>
    html`<tr><td>${l.kind}${l.current ? ' (this browser)' : ''}</td><td>${l.createdAt}</td><td>${l.clientAddress ?? ''}</td><td>${
      l.current ? html`` : postButton(`/login-sessions/${encodeURIComponent(l.id)}/end`, 'End', csrf)
    }</td></tr>`,
)}</tbody></table>`,
        }),
      );
    } catch (err) {
      return errorPage(reply, err);
    }
  });

  app.post('/sessions', hidden, async (req, reply) => {
    try {
      const p = await signedInPost(req);
      const form = req.body as Form;
      await d.sessions.create(p, {
        template: form.template ?? '',
        ...(form.name ? { name: form.name } : {}),
      });
      return seeOther(reply, PLAIN_HOME);
    } catch (err) {
      return errorPage(reply, err);
    }
  });

  // Opens an app: start-service under this browser's login session, then its setup link.
  app.post('/apps/open', hidden, async (req, reply) => {
    try {
      const p = await signedInPost(req);
      const form = req.body as Form;
      const frontend = form.frontend === 'port' || form.frontend === 'wildcard' ? form.frontend : undefined;
      const r = await d.circuits.startService(p, form.session ?? '', {
        service: form.service ?? '',
        ...(frontend ? { frontend } : {}),
      });
      if (!r.setupUrl)
        throw new AppProxyError('AP_ERR_VALIDATION', 'This service is not a web app; use a tunnel.');
      return seeOther(reply, r.setupUrl);
    } catch (err) {
      return errorPage(reply, err);
    }
  });

  app.post('/login-sessions/:id/end', hidden, async (req, reply) => {
    try {
      const p = await signedInPost(req);
      await d.logins.end(p, (req.params as { id: string }).id, 'ended');
      return seeOther(reply, PLAIN_HOME);
    } catch (err) {
      return errorPage(reply, err);
    }
  });

  // ------------------------------------------------------------------ sign-out
  app.get('/logout', hidden, async (req, reply) => {
    const p = await who(req);
    if (!p) return seeOther(reply, '/login?signed_out=1');
    return send(
      reply,
      200,
      page({
        title: 'Sign out',
        body: html`<h1>Sign out</h1><form method="post" action="/logout">${csrfField(p.csrfToken!)}
<p><label><input type="checkbox" name="everywhere" value="1"> Sign out everywhere (every browser and CLI of yours)</label></p>
<p><button class="primary">Sign out</button></p></form>`,
      }),
    );
  });

  app.post('/logout', hidden, async (req, reply) => {
    try {
      const p = await signedInPost(req);
      const form = req.body as Form;
      // Revocation first: every worker refuses these sign-ins' cookies before the browser walks.
      const ended = form.everywhere
        ? await d.logins.endAllOf(p.userId, 'logout', p.userId)
        : await d.logins.endIds([p.loginSessionId!], 'logout', p.userId);
      const ids = ended.map((r) => r.id);
      const stops = await d.logout.stopsFor(ids.length > 0 ? { loginSessionIds: ids } : { userId: p.userId });
      return seeOther(reply, await d.logout.chainUrl(stops), [
        clearLoginCookie(d.auth.cookieName, d.secureCookies),
      ]);
    } catch (err) {
      if (err instanceof AppProxyError && err.code === 'AP_ERR_LOGIN_SESSION_ENDED')
        return seeOther(reply, '/login?signed_out=1', [clearLoginCookie(d.auth.cookieName, d.secureCookies)]);
      return errorPage(reply, err);
    }
  });

  // One stop of the chain: leaves for it at once (after checking it answers), or skips it.
  app.get('/logout/walk', hidden, async (req, reply) => {
    const state = (req.query as Record<string, string | undefined>).state ?? '';
    const step = await d.logout.step(state);
    if (!step) return seeOther(reply, '/login?signed_out=1');
    if ('done' in step) return seeOther(reply, step.done);
    const nonce = newNonce();
    const background = step.stop.nextParam === null;
    const go = background ? step.after : step.target;
    const script = `(function(){var t=${JSON.stringify(step.target)},a=${JSON.stringify(step.after)},bg=${background};
function leave(u){location.replace(u)}
if(bg){var f=document.createElement('iframe');f.hidden=true;f.src=t;var done=false;function next(){if(!done){done=true;leave(a)}}f.onload=next;setTimeout(next,3000);document.body.appendChild(f);return}
var c=new AbortController();var timer=setTimeout(function(){c.abort()},3000);
fetch(t,{mode:'no-cors',credentials:'omit',signal:c.signal}).then(function(){clearTimeout(timer);leave(t)},function(){clearTimeout(timer);leave(a)});})();`;
    return send(
      reply,
      200,
      page({
        title: 'Signing out',
        head: html`<noscript><meta http-equiv="refresh" content="0;url=${go}"></noscript>`,
        nonce,
        body: html`<h1>Signing out…</h1><p role="status">Step ${step.index + 1} of ${step.total}: ${new URL(step.stop.uri).host}</p>
<p class="muted">If nothing happens, <a href="${go}">continue</a> or <a href="${step.after}">skip this step</a>.</p>
<script nonce="${nonce}">${new Raw(script)}</script>`,
      }),
      nonce,
    );
  });

  // ------------------------------------------------------------------ CLI sign-in approval
  app.get('/cli-login', hidden, async (req, reply) => {
    const code = String((req.query as Record<string, string | undefined>).code ?? '');
    const p = await who(req);
    if (!p) return toLogin(reply, `/cli-login?code=${encodeURIComponent(code)}`);
    if (code === '')
      return send(
        reply,
        200,
        page({
          title: 'Sign in a CLI',
          body: html`<h1>Sign in a command line</h1><form method="get" action="/cli-login">
<label for="code">The code your terminal shows</label><input id="code" name="code" autocomplete="off" required placeholder="ABCD-EFGH">
<p><button class="primary">Continue</button></p></form>`,
        }),
      );
    const pending = await d.cliLogins.pending(code);
    return send(
      reply,
      pending ? 200 : 404,
      page({
        title: 'Sign in a CLI',
        body: pending
          ? html`<h1>Sign in a command line?</h1><p>A CLI asks to act as you with the code <strong><code>${code}</code></strong>.
Check it matches what your terminal shows.</p><p class="muted">Requested from ${pending.clientAddress ?? 'an unknown address'} (${pending.userAgent ?? 'unknown client'}).
Signing out in this browser signs it out too.</p>
<form method="post" action="/cli-login">${csrfField(p.csrfToken!)}<input type="hidden" name="code" value="${code}"><button class="primary">Approve</button></form>`
          : html`<h1>No such request</h1><p>No CLI sign-in waits for this code; it may have expired. Run <code>appproxy login</code> again.</p>`,
      }),
    );
  });

  app.post('/cli-login', hidden, async (req, reply) => {
    try {
      const p = await signedInPost(req);
      await d.cliLogins.approve(p, (req.body as Form).code ?? '');
      return send(
        reply,
        200,
        page({
          title: 'CLI signed in',
          body: html`<h1>Done</h1><p>Your command line is signed in; you can close this tab.</p>`,
        }),
      );
    } catch (err) {
      return errorPage(reply, err);
    }
  });
};

function sessionTable(sessions: Session[], csrf: string): Raw {
  return html`<table><thead><tr><th>Session</th><th>State</th><th>Apps</th></tr></thead><tbody>${sessions.map(
    (s) =>
      html`<tr><td>${s.name} <span class="muted">${s.template}</span></td><td>${s.state}</td><td>${
        s.state !== 'RUNNING'
          ? html`<span class="muted">—</span>`
          : s.services.map((svc) =>
              svc.protocol === 'http'
                ? html`<div>${svc.name}: ${postButton('/apps/open', 'Open', csrf, { session: s.id, service: svc.name, frontend: 'port' }, true)} ${postButton('/apps/open', 'Open (subdomain)', csrf, { session: s.id, service: svc.name, frontend: 'wildcard' })}</div>`
                : html`<div>${svc.name} (tcp): <code>appproxy tunnel ${s.name} ${svc.name}</code></div>`,
            )
      }</td></tr>`,
  )}</tbody></table>`;
}

void esc;
