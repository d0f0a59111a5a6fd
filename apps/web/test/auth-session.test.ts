/**
 * The SPA's accounts logic without a browser: the mode from `me`, silent
 * sign-in with the refresh cookie, the refresh schedule before expiry, one
 * refresh at a time (and under a cross-tab lock), the session ending
 * elsewhere, the 401-refresh-replay fetch wrapper, and streams that
 * re-authenticate when the token changes.
 */
import { ApiError } from '@stock-tracker/client';
import type { AuthTokens, Me } from '@stock-tracker/protocol';
import { AuthSession, type AuthApi } from '../src/auth/session.ts';
import { authRetryFetch } from '../src/auth/auth-fetch.ts';
import { authenticatedStreams, type ReauthenticatingStream } from '../src/auth/stream-auth.ts';
import type { StreamOptions } from '../src/store/streams.ts';

const T0 = 1_700_000_000_000;
const user = { id: 'u1', username: 'alice', createdAt: T0 };
const tokens = (n: number, now: number, ttlMs = 900_000): AuthTokens => ({ accessToken: `tok${n}`, tokenType: 'Bearer', expiresIn: ttlMs / 1000, expiresAt: now + ttlMs, user });
const me = (over: Partial<Me> = {}): Me => ({ mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: true, ...over });

