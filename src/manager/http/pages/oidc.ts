/**
 * Sign-in with an OpenID Connect provider, for browsers: `/login/oidc` leaves for the provider
 * (with the flow's signed state in a cookie), `/login/oidc/callback` comes back from it, signs the
 * user in and goes on to `next` (a same-origin path). Failures are pages like the other pages'
 * (`AP_ERR_OIDC_FAILED`, or `AP_ERR_OIDC_NOT_CONFIGURED` when no provider is configured).
 */
import { AppProxyError } from '../../../contracts/errors.ts';
import { safeNext } from '../../../core/redirect.ts';
import { cookieValue } from '../../services/auth.ts';
import { OIDC_STATE_COOKIE, type OidcService } from '../../services/oidc.ts';
import type { RoutePlugin } from '../context.ts';
import { loginCookie } from './cookies.ts';
import { errorPage, seeOther } from './pages.ts';

export interface OidcPageRoutesOptions {
  /** null: not configured. */
  oidc: Pick<OidcService, 'begin' | 'complete' | 'clearStateCookie'> | null;
  /** The login cookie's name (`AuthService.cookieName`). */
  cookieName: string;
  secureCookies: boolean;
}

export const oidcPageRoutes: RoutePlugin<OidcPageRoutesOptions> = async (app, d) => {
  const hidden = { schema: { hide: true, security: [] } } as const;

  app.get('/login/oidc', hidden, async (req, reply) => {
    try {
      if (!d.oidc) throw new AppProxyError('AP_ERR_OIDC_NOT_CONFIGURED');
      const next = safeNext((req.query as Record<string, string | undefined>).next ?? null) ?? '/';
      const { url, cookie } = await d.oidc.begin(next);
      return seeOther(reply, url, [cookie]);
    } catch (err) {
      return errorPage(reply, err);
    }
  });

  app.get('/login/oidc/callback', hidden, async (req, reply) => {
    try {
      if (!d.oidc) throw new AppProxyError('AP_ERR_OIDC_NOT_CONFIGURED');
      const q = req.url.indexOf('?');
      const { created, next } = await d.oidc.complete(
        q < 0 ? '' : req.url.slice(q + 1),
        cookieValue(req.headers.cookie, OIDC_STATE_COOKIE),
        { clientAddress: req.ip, userAgent: req.headers['user-agent'] ?? null },
      );
      return seeOther(reply, next, [
        d.oidc.clearStateCookie(),
        loginCookie(d.cookieName, created.secret, created.row.expires_at, d.secureCookies),
      ]);
    } catch (err) {
      if (d.oidc) void reply.header('set-cookie', d.oidc.clearStateCookie());
      return errorPage(reply, err);
    }
  });
};
