/**
 * Issue 12 §5 (SPA side): only a 401 from /api/auth/refresh ends the session.
 * A 503 (database down), a 500 or a 429 keeps the user signed in with the
 * token they hold and retries with a growing backoff until the server answers.
 */
import { ApiError } from '@stock-tracker/client';
import type { AuthTokens, Me } from '@stock-tracker/protocol';
import { AuthSession, type AuthApi } from '../src/auth/session.ts';

const T0 = 1_700_000_000_000;
const user = { id: 'u1', username: 'alice', createdAt: T0 };
const me: Me = { mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: true };

function harness() {
  let now = T0;
  let n = 0;
  const answers: (ApiError | 'ok')[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const api: AuthApi = {
    me: async () => me,
    login: async () => Promise.reject(new Error('unused')),
    register: async () => Promise.reject(new Error('unused')),
    logout: async () => {},
    refresh: async (): Promise<AuthTokens> => {
      const a = answers.shift() ?? 'ok';
      if (a !== 'ok') throw a;
      return { accessToken: `tok${++n}`, tokenType: 'Bearer', expiresIn: 900, expiresAt: now + 900_000, user };
    },
  };
  const session = new AuthSession({ api, now: () => now, locks: null, setTimer: (fn, ms) => timers.push({ fn, ms }), clearTimer: () => {} });
  /** Runs the most recently scheduled timer (the session keeps one at a time). */
  const fire = async () => {
    const t = timers.pop()!;
    t.fn();
    await session.refresh();
    return t.ms;
  };
  return { session, answers, timers, fire, advance: (ms: number) => (now += ms) };
}

const unavailable = () => new ApiError(503, 'SERVICE_UNAVAILABLE', 'The service is unavailable; try again shortly.', 'r');

describe('refresh failures that do not end the session', () => {
  it('503 while the database is down: still signed in with the current token, retried with backoff until it works', async () => {
    const h = harness();
    await h.session.init();
    expect(h.session.get().status).toBe('signed-in');
    h.advance(840_000); // the scheduled refresh time, 1 min before expiry
    h.answers.push(unavailable(), unavailable(), new ApiError(500, 'INTERNAL', 'x', 'r'), new ApiError(429, 'RATE_LIMITED', 'x', 'r'));
    expect(await h.session.refresh()).toBe(true); // the token held is still valid for a minute
    expect(h.session.get()).toMatchObject({ status: 'signed-in', notice: null });
    expect(await h.session.token()).toBe('tok1');
    const waits = [await h.fire(), await h.fire(), await h.fire(), await h.fire()];
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(h.session.get().status).toBe('signed-in');
    expect(await h.session.token()).toBe('tok2'); // the fifth attempt got through
  });

  it('the backoff is capped and restarts after a success', async () => {
    const h = harness();
    await h.session.init();
    for (let i = 0; i < 10; i++) h.answers.push(unavailable());
    await h.session.refresh();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) waits.push(await h.fire());
    expect(Math.max(...waits)).toBe(30_000);
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    await h.fire(); // the 11th answer: ok
    h.answers.push(unavailable());
    await h.session.refresh();
    expect(h.timers.at(-1)!.ms).toBe(1_000);
  });

  it('an expired token during the outage is not offered, but the session is not ended either', async () => {
    const h = harness();
    await h.session.init();
    h.advance(901_000);
    h.answers.push(unavailable());
    expect(await h.session.token()).toBeNull();
    expect(h.session.get()).toMatchObject({ status: 'signed-in', notice: null });
    await h.fire();
    expect(await h.session.token()).toBe('tok2');
  });

  it('a 401 still ends it, with the notice', async () => {
    const h = harness();
    await h.session.init();
    h.answers.push(new ApiError(401, 'INVALID_TOKEN', 'x', 'r'));
    expect(await h.session.refresh()).toBe(false);
    expect(h.session.get()).toMatchObject({ status: 'signed-out', notice: expect.stringMatching(/session ended/) });
  });
});
