/**
 * Setup tokens: the short-lived, single-use credential a browser carries from the manager to a
 * worker to obtain an app cookie. Signed by the manager with Ed25519 so that workers, which hold
 * only the public keys, can verify but never mint. Audience = the circuit id. Single use is
 * enforced by the worker with a mark in the counters role (see worker/auth).
 *
 * The same keys sign tunnel tokens (`purpose: 'tunnel'`): single-use credentials for one
 * tunnelled TCP connection (`/_appproxy/tunnel`). The purpose is a signed claim and a distinct
 * JWT `typ`, so a setup link can never open a tunnel and a tunnel token can never set a cookie.
 */
import { randomUUID } from 'node:crypto';
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { Grant } from '../contracts/auth.ts';
import { AppProxyError } from '../contracts/errors.ts';
import type { SetupTokenKeySet } from '../contracts/kv-layout.ts';

export const SETUP_TOKEN_ISSUER = 'appproxy-manager';
/** Upper bound on a setup token's lifetime; the design allows at most 60 s. */
export const SETUP_TOKEN_MAX_TTL_MS = 60_000;
const ALG = 'EdDSA';

export type TokenPurpose = 'setup' | 'tunnel';

const TYP: Record<TokenPurpose, string> = { setup: 'appproxy-setup+jwt', tunnel: 'appproxy-tunnel+jwt' };
const CODES = {
  setup: { invalid: 'AP_ERR_SETUP_TOKEN_INVALID', expired: 'AP_ERR_SETUP_TOKEN_EXPIRED' },
  tunnel: { invalid: 'AP_ERR_TUNNEL_TOKEN_INVALID', expired: 'AP_ERR_TUNNEL_TOKEN_EXPIRED' },
} as const;

export interface SetupTokenClaims {
  circuitId: string;
  userId: string;
  jti: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
  /** The login session and/or API token the token was minted under (empty: none, e.g. tests). */
  grant: Grant;
  /**
   * Setup tokens: the latest moment the app cookie it buys may expire (epoch ms) — the manager's
   * cookie lifetime, never past the login session's end. Undefined: the worker's own lifetime.
   */
  cookieExpiresAt?: number;
  /**
   * When the manager issued it (epoch ms, the manager's clock, like a revocation's `at`): from the
   * `ims` claim when it agrees with `iat`, else `iat` (seconds), else the earliest the token could
   * have been issued. Workers compare it with `user` and `circuit` revocations, and an app cookie
   * counts as issued when its setup token was (see worker/access/app-cookie.ts).
   */
  issuedAt: number;
}

