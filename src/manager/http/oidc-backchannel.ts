/**
 * `POST /v1/auth/oidc/backchannel-logout`: the identity provider's back-channel logout
 * (OpenID Connect Back-Channel Logout 1.0). Public (the signed logout token is the credential);
 * the body is `application/x-www-form-urlencoded` with `logout_token`. Answers are the spec's, not
 * the API's envelope: 200 once the login sessions it names are ended, else 400 with
 * `{error, error_description}`; never cached.
 */
import { AppProxyError } from '../../contracts/errors.ts';
import { InvalidLogoutToken, OIDC_BACKCHANNEL_PATH, type OidcService } from '../services/oidc.ts';
import type { RoutePlugin } from './context.ts';

export interface OidcBackchannelRoutesOptions {
  /** null: not configured (404 `AP_ERR_OIDC_NOT_CONFIGURED`). */
  oidc: Pick<OidcService, 'backchannelLogout'> | null;
}

export const oidcBackchannelRoutes: RoutePlugin<OidcBackchannelRoutesOptions> = async (app, d) => {
  // Logout tokens are small JWTs; the form is bounded well below the API's JSON limit.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.post(
    OIDC_BACKCHANNEL_PATH,
    {
      schema: {
        summary: "The identity provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0).",
        description:
          'Form body `logout_token`. Ends the login sessions of the subject or provider session it names (every worker refuses their cookies); 200, or 400 `{error, error_description}`.',
        tags: ['auth'],
        security: [],
      },
    },
    async (req, reply) => {
      if (!d.oidc) throw new AppProxyError('AP_ERR_OIDC_NOT_CONFIGURED');
      void reply.header('cache-control', 'no-store');
      const body = req.body;
      const token =
        body && typeof body === 'object' ? (body as Record<string, unknown>).logout_token : undefined;
      try {
        if (typeof token !== 'string') throw new InvalidLogoutToken('logout_token is missing');
        await d.oidc.backchannelLogout(token);
        return reply.code(200).send();
      } catch (err) {
        if (err instanceof InvalidLogoutToken) {
          req.log.warn({ reason: err.message }, 'back-channel logout refused');
          return reply.code(400).send({ error: 'invalid_request', error_description: err.message });
        }
        // The spec has one answer for a logout that failed too; the provider may send it again.
        req.log.error({ err }, 'back-channel logout failed');
        return reply.code(400).send({
          error: 'temporarily_unavailable',
          error_description: 'The logout could not be carried out; try again.',
        });
      }
    },
  );
};
