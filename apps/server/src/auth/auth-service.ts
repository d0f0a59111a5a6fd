/**
 * Accounts: registration, login, refresh-token rotation with reuse detection,
 * logout, password change, and verification of access tokens (signature,
 * claims and a live session). Transport-free: the HTTP routes and the WS
 * gateway call it; errors are AppErrors from the catalogue.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type AuthTokens, type AuthUser } from '@stock-tracker/protocol';
import type { AuthRepository } from '../storage/auth-repo.ts';
import { createAccount, resetPassword, toAuthUser as toUser } from './accounts.ts';
import { AccessTokens, invalidToken, type AccessClaims } from './access-tokens.ts';
import { LoginThrottle, type Throttle } from './login-throttle.ts';
import { PasswordHasher, normalizeUsername, passwordProblems } from './passwords.ts';
import { hashRefreshToken, isRefreshTokenShape, newRefreshToken } from './refresh-tokens.ts';

export interface AuthLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AuthServiceOptions {
  repo: AuthRepository;
  jwt: { secret: string; previousSecret?: string; issuer: string; audience: string };
  accessTtlSeconds: number;
  /** Idle lifetime of a refresh token (each refresh starts a new one). */
  refreshTtlSeconds: number;
  /**
   * The refresh token rotated just before, presented again this soon after its rotation while
   * its successor is still unused, gets a fresh pair instead of ending the session (the response
   * of a refresh was lost). Default 10 s; 0: every second use is reuse.
   */
  refreshReuseGraceSeconds?: number;
  /** Absolute lifetime of a login session, whatever the refreshes. Default 90 days. */
  sessionMaxAgeSeconds?: number;
  registrationEnabled: boolean;
  hasher?: PasswordHasher;
  /** Login throttle; in memory by default, RedisLoginThrottle to share it across processes. */
  throttle?: Throttle;
  now?: () => number;
  log?: AuthLogger;
  /**
   * Sessions just ended (logout, password change or reset, refresh-token reuse). The WebSocket
   * gateway closes the connections acting for them (docs/websocket.md); must not throw.
   */
  onSessionsRevoked?: (sessionIds: string[], reason: string) => void;
}

/** Who a request acts for, from a verified access token. */
export interface Principal {
  userId: string;
  sessionId: string;
  /** Access token expiry, epoch ms. */
  expiresAt: number;
}

export interface ClientContext {
  ip: string;
  userAgent?: string;
  /** The request's logger, so these lines carry its request_id. */
  log?: AuthLogger;
}

/** What login, register and refresh hand to the transport: the body, and the refresh token for the cookie. */
export interface Issued {
  body: AuthTokens;
  refreshToken: string;
  refreshMaxAgeSeconds: number;
}

const noLog: AuthLogger = { info: () => {}, warn: () => {}, error: () => {} };
/** How long a "session is active" answer is trusted; revocations made by this process apply at once. */
const SESSION_CACHE_MS = 2_000;
export const DEFAULT_REFRESH_REUSE_GRACE_SECONDS = 10;
const SESSION_CACHE_MAX = 10_000;
const PRUNE_EVERY_MS = 60 * 60_000;

export class AuthService {
  readonly tokens: AccessTokens;
  readonly hasher: PasswordHasher;
  readonly throttle: Throttle;
  private readonly repo: AuthRepository;
  private readonly now: () => number;
  private readonly log: AuthLogger;
  /** sessionId → live or not, and (when live) whose session it is. */
  private readonly sessionCache = new Map<string, { active: boolean; until: number; userId?: string }>();
  private lastPrune = -Infinity;

  constructor(private readonly opts: AuthServiceOptions) {
    this.repo = opts.repo;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? noLog;
    this.hasher = opts.hasher ?? new PasswordHasher();
    this.throttle = opts.throttle ?? new LoginThrottle({ now: this.now });
    this.tokens = new AccessTokens({ ...opts.jwt, ttlSeconds: opts.accessTtlSeconds, now: this.now });
  }

  get registrationEnabled(): boolean {
    return this.opts.registrationEnabled;
  }

  // ---------- accounts ----------

  /** Creates an account; the user name rules and the password policy apply. */
  async createUser(username: string, password: string, log: AuthLogger = this.log): Promise<AuthUser> {
    const user = await createAccount(this.repo, this.hasher, username, password, this.now());
    log.info({ userId: user.id }, 'account created');
    return user;
  }

