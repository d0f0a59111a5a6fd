/**
 * Issue 12 §9: per-user quotas on alert rules (per user and per symbol) and
 * watchlists, enforced in SQL under a per-user row lock (concurrent creations
 * cannot overshoot, checked on real PostgreSQL), 409 QUOTA_EXCEEDED in the
 * error contract, and cursor pagination of GET /api/alerts/rules that the
 * typed client follows to the end. Real socket, real HTTP client.
 */
import { Value } from '@sinclair/typebox/value';
import { ErrorResponse } from '@stock-tracker/protocol';
import { RestClient } from '@stock-tracker/client';
import { createAuthFixture, type AuthFixture, type Session } from './auth-fixture.ts';

const QUOTAS = { alertRulesPerUser: 6, alertRulesPerSymbol: 3, watchlistsPerUser: 2 };

async function call(base: string, s: Session, method: string, path: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${s.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (r.status === 204 ? null : await r.json()) as any };
}
const rule = (symbol: string, threshold = 1) => ({ symbol, kind: 'price_above', threshold });

describe('quotas and pagination on real PostgreSQL', () => {
  let f: AuthFixture;
  let base: string;
  beforeAll(async () => {
    f = await createAuthFixture('postgres', { settings: { quotas: QUOTAS } });
    base = await f.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => f?.close());

  it('30 concurrent rule creations over 3 symbols: exactly the per-user quota is stored, the rest are 409 QUOTA_EXCEEDED', async () => {
    const u = await f.signUp('racer');
    const symbols = ['FPT', 'VNM', 'HPG'];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => call(base, u, 'POST', '/api/alerts/rules', rule(symbols[i % 3]!, i + 1))));
    expect(results.filter((r) => r.status === 201).length).toBe(QUOTAS.alertRulesPerUser);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.length).toBe(30 - QUOTAS.alertRulesPerUser);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(Value.Check(ErrorResponse, r.body)).toBe(true);
      expect(r.body.code).toBe('QUOTA_EXCEEDED');
    }
    const stored = await f.repos.alertRules.list(u.userId);
    expect(stored.length).toBe(QUOTAS.alertRulesPerUser);
    for (const s of symbols) expect(stored.filter((r) => r.symbol === s).length).toBeLessThanOrEqual(QUOTAS.alertRulesPerSymbol);
  });

  it('10 concurrent watchlist creations: exactly the quota is stored', async () => {
    const u = await f.signUp('wlracer');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call(base, u, 'POST', '/api/watchlists', { name: `w${i}` })));
    expect(results.filter((r) => r.status === 201).length).toBe(QUOTAS.watchlistsPerUser);
    expect(results.filter((r) => r.status === 409 && r.body.code === 'QUOTA_EXCEEDED').length).toBe(10 - QUOTAS.watchlistsPerUser);
    expect((await f.repos.watchlists.list(u.userId)).length).toBe(QUOTAS.watchlistsPerUser);
  });
  it('per symbol: the 4th rule on FPT is refused naming the field; another symbol still fits; a move onto a full symbol is refused too', async () => {
    const u = await f.signUp('sym');
    for (let i = 0; i < 3; i++) expect((await call(base, u, 'POST', '/api/alerts/rules', rule('FPT', i + 1))).status).toBe(201);
    const full = await call(base, u, 'POST', '/api/alerts/rules', rule('FPT', 9));
    expect(full.status).toBe(409);
    expect(full.body).toMatchObject({ code: 'QUOTA_EXCEEDED', details: [{ path: 'body.symbol' }] });
    const other = await call(base, u, 'POST', '/api/alerts/rules', rule('VNM'));
    expect(other.status).toBe(201);
    const moved = await call(base, u, 'PATCH', `/api/alerts/rules/${other.body.id}`, { symbol: 'FPT' });
    expect(moved.status).toBe(409);
    expect(moved.body.code).toBe('QUOTA_EXCEEDED');
    // Editing a rule in place on its own (full) symbol is fine.
    const first = (await f.repos.alertRules.list(u.userId))[0]!;
    expect((await call(base, u, 'PATCH', `/api/alerts/rules/${first.id}`, { symbol: 'FPT', threshold: 5 })).status).toBe(200);
    // Deleting one makes room again.
    expect((await call(base, u, 'DELETE', `/api/alerts/rules/${first.id}`)).status).toBe(204);
    expect((await call(base, u, 'POST', '/api/alerts/rules', rule('FPT', 7))).status).toBe(201);
  });

  it('quotas are per user: another user is not affected', async () => {
    const [a, b] = [await f.signUp('qa'), await f.signUp('qb')];
    for (let i = 0; i < 2; i++) expect((await call(base, a, 'POST', '/api/watchlists', { name: `a${i}` })).status).toBe(201);
    expect((await call(base, a, 'POST', '/api/watchlists', { name: 'a2' })).status).toBe(409);
    expect((await call(base, b, 'POST', '/api/watchlists', { name: 'b0' })).status).toBe(201);
  });

  it('GET /api/alerts/rules pages with a cursor, oldest first, each rule exactly once; without limit, everything', async () => {
    const u = await f.signUp('pages');
    const created: string[] = [];
    for (const [i, s] of ['FPT', 'FPT', 'VNM', 'VNM', 'HPG'].entries()) created.push((await call(base, u, 'POST', '/api/alerts/rules', rule(s, i + 1))).body.id);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const r = await call(base, u, 'GET', `/api/alerts/rules?limit=2${after ? `&after=${after}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((x: { id: string }) => x.id));
      after = r.body.next;
      pages++;
    } while (after && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(created);
    const all = await call(base, u, 'GET', '/api/alerts/rules');
    expect(all.body.items.map((x: { id: string }) => x.id)).toEqual(created);
    expect(all.body.next).toBeNull();
    const bad = await call(base, u, 'GET', '/api/alerts/rules?after=not-a-cursor');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');

    // The typed client (the web app's) follows `next` to the end, so the SPA always sees every rule.
    const smallPages: typeof fetch = (input, init) => fetch(`${String(input)}${String(input).includes('?') ? '&' : '?'}limit=2`, init);
    const client = new RestClient({ baseUrl: `${base}/api`, fetch: smallPages, token: () => u.token });
    expect((await client.alertRules()).items.map((x) => x.id)).toEqual(created);
  });
});
