/**
 * Hardening of the HTTP layer with accounts on: every error status the API
 * can give (401 403 404 405 409 413 415 429 500 503) in the error contract
 * with the X-Request-ID header, no stack traces outside development, request
 * ids on every response and every request-scoped log line with no credential
 * in the logs, the stacked rate limits (auth per address, writes per address,
 * alert rules per user), TRUST_PROXY, CORS credentials, and the CSP against
 * the real SPA build.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Value } from '@sinclair/typebox/value';
import { ErrorResponse } from '@stock-tracker/protocol';
import type { LightMyRequestResponse } from 'fastify';
import { DEFAULT_WEB_DIST } from '../src/config.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createAuthFixture, PASSWORD, type AuthFixture, type Session } from './auth-fixture.ts';
import { stubApp } from './http-stubs.ts';

function contract(r: LightMyRequestResponse, status: number, code?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toContain('application/json');
  const body = r.json();
  expect(Value.Check(ErrorResponse, body), r.body).toBe(true);
  expect(body.request_id).toBe(r.headers['x-request-id']);
  if (code) expect(body.code).toBe(code);
  expect(r.body).not.toMatch(/\bat .+\.ts:\d+/); // no stack frames
  return body;
}

describe('error contract with accounts on', () => {
  let f: AuthFixture;
  let alice: Session;
  let lines: string[];
  beforeAll(async () => {
    lines = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    f = await createAuthFixture('pglite', { log: createLogger({ level: 'info', destination: sink }), settings: { bodyLimit: 4096 } });
    alice = await f.signUp('alice');
  });
  afterAll(() => f?.close());

  it('401 403 404 405 409 413 415 500 all in the contract, with X-Request-ID', async () => {
    contract(await f.as(null, 'GET', '/api/watchlists'), 401, 'INVALID_TOKEN');
    contract(await f.as(null, 'POST', '/api/auth/login', { username: alice.username, password: 'wrong password' }), 401, 'INVALID_CREDENTIALS');
    contract(await f.as(null, 'POST', '/api/auth/refresh', undefined, { cookie: alice.cookie, origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    contract(await f.as(alice, 'GET', '/api/watchlists/does-not-exist'), 404, 'NOT_FOUND');
    contract(await f.as(alice, 'GET', '/api/nope'), 404, 'ROUTE_NOT_FOUND');
    const wrongMethod = contract(await f.as(alice, 'PUT', '/api/auth/login'), 405, 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.message).toContain('POST');
    contract(await f.as(null, 'POST', '/api/auth/register', { username: alice.username, password: PASSWORD }), 409, 'CONFLICT');
    contract(await f.as(null, 'POST', '/api/auth/login', { username: 'x'.repeat(10_000), password: 'y' }), 413, 'PAYLOAD_TOO_LARGE');
    contract(
      await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: 'username=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    contract(await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: '{"username":', headers: { 'content-type': 'application/json' } }), 400, 'MALFORMED_JSON');
    const original = f.repos.watchlists.list;
    f.repos.watchlists.list = async () => {
      throw new Error('connection to db-internal-7 refused at /srv/secret/path.ts:42');
    };
    try {
      const boom = contract(await f.as(alice, 'GET', '/api/watchlists'), 500, 'INTERNAL');
      expect(boom.details).toBeUndefined();
      expect(JSON.stringify(boom)).not.toContain('db-internal-7');
    } finally {
      f.repos.watchlists.list = original;
    }
  });

  it('NUL characters (which PostgreSQL text cannot hold) are a 400, wherever they hide', async () => {
    const nulCursor = Buffer.from(JSON.stringify([1740965400000, 'a\u0000b'])).toString('base64url');
    contract(await f.as(null, 'POST', '/api/auth/login', { username: 'a\u0000b', password: 'whatever!' }), 400, 'VALIDATION_FAILED');
    contract(await f.as(alice, 'POST', '/api/watchlists', { name: 'x\u0000' }), 400, 'VALIDATION_FAILED');
    contract(await f.as(alice, 'GET', '/api/watchlists/a%00b'), 400, 'VALIDATION_FAILED');
    contract(await f.as(null, 'GET', '/api/symbols?q=%00'), 400, 'VALIDATION_FAILED');
    contract(await f.as(null, 'GET', `/api/trades/FPT?before=${nulCursor}`), 400, 'VALIDATION_FAILED');
    contract(await f.as(alice, 'GET', `/api/alerts/events?before=${nulCursor}`), 400, 'VALIDATION_FAILED');
  });

  it('every response carries X-Request-ID, and every request-scoped log line its request_id, without credentials', async () => {
    lines.length = 0;
    const id = 'sec-log-check-1';
    const r = await f.as(alice, 'POST', '/api/auth/refresh', undefined, { cookie: alice.cookie, 'x-request-id': id });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-request-id']).toBe(id);
    const login = await f.as(null, 'POST', '/api/auth/login', { username: alice.username, password: PASSWORD }, { 'x-request-id': 'sec-log-check-2' });
    expect(login.headers['x-request-id']).toBe('sec-log-check-2');
    await f.as(null, 'POST', '/api/auth/login', { username: alice.username, password: 'a wrong password' }, { 'x-request-id': 'sec-log-check-3' });
    for (const url of ['/healthz', '/api/docs/json', '/api/auth/me']) expect((await f.app.inject(url)).headers['x-request-id']).toBeTruthy();
    const pre = await f.app.inject({ method: 'OPTIONS', url: '/api/auth/login', headers: { origin: 'https://allowed.example.com', 'access-control-request-method': 'POST' } });
    expect(pre.headers['x-request-id']).toBeTruthy();

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requestScoped = parsed.filter((l) => l.req !== undefined || l.res !== undefined || ['request rejected', 'request failed', 'login failed'].includes(String(l.msg)));
    expect(requestScoped.length).toBeGreaterThanOrEqual(6);
    for (const l of requestScoped) expect(typeof l.request_id, JSON.stringify(l)).toBe('string');
    expect(parsed.filter((l) => l.request_id === 'sec-log-check-3').map((l) => l.msg)).toContain('login failed');
    const all = lines.join('\n');
    for (const secret of [alice.token, alice.cookie.split('=')[1]!, login.json().accessToken, PASSWORD]) expect(all).not.toContain(secret);
  });

  it('503 from readiness is in the contract too', async () => {
    const { app } = await stubApp({ deps: { readiness: [{ name: 'database', run: async () => ({ ok: false, detail: 'down' }) }] } });
    contract(await app.inject('/readyz'), 503, 'SERVICE_UNAVAILABLE');
    await app.close();
  });
});

describe('rate limits in the app', () => {
  let f: AuthFixture;
  beforeAll(async () => {
    f = await createAuthFixture('pglite', { settings: { rateLimit: { max: 0, windowMs: 60_000, authMax: 3, writeMax: 4, alertRuleMax: 2 } } });
  });
  afterAll(() => f?.close());

  const login = (ip: string, headers: Record<string, string> = {}) =>
    f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody', password: 'whatever!' }, remoteAddress: ip, headers });

  it('auth endpoints: per address, 429 RATE_LIMITED with Retry-After; another address is unaffected; X-Forwarded-For is not believed', async () => {
    for (let i = 0; i < 3; i++) expect((await login('198.51.100.10', { 'x-forwarded-for': `10.0.0.${i}` })).statusCode).toBe(401);
    const r = await login('198.51.100.10', { 'x-forwarded-for': '10.0.0.99' });
    const body = contract(r, 429, 'RATE_LIMITED');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect(body.message).toMatch(/retry in \d+ s/);
    expect((await login('198.51.100.11')).statusCode).toBe(401);
    // Reads are not auth writes: `me` is not limited.
    for (let i = 0; i < 5; i++) expect((await f.app.inject({ url: '/api/auth/me', remoteAddress: '198.51.100.10' })).statusCode).toBe(200);
  });

  it('alert rule creation: per user; writes: per address', async () => {
    const [a, b] = [await f.signUp('rla'), await f.signUp('rlb')];
    const create = (s: Session, ip: string) =>
      f.app.inject({ method: 'POST', url: '/api/alerts/rules', payload: { symbol: 'FPT', kind: 'price_above', threshold: 1 }, remoteAddress: ip, headers: { authorization: `Bearer ${s.token}` } });
    expect((await create(a, '203.0.113.1')).statusCode).toBe(201);
    expect((await create(a, '203.0.113.2')).statusCode).toBe(201);
    contract(await create(a, '203.0.113.3'), 429, 'RATE_LIMITED'); // a third rule from anywhere
    expect((await create(b, '203.0.113.3')).statusCode).toBe(201); // another user is fine
    // Writes per address: 4 writes from .9, then refused; reads still pass.
    const write = () => f.app.inject({ method: 'POST', url: '/api/watchlists', payload: { name: 'w' }, remoteAddress: '203.0.113.9', headers: { authorization: `Bearer ${b.token}` } });
    for (let i = 0; i < 4; i++) expect((await write()).statusCode).toBe(201);
    contract(await write(), 429, 'RATE_LIMITED');
    expect((await f.app.inject({ url: '/api/watchlists', remoteAddress: '203.0.113.9', headers: { authorization: `Bearer ${b.token}` } })).statusCode).toBe(200);
  });
});

describe('TRUST_PROXY', () => {
  it('with a trusted proxy the forwarded address is the client (rate limits count per real client)', async () => {
    // Without accounts login answers 403, but the per-address auth limit runs first all the same.
    const { app } = await stubApp({ settings: { trustProxy: ['127.0.0.1'], rateLimit: { max: 0, windowMs: 60_000, authMax: 1 } } });
    try {
      const login = (peer: string, xff: string) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody', password: 'whatever!' }, remoteAddress: peer, headers: { 'x-forwarded-for': xff } });
      expect((await login('127.0.0.1', '198.51.100.1')).statusCode).toBe(403);
      expect((await login('127.0.0.1', '198.51.100.1')).statusCode).toBe(429);
      expect((await login('127.0.0.1', '198.51.100.2')).statusCode).toBe(403);
      // An untrusted peer's header is ignored: it is counted as itself.
      expect((await login('192.0.2.7', '198.51.100.3')).statusCode).toBe(403);
      expect((await login('192.0.2.7', '198.51.100.4')).statusCode).toBe(429);
    } finally {
      await app.close();
    }
  });

  it('`true` believes only the entry the proxy appended, not what the client wrote before it', async () => {
    const { app } = await stubApp({ settings: { trustProxy: true, rateLimit: { max: 0, windowMs: 60_000, authMax: 1 } } });
    try {
      const login = (xff: string) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'n', password: 'p' }, remoteAddress: '10.0.0.5', headers: { 'x-forwarded-for': xff } });
      expect((await login('6.6.6.1, 198.51.100.9')).statusCode).toBe(403);
      expect((await login('6.6.6.2, 198.51.100.9')).statusCode).toBe(429); // a new forged prefix does not make a new client
      expect((await login('6.6.6.2, 198.51.100.10')).statusCode).toBe(403);
    } finally {
      await app.close();
    }
  });
});

describe('CORS with credentials', () => {
  it('an allow-listed origin gets credentials; a wildcard never comes with credentials', async () => {
    const { app } = await stubApp();
    const ok = await app.inject({ url: '/api/auth/me', headers: { origin: 'https://allowed.example.com' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://allowed.example.com');
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    const evil = await app.inject({ url: '/api/auth/me', headers: { origin: 'https://evil.example.com' } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['access-control-allow-credentials']).toBeUndefined();
    await app.close();
    const { app: wild } = await stubApp({ settings: { corsOrigins: ['*'] } });
    const w = await wild.inject({ url: '/api/auth/me', headers: { origin: 'https://any.example.com' } });
    expect(w.headers['access-control-allow-origin']).toBeDefined();
    expect(w.headers['access-control-allow-credentials']).toBeUndefined();
    await wild.close();
  });
});

describe('CSP and the SPA', () => {
  // apps/web/dist is built by the suite's global setup (test/global-setup.ts), so this never skips.
  it('the served SPA needs nothing the CSP forbids: no inline script, no foreign origin', async () => {
    expect(existsSync(path.join(DEFAULT_WEB_DIST, 'index.html')), 'apps/web/dist/index.html (built by test/global-setup.ts)').toBe(true);
    const { app } = await stubApp({ settings: { webDist: DEFAULT_WEB_DIST } });
    try {
      const page = await app.inject({ url: '/', headers: { host: 'board.local' } });
      expect(page.statusCode).toBe(200);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      const html = page.body;
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attrs, body] of scripts) {
        expect(attrs).toMatch(/\bsrc="\/[^/]/); // own origin, absolute path
        expect(body!.trim()).toBe(''); // no inline code
      }
      expect(html).not.toMatch(/\son[a-z]+\s*=/i); // no inline event handlers
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i); // nothing from another origin
      expect(html).not.toMatch(/javascript:/i);
      // Every referenced asset is served with the CSP and loads.
      for (const [, ref] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
        const asset = await app.inject(ref!);
        expect(asset.statusCode, ref).toBe(200);
        if (ref!.endsWith('.js')) expect(asset.body).not.toMatch(/\beval\(|new Function\(/);
      }
      const index = readFileSync(path.join(DEFAULT_WEB_DIST, 'index.html'), 'utf8');
      expect(index).toBe(html);
    } finally {
      await app.close();
    }
  });
});