function harness(opts: { me?: Me; refresh?: () => Promise<AuthTokens>; locks?: boolean } = {}) {
  let now = T0;
  let n = 0;
  const calls: string[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const lockNames: string[] = [];
  const api: AuthApi = {
    me: async () => (calls.push('me'), opts.me ?? me()),
    login: async (b) => {
      calls.push('login');
      if (b.password !== 'right password') throw new ApiError(401, 'INVALID_CREDENTIALS', 'Wrong user name or password.', 'r1');
      return tokens(++n, now);
    },
    register: async () => (calls.push('register'), tokens(++n, now)),
    refresh: async () => {
      calls.push('refresh');
      return opts.refresh ? opts.refresh() : tokens(++n, now);
    },
    logout: async () => {
      calls.push('logout');
    },
  };
  const session = new AuthSession({
    api,
    now: () => now,
    locks: opts.locks ? { request: async (name, fn) => (lockNames.push(name), fn()) } : null,
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => {},
  });
  return { session, calls, timers, lockNames, advance: (ms: number) => (now += ms), get now() { return now; } };
}

describe('AuthSession', () => {
  it('without accounts the app is open and no token is ever fetched', async () => {
    const h = harness({ me: me({ mode: 'none', user: { id: 'local', username: 'local' }, refreshCookie: false }) });
    await h.session.init();
    expect(h.session.get()).toMatchObject({ status: 'open', user: { id: 'local' } });
    expect(await h.session.token()).toBeNull();
    expect(h.calls).toEqual(['me']);
  });

  it('with accounts a valid refresh cookie signs in silently; a stale one or none leaves it signed out (no notice)', async () => {
    const h = harness();
    await h.session.init();
    expect(h.session.get()).toMatchObject({ status: 'signed-in', user: { username: 'alice' } });
    expect(await h.session.token()).toBe('tok1');
    const stale = harness({ refresh: async () => Promise.reject(new ApiError(401, 'INVALID_TOKEN', 'no', 'r')) });
    await stale.session.init();
    expect(stale.session.get()).toMatchObject({ status: 'signed-out', notice: null, registrationEnabled: true });
    expect(await stale.session.token()).toBeNull();
    // Without a cookie there is nothing to resume: no refresh request at all.
    const fresh = harness({ me: me({ refreshCookie: false }) });
    await fresh.session.init();
    expect(fresh.session.get().status).toBe('signed-out');
    expect(fresh.calls).toEqual(['me']);
  });

  it('an unreachable server is reported, not mistaken for "signed out"', async () => {
    const h = harness();
    (h.session as unknown as { api: AuthApi }).api.me = async () => Promise.reject(new ApiError(0, 'NETWORK_ERROR', 'down', null));
    await h.session.init();
    expect(h.session.get().status).toBe('unreachable');
  });

  it('refreshes ahead of expiry and tells listeners; streams get the new token', async () => {
    const h = harness({ refresh: async () => Promise.reject(new ApiError(401, 'INVALID_TOKEN', 'x', 'r')) });
    await h.session.init();
    await h.session.login('alice', 'right password');
    const seen: string[] = [];
    h.session.onToken(async () => seen.push((await h.session.token())!));
    // Scheduled one minute before the 15-minute token expires.
    expect(h.timers.at(-1)!.ms).toBe(900_000 - 60_000);
    (h.session as unknown as { api: AuthApi }).api.refresh = async () => tokens(7, h.now);
    h.advance(840_000);
    h.timers.at(-1)!.fn();
    await vi.waitFor(() => expect(seen).toEqual(['tok7']));
    expect(await h.session.token()).toBe('tok7');
  });

  it('a token about to expire is refreshed before use, once for concurrent callers, under the cross-tab lock', async () => {
    const h = harness({ locks: true });
    await h.session.init();
    h.advance(899_000); // 1 s left
    const [a, b, c] = await Promise.all([h.session.token(), h.session.token(), h.session.token()]);
    expect([a, b, c]).toEqual(['tok2', 'tok2', 'tok2']);
    expect(h.calls.filter((x) => x === 'refresh')).toHaveLength(2); // the silent sign-in and this one
    expect(h.lockNames).toEqual(['stock-tracker-auth-refresh', 'stock-tracker-auth-refresh']);
  });

  it('a session ended elsewhere signs out with a notice; logout ends it here', async () => {
    let fail = false;
    const h = harness({ refresh: async () => (fail ? Promise.reject(new ApiError(401, 'INVALID_TOKEN', 'x', 'r')) : tokens(1, T0)) });
    await h.session.init();
    fail = true;
    expect(await h.session.refresh()).toBe(false);
    expect(h.session.get()).toMatchObject({ status: 'signed-out', notice: expect.stringMatching(/session ended/) });
    await h.session.login('alice', 'right password');
    await h.session.logout();
    expect(h.session.get()).toMatchObject({ status: 'signed-out', notice: null });
    expect(h.calls.at(-1)).toBe('logout');
    expect(await h.session.token()).toBeNull();
  });

  it('a failed login leaves the session signed out and reports the server error', async () => {
    const h = harness({ refresh: async () => Promise.reject(new ApiError(401, 'INVALID_TOKEN', 'x', 'r')) });
    await h.session.init();
    await expect(h.session.login('alice', 'nope')).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(h.session.get().status).toBe('signed-out');
  });
});

describe('authRetryFetch', () => {
  const respond = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  function setup(first: Response, refreshOk = true) {
    const seen: (string | null)[] = [];
    let call = 0;
    const base = (async (_url: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get('authorization'));
      return call++ === 0 ? first : respond(200, { ok: true });
    }) as typeof fetch;
    let refreshes = 0;
    const session = { refresh: async () => (refreshes++, refreshOk), token: async () => 'fresh' };
    return { f: authRetryFetch(session, base), seen, refreshes: () => refreshes };
  }

  it('replays a call once with the refreshed token after 401 INVALID_TOKEN', async () => {
    const t = setup(respond(401, { code: 'INVALID_TOKEN', message: 'expired', request_id: 'r' }));
    const res = await t.f('/api/watchlists', { headers: { authorization: 'Bearer old' } });
    expect(res.status).toBe(200);
    expect(t.seen).toEqual(['Bearer old', 'Bearer fresh']);
    expect(t.refreshes()).toBe(1);
  });

  it('leaves other answers alone: wrong credentials, calls without a token, a refresh that fails', async () => {
    const creds = setup(respond(401, { code: 'INVALID_CREDENTIALS', message: 'no', request_id: 'r' }));
    expect((await creds.f('/api/auth/password', { headers: { authorization: 'Bearer t' } })).status).toBe(401);
    expect(creds.refreshes()).toBe(0);
    const anon = setup(respond(401, { code: 'INVALID_TOKEN', message: 'x', request_id: 'r' }));
    expect((await anon.f('/api/watchlists', {})).status).toBe(401);
    expect(anon.refreshes()).toBe(0);
    const dead = setup(respond(401, { code: 'INVALID_TOKEN', message: 'x', request_id: 'r' }), false);
    expect((await dead.f('/api/watchlists', { headers: { authorization: 'Bearer t' } })).status).toBe(401);
    expect(dead.seen).toHaveLength(1);
  });
});

describe('authenticatedStreams', () => {
  it('gives every stream the token source and re-authenticates open streams when the token changes', async () => {
    const listeners: (() => void)[] = [];
    const session = { token: async () => 'tok', onToken: (fn: () => void) => (listeners.push(fn), () => {}) };
    const made: { opts: StreamOptions & { token?: () => unknown }; reauths: number; stream: ReauthenticatingStream }[] = [];
    const factory = authenticatedStreams(session, (opts) => {
      const rec = { opts, reauths: 0, stream: undefined as unknown as ReauthenticatingStream };
      rec.stream = { close: () => {}, reauthenticate: async () => void rec.reauths++ } as unknown as ReauthenticatingStream;
      made.push(rec);
      return rec.stream;
    });
    const a = factory({ url: 'ws://x/ws/alerts' });
    factory({ url: 'ws://x/ws/market' });
    expect(await made[0]!.opts.token!()).toBe('tok');
    a.close();
    for (const fn of listeners) fn();
    expect(made.map((m) => m.reauths)).toEqual([0, 1]);
  });
});
