/**
 * Password hashing with argon2id (OWASP's recommended parameters by default)
 * and the password policy. Verification never throws: a malformed stored hash
 * is a failed login, not a 500.
 */
import argon2 from 'argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
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

/** OWASP ASVS 4.0 L2 (2.1.1): at least 12 characters. */
export const MIN_PASSWORD_LENGTH = 12;
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

/** Our own names, which no public list has. */
const LOCAL_COMMON = ['stocktracker', 'stock-tracker', 'stock tracker', 'stocktracker123', 'stock-tracker-password'];

let breached: Set<string> | undefined;
/**
 * Breached and common passwords (ASVS 2.1.7): the ranked list of about 49,000
 * passwords from public breach corpora that @zxcvbn-ts/language-common ships
 * (far more than the top 10,000 ASVS asks for), compared case-insensitively.
 * Built on first use (a few MB), so processes that never check a password pay nothing.
 */
export function breachedPasswords(): ReadonlySet<string> {
  breached ??= new Set([...dictionary['passwords-common'], ...LOCAL_COMMON].map((p) => String(p).toLowerCase()));
  return breached;
}

export const isBreachedPassword = (password: string): boolean => breachedPasswords().has(password.toLowerCase());

/** Policy problems of a new password, as error details on `path` (empty when acceptable). */
export function passwordProblems(password: string, username: string, path = 'body.password'): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) out.push({ path, issue: `must be at least ${MIN_PASSWORD_LENGTH} characters` });
  else if (password.length > MAX_PASSWORD_LENGTH) out.push({ path, issue: `must be at most ${MAX_PASSWORD_LENGTH} characters` });
  else if (password.toLowerCase() === username.toLowerCase()) out.push({ path, issue: 'must not be the user name' });
  else if (new Set(password).size < 4) out.push({ path, issue: 'is too simple (at least 4 different characters)' });
  else if (isBreachedPassword(password)) out.push({ path, issue: 'is a commonly used password (it appears in lists of breached passwords)' });
  return out;
}

/** User names are case-insensitive and stored lower-cased (NFKC first, so look-alike forms collapse). */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

export const USERNAME_RE = /^[a-z0-9._-]{3,32}$/;
