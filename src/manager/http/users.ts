/**
 * /v1/users, /v1/tokens and /v1/login-sessions: identity management. Thin handlers; who may do
 * what is decided in the services (admins: everyone; users: themselves; a platform token with the
 * `login-sessions` scope: the login sessions it creates).
 */
import {
  CreateLoginSessionBody,
  CreateTokenBody,
  CreateUserBody,
  EndLoginSessionQuery,
  LoginSessionListQuery,
  LoginSessionListSchema,
  LoginSessionSchema,
  NewTokenSchema,
  PasswordBody,
  PatchUserBody,
  SignedInSchema,
  TokenListSchema,
  TokenSchema,
  UserFilterQuery,
  UserListSchema,
  UserSchema,
} from '../auth-schemas.ts';
import { IdParams } from '../schemas.ts';
import type { Identity } from '../services/identity.ts';
import { type LoginSessions, toLoginSession } from '../services/login-sessions.ts';
import { durationMs, idRoutes, principal, type RoutePlugin, replies } from './context.ts';

export interface UserRoutesOptions {
  identity: Identity;
  logins: LoginSessions;
}

export const userRoutes: RoutePlugin<UserRoutesOptions> = async (app, d) => {
  // ------------------------------------------------------------------ users
  const users = ['users'];
  app.get(
    '/v1/users',
    { schema: { summary: 'Users. Admins only.', tags: users, response: replies({ 200: UserListSchema }) } },
    async (req) => ({ items: await d.identity.list(principal(req)) }),
  );
  app.post(
    '/v1/users',
    {
      schema: {
        summary:
          'Create a user (with a password, or none: then they sign in through the identity provider). Admins only.',
        tags: users,
        body: CreateUserBody,
        response: replies({ 201: UserSchema }),
      },
    },
    async (req, reply) => {
      void reply.code(201);
      return d.identity.create(principal(req), req.body);
    },
  );
  const userById = idRoutes(app, users);
  userById(
    'GET',
    '/v1/users/:id',
    { summary: 'One user (`me`: the caller). Users see only themselves.' },
    UserSchema,
    (p, id) => d.identity.get(p, id),
  );
  userById(
    'DELETE',
    '/v1/users/:id',
    {
      summary:
        'Delete a user: their sign-ins end, their tokens are revoked, every worker refuses their cookies and cuts their live connections, and their sessions are terminated. Admins only.',
    },
    UserSchema,
    (p, id) => d.identity.delete(p, id),
  );
  app.patch(
    '/v1/users/:id',
    {
      schema: {
        summary: 'Change a user: display name (the user or an admin); role and disabled (admins).',
        tags: users,
        params: IdParams,
        body: PatchUserBody,
        response: replies({ 200: UserSchema }),
      },
    },
    async (req) => d.identity.update(principal(req), req.params.id, req.body),
  );
  app.put(
    '/v1/users/:id/password',
    {
      schema: {
        summary:
          "Set a password (the user, with the current one; or an admin). The user's other sign-ins end.",
        tags: users,
        params: IdParams,
        body: PasswordBody,
        response: replies({ 204: { type: 'null', description: 'Changed.' } }),
      },
    },
    async (req, reply) => {
      await d.identity.setPassword(principal(req), req.params.id, req.body);
      return reply.code(204).send();
    },
  );

  // ------------------------------------------------------------------ API tokens
  const tokens = ['tokens'];
  app.get(
    '/v1/tokens',
    {
      schema: {
        summary:
          "API tokens (the caller's; admins: everyone's, or one user's with `user`). Secrets are never shown again.",
        tags: tokens,
        querystring: UserFilterQuery,
        response: replies({ 200: TokenListSchema }),
      },
    },
    async (req) => ({ items: await d.identity.listTokens(principal(req), req.query) }),
  );
  app.post(
    '/v1/tokens',
    {
      schema: {
        summary: 'Create an API token; its secret is in this answer only.',
        tags: tokens,
        body: CreateTokenBody,
        response: replies({ 201: NewTokenSchema }),
      },
    },
    async (req, reply) => {
      const { expiresIn, ...rest } = req.body;
      const expiresInMs = durationMs(expiresIn, '/expiresIn');
      void reply.code(201);
      return d.identity.createToken(principal(req), { ...rest, ...(expiresInMs ? { expiresInMs } : {}) });
    },
  );
  idRoutes(app, tokens)(
    'DELETE',
    '/v1/tokens/:id',
    {
      summary:
        'Revoke an API token: refused at once, and every worker refuses the cookies, tunnels and raw TCP access minted under it.',
    },
    TokenSchema,
    (p, id) => d.identity.revokeToken(p, id),
  );

  // ------------------------------------------------------------------ login sessions
  const sessions = ['login sessions'];
  app.get(
    '/v1/login-sessions',
    {
      schema: {
        summary: "Login sessions (the caller's; admins: everyone's, or one user's).",
        tags: sessions,
        querystring: LoginSessionListQuery,
        response: replies({ 200: LoginSessionListSchema }),
      },
    },
    async (req) => {
      const p = principal(req);
      const user = req.query.user === undefined ? undefined : await d.identity.idOf(p, req.query.user);
      return { items: await d.logins.list(p, { ...req.query, ...(user ? { user } : {}) }) };
    },
  );
  app.post(
    '/v1/login-sessions',
    {
      schema: {
        summary:
          "Sign a user in on the platform's behalf (a token with the `login-sessions` scope, or an admin): answers the login session and its bearer secret.",
        description:
          'For a platform web server whose own login should drive AppProxy: it calls the API as the user with this secret, and ends the login session (DELETE) when its user signs out there.',
        tags: sessions,
        body: CreateLoginSessionBody,
        response: replies({ 201: SignedInSchema }),
      },
    },
    async (req, reply) => {
      const ttlMs = durationMs(req.body.ttl, '/ttl');
      const { row, secret } = await d.logins.createForPlatform(principal(req), req.body.user, {
        clientAddress: req.body.clientAddress ?? null,
        userAgent: req.body.userAgent ?? null,
        ...(ttlMs ? { ttlMs } : {}),
      });
      void reply.code(201);
      return { loginSession: toLoginSession(row), token: secret };
    },
  );
  idRoutes(app, sessions)(
    'GET',
    '/v1/login-sessions/:id',
    { summary: "One login session (`current`: the caller's own)." },
    LoginSessionSchema,
    (p, id) => d.logins.get(p, id),
  );
  app.delete(
    '/v1/login-sessions/:id',
    {
      schema: {
        summary:
          'End a login session (and the CLI sign-ins approved from it): every worker refuses its cookies and closes its live connections.',
        tags: sessions,
        params: IdParams,
        querystring: EndLoginSessionQuery,
        response: replies({ 200: LoginSessionListSchema }),
      },
    },
    async (req) => ({
      items: await d.logins.end(principal(req), req.params.id, req.query.reason ?? 'ended'),
    }),
  );
};
