/**
 * TypeBox schemas of the identity part of the API: sign-in and sign-out, users, API tokens, login
 * sessions and logout URIs. Like `schemas.ts`: every object closed, one source for validation and
 * `/openapi.json`, compile-time checks against the service types at the end.
 */
import { type Static, Type } from 'typebox';
import { Nullable } from './schemas.ts';
import type { ApiToken, User } from './services/identity.ts';
import type { LoginSession } from './services/login-sessions.ts';
import type { LogoutStop, LogoutUri } from './services/logout.ts';

const closed = { additionalProperties: false } as const;
const DateTime = Type.String({ format: 'date-time' });
const Text = (maxLength: number, description?: string) =>
  Type.String({ maxLength, pattern: '^[^\\p{Cc}\\p{Cs}]*$', ...(description ? { description } : {}) });
const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('user')]);
const Duration = (description: string) =>
  Type.Union([Type.String({ maxLength: 32 }), Type.Integer({ minimum: 1000 })], {
    description: `${description} (e.g. "30d", "12h", or milliseconds)`,
  });

export const UserSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    displayName: Nullable(Type.String()),
    role: RoleSchema,
    disabled: Type.Boolean(),
    hasPassword: Type.Boolean(),
    identityProvider: Nullable(
      Type.String({ description: 'Issuer of the identity provider the user signs in with.' }),
    ),
    createdAt: DateTime,
  },
  closed,
);
export const UserListSchema = Type.Object({ items: Type.Array(UserSchema) }, closed);

export const CreateUserBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 63,
      description: 'Sign-in name: lowercase letters, digits, ".", "_", "-".',
    }),
    displayName: Type.Optional(Nullable(Text(200))),
    role: Type.Optional(RoleSchema),
    password: Type.Optional(Type.String({ maxLength: 1024, description: 'At least 8 characters.' })),
  },
  closed,
);
export const PatchUserBody = Type.Object(
  {
    displayName: Type.Optional(Nullable(Text(200))),
    role: Type.Optional(RoleSchema),
    disabled: Type.Optional(
      Type.Boolean({
        description: 'Disabling signs the user out everywhere and cuts their live connections.',
      }),
    ),
  },
  closed,
);
export const PasswordBody = Type.Object(
  {
    password: Type.String({ maxLength: 1024 }),
    currentPassword: Type.Optional(
      Type.String({ maxLength: 1024, description: 'Needed when you change your own.' }),
    ),
  },
  closed,
);

export const TokenSchema = Type.Object(
  {
    id: Type.String(),
    userId: Type.String(),
    name: Type.String(),
    scopes: Type.Array(Type.String()),
    createdAt: DateTime,
    expiresAt: Nullable(DateTime),
    revokedAt: Nullable(DateTime),
    lastUsedAt: Nullable(DateTime),
    state: Type.Union([Type.Literal('live'), Type.Literal('expired'), Type.Literal('revoked')]),
  },
  closed,
);
export const TokenListSchema = Type.Object({ items: Type.Array(TokenSchema) }, closed);
export const NewTokenSchema = Type.Object(
  { ...TokenSchema.properties, token: Type.String({ description: 'The secret: shown this once.' }) },
  closed,
);
export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresIn: Type.Optional(Nullable(Duration('Lifetime; null or absent = until revoked'))),
    scopes: Type.Optional(
      Type.Array(Type.String({ maxLength: 64 }), {
        maxItems: 8,
        description:
          '`login-sessions`: may create and end login sessions for users (a platform web server). Admins only.',
      }),
    ),
    user: Type.Optional(
      Type.String({ maxLength: 128, description: 'Admins: the user (id or name) the token acts as.' }),
    ),
  },
  closed,
);
export const UserFilterQuery = Type.Object(
  { user: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' })) },
  closed,
);

export const LoginSessionKindSchema = Type.Union([
  Type.Literal('password'),
  Type.Literal('oidc'),
  Type.Literal('platform'),
  Type.Literal('cli'),
]);
export const LoginSessionSchema = Type.Object(
  {
    id: Type.String(),
    userId: Type.String(),
    kind: LoginSessionKindSchema,
    parentId: Nullable(
      Type.String({
        description: 'CLI sign-ins: the browser sign-in that approved it (ending it ends this one).',
      }),
    ),
    clientAddress: Nullable(Type.String()),
    userAgent: Nullable(Type.String()),
    createdAt: DateTime,
    expiresAt: DateTime,
    lastSeenAt: DateTime,
    endedAt: Nullable(DateTime),
    endReason: Nullable(Type.String()),
    current: Type.Boolean({ description: "The caller's own login session." }),
  },
  closed,
);
export const LoginSessionListSchema = Type.Object({ items: Type.Array(LoginSessionSchema) }, closed);
export const LoginSessionListQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' })),
    live: Type.Optional(Type.Boolean({ description: 'Only login sessions that have not ended or expired.' })),
  },
  closed,
);
export const CreateLoginSessionBody = Type.Object(
  {
    user: Type.String({ minLength: 1, maxLength: 128, description: 'The user (id or name) to sign in.' }),
    clientAddress: Type.Optional(Text(200)),
    userAgent: Type.Optional(Text(500)),
    ttl: Type.Optional(Duration('Lifetime (capped by the configuration)')),
  },
  closed,
);
export const SignedInSchema = Type.Object(
  {
    loginSession: LoginSessionSchema,
    token: Type.String({ description: 'Bearer secret of this login session: shown once.' }),
  },
  closed,
);
export const EndLoginSessionQuery = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' })) },
  closed,
);