  async register(input: { username: string; password: string }, ctx: ClientContext): Promise<Issued> {
    if (!this.opts.registrationEnabled) throw new AppError('FORBIDDEN', 'Registration is disabled on this server; ask the administrator for an account.');
    const user = await this.createUser(input.username, input.password, ctx.log);
    return this.startSession(user, ctx);
  }

  async login(input: { username: string; password: string }, ctx: ClientContext): Promise<Issued> {
    const name = normalizeUsername(input.username);
    // Reserved (counted as a failure) before anything is awaited: concurrent guesses cannot all pass one check.
    await this.reserveAttempt(name, ctx.ip);
    const account = await this.repo.findAccount(name);
    // Unknown users cost a hash verification too, so timing does not reveal which names exist.
    const ok = await this.hasher.verify(account?.passwordHash, input.password);
    if (!account || !ok) {
      (ctx.log ?? this.log).info({ ip: ctx.ip }, 'login failed');
      throw new AppError('INVALID_CREDENTIALS');
    }
    await this.throttle.succeeded(name, ctx.ip);
    if (account.passwordHash && this.hasher.needsRehash(account.passwordHash)) {
      await this.repo.setPasswordHash(account.id, await this.hasher.hash(input.password));
    }
    this.maybePrune();
    return this.startSession(toUser(account), ctx);
  }

  /** Rotates the refresh token; a token used twice revokes its whole session (both holders are logged out). */
  async refresh(refreshToken: string | undefined, ctx: ClientContext): Promise<Issued> {
    if (!isRefreshTokenShape(refreshToken)) throw invalidToken('No valid refresh token; log in again.');
    const next = newRefreshToken();
    const graceMs = (this.opts.refreshReuseGraceSeconds ?? DEFAULT_REFRESH_REUSE_GRACE_SECONDS) * 1000;
    const r = await this.repo.rotate(hashRefreshToken(refreshToken), hashRefreshToken(next), this.now(), this.opts.refreshTtlSeconds * 1000, graceMs);
    if (!r.ok) {
      if (r.sessionId) this.sessionCache.set(r.sessionId, { active: false, until: this.now() + SESSION_CACHE_MS });
      if (r.reason === 'reused') (ctx.log ?? this.log).warn({ userId: r.userId, sessionId: r.sessionId, ip: ctx.ip }, 'refresh token reused: session revoked');
      if (r.reason === 'reused' && r.sessionId) this.announceRevoked([r.sessionId], 'reused');
      throw invalidToken(r.reason === 'expired' ? 'The session expired; log in again.' : 'The refresh token is not valid; log in again.');
    }
    const account = await this.repo.getAccount(r.userId);
    if (!account) throw invalidToken('The refresh token is not valid; log in again.');
    this.maybePrune();
    return this.issue(toUser(account), r.sessionId, next);
  }

  /** Ends the session of the refresh token and/or of the access token's session. Idempotent. */
  async logout(input: { refreshToken?: string; sessionId?: string }): Promise<void> {
    const ids = new Set<string>();
    if (input.sessionId) ids.add(input.sessionId);
    if (isRefreshTokenShape(input.refreshToken)) {
      const s = await this.repo.sessionOfToken(hashRefreshToken(input.refreshToken));
      if (s) ids.add(s.sessionId);
    }
    const now = this.now();
    for (const id of ids) {
      await this.repo.revokeSession(id, 'logout', now);
      this.sessionCache.set(id, { active: false, until: now + SESSION_CACHE_MS });
    }
    this.announceRevoked([...ids], 'logout');
  }

  /** Changes the password after checking the current one, and ends every other session of the user. */
  async changePassword(p: Principal, input: { currentPassword: string; newPassword: string }, ctx: ClientContext): Promise<void> {
    const account = await this.repo.getAccount(p.userId);
    if (!account) throw invalidToken();
    await this.reserveAttempt(account.username, ctx.ip);
    if (!(await this.hasher.verify(account.passwordHash, input.currentPassword))) {
      throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong.', [{ path: 'body.currentPassword', issue: 'does not match' }]);
    }
    await this.throttle.succeeded(account.username, ctx.ip);
    const problems = passwordProblems(input.newPassword, account.username, 'body.newPassword');
    if (input.newPassword === input.currentPassword) problems.push({ path: 'body.newPassword', issue: 'must differ from the current password' });
    if (problems.length > 0) throw new AppError('VALIDATION_FAILED', 'The new password does not meet the policy.', problems);
    await this.repo.setPasswordHash(account.id, await this.hasher.hash(input.newPassword));
    await this.revokeAll(account.id, 'password_changed', p.sessionId);
    (ctx.log ?? this.log).info({ userId: account.id }, 'password changed; other sessions revoked');
  }

