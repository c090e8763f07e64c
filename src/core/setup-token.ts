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
}

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
  }): Promise<{ token: string; claims: SetupTokenClaims }> {
    const purpose = input.purpose ?? 'setup';
    const ttlMs = Math.min(Math.max(input.ttlMs, 1000), SETUP_TOKEN_MAX_TTL_MS);
    const nowSec = Math.floor(Date.now() / 1000);
    const expSec = nowSec + Math.floor(ttlMs / 1000);
    const jti = randomUUID();
    const token = await new SignJWT({ use: purpose })
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
      claims: { circuitId: input.circuitId, userId: input.userId, jti, expiresAt: expSec * 1000 },
    };
  }
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
      return { circuitId, userId: payload.sub!, jti: payload.jti!, expiresAt: payload.exp! * 1000 };
    } catch (err) {
      if (err instanceof AppProxyError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new AppProxyError(codes.expired);
      throw new AppProxyError(codes.invalid, undefined, undefined, { cause: err });
    }
  }
}