export const LoginBody = Type.Object(
  {
    name: Type.String({ maxLength: 200 }),
    password: Type.String({ maxLength: 1024 }),
  },
  closed,
);

export const LogoutStopSchema = Type.Object(
  {
    uri: Type.String(),
    nextParam: Nullable(Type.String()),
    source: Type.Union([Type.Literal('worker'), Type.Literal('external')]),
  },
  closed,
);
export const LogoutResultSchema = Type.Object(
  {
    ended: Type.Array(Type.String(), {
      description: 'Login sessions ended (with the CLI sign-ins approved from them).',
    }),
    logoutUris: Type.Array(LogoutStopSchema, {
      description:
        'Where a browser must go to drop its app cookies, in order (worker origins, then admin-added URIs).',
    }),
    chainUrl: Type.String({
      description:
        'A page of the manager that walks the list as a redirect chain and ends on the sign-in page.',
    }),
  },
  closed,
);
export const LogoutBody = Type.Object(
  {
    everywhere: Type.Optional(
      Type.Boolean({ description: 'End every login session of the user, not just this one.' }),
    ),
  },
  closed,
);

export const WhoamiSchema = Type.Object(
  {
    user: UserSchema,
    via: Type.Union([Type.Literal('token'), Type.Literal('login-session'), Type.Literal('cookie')]),
    loginSession: Nullable(LoginSessionSchema),
    tokenId: Nullable(Type.String()),
    scopes: Type.Array(Type.String()),
    csrfToken: Nullable(
      Type.String({ description: 'Cookie-authenticated callers: send it as X-CSRF-Token on changes.' }),
    ),
  },
  closed,
);

export const CliLoginBody = Type.Object(
  {
    publicKey: Type.String({
      minLength: 43,
      maxLength: 43,
      description: 'X25519 public key (base64url) the approved token is sealed to.',
    }),
  },
  closed,
);
export const CliLoginStartSchema = Type.Object(
  {
    deviceCode: Type.String(),
    userCode: Type.String(),
    verificationUri: Type.String(),
    verificationUriComplete: Type.String(),
    expiresInSeconds: Type.Integer(),
    intervalSeconds: Type.Integer(),
  },
  closed,
);
export const CliLoginPollBody = Type.Object(
  { deviceCode: Type.String({ minLength: 10, maxLength: 128 }) },
  closed,
);
export const CliLoginPollSchema = Type.Object(
  {
    state: Type.Union([Type.Literal('pending'), Type.Literal('approved')]),
    sealedToken: Type.Optional(Type.String()),
  },
  closed,
);

export const LogoutUriSchema = Type.Object(
  {
    id: Type.String(),
    uri: Type.String(),
    nextParam: Nullable(Type.String()),
    description: Type.String(),
    createdAt: DateTime,
  },
  closed,
);
export const LogoutUriListSchema = Type.Object({ items: Type.Array(LogoutUriSchema) }, closed);
export const CreateLogoutUriBody = Type.Object(
  {
    uri: Type.String({ minLength: 8, maxLength: 2000 }),
    nextParam: Type.Optional(
      Nullable(
        Type.String({
          maxLength: 64,
          description:
            'Query parameter the URI takes a continuation URL in (it redirects there when done); null: visited in the background.',
        }),
      ),
    ),
    description: Type.Optional(Text(200)),
  },
  closed,
);

// Compile-time checks: the response schemas say what the services return.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checks: [
  Same<Static<typeof UserSchema>, User>,
  Same<Static<typeof TokenSchema>, ApiToken>,
  Same<Static<typeof LoginSessionSchema>, LoginSession>,
  Same<Static<typeof LogoutUriSchema>, LogoutUri>,
  Same<Static<typeof LogoutStopSchema>, LogoutStop>,
] = [true, true, true, true, true];
void checks;
