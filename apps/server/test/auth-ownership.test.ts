/**
 * Ownership (IDOR) over REST, on PGlite and PostgreSQL: user B cannot read,
 * change or delete user A's watchlists, alert rules or alert events by id —
 * every attempt is the same 404 as a missing id (existence is not revealed),
 * lists only ever hold the caller's items, and A's data is unchanged after
 * B's attempts. Owned endpoints need a token; market data is public unless
 * PUBLIC_MARKET_DATA=false.
 */
import { randomUUID } from 'node:crypto';
import { createAuthFixture, type AuthFixture, type Session } from './auth-fixture.ts';
import type { StorageKind } from '../../../test/helpers/storage.ts';

describe.each(['pglite', 'postgres'] as StorageKind[])('ownership over REST (%s)', (kind) => {
  let f: AuthFixture;
  let alice: Session;
  let bob: Session;
  let aliceList: { id: string };
  let aliceRule: { id: string };
  beforeAll(async () => {
    f = await createAuthFixture(kind);
    alice = await f.signUp('alice');
    bob = await f.signUp('bob');
    aliceList = (await f.as(alice, 'POST', '/api/watchlists', { name: 'Alice banks', symbols: ['FPT', 'VNM'] })).json();
    aliceRule = (await f.as(alice, 'POST', '/api/alerts/rules', { symbol: 'FPT', kind: 'price_above', threshold: 1 })).json();
    // Fired alerts of both users, as the collector's writer stores them.
    const insert = 'INSERT INTO alert_events (id, rule_id, user_id, symbol, kind, ts, value, threshold, message) VALUES ($1, $2, $3, $4, $5, $6::timestamptz, 1, 1, $7)';
    for (let i = 0; i < 3; i++) {
      await f.storage.db.query(insert, [`a-${randomUUID()}`, aliceRule.id, alice.userId, 'FPT', 'price_above', new Date(Date.UTC(2025, 2, 3, 3, i)).toISOString(), 'alice alert']);
      await f.storage.db.query(insert, [`b-${randomUUID()}`, 'r-b', bob.userId, 'FPT', 'price_above', new Date(Date.UTC(2025, 2, 3, 3, i)).toISOString(), 'bob alert']);
    }
  });
  afterAll(() => f?.close());

  it('B gets 404 for A’s watchlist by id: read, change, delete — exactly like a missing id', async () => {
    const missing = await f.as(bob, 'GET', `/api/watchlists/${randomUUID()}`);
    for (const [method, body] of [['GET'], ['PATCH', { name: 'pwned' }], ['DELETE']] as const) {
      const r = await f.as(bob, method, `/api/watchlists/${aliceList.id}`, body);
      expect(r.statusCode, `${method} ${r.body}`).toBe(404);
      expect(r.json()).toMatchObject({ code: 'NOT_FOUND', message: missing.json().message.replace(/'[^']+'/, `'${aliceList.id}'`) });
    }
    expect((await f.as(bob, 'GET', '/api/watchlists')).json().items).toEqual([]);
    const still = (await f.as(alice, 'GET', `/api/watchlists/${aliceList.id}`)).json();
    expect(still).toMatchObject({ name: 'Alice banks', symbols: ['FPT', 'VNM'] });
  });

  it('B gets 404 for A’s alert rule by id: read, change, delete; A’s rule is intact', async () => {
    for (const [method, body] of [['GET'], ['PATCH', { threshold: 999_999 }], ['DELETE']] as const) {
      const r = await f.as(bob, method, `/api/alerts/rules/${aliceRule.id}`, body);
      expect(r.statusCode, `${method} ${r.body}`).toBe(404);
      expect(r.json().code).toBe('NOT_FOUND');
    }
    expect((await f.as(bob, 'GET', '/api/alerts/rules')).json().items).toEqual([]);
    expect((await f.as(alice, 'GET', `/api/alerts/rules/${aliceRule.id}`)).json()).toMatchObject({ threshold: 1, userId: alice.userId });
  });

  it('ownership cannot be smuggled in the body', async () => {
    const r = await f.as(bob, 'PATCH', `/api/alerts/rules/${aliceRule.id}`, { userId: bob.userId, threshold: 5 });
    expect(r.statusCode).toBe(400);
    const made = await f.as(bob, 'POST', '/api/alerts/rules', { symbol: 'VNM', kind: 'price_below', threshold: 1, userId: alice.userId });
    expect(made.statusCode).toBe(400);
    expect(made.json().details).toEqual([{ path: 'body.userId', issue: 'is not an allowed property' }]);
  });

  it('alert events: each user pages through their own only, whatever the filter or cursor', async () => {
    const a = (await f.as(alice, 'GET', '/api/alerts/events?limit=2')).json();
    expect(a.items).toHaveLength(2);
    expect(a.items.every((e: { userId: string }) => e.userId === alice.userId)).toBe(true);
    // B follows A's cursor: still only B's events.
    const b = (await f.as(bob, 'GET', `/api/alerts/events?limit=100&before=${encodeURIComponent(a.next)}`)).json();
    expect(b.items.length).toBeGreaterThan(0);
    expect(b.items.every((e: { userId: string; message: string }) => e.userId === bob.userId && e.message === 'bob alert')).toBe(true);
    const bAll = (await f.as(bob, 'GET', '/api/alerts/events?symbol=FPT&limit=100')).json();
    expect(bAll.items.map((e: { userId: string }) => e.userId)).toEqual([bob.userId, bob.userId, bob.userId]);
  });

  it('owned endpoints need a token; market data is public', async () => {
    for (const [method, url] of [['GET', '/api/watchlists'], ['POST', '/api/watchlists'], ['GET', `/api/alerts/rules/${aliceRule.id}`], ['DELETE', `/api/watchlists/${aliceList.id}`], ['GET', '/api/alerts/events']] as const) {
      const r = await f.as(null, method, url, method === 'POST' ? { name: 'x' } : undefined);
      expect(r.statusCode, `${method} ${url}`).toBe(401);
      expect(r.json().code).toBe('INVALID_TOKEN');
    }
    expect((await f.as(null, 'GET', '/api/quotes/FPT')).statusCode).toBe(200);
    expect((await f.as(alice, 'GET', `/api/watchlists/${aliceList.id}`)).statusCode).toBe(200);
  });

  it('A deletes her own rule: gone for her, and B still cannot see anything', async () => {
    const made = (await f.as(alice, 'POST', '/api/alerts/rules', { symbol: 'VNM', kind: 'price_below', threshold: 1 })).json();
    expect((await f.as(bob, 'DELETE', `/api/alerts/rules/${made.id}`)).statusCode).toBe(404);
    expect((await f.as(alice, 'DELETE', `/api/alerts/rules/${made.id}`)).statusCode).toBe(204);
    expect((await f.as(alice, 'GET', `/api/alerts/rules/${made.id}`)).statusCode).toBe(404);
  });
});

describe('PUBLIC_MARKET_DATA=false', () => {
  it('market REST endpoints need a token too', async () => {
    const f = await createAuthFixture('pglite', { settings: { auth: { mode: 'accounts', registrationEnabled: true, publicMarketData: false } } });
    try {
      const a = await f.signUp('mkt');
      for (const url of ['/api/quotes', '/api/quotes/FPT', '/api/symbols', '/api/trades/FPT', '/api/market/status', '/api/indices']) {
        const r = await f.as(null, 'GET', url);
        expect(r.statusCode, url).toBe(401);
        expect(r.json().code).toBe('INVALID_TOKEN');
        expect((await f.as(a, 'GET', url)).statusCode, url).toBe(200);
      }
      // Probes and the mode answer stay open.
      expect((await f.as(null, 'GET', '/healthz')).statusCode).toBe(200);
      expect((await f.as(null, 'GET', '/api/auth/me')).json()).toMatchObject({ publicMarketData: false });
    } finally {
      await f.close();
    }
  });
});
