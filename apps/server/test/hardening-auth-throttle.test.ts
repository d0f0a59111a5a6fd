/**
 * Issue 12 §7: the login throttle reserves an attempt before the password hash
 * is awaited, so concurrent guesses cannot all pass one check; the state can
 * live in Redis, shared by every process and replica; junk user names cannot
 * flush a victim's record.
 */
import { Redis } from 'ioredis';
import { createAuthFixture, PASSWORD, type AuthFixture } from './auth-fixture.ts';
import { LoginThrottle, RedisLoginThrottle, type Throttle } from '../src/auth/index.ts';
import { PasswordHasher, TEST_HASH_PARAMS } from '../src/auth/passwords.ts';
import { createRedisClient, closeClient } from '../src/bus/redis/connection.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';

/** Counts verifications and makes each one slow, so concurrent requests overlap whatever the machine's speed. */
class SlowHasher extends PasswordHasher {
  verified = 0;
  constructor() {
    super(TEST_HASH_PARAMS);
  }
  override async verify(hash: string | null | undefined, password: string): Promise<boolean> {
    this.verified++;
    await new Promise((r) => setTimeout(r, 300));
    return super.verify(hash, password);
  }
}

async function concurrentGuesses(f: AuthFixture, base: string, username: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, () =>
      fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'wrong guess number x' }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code: string } })),
    ),
  );
}

describe('in-memory throttle over real HTTP', () => {
  let f: AuthFixture;
  let hasher: SlowHasher;
  let base: string;
  beforeAll(async () => {
    hasher = new SlowHasher();
    f = await createAuthFixture('pglite', { service: { hasher }, throttle: { accountFreeFailures: 5, ipFreeFailures: 1_000 } });
    base = await f.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => f?.close());

  it('40 concurrent wrong passwords for one account: only the free ones and the one that starts the wait are tried', async () => {
    const victim = await f.signUp('conc');
    hasher.verified = 0;
    const results = await concurrentGuesses(f, base, victim.username, 40);
    const tried = results.filter((r) => r.status === 401);
    const held = results.filter((r) => r.status === 429);
    // Same as sequential guessing: 5 free failures + the 6th that starts the wait.
    expect(tried.length).toBe(6);
    expect(hasher.verified).toBe(6);
    expect(held.length).toBe(34);
    expect(held.every((r) => r.body.code === 'RATE_LIMITED')).toBe(true);
  });

  it('a success gives the address its reservation back and clears the account', async () => {
    const t = new LoginThrottle({ accountFreeFailures: 2, ipFreeFailures: 2 });
    for (let i = 0; i < 10; i++) {
      expect(await t.reserve(`u${i}`, 'ip')).toEqual({ allowed: true });
      await t.succeeded(`u${i}`, 'ip');
    }
    expect(t.size).toEqual({ accounts: 0, ips: 0 });
  });

  it('a spray of junk user names does not flush a victim’s waiting record out of the bounded store', async () => {
    const t = new LoginThrottle({ accountFreeFailures: 5, ipFreeFailures: 1e9, maxEntries: 100 });
    for (let i = 0; i < 6; i++) await t.reserve('victim', 'attacker');
    expect((await t.reserve('victim', 'attacker')).allowed).toBe(false);
    for (let i = 0; i < 10_000; i++) await t.reserve(`junk${i}`, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    expect(t.size.accounts).toBeLessThanOrEqual(100);
    expect((await t.reserve('victim', 'attacker')).allowed).toBe(false);
  });
});

describe('Redis throttle (the suite’s real Redis)', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('throttle');
  // Each test its own prefix: records from one must not hold the next.
  let n = 0;
  const p = () => `${prefix}${++n}:`;
  const clients: Redis[] = [];
  const client = () => {
    const c = createRedisClient({ url }, 'st-test-throttle');
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(clients.map((c) => closeClient(c)));
    await deletePrefix(url, prefix);
  });

  it('two replicas share one account record: 40 concurrent attempts over both, 6 reserved', async () => {
    // One clock for both (the waits are then exact, whatever order the commands arrive in).
    const now = () => 5_000_000;
    const p1 = p();
    const replicas: Throttle[] = [new RedisLoginThrottle(client(), { prefix: p1, now }), new RedisLoginThrottle(client(), { prefix: p1, now })];
    await new Promise((r) => setTimeout(r, 200));
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => replicas[i % 2]!.reserve('bob', `198.51.100.${i}`)));
    expect(decisions.filter((d) => d.allowed).length).toBe(6);
    const refused = decisions.filter((d) => !d.allowed);
    expect(refused.every((d) => !d.allowed && d.scope === 'account' && d.retryAfterMs === 1_000)).toBe(true);
    // Per address too, across replicas.
    for (let i = 0; i < 20; i++) expect((await replicas[i % 2]!.reserve(`spray${i}`, '192.0.2.9')).allowed).toBe(true);
    await replicas[0]!.reserve('spray-last', '192.0.2.9');
    const ip = await replicas[1]!.reserve('anyone', '192.0.2.9');
    expect(ip).toMatchObject({ allowed: false, scope: 'ip' });
  });

  it('records expire on their own (bounded without eviction); success clears the account for every replica', async () => {
    let now = 1_000_000;
    const p2 = p();
    const a = new RedisLoginThrottle(client(), { prefix: p2, now: () => now, windowMs: 60_000 });
    const b = new RedisLoginThrottle(client(), { prefix: p2, now: () => now, windowMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 3; i++) await a.reserve('carol', '203.0.113.5');
    const probe = clients.at(-1)!;
    const keys = await probe.keys(`${p2}throttle:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(await probe.pttl(k)).toBeGreaterThan(0);
    await b.succeeded('carol', '203.0.113.5');
    for (let i = 0; i < 6; i++) expect((await a.reserve('carol', '203.0.113.6')).allowed).toBe(true);
    expect((await b.reserve('carol', '203.0.113.7')).allowed).toBe(false);
    now += 1_000;
    expect((await b.reserve('carol', '203.0.113.7')).allowed).toBe(true);
  });

  it('login over HTTP with the Redis throttle; Redis unreachable refuses logins with 503 instead of failing open', async () => {
    const up = new RedisLoginThrottle(client(), { prefix: `${prefix}http:` });
    const downClient = createRedisClient({ url: 'redis://127.0.0.1:1' }, 'st-test-down');
    clients.push(downClient);
    const down = new RedisLoginThrottle(downClient, { prefix });
    let current: Throttle = up;
    const switching: Throttle = { reserve: (a, i) => current.reserve(a, i), succeeded: (a, i) => current.succeeded(a, i), size: { accounts: 0, ips: 0 } };
    await new Promise((r) => setTimeout(r, 200));
    const f = await createAuthFixture('pglite', { service: { throttle: switching } });
    try {
      const u = await f.signUp('rt');
      const login = (password: string) => f.as(null, 'POST', '/api/auth/login', { username: u.username, password });
      for (let i = 0; i < 6; i++) expect((await login('wrong password guess')).statusCode).toBe(401);
      expect((await login(PASSWORD)).statusCode).toBe(429);
      current = down;
      const r = await f.as(null, 'POST', '/api/auth/login', { username: (await f.signUp('rd')).username, password: PASSWORD });
      expect(r.statusCode).toBe(503);
      expect(r.json().code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await f.close();
    }
  });
});
