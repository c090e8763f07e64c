/**
 * /v1/auth: sign-in (password; a CLI approved from a browser), sign-out with the logout URI list,
 * and who the caller is. Thin handlers; the services decide.
 */
import {
  CliLoginBody,
  CliLoginPollBody,
  CliLoginPollSchema,
  CliLoginStartSchema,
  LoginBody,
  LogoutBody,
  LogoutResultSchema,
  SignedInSchema,
  WhoamiSchema,
} from '../auth-schemas.ts';
import type { AuthService } from '../services/auth.ts';
import type { CliLogins } from '../services/cli-login.ts';
import type { Identity } from '../services/identity.ts';
import { type LoginSessions, toLoginSession } from '../services/login-sessions.ts';
import type { LogoutService } from '../services/logout.ts';
import { principal, type RoutePlugin, replies } from './context.ts';
import { clearLoginCookie } from './pages/cookies.ts';

const tags = ['auth'];

export interface AuthRoutesOptions {
  auth: AuthService;
  logins: LoginSessions;
  identity: Pick<Identity, 'get'>;
  logout: LogoutService;
  cliLogins: CliLogins;
  /** The manager's public base URL. */
  publicUrl: () => string;
  secureCookies: boolean;
}

export const authRoutes: RoutePlugin<AuthRoutesOptions> = async (app, d) => {
  app.post(
    '/v1/auth/login',
    {
      schema: {
        summary:
          'Sign in with a name and password; answers a login session and its bearer secret (for programs and the CLI).',
        description:
          'Wrong name, wrong password and disabled user all answer AP_ERR_LOGIN_FAILED. Attempts are limited per name and per client address (AP_ERR_RATE_LIMITED with Retry-After).',
        tags,
        security: [],
        body: LoginBody,
        response: replies({ 200: SignedInSchema }),
      },
    },
    async (req, reply) => {
      try {
        const { row, secret } = await d.logins.passwordLogin({
          name: req.body.name,
          password: req.body.password,
          kind: 'cli',
          clientAddress: req.ip,
          userAgent: req.headers['user-agent'] ?? null,
        });
        return { loginSession: toLoginSession(row, row.id), token: secret };
      } catch (err) {
        const retry = (err as { detail?: { retryAfterSeconds?: number } }).detail?.retryAfterSeconds;
        if (retry) void reply.header('retry-after', String(retry));
        throw err;
      }
    },
  );

  app.post(
    '/v1/auth/logout',
    {
      schema: {
        summary:
          "Sign out: ends the caller's login session (or every one of theirs), then lists where a browser must go to drop its app cookies.",
        description:
          "Revocation comes first: every worker refuses the ended login sessions' app cookies and closes their live connections. " +
          '`chainUrl` walks `logoutUris` as a top-level redirect chain and ends on the sign-in page.',
        tags,
        body: LogoutBody,
        response: replies({ 200: LogoutResultSchema }),
      },
    },
    async (req, reply) => {
      const p = principal(req);
      const ended = req.body?.everywhere
        ? await d.logins.endAllOf(p.userId, 'logout', p.userId)
        : p.loginSessionId
          ? await d.logins.endIds([p.loginSessionId], 'logout', p.userId)
          : [];
      const ids = ended.map((r) => r.id);
      const stops = await d.logout.stopsFor(ids.length > 0 ? { loginSessionIds: ids } : { userId: p.userId });
      if (p.via === 'cookie')
        void reply.header('set-cookie', clearLoginCookie(d.auth.cookieName, d.secureCookies));
      return { ended: ids, logoutUris: stops, chainUrl: await d.logout.chainUrl(stops) };
    },
  );

  app.get(
    '/v1/auth/whoami',
    {
      schema: {
        summary: 'The caller: user, credential, and (cookie callers) the anti-forgery token.',
        tags,
        response: replies({ 200: WhoamiSchema }),
      },
    },
    async (req) => {
      const p = principal(req);
      const loginSession = p.loginSessionId ? await d.logins.get(p, p.loginSessionId) : null;
      return {
        user: await d.identity.get(p, 'me'),
        via: p.via ?? 'token',
        loginSession,
        tokenId: p.tokenId ?? null,
        scopes: [...(p.scopes ?? [])],
        csrfToken: p.via === 'cookie' ? (p.csrfToken ?? null) : null,
      };
    },
  );

  app.post(
    '/v1/auth/cli-login',
    {
      schema: {
        summary:
          'Start signing a CLI in from a browser: answers a code to approve at `verificationUri` and a device code to poll with.',
        tags,
        security: [],
        body: CliLoginBody,
        response: replies({ 200: CliLoginStartSchema }),
      },
    },
    async (req) => {
      const r = await d.cliLogins.start({
        publicKey: req.body.publicKey,
        clientAddress: req.ip,
        userAgent: req.headers['user-agent'] ?? null,
      });
      const verificationUri = `${d.publicUrl()}/cli-login`;
      return {
        ...r,
        verificationUri,
        verificationUriComplete: `${verificationUri}?code=${encodeURIComponent(r.userCode)}`,
      };
    },
  );

  app.post(
    '/v1/auth/cli-login/poll',
    {
      schema: {
        summary:
          "A CLI's poll: `pending` until the browser approved, then its login session's secret, sealed to the CLI's key (once).",
        tags,
        security: [],
        body: CliLoginPollBody,
        response: replies({ 200: CliLoginPollSchema }),
      },
    },
    async (req) => d.cliLogins.poll(req.body.deviceCode),
  );
};
