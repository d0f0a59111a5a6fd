/**
 * Accounts storage: password hashes, login sessions and rotating refresh
 * tokens (migration 0004). Only SHA-256 hashes of refresh tokens are stored.
 * Times come from the caller's clock (epoch ms), so expiry is testable and
 * the same on PGlite and PostgreSQL.
 */
import { AppError } from '@stock-tracker/protocol';
import type { Db } from './db.ts';
import { iso } from './tables.ts';

export interface AccountRecord {
  id: string;
  username: string;
  passwordHash: string | null;
  createdAt: number;
}

export interface NewSession {
  id: string;
  userId: string;
  tokenHash: string;
  now: number;
  /** Expiry of the first refresh token. */
  tokenExpiresAt: number;
  /** Absolute end of the session. */
  sessionExpiresAt: number;
  userAgent?: string | null;
  ip?: string | null;
}

export type RotateResult =
  | { ok: true; sessionId: string; userId: string }
  /** unknown: never issued (or pruned); reused: already rotated, the session is now revoked. */
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused'; sessionId?: string; userId?: string };

export interface SessionInfo {
  id: string;
  userId: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

export interface AuthRepository {
  findAccount(username: string): Promise<AccountRecord | undefined>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  /** Throws AppError CONFLICT when the name is taken (case-insensitively). */
  createAccount(input: { id: string; username: string; passwordHash: string; now: number }): Promise<AccountRecord>;
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean>;
  listAccounts(): Promise<AccountRecord[]>;
  createSession(s: NewSession): Promise<void>;
  /** Atomically marks `oldHash` used and stores `newHash` for the same session; a second use revokes the session. */
  /**
   * With `graceMs`, the token rotated immediately before (its successor still unused) presented
   * again within `graceMs` of its rotation is a lost response, not a copy: the unused successor is
   * retired and a new token issued, the session lives on. Anything else used twice is reuse.
   */
  rotate(oldHash: string, newHash: string, now: number, ttlMs: number, graceMs?: number): Promise<RotateResult>;
  /** The session a refresh token belongs to (used or not). */
  sessionOfToken(tokenHash: string): Promise<{ sessionId: string; userId: string } | undefined>;
  /** True when the session exists, belongs to `userId` (when given), is not revoked and has not reached its absolute end. */
  sessionActive(sessionId: string, now: number, userId?: string): Promise<boolean>;
  getSession(sessionId: string): Promise<SessionInfo | undefined>;
  revokeSession(sessionId: string, reason: string, now: number): Promise<boolean>;
  /** Revokes every live session of the user except `keep`; returns the revoked ids. */
  revokeUserSessions(userId: string, reason: string, now: number, keep?: string): Promise<string[]>;
  /** Deletes expired refresh tokens and sessions that ended more than `graceMs` ago. */
  prune(now: number, graceMs: number): Promise<number>;
}

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;
const ACCOUNT_COLS = `id, username, password_hash AS "passwordHash", ${ms('created_at')} AS "createdAt"`;

export function createAuthRepository(db: Db): AuthRepository {
  const one = async <T>(sql: string, params: unknown[], on: Db = db): Promise<T | undefined> => (await on.query<T>(sql, params)).rows[0];

  const revoke = async (on: Db, sessionId: string, reason: string, now: number) =>
    (await on.query('UPDATE auth_sessions SET revoked_at = $2::timestamptz, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING id', [sessionId, iso(now), reason]))
      .rows.length > 0;

  return {
    findAccount: (username) => one<AccountRecord>(`SELECT ${ACCOUNT_COLS} FROM users WHERE lower(username) = lower($1)`, [username]),
    getAccount: (id) => one<AccountRecord>(`SELECT ${ACCOUNT_COLS} FROM users WHERE id = $1`, [id]),
    async createAccount({ id, username, passwordHash, now }) {
      try {
        const r = await one<AccountRecord>(
          `INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4::timestamptz) RETURNING ${ACCOUNT_COLS}`,
          [id, username, passwordHash, iso(now)],
        );
        return r!;
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new AppError('CONFLICT', 'This user name is taken.', [{ path: 'body.username', issue: 'already taken' }]);
        throw err;
      }
    },
    async setPasswordHash(userId, passwordHash) {
      const r = await db.query('UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id', [userId, passwordHash]);
      return r.rows.length > 0;
    },
    async listAccounts() {
      return (await db.query<AccountRecord>(`SELECT ${ACCOUNT_COLS} FROM users ORDER BY created_at, id`)).rows;
    },

    async createSession(s) {
      await db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO auth_sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
           VALUES ($1, $2, $3::timestamptz, $3::timestamptz, $4::timestamptz, $5, $6)`,
          [s.id, s.userId, iso(s.now), iso(s.sessionExpiresAt), s.userAgent?.slice(0, 200) ?? null, s.ip?.slice(0, 64) ?? null],
        );
        await tx.query('INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3::timestamptz, $4::timestamptz)', [
          s.tokenHash,
          s.id,
          iso(s.now),
          iso(Math.min(s.tokenExpiresAt, s.sessionExpiresAt)),
        ]);
      });
    },

    rotate(oldHash, newHash, now, ttlMs, graceMs = 0) {
      return db.transaction(async (tx): Promise<RotateResult> => {
        // The conditional UPDATE is the claim: of two concurrent uses exactly one sees used_at IS NULL.
        let claimed = await one<{ session_id: string; expired: boolean }>(
          `UPDATE refresh_tokens SET used_at = $2::timestamptz WHERE token_hash = $1 AND used_at IS NULL
           RETURNING session_id, expires_at <= $2::timestamptz AS expired`,
          [oldHash, iso(now)],
          tx,
        );
        if (!claimed) {
          const seen = await one<{ session_id: string; user_id: string; used_at: number | null }>(
            `SELECT t.session_id, s.user_id, CASE WHEN t.used_at IS NULL THEN NULL ELSE ${ms('t.used_at')} END AS used_at
             FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id WHERE t.token_hash = $1`,
            [oldHash],
            tx,
          );
          if (!seen) return { ok: false, reason: 'unknown' };
          if (graceMs > 0 && seen.used_at !== null && now - seen.used_at <= graceMs) {
            // Lost response: the successor made by that rotation (created at its used_at) is still
            // unused, and no token of the session was used since (the old one is the latest used).
            // Claim the successor instead; a successor already used means a copy is in play.
            claimed = await one<{ session_id: string; expired: boolean }>(
              `UPDATE refresh_tokens n SET used_at = $2::timestamptz FROM refresh_tokens o
               WHERE o.token_hash = $1 AND n.session_id = o.session_id AND n.created_at = o.used_at AND n.used_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens x WHERE x.session_id = o.session_id AND x.token_hash <> o.token_hash AND x.used_at >= o.used_at)
               RETURNING n.session_id, n.expires_at <= $2::timestamptz AS expired`,
              [oldHash, iso(now)],
              tx,
            );
          }
          if (!claimed) {
            // A rotated token came back: someone holds a copy. End the whole family.
            await revoke(tx, seen.session_id, 'refresh_token_reuse', now);
            return { ok: false, reason: 'reused', sessionId: seen.session_id, userId: seen.user_id };
          }
        }
        const session = await one<{ user_id: string; revoked: boolean; ended: boolean; expires_at: number }>(
          `SELECT user_id, revoked_at IS NOT NULL AS revoked, expires_at <= $2::timestamptz AS ended, ${ms('expires_at')} AS expires_at
           FROM auth_sessions WHERE id = $1`,
          [claimed.session_id, iso(now)],
          tx,
        );
        if (!session) return { ok: false, reason: 'unknown' };
        const base = { sessionId: claimed.session_id, userId: session.user_id };
        if (session.revoked) return { ok: false, reason: 'revoked', ...base };
        if (claimed.expired || session.ended) return { ok: false, reason: 'expired', ...base };
        await tx.query('INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3::timestamptz, $4::timestamptz)', [
          newHash,
          claimed.session_id,
          iso(now),
          iso(Math.min(now + ttlMs, session.expires_at)),
        ]);
        await tx.query('UPDATE auth_sessions SET last_used_at = $2::timestamptz WHERE id = $1', [claimed.session_id, iso(now)]);
        return { ok: true, ...base };
      });
    },

    async sessionOfToken(tokenHash) {
      const r = await one<{ sessionId: string; userId: string }>(
        'SELECT t.session_id AS "sessionId", s.user_id AS "userId" FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id WHERE t.token_hash = $1',
        [tokenHash],
      );
      return r;
    },
    async sessionActive(sessionId, now, userId) {
      const r = await one<{ ok: boolean }>(
        'SELECT revoked_at IS NULL AND expires_at > $2::timestamptz AND ($3::text IS NULL OR user_id = $3::text) AS ok FROM auth_sessions WHERE id = $1',
        [sessionId, iso(now), userId ?? null],
      );
      return r?.ok === true;
    },
    getSession: (sessionId) =>
      one<SessionInfo>(
        `SELECT id, user_id AS "userId", ${ms('created_at')} AS "createdAt", ${ms('last_used_at')} AS "lastUsedAt", ${ms('expires_at')} AS "expiresAt",
                CASE WHEN revoked_at IS NULL THEN NULL ELSE ${ms('revoked_at')} END AS "revokedAt", revoked_reason AS "revokedReason"
         FROM auth_sessions WHERE id = $1`,
        [sessionId],
      ),
    revokeSession: (sessionId, reason, now) => revoke(db, sessionId, reason, now),
    async revokeUserSessions(userId, reason, now, keep) {
      const r = await db.query<{ id: string }>(
        `UPDATE auth_sessions SET revoked_at = $2::timestamptz, revoked_reason = $3
         WHERE user_id = $1 AND revoked_at IS NULL AND ($4::text IS NULL OR id <> $4::text) RETURNING id`,
        [userId, iso(now), reason, keep ?? null],
      );
      return r.rows.map((x) => x.id);
    },
    async prune(now, graceMs) {
      const cutoff = iso(now - graceMs);
      const t = await db.query('DELETE FROM refresh_tokens WHERE expires_at < $1::timestamptz RETURNING token_hash', [cutoff]);
      const s = await db.query(
        'DELETE FROM auth_sessions WHERE (revoked_at IS NOT NULL AND revoked_at < $1::timestamptz) OR expires_at < $1::timestamptz RETURNING id',
        [cutoff],
      );
      return t.rows.length + s.rows.length;
    },
  };
}
