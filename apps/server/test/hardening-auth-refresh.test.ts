/**
 * Issue 12 §5 (server side): /api/auth/refresh clears the refresh cookie only
 * when the token itself is refused (401). While the database is unreachable
 * the answer is 503 SERVICE_UNAVAILABLE and the browser keeps its cookie, so
 * the session survives the blip. Real socket, real HTTP client.
 */
import { AuthService } from '../src/auth/auth-service.ts';
import { PasswordHasher, TEST_HASH_PARAMS } from '../src/auth/passwords.ts';
import { createAuthRepository } from '../src/storage/auth-repo.ts';
import type { Db } from '../src/storage/db.ts';
import { outageAwareDb } from '../src/roles/db-outage.ts';
import { createAuthFixture, TEST_JWT, type AuthFixture } from './auth-fixture.ts';

/** The real database until `mode` says otherwise: a refused connection (an outage) or a plain bug. */
function switchable(db: Db) {
  const state = { mode: 'up' as 'up' | 'down' | 'broken' };
  const fail = () => {
    if (state.mode === 'down') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    if (state.mode === 'broken') throw new Error('a bug in a query');
  };
  const wrap = (inner: Db): Db => ({
    kind: inner.kind,
    query: async (sql, params) => (fail(), inner.query(sql, params)),
    exec: async (sql) => (fail(), inner.exec(sql)),
    transaction: async (fn) => (fail(), inner.transaction((tx) => fn(wrap(tx)))),
    close: () => inner.close(),
    ping: () => inner.ping(),
  });
  return { db: wrap(db), state };
}

let f: AuthFixture;
let base: string;
let state: { mode: 'up' | 'down' | 'broken' };

beforeAll(async () => {
  f = await createAuthFixture('pglite', {
    makeService: (storage) => {
      const s = switchable(storage.db);
      state = s.state;
      return new AuthService({ repo: createAuthRepository(outageAwareDb(s.db)), jwt: TEST_JWT, accessTtlSeconds: 900, refreshTtlSeconds: 86_400, registrationEnabled: true, hasher: new PasswordHasher(TEST_HASH_PARAMS) });
    },
  });
  base = await f.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => f?.close());

const refresh = (cookie: string) => fetch(`${base}/api/auth/refresh`, { method: 'POST', headers: { cookie, origin: 'https://allowed.example.com' } });
const cleared = (r: Response) => r.headers.getSetCookie().some((c) => /st_refresh=;.*Max-Age=0/.test(c));

describe('refresh during a database outage', () => {
  it('503 in the contract, and the cookie is NOT cleared; the same cookie works once the database is back', async () => {
    const alice = await f.signUp('blip');
    state.mode = 'down';
    try {
      const r = await refresh(alice.cookie);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { code: string }).code).toBe('SERVICE_UNAVAILABLE');
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect(r.headers.getSetCookie()).toEqual([]);
      state.mode = 'broken';
      const bug = await refresh(alice.cookie);
      expect(bug.status).toBe(500);
      expect(cleared(bug)).toBe(false);
    } finally {
      state.mode = 'up';
    }
    const back = await refresh(alice.cookie);
    expect(back.status).toBe(200);
    expect(back.headers.getSetCookie().some((c) => /st_refresh=[^;]+;/.test(c) && !/Max-Age=0/.test(c))).toBe(true);
  });

  it('a refused token (401) still clears the cookie', async () => {
    const r = await refresh('__Secure-st_refresh=' + 'A'.repeat(43));
    expect(r.status).toBe(401);
    expect(cleared(r)).toBe(true);
  });
});
