/**
 * A real OpenID provider on loopback for tests (`oidc-provider`): its built-in login form accepts
 * any login (`devInteractions`), back-channel and RP-initiated logout are on, and accounts carry
 * `preferred_username`, `name`, `email` and `groups` (from `accounts`, changeable between
 * sign-ins). `signLogoutToken` signs with the provider's own key, so tests can send logout tokens
 * that verify but break another rule.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import Provider from 'oidc-provider';

export interface TestAccount {
  preferred_username?: string;
  name?: string;
  email?: string;
  groups?: string[];
}

export interface TestOidcProvider {
  issuer: string;
  /** Claims by login (the account id is what was typed into the login form). */
  accounts: Map<string, TestAccount>;
  /** Back-channel logout calls that failed (the RP did not answer 200). */
  backchannelErrors: unknown[];
  /** Registers the client (once the RP's address is known) and starts answering. */
  register(client: {
    clientId: string;
    clientSecret: string;
    redirectUri: string;
    backchannelLogoutUri: string;
  }): void;
  signLogoutToken(claims: JWTPayload, header?: { typ?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startOidcProvider(): Promise<TestOidcProvider> {
  const server: Server = createServer((_req, res) => {
    res.statusCode = 503;
    res.end('not ready');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const accounts = new Map<string, TestAccount>();
  const backchannelErrors: unknown[] = [];

  return {
    issuer,
    accounts,
    backchannelErrors,
    register(c) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: c.clientId,
            client_secret: c.clientSecret,
            redirect_uris: [c.redirectUri],
            backchannel_logout_uri: c.backchannelLogoutUri,
            backchannel_logout_session_required: true,
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        jwks: { keys: [jwk] },
        cookies: { keys: ['test-cookie-key-0123456789'] },
        claims: {
          openid: ['sub'],
          profile: ['name', 'preferred_username', 'groups'],
          email: ['email'],
        },
        features: {
          devInteractions: { enabled: true },
          backchannelLogout: { enabled: true },
          rpInitiatedLogout: { enabled: true },
        },
        pkce: { required: () => true },
        // Its outgoing requests (the back-channel logout) refuse loopback addresses unless they
        // leave without its SSRF-guarded dispatcher: here, loopback is the point.
        fetch: (url: string, { dispatcher: _d, ...options }: RequestInit & { dispatcher?: unknown }) =>
          fetch(url, options),
        async findAccount(_ctx: unknown, id: string) {
          return {
            accountId: id,
            async claims() {
              const a = accounts.get(id) ?? {};
              return { sub: id, ...a };
            },
          };
        },
      });
      provider.on('backchannel.error', (...args: unknown[]) => backchannelErrors.push(args[1]));
      server.removeAllListeners('request');
      server.on('request', provider.callback());
    },
    async signLogoutToken(claims, header = { typ: 'logout+jwt' }) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid!, ...header })
        .sign(await importJWK(jwk, 'RS256'));
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}