/** Audience and JWT type of logout continuations (see `issueLogoutNext`). */
const LOGOUT_AUDIENCE = 'appproxy-logout';
const LOGOUT_TYP = 'appproxy-logout+jwt';
/** Audience of state the manager signs for itself (see `signState`). */
const STATE_AUDIENCE = 'appproxy-manager-state';
/** A logout continuation is good for this long (a slow logout chain still finishes). */
export const LOGOUT_NEXT_MAX_TTL_MS = 10 * 60_000;

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export class SetupTokenIssuer {
  private constructor(
    private readonly privateKey: SigningKey,
    private readonly publicJwk: JWK & { kid: string },
  ) {}

  static async generate(): Promise<{ issuer: SetupTokenIssuer; privateJwk: JWK }> {
    const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
    const privateJwk = await exportJWK(privateKey);
    privateJwk.kid = randomUUID();
    return { issuer: await SetupTokenIssuer.fromPrivateJwk(privateJwk), privateJwk };
  }

  static async fromPrivateJwk(jwk: JWK): Promise<SetupTokenIssuer> {
    if (
      jwk.kty !== 'OKP' ||
      jwk.crv !== 'Ed25519' ||
      typeof jwk.d !== 'string' ||
      typeof jwk.kid !== 'string'
    ) {
      throw new AppProxyError(
        'AP_ERR_CONFIG_INVALID',
        'The setup-token key must be an Ed25519 private JWK with a kid.',
      );
    }
    const key = (await importJWK(jwk, ALG)) as SigningKey;
    const { d: _d, ...pub } = jwk;
    return new SetupTokenIssuer(key, { ...pub, kid: jwk.kid, alg: ALG, use: 'sig' });
  }

  /** The public half, published to workers (through the KV store or their config). */
  publicKeySet(): SetupTokenKeySet {
    return { keys: [{ ...this.publicJwk }] };
  }

  async issue(input: {
    circuitId: string;
    userId: string;
    ttlMs: number;
    /** Default 'setup'. */
    purpose?: TokenPurpose;
    grant?: Grant;
    /** Setup tokens: the latest expiry of the app cookie it buys (epoch ms). */
    cookieExpiresAt?: number;
  }): Promise<{ token: string; claims: SetupTokenClaims }> {
    const purpose = input.purpose ?? 'setup';
    const ttlMs = Math.min(Math.max(input.ttlMs, 1000), SETUP_TOKEN_MAX_TTL_MS);
    const nowMs = Date.now();
    const nowSec = Math.floor(nowMs / 1000);
    const expSec = nowSec + Math.floor(ttlMs / 1000);
    const jti = randomUUID();
    const grant: Grant = {};
    if (input.grant?.l !== undefined) grant.l = input.grant.l;
    if (input.grant?.t !== undefined) grant.t = input.grant.t;
    // `ims`: the issue time in ms; `iat` has whole seconds only, too coarse to order a token
    // against a revocation made the same second.
    const extra: Record<string, unknown> = { use: purpose, ims: nowMs };
    if (grant.l !== undefined) extra.gl = grant.l;
    if (grant.t !== undefined) extra.gt = grant.t;
    if (input.cookieExpiresAt !== undefined && purpose === 'setup') extra.cexp = input.cookieExpiresAt;
    const token = await new SignJWT(extra)
      .setProtectedHeader({ alg: ALG, kid: this.publicJwk.kid, typ: TYP[purpose] })
      .setIssuer(SETUP_TOKEN_ISSUER)
      .setAudience(input.circuitId)
      .setSubject(input.userId)
      .setJti(jti)
      .setIssuedAt(nowSec)
      .setExpirationTime(expSec)
      .sign(this.privateKey);
    return {
      token,
      claims: {
        circuitId: input.circuitId,
        userId: input.userId,
        jti,
        expiresAt: expSec * 1000,
        grant,
        issuedAt: nowMs,
        ...(extra.cexp !== undefined ? { cookieExpiresAt: input.cookieExpiresAt } : {}),
      },
    };
  }

  /**
   * A logout continuation: the URL (on the manager) a worker's `/_appproxy/logout` may redirect to
   * once it has dropped its cookies. Workers follow only a `next` the manager signed, so the
   * logout path is never an open redirect.
   */
  async signState(purpose: string, payload: Record<string, unknown>, ttlMs: number): Promise<string> {
    const nowSec = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...payload, purpose })
      .setProtectedHeader({ alg: ALG, kid: this.publicJwk.kid })
      .setIssuer(SETUP_TOKEN_ISSUER)
      .setAudience(STATE_AUDIENCE)
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + Math.max(1, Math.floor(ttlMs / 1000)))
      .sign(this.privateKey);
  }

  /** The payload of state this manager signed for `purpose`, or null (tampered, expired, other purpose). */
  async verifyState(purpose: string, token: string): Promise<Record<string, unknown> | null> {
    try {
      const { payload } = await jwtVerify(token, await this.verifyKey, {
        issuer: SETUP_TOKEN_ISSUER,
        audience: STATE_AUDIENCE,
        algorithms: [ALG],
        requiredClaims: ['exp'],
      });
      return payload.purpose === purpose ? (payload as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  private get verifyKey(): Promise<CryptoKey | Uint8Array> {
    this.publicKey ??= importJWK(this.publicJwk, ALG);
    return this.publicKey;
  }

  private publicKey: Promise<CryptoKey | Uint8Array> | undefined;

  async issueLogoutNext(url: string, ttlMs = LOGOUT_NEXT_MAX_TTL_MS): Promise<string> {
    const nowSec = Math.floor(Date.now() / 1000);
    const expSec = nowSec + Math.floor(Math.min(Math.max(ttlMs, 1000), LOGOUT_NEXT_MAX_TTL_MS) / 1000);
    return new SignJWT({ next: url })
      .setProtectedHeader({ alg: ALG, kid: this.publicJwk.kid, typ: LOGOUT_TYP })
      .setIssuer(SETUP_TOKEN_ISSUER)
      .setAudience(LOGOUT_AUDIENCE)
      .setIssuedAt(nowSec)
      .setExpirationTime(expSec)
      .sign(this.privateKey);
  }
}

function grantOf(payload: Record<string, unknown>): Grant {
  const g: Grant = {};
  if (typeof payload.gl === 'string') g.l = payload.gl;
  if (typeof payload.gt === 'string') g.t = payload.gt;
  return g;
}

/** See `SetupTokenClaims.issuedAt`. */
function issuedAtOf(payload: { iat?: number; exp?: number; ims?: unknown }): number {
  if (typeof payload.iat !== 'number') return payload.exp! * 1000 - SETUP_TOKEN_MAX_TTL_MS;
  const ims = payload.ims;
  if (typeof ims === 'number' && Math.floor(ims / 1000) === payload.iat) return ims;
  return payload.iat * 1000;
}

/** Verifies setup tokens against the manager's published public keys. */
export class SetupTokenVerifier {
  private keys = new Map<string, Promise<CryptoKey | Uint8Array>>();

  constructor(keySet?: SetupTokenKeySet) {
    if (keySet) this.update(keySet);
  }

  update(keySet: SetupTokenKeySet): void {
    const next = new Map<string, Promise<CryptoKey | Uint8Array>>();
    for (const jwk of keySet.keys) {
      const key = importJWK(jwk as JWK, ALG);
      // A malformed published key must not become an unhandled rejection; tokens signed with
      // its kid then fail verification instead.
      key.catch(() => {});
      next.set(jwk.kid, key);
    }
    this.keys = next;
  }

  get hasKeys(): boolean {
    return this.keys.size > 0;
  }

  /**
   * Verifies signature, issuer, audience (= circuitId), purpose and expiry. Does not check single
   * use. Tokens without a `use` claim are setup tokens.
   */
  async verify(token: string, circuitId: string, purpose: TokenPurpose = 'setup'): Promise<SetupTokenClaims> {
    const codes = CODES[purpose];
    try {
      const { payload, protectedHeader } = await jwtVerify(
        token,
        async (header) => {
          const k = header.kid ? this.keys.get(header.kid) : undefined;
          if (!k) throw new AppProxyError(codes.invalid, 'The token was signed by an unknown key.');
          return k;
        },
        {
          issuer: SETUP_TOKEN_ISSUER,
          audience: circuitId,
          algorithms: [ALG],
          requiredClaims: ['exp', 'jti', 'sub'],
          clockTolerance: 2,
        },
      );
      const use = payload.use ?? 'setup';
      if (use !== purpose || (protectedHeader.typ !== undefined && protectedHeader.typ !== TYP[purpose])) {
        throw new AppProxyError(codes.invalid, `The token is not a ${purpose} token.`);
      }
      // A token must never live longer than the design allows, whoever signed it.
      if (payload.iat !== undefined && payload.exp! - payload.iat > SETUP_TOKEN_MAX_TTL_MS / 1000) {
        throw new AppProxyError(codes.invalid, 'The token claims too long a lifetime.');
      }
      return {
        circuitId,
        userId: payload.sub!,
        jti: payload.jti!,
        expiresAt: payload.exp! * 1000,
        grant: grantOf(payload),
        issuedAt: issuedAtOf(payload),
        ...(typeof payload.cexp === 'number' ? { cookieExpiresAt: payload.cexp } : {}),
      };
    } catch (err) {
      if (err instanceof AppProxyError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new AppProxyError(codes.expired);
      throw new AppProxyError(codes.invalid, undefined, undefined, { cause: err });
    }
  }

  /**
   * The URL of a logout continuation the manager signed, or null when `token` is not one (bad
   * signature, expired, another kind of token). Only http(s) URLs come back.
   */
  async verifyLogoutNext(token: string): Promise<string | null> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const k = header.kid ? this.keys.get(header.kid) : undefined;
          if (!k) throw new Error('unknown key');
          return k;
        },
        {
          issuer: SETUP_TOKEN_ISSUER,
          audience: LOGOUT_AUDIENCE,
          algorithms: [ALG],
          requiredClaims: ['exp', 'iat'],
          typ: LOGOUT_TYP,
          clockTolerance: 2,
        },
      );
      if (payload.exp! - payload.iat! > LOGOUT_NEXT_MAX_TTL_MS / 1000) return null;
      if (typeof payload.next !== 'string') return null;
      const u = new URL(payload.next);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch {
      return null;
    }
  }
}
