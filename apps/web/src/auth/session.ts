/**
 * The browser side of accounts. `GET /api/auth/me` tells whether the server
 * runs with accounts; without them (embedded mode) the app is open and no
 * token is ever needed. With them the access token lives in memory only
 * (never in localStorage, where injected script could read it); the refresh
 * token is an HttpOnly cookie the browser sends to /api/auth by itself, so a
 * reload signs in again silently. The token is refreshed before it expires,
 * once at a time across tabs (Web Locks): two tabs presenting the same
 * refresh cookie at once would look like a stolen token and end the session.
 */
import { ApiError, type RestClient } from '@stock-tracker/client';
import type { AuthTokens, AuthUser, Me } from '@stock-tracker/protocol';
import { ValueStore } from '../store/value-store.ts';

export type AuthStatus =
  /** Asking the server. */
  | 'loading'
  /** No accounts on this server: everything is open. */
  | 'open'
  /** Accounts, not signed in. */
  | 'signed-out'
  | 'signed-in'
  /** The server could not be asked. */
  | 'unreachable';

export interface AuthSnapshot {
  status: AuthStatus;
  user: AuthUser | null;
  registrationEnabled: boolean;
  publicMarketData: boolean;
  /** Why the user is signed out, when it was not their choice (session ended elsewhere). */
  notice: string | null;
}

/** The calls the session makes; a RestClient without a token source fits. */
export type AuthApi = Pick<RestClient, 'me' | 'login' | 'register' | 'refresh' | 'logout'>;
/**
 * The password change needs the bearer token, which the session's own client
 * (cookie endpoints only) does not send: the app's RestClient (token source +
 * 401 refresh-retry) fits.
 */
export type PasswordApi = Pick<RestClient, 'changePassword'>;

