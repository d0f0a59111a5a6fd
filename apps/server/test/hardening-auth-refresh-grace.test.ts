/**
 * Issue 12 §11: a refresh whose response was lost. The token rotated just
 * before, presented again within REFRESH_REUSE_GRACE_SECONDS while its
 * successor was never used, gets a fresh pair and the session lives on.
 * Later, or once the successor was used (a copy is in play), it is reuse:
 * the whole session ends. Real socket, real HTTP client, injected clock.
 */
import { createAuthFixture, type AuthFixture } from './auth-fixture.ts';

let f: AuthFixture;
let base: string;
let clock = Date.now();
beforeAll(async () => {
  f = await createAuthFixture('pglite', { service: { now: () => clock, refreshReuseGraceSeconds: 10 } });
  base = await f.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => f?.close());

async function refresh(cookie: string) {
  const r = await fetch(`${base}/api/auth/refresh`, { method: 'POST', headers: { cookie, origin: 'https://allowed.example.com' } });
  const set = r.headers.getSetCookie().find((c) => /st_refresh=[^;]+;/.test(c) && !/Max-Age=0/.test(c));
  return { status: r.status, cookie: set?.split(';', 1)[0], body: (await r.json()) as { accessToken?: string; code?: string } };
}
const watchlists = (token: string) => fetch(`${base}/api/watchlists`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

describe('refresh reuse grace', () => {
  it('the previous token again within the grace period (successor never used): a fresh pair, the session lives on', async () => {
    const a = await f.signUp('grace');
    const lost = await refresh(a.cookie); // this answer never reaches the browser
    expect(lost.status).toBe(200);
    clock += 5_000;
    const retry = await refresh(a.cookie);
    expect(retry.status).toBe(200);
    expect(retry.cookie).toBeDefined();
    expect(retry.cookie).not.toBe(lost.cookie);
    expect(await watchlists(retry.body.accessToken!)).toBe(200);
    // The session goes on normally from the new cookie.
    clock += 60_000;
    const next = await refresh(retry.cookie!);
    expect(next.status).toBe(200);
    expect(await watchlists(next.body.accessToken!)).toBe(200);
  });

  it('after the grace period it is reuse: 401 and the whole session ends', async () => {
    const a = await f.signUp('late');
    const lost = await refresh(a.cookie);
    expect(lost.status).toBe(200);
    clock += 10_001;
    const late = await refresh(a.cookie);
    expect(late.status).toBe(401);
    expect((await refresh(lost.cookie!)).status).toBe(401);
    expect(await watchlists(lost.body.accessToken!)).toBe(401);
  });

  it('within the grace period but the successor was already used (a copy is in play): reuse, the session ends', async () => {
    const a = await f.signUp('copy');
    const s = await refresh(a.cookie);
    const v = await refresh(s.cookie!);
    expect(v.status).toBe(200);
    clock += 1_000;
    expect((await refresh(a.cookie)).status).toBe(401);
    expect((await refresh(v.cookie!)).status).toBe(401);
    expect(await watchlists(v.body.accessToken!)).toBe(401);
  });
});
