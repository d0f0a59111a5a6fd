/**
 * Short-lived access tokens: JWT signed with HS256 (jose). Verification pins
 * the algorithm to HS256 (so `alg: none`, HS512 or RS256 tokens are refused
 * whatever their signature), the token type, issuer and audience, and
 * requires `exp`, `iat`, `sub` and `sid`. A previous secret may be accepted
 * for verification only, while tokens signed before a rotation expire.
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '@stock-tracker/protocol';

export const ACCESS_TOKEN_TYPE = 'at+jwt';
const ALG = 'HS256';

export interface AccessTokenOptions {
  secret: string;
  /** Accepted for verification only (secret rotation); tokens are always signed with `secret`. */
  previousSecret?: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  now?: () => number;
  /** Allowed clock skew between replicas, seconds. Default 5. */
  clockToleranceSeconds?: number;
}

export interface AccessClaims {
  userId: string;
  sessionId: string;
  /** Epoch ms. */
  expiresAt: number;
  issuedAt: number;
}

export interface SignedToken {
  token: string;
  expiresAt: number;
  expiresIn: number;
}

interface Key {
  kid: string;
  key: Uint8Array;
}

/** A short public id of a secret, so verification picks the right key after a rotation. */
export const keyId = (secret: string) => createHash('sha256').update(`stock-tracker kid:${secret}`).digest('base64url').slice(0, 11);

const toKey = (secret: string): Key => ({ kid: keyId(secret), key: new TextEncoder().encode(secret) });

export const invalidToken = (message = 'The access token is missing, invalid or expired.') =>
  new AppError('INVALID_TOKEN', message, undefined, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });

export class AccessTokens {
  private readonly current: Key;
  private readonly keys: Map<string, Key>;
  private readonly now: () => number;

  constructor(private readonly opts: AccessTokenOptions) {
    this.current = toKey(opts.secret);
    this.keys = new Map([[this.current.kid, this.current]]);
    if (opts.previousSecret && opts.previousSecret !== opts.secret) {
      const prev = toKey(opts.previousSecret);
      this.keys.set(prev.kid, prev);
    }
    this.now = opts.now ?? Date.now;
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  async sign(userId: string, sessionId: string): Promise<SignedToken> {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.opts.ttlSeconds;
    const token = await new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: ALG, typ: ACCESS_TOKEN_TYPE, kid: this.current.kid })
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setSubject(userId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.current.key);
    return { token, expiresAt: exp * 1000, expiresIn: this.opts.ttlSeconds };
  }

  /** The claims of a valid token; throws AppError INVALID_TOKEN otherwise (never anything else). */
  async verify(token: string): Promise<AccessClaims> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw invalidToken();
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw invalidToken();
    }
    const key = typeof kid === 'string' ? this.keys.get(kid) : undefined;
    if (!key) throw invalidToken();
    try {
      const { payload } = await jwtVerify(token, key.key, {
        algorithms: [ALG],
        typ: ACCESS_TOKEN_TYPE,
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        requiredClaims: ['exp', 'iat', 'sub', 'sid'],
        currentDate: new Date(this.now()),
        clockTolerance: this.opts.clockToleranceSeconds ?? 5,
      });
      if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.sid !== 'string' || payload.sid === '') throw invalidToken();
      return { userId: payload.sub, sessionId: payload.sid, expiresAt: payload.exp! * 1000, issuedAt: payload.iat! * 1000 };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw invalidToken('The access token expired; refresh it.');
      throw invalidToken();
    }
  }
}
