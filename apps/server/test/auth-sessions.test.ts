/**
 * Sessions and refresh tokens in storage (PGlite and PostgreSQL): rotation is
 * atomic — of two concurrent uses of one token exactly one wins and the
 * other counts as reuse, which revokes the family; tokens expire; the session
 * has an absolute end; pruning removes only what is over. And login
 * throttling: per account and per address, exponential, with Retry-After.
 */
import { randomUUID } from 'node:crypto';
import { createAuthRepository, type AuthRepository } from '../src/storage/auth-repo.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { hashRefreshToken, newRefreshToken } from '../src/auth/refresh-tokens.ts';
import { LoginThrottle } from '../src/auth/login-throttle.ts';
import { createAuthFixture, PASSWORD, uniqueName, type AuthFixture } from './auth-fixture.ts';
import { openTestStorage, type StorageKind, type TestStorage } from '../../../test/helpers/storage.ts';

const T0 = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;

describe.each(['pglite', 'postgres'] as StorageKind[])('refresh token storage (%s)', (kind) => {
  let st: TestStorage;
  let repo: AuthRepository;
  let userId: string;
  beforeAll(async () => {
    st = await openTestStorage(kind, { isolated: kind === 'postgres' });
    repo = createAuthRepository(st.db);
    userId = (await repo.createAccount({ id: randomUUID(), username: uniqueName('sess'), passwordHash: 'x', now: T0 })).id;
  });
  afterAll(() => st?.cleanup());

  async function session(opts: { tokenTtl?: number; sessionTtl?: number } = {}) {
    const id = randomUUID();
    const token = newRefreshToken();
    await repo.createSession({ id, userId, tokenHash: hashRefreshToken(token), now: T0, tokenExpiresAt: T0 + (opts.tokenTtl ?? DAY), sessionExpiresAt: T0 + (opts.sessionTtl ?? 30 * DAY) });
    return { id, hash: hashRefreshToken(token) };
  }

  it('rotates once: the new token works, the old one is reuse and revokes the session', async () => {
    const s = await session();
    const n1 = hashRefreshToken(newRefreshToken());
    expect(await repo.rotate(s.hash, n1, T0 + 1000, DAY)).toEqual({ ok: true, sessionId: s.id, userId });
    const n2 = hashRefreshToken(newRefreshToken());
    expect(await repo.rotate(s.hash, n2, T0 + 2000, DAY)).toMatchObject({ ok: false, reason: 'reused', sessionId: s.id });
    expect(await repo.sessionActive(s.id, T0 + 3000)).toBe(false);
    expect((await repo.getSession(s.id))?.revokedReason).toBe('refresh_token_reuse');
    expect(await repo.rotate(n1, hashRefreshToken(newRefreshToken()), T0 + 3000, DAY)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('two concurrent uses of one token: exactly one wins, the other is reuse, and the family ends', async () => {
    for (let round = 0; round < 5; round++) {
      const s = await session();
      const results = await Promise.all([0, 1, 2].map(() => repo.rotate(s.hash, hashRefreshToken(newRefreshToken()), T0 + 1000, DAY)));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason)).toEqual(['reused', 'reused']);
      expect(await repo.sessionActive(s.id, T0 + 2000)).toBe(false);
    }
  });

  it('an unknown token is refused without side effects; an expired one is refused', async () => {
    expect(await repo.rotate(hashRefreshToken(newRefreshToken()), hashRefreshToken(newRefreshToken()), T0, DAY)).toEqual({ ok: false, reason: 'unknown' });
    const s = await session({ tokenTtl: 60_000 });
    expect(await repo.rotate(s.hash, hashRefreshToken(newRefreshToken()), T0 + 61_000, DAY)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refresh tokens never outlive the absolute end of their session', async () => {
    const s = await session({ sessionTtl: 2 * DAY });
    let hash = s.hash;
    let now = T0;
    for (let i = 0; i < 3; i++) {
      now += DAY / 2;
      const next = hashRefreshToken(newRefreshToken());
      const r = await repo.rotate(hash, next, now, DAY);
      expect(r.ok).toBe(true);
      hash = next;
    }
    // Each refresh would give a day more, but the session ends at T0 + 2 days.
    expect(await repo.rotate(hash, hashRefreshToken(newRefreshToken()), T0 + 2 * DAY + 1, DAY)).toMatchObject({ ok: false, reason: 'expired' });
    expect(await repo.sessionActive(s.id, T0 + 2 * DAY + 1)).toBe(false);
  });

  it('revokes all sessions of a user but one, and prunes only what ended before the grace period', async () => {
    const keep = await session();
    const a = await session();
    const b = await session();
    const revoked = await repo.revokeUserSessions(userId, 'test', T0 + 10, keep.id);
    expect(revoked).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(revoked).not.toContain(keep.id);
    expect(await repo.sessionActive(keep.id, T0 + 20)).toBe(true);
    await repo.prune(T0 + 20, DAY); // within the grace period: nothing of these goes
    expect(await repo.getSession(a.id)).toBeDefined();
    await repo.prune(T0 + 2 * DAY, DAY);
    expect(await repo.getSession(a.id)).toBeUndefined();
    expect(await repo.getSession(keep.id)).toBeDefined();
  });

  it('deleting a user deletes its sessions and tokens', async () => {
    const u = await repo.createAccount({ id: randomUUID(), username: uniqueName('gone'), passwordHash: 'x', now: T0 });
    const id = randomUUID();
    const token = newRefreshToken();
    await repo.createSession({ id, userId: u.id, tokenHash: hashRefreshToken(token), now: T0, tokenExpiresAt: T0 + DAY, sessionExpiresAt: T0 + DAY });
    await st.db.query('DELETE FROM users WHERE id = $1', [u.id]);
    expect(await repo.sessionOfToken(hashRefreshToken(token))).toBeUndefined();
    expect(await createRepositories(st.db).users.get(u.id)).toBeUndefined();
  });
});

describe('LoginThrottle', () => {
  it('lets a few failures through, then waits 1 s, 2 s, 4 s … up to the cap; success clears the account', () => {
    let now = 0;
    const t = new LoginThrottle({ now: () => now, accountFreeFailures: 3, ipFreeFailures: 100, baseDelayMs: 1000, maxDelayMs: 8000 });
    for (let i = 0; i < 3; i++) {
      expect(t.check('bob', 'ip')).toEqual({ allowed: true });
      t.failure('bob', 'ip');
    }
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      t.failure('bob', 'ip');
      const d = t.check('bob', 'ip');
      waits.push(d.allowed ? 0 : d.retryAfterMs);
      now += waits.at(-1)!;
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(t.check('alice', 'ip2')).toEqual({ allowed: true });
    t.success('bob');
    expect(t.check('bob', 'ip')).toEqual({ allowed: true });
  });

  it('forgets quiet records and stays bounded', () => {
    let now = 0;
    const t = new LoginThrottle({ now: () => now, windowMs: 1000, maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) t.failure(`user${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(t.size.accounts).toBeLessThanOrEqual(100);
    expect(t.size.ips).toBeLessThanOrEqual(100);
    for (let i = 0; i < 30; i++) t.failure('eve', 'ip');
    expect(t.check('eve', 'ip').allowed).toBe(false);
    now += 16 * 60_000; // past the longest wait and the window
    expect(t.check('eve', 'ip')).toEqual({ allowed: true });
  });
});

describe('login throttling over HTTP', () => {
  let f: AuthFixture;
  let now = Date.now();
  beforeAll(async () => {
    f = await createAuthFixture('pglite', { throttle: { now: () => now, accountFreeFailures: 5, ipFreeFailures: 20 } });
  });
  afterAll(() => f?.close());

  const login = (username: string, password: string, ip = '203.0.113.1', headers: Record<string, string> = {}) =>
    f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress: ip, headers });

  it('per account: after 5 failures even the right password waits (429 + Retry-After), then works', async () => {
    const a = await f.signUp('thr');
    for (let i = 0; i < 5; i++) expect((await login(a.username, 'wrong password')).statusCode).toBe(401);
    expect((await login(a.username, 'wrong password')).statusCode).toBe(401); // the 6th failure starts a 1 s wait
    const held = await login(a.username, PASSWORD, '198.51.100.7'); // another address does not help
    expect(held.statusCode).toBe(429);
    expect(held.json()).toMatchObject({ code: 'RATE_LIMITED', request_id: held.headers['x-request-id'] });
    expect(held.headers['retry-after']).toBe('1');
    now += 1_000;
    expect((await login(a.username, 'wrong password')).statusCode).toBe(401);
    const longer = await login(a.username, PASSWORD);
    expect(longer.statusCode).toBe(429);
    expect(longer.headers['retry-after']).toBe('2');
    now += 2_000;
    expect((await login(a.username, PASSWORD)).statusCode).toBe(200);
    // Success cleared the record: five free failures again.
    for (let i = 0; i < 5; i++) expect((await login(a.username, 'wrong password')).statusCode).toBe(401);
  });

  it('per address: 20 failures over many names hold that address only; X-Forwarded-For is not believed by default', async () => {
    const victim = await f.signUp('vic');
    for (let i = 0; i < 21; i++) {
      const r = await login(uniqueName('spray'), 'wrong password', '192.0.2.50', { 'x-forwarded-for': `10.9.${i}.1` });
      expect(r.statusCode).toBe(401);
    }
    const blocked = await login(victim.username, PASSWORD, '192.0.2.50', { 'x-forwarded-for': '10.200.0.1' });
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await login(victim.username, PASSWORD, '192.0.2.51')).statusCode).toBe(200);
  });
});