interface LockManagerLike {
  request<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export interface AuthSessionOptions {
  api: AuthApi;
  now?: () => number;
  /** Cross-tab mutual exclusion; `navigator.locks` in browsers that have it. */
  locks?: LockManagerLike | null;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/** Refresh this long before expiry (or at 3/4 of a shorter lifetime). */
const REFRESH_MARGIN_MS = 60_000;
/** Retries of a refresh the server could not answer (5xx, 429): 1 s, 2 s, 4 s … at most this. */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** A refusal that says nothing about the session: the server (or its database) is busy or down; try again. */
const transient = (err: unknown): boolean => err instanceof ApiError && (err.status >= 500 || err.status === 429);
const LOCK_NAME = 'stock-tracker-auth-refresh';

const initial: AuthSnapshot = { status: 'loading', user: null, registrationEnabled: false, publicMarketData: true, notice: null };

export class AuthSession extends ValueStore<AuthSnapshot> {
  private readonly api: AuthApi;
  private readonly now: () => number;
  private readonly locks: LockManagerLike | null;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;
  private access: { token: string; expiresAt: number; lifetimeMs: number } | null = null;
  private refreshing: Promise<boolean> | null = null;
  private timer: unknown = null;
  /** Consecutive transient refresh failures (the backoff exponent). */
  private retries = 0;
  private readonly tokenListeners = new Set<() => void>();

  constructor(opts: AuthSessionOptions) {
    super(initial);
    this.api = opts.api;
    this.now = opts.now ?? Date.now;
    this.locks = opts.locks === undefined ? ((globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks ?? null) : opts.locks;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));
  }

  /** Asks the server for its mode; with accounts, tries the refresh cookie to sign in silently. */
  async init(): Promise<void> {
    let me: Me;
    try {
      me = await this.api.me();
    } catch {
      this.set({ ...initial, status: 'unreachable' });
      return;
    }
    const base = { registrationEnabled: me.registrationEnabled, publicMarketData: me.publicMarketData, notice: null };
    if (me.mode === 'none') {
      this.set({ ...base, status: 'open', user: me.user });
      return;
    }
    this.set({ ...base, status: 'signed-out', user: null });
    // No cookie, no session to resume: skip a refresh that could only fail.
    if (me.refreshCookie) await this.refresh();
  }

  async login(username: string, password: string): Promise<void> {
    this.accept(await this.api.login({ username, password }));
  }

  async register(username: string, password: string): Promise<void> {
    this.accept(await this.api.register({ username, password }));
  }

  async logout(): Promise<void> {
    this.forget(null);
    // The refresh cookie identifies the session; the server ends it and clears the cookie.
    await this.api.logout().catch(() => {});
  }

  /**
   * Changes the password (`POST /api/auth/password` through `api`, which must
   * send this session's token). The server ends the user's other sessions but
   * keeps this one — no new cookie, the access token stays valid — so the
   * session stays signed in with what it holds; nothing to refresh. Refusals
   * are the server's `ApiError` (code, message, details with `body.*` paths).
   */
  async changePassword(currentPassword: string, newPassword: string, api: PasswordApi): Promise<void> {
    const { status } = this.get();
    if (status === 'open') throw new ApiError(403, 'FORBIDDEN', 'Accounts are not enabled on this server.', null);
    if (status !== 'signed-in') throw new ApiError(401, 'INVALID_TOKEN', 'Sign in to change your password.', null);
    await api.changePassword({ currentPassword, newPassword });
  }

  /** A valid access token (refreshed first when it is about to expire), or null without accounts or a session. */
  async token(): Promise<string | null> {
    if (this.get().status === 'open') return null;
    if (this.access && this.access.expiresAt - this.now() > 5_000) return this.access.token;
    if (this.get().status !== 'signed-in') return null;
    return (await this.refresh()) ? (this.access?.token ?? null) : null;
  }

  /** Called with no argument whenever a new access token is in place (streams re-authenticate). */
  onToken(fn: () => void): () => void {
    this.tokenListeners.add(fn);
    return () => this.tokenListeners.delete(fn);
  }

  /**
   * Gets a new access token with the refresh cookie; false when the session
   * is over (then signed out). Concurrent callers share one request.
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.exclusive(() => this.doRefresh()).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.locks ? this.locks.request(LOCK_NAME, fn) : fn();
  }

  private async doRefresh(): Promise<boolean> {
    try {
      this.accept(await this.api.refresh());
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 0) return this.access !== null; // offline: keep what we have
      if (transient(err)) {
        // The server is there but could not decide (database down, overloaded): the cookie is still
        // good (the server clears it only with a 401). Keep what we have and try again later.
        this.retryLater();
        return this.access !== null && this.access.expiresAt > this.now();
      }
      if (!(err instanceof ApiError) || err.status !== 401) return this.access !== null && this.access.expiresAt > this.now();
      // Only a 401 ends the session. Only a session that was live ended "elsewhere"; a first silent attempt just finds no cookie.
      this.forget(this.get().status === 'signed-in' ? 'Your session ended; please sign in again.' : null);
      return false;
    }
  }

  private retryLater(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    const wait = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.retries, 10));
    this.retries++;
    this.timer = this.setTimer(() => {
      this.timer = null;
      void this.refresh();
    }, wait);
  }

  private accept(t: AuthTokens): void {
    const now = this.now();
    this.retries = 0;
    this.access = { token: t.accessToken, expiresAt: t.expiresAt, lifetimeMs: Math.max(1_000, t.expiresAt - now) };
    this.set({ ...this.get(), status: 'signed-in', user: t.user, notice: null });
    this.schedule();
    for (const fn of [...this.tokenListeners]) fn();
  }

  private forget(notice: string | null): void {
    this.retries = 0;
    this.access = null;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.set({ ...this.get(), status: 'signed-out', user: null, notice });
  }

  private schedule(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    const a = this.access!;
    const margin = Math.min(REFRESH_MARGIN_MS, a.lifetimeMs / 4);
    const wait = Math.max(1_000, a.expiresAt - margin - this.now());
    this.timer = this.setTimer(() => {
      this.timer = null;
      void this.refresh();
    }, wait);
  }
}
