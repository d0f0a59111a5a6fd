/**
 * Opaque refresh tokens: 32 random bytes (base64url), stored only as their
 * SHA-256 hash. A hash is enough (no salt, no slow KDF) because the token has
 * 256 bits of entropy: it cannot be guessed from its hash.
 */
import { createHash, randomBytes } from 'node:crypto';

export const REFRESH_TOKEN_BYTES = 32;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export const newRefreshToken = (): string => randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');
/** Shape check before any lookup: anything else cannot be one of ours. */
export const isRefreshTokenShape = (v: unknown): v is string => typeof v === 'string' && TOKEN_RE.test(v);
