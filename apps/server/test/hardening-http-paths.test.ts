/**
 * Issue 12 §1: percent-encoded spellings of API paths (`/%61pi/auth/login`,
 * `/api/%61uth/register`, `/%61pi/watchlists`) reach the same routes as the
 * plain path, so they must meet the same rate limits. Through a real socket
 * and a real HTTP client (fetch keeps the encoded path as written).
 */
import { Value } from '@sinclair/typebox/value';
import { ErrorResponse } from '@stock-tracker/protocol';
import { createAuthFixture, type AuthFixture, type Session } from './auth-fixture.ts';

let f: AuthFixture;
let base: string;
let alice: Session;

beforeAll(async () => {
  f = await createAuthFixture('pglite', { settings: { trustProxy: ['127.0.0.1'], rateLimit: { max: 40, windowMs: 60_000, authMax: 4, writeMax: 3, alertRuleMax: 0 } } });
  alice = await f.signUp('paths');
  base = await f.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => f?.close());

/** Each test acts as its own client address (the fixture trusts the loopback proxy's X-Forwarded-For). */
let client = '198.51.100.1';
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': client, ...headers }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, body: await r.json() as Record<string, unknown> };
}

/** Sends until a 429 arrives or `max` requests were sent; returns the statuses. */
async function flood(max: number, send: () => Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>) {
  const statuses: number[] = [];
  for (let i = 0; i < max; i++) {
    const r = await send();
    statuses.push(r.status);
    expect(Value.Check(ErrorResponse, r.body), JSON.stringify(r.body)).toBe(true);
    if (r.status === 429) {
      expect(r.body.code).toBe('RATE_LIMITED');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      break;
    }
  }
  return statuses;
}

describe('rate limits are keyed on the matched route, not the raw URL', () => {
  it('an encoded login path floods into 429 after the auth limit, like the plain path; no password is checked', async () => {
    client = '198.51.100.10';
    const wrong = { username: alice.username, password: 'not the password at all' };
    const statuses = await flood(20, () => post('/%61pi/auth/login', wrong));
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.length).toBe(5); // 4 allowed by AUTH_RATE_LIMIT_MAX, the 5th refused
    // Refused as non-canonical (never reaching the password check), not tried as a login.
    expect(statuses.slice(0, -1).every((s) => s === 400)).toBe(true);
    // The same address on the plain path shares the counter: already limited.
    expect((await post('/api/auth/login', wrong)).status).toBe(429);
  });

  it('an encoded segment after /api (register) meets the auth limit too', async () => {
    client = '198.51.100.11';
    const statuses = await flood(20, () => post('/api/%61uth/register', { username: 'someone-new', password: 'long enough password here' }));
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.length).toBe(5);
  });

  it('encoded write paths meet the write limit (and the general /api limit counts them)', async () => {
    client = '198.51.100.12';
    const auth = { authorization: `Bearer ${alice.token}` };
    const statuses = await flood(20, () => post('/%61pi/watchlists', { name: 'x' }, auth));
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.length).toBe(4); // WRITE_RATE_LIMIT_MAX 3, the 4th refused
  });

  it('the guard answers 400 in the contract and leaves encoded reserved characters (data) alone', async () => {
    const r = await fetch(`${base}/%61pi/health`, { headers: { 'x-forwarded-for': '198.51.100.13' } });
    expect(r.status).toBe(400);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body.code).toBe('BAD_REQUEST');
    expect(body.request_id).toBe(r.headers.get('x-request-id'));
    // %3A (`:`) inside a parameter is data, not a spelling trick: routed (404 unknown symbol), not refused.
    const sym = await fetch(`${base}/api/watchlists/a%3Ab`, { headers: { authorization: `Bearer ${alice.token}`, 'x-forwarded-for': '198.51.100.14' } });
    expect(sym.status).toBe(404);
  });
});
