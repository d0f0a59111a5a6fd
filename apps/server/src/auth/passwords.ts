/**
 * Password hashing with argon2id (OWASP's recommended parameters by default)
 * and the password policy. Verification never throws: a malformed stored hash
 * is a failed login, not a 500.
 */
import argon2 from 'argon2';
import type { ErrorDetail } from '@stock-tracker/protocol';

export interface HashParams {
  /** KiB of memory per hash. */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
export const DEFAULT_HASH_PARAMS: HashParams = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
/** For tests only: cheap enough to run thousands of logins. */
export const TEST_HASH_PARAMS: HashParams = { memoryCost: 1_024, timeCost: 1, parallelism: 1 };

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

export class PasswordHasher {
  /** Verified against when the user does not exist, so both cases take the same time. */
  private dummy: Promise<string> | undefined;

  constructor(readonly params: HashParams = DEFAULT_HASH_PARAMS) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.params });
  }

  async verify(hash: string | null | undefined, password: string): Promise<boolean> {
    const target = hash ?? (await (this.dummy ??= this.hash('dummy password for timing')));
    try {
      const ok = await argon2.verify(target, password);
      return ok && hash !== null && hash !== undefined;
    } catch {
      return false;
    }
  }

  /** True when the stored hash was made with other parameters (rehash after a successful login). */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, this.params);
    } catch {
      return true;
    }
  }
}

/** A few passwords every guessing list starts with; refused outright. */
const COMMON = new Set(['password', 'password1', '12345678', '123456789', '1234567890', 'qwertyui', 'qwerty123', 'iloveyou', 'letmein1', 'changeme', 'admin123', 'welcome1', 'stocktracker', 'stock-tracker']);

/** Policy problems of a new password, as error details on `path` (empty when acceptable). */
export function passwordProblems(password: string, username: string, path = 'body.password'): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) out.push({ path, issue: `must be at least ${MIN_PASSWORD_LENGTH} characters` });
  else if (password.length > MAX_PASSWORD_LENGTH) out.push({ path, issue: `must be at most ${MAX_PASSWORD_LENGTH} characters` });
  else if (password.toLowerCase() === username.toLowerCase()) out.push({ path, issue: 'must not be the user name' });
  else if (new Set(password).size < 4) out.push({ path, issue: 'is too simple (at least 4 different characters)' });
  else if (COMMON.has(password.toLowerCase())) out.push({ path, issue: 'is a commonly used password' });
  return out;
}

/** User names are case-insensitive and stored lower-cased (NFKC first, so look-alike forms collapse). */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

export const USERNAME_RE = /^[a-z0-9._-]{3,32}$/;