  /** Administrative reset: new password, every session ended. */
  async setPassword(username: string, password: string): Promise<AuthUser> {
    const { user, revoked } = await resetPassword(this.repo, this.hasher, username, password, this.now());
    for (const id of revoked) this.sessionCache.set(id, { active: false, until: this.now() + SESSION_CACHE_MS });
    this.announceRevoked(revoked, 'password_reset');
    return user;
  }

  async user(userId: string): Promise<AuthUser | undefined> {
    const a = await this.repo.getAccount(userId);
    return a && toUser(a);
  }

  // ---------- access tokens ----------

  /** A valid access token whose session is still live and belongs to the token's subject, or AppError INVALID_TOKEN. */
  async verifyAccess(token: string): Promise<Principal> {
    const claims: AccessClaims = await this.tokens.verify(token);
    if (!(await this.sessionActive(claims.sessionId, claims.userId))) throw invalidToken('The session has ended; log in again.');
    return { userId: claims.userId, sessionId: claims.sessionId, expiresAt: claims.expiresAt };
  }

  /**
   * The session is live AND is `userId`'s: a token pairing one user's `sub` with another
   * user's live `sid` (a signing-key compromise, or a bug minting tokens) acts for nobody.
   */
  private async sessionActive(sessionId: string, userId: string): Promise<boolean> {
    const now = this.now();
    const cached = this.sessionCache.get(sessionId);
    // Live for X answers every user (false for all but X); ended (no user) answers everyone; "not live for X" only X.
    if (cached && cached.until > now && (cached.active || cached.userId === undefined || cached.userId === userId)) return cached.active && cached.userId === userId;
    const active = await this.repo.sessionActive(sessionId, now, userId);
    if (this.sessionCache.size >= SESSION_CACHE_MAX) this.sessionCache.clear();
    this.sessionCache.set(sessionId, { active, userId, until: now + SESSION_CACHE_MS });
    return active;
  }

  // ---------- internals ----------

  private async reserveAttempt(account: string, ip: string): Promise<void> {
    const d = await this.throttle.reserve(account, ip);
    if (!d.allowed) {
      const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
      throw new AppError('RATE_LIMITED', `Too many failed logins; retry in ${seconds} s.`, undefined, { 'Retry-After': String(seconds) });
    }
  }

  private async startSession(user: AuthUser, ctx: ClientContext): Promise<Issued> {
    const now = this.now();
    const sessionId = randomUUID();
    const refreshToken = newRefreshToken();
    await this.repo.createSession({
      id: sessionId,
      userId: user.id,
      tokenHash: hashRefreshToken(refreshToken),
      now,
      tokenExpiresAt: now + this.opts.refreshTtlSeconds * 1000,
      sessionExpiresAt: now + (this.opts.sessionMaxAgeSeconds ?? 90 * 86_400) * 1000,
      userAgent: ctx.userAgent,
      ip: ctx.ip,
    });
    return this.issue(user, sessionId, refreshToken);
  }

  private async issue(user: AuthUser, sessionId: string, refreshToken: string): Promise<Issued> {
    const signed = await this.tokens.sign(user.id, sessionId);
    this.sessionCache.set(sessionId, { active: true, userId: user.id, until: this.now() + SESSION_CACHE_MS });
    return {
      body: { accessToken: signed.token, tokenType: 'Bearer', expiresIn: signed.expiresIn, expiresAt: signed.expiresAt, user },
      refreshToken,
      refreshMaxAgeSeconds: this.opts.refreshTtlSeconds,
    };
  }

  private async revokeAll(userId: string, reason: string, keep?: string): Promise<void> {
    const now = this.now();
    const ids = await this.repo.revokeUserSessions(userId, reason, now, keep);
    for (const id of ids) this.sessionCache.set(id, { active: false, until: now + SESSION_CACHE_MS });
    this.announceRevoked(ids, reason);
  }

  private announceRevoked(ids: string[], reason: string): void {
    if (ids.length === 0 || !this.opts.onSessionsRevoked) return;
    try {
      this.opts.onSessionsRevoked(ids, reason);
    } catch (err) {
      this.log.error({ err }, 'onSessionsRevoked hook failed');
    }
  }

  private maybePrune(): void {
    const now = this.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    // A day of grace keeps recently used tokens, so a late replay is still recognised as reuse.
    this.repo.prune(now, 86_400_000).catch((err: unknown) => this.log.error({ err }, 'pruning expired sessions failed'));
  }
}
