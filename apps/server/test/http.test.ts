/**
 * The HTTP framework layer: request ids, the error contract for framework
 * errors (405, 404, malformed JSON, 413, 415, 429, 500), security headers,
 * CORS allow-list and the SPA static serving rules.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ErrorResponse } from '@stock-tracker/protocol';
import { emptyRepos, stubApp } from './http-stubs.ts';
import { IMMUTABLE_CACHE, isSpaRoute } from '../src/http/static.ts';
import { Writable } from 'node:stream';
import { createLogger } from '../src/observability/logger.ts';

function expectContract(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  const body = res.json();
  expect(Value.Check(ErrorResponse, body)).toBe(true);
  expect(body.code).toBe(code);
  expect(body.request_id).toBe(res.headers['x-request-id']);
  expect(res.headers['content-type']).toContain('application/json');
  return body;
}

describe('request ids', () => {
  it('keeps a sane client id, replaces an unsafe one, and generates one otherwise', async () => {
    const { app } = await stubApp();
    const kept = await app.inject({ url: '/api/indices', headers: { 'x-request-id': 'client-1.a:b_c-9' } });
    expect(kept.headers['x-request-id']).toBe('client-1.a:b_c-9');
    for (const bad of ['a'.repeat(129), 'with space', 'new\\nline', 'quote"d', '']) {
      const r = await app.inject({ url: '/api/indices', headers: { 'x-request-id': bad } });
      expect(r.headers['x-request-id']).not.toBe(bad);
      expect(r.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    }
    const a = await app.inject('/api/indices');
    const b = await app.inject('/api/indices');
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    const maxLen = 'x'.repeat(128);
    expect((await app.inject({ url: '/nope', headers: { 'x-request-id': maxLen } })).json().request_id).toBe(maxLen);
    await app.close();
  });
});

describe('logs', () => {
  it('are JSON lines carrying the request id on every request-scoped line', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: sink });
    const { app } = await stubApp({ deps: { log } });
    await app.inject({ url: '/api/bars/FPT?interval=7m', headers: { 'x-request-id': 'log-check-1', authorization: 'Bearer secret-token' } });
    await app.inject('/healthz');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = parsed.filter((l) => l.request_id === 'log-check-1');
    expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request rejected', 'request completed']);
    expect(mine.every((l) => l.service === 'stock-tracker' && typeof l.time === 'string')).toBe(true);
    expect(lines.join('\n')).not.toContain('secret-token');
    // Probes are not request-logged.
    expect(parsed.some((l) => String((l.req as { url?: string } | undefined)?.url ?? '').includes('healthz'))).toBe(false);
    await app.close();
  });
});

describe('error contract for framework errors', () => {
  it('unknown route → 404 ROUTE_NOT_FOUND; known path with a wrong method → 405 with Allow', async () => {
    const { app } = await stubApp();
    expectContract(await app.inject('/api/does-not-exist'), 404, 'ROUTE_NOT_FOUND');
    expectContract(await app.inject('/totally/elsewhere'), 404, 'ROUTE_NOT_FOUND');
    const post = await app.inject({ method: 'POST', url: '/api/symbols' });
    expectContract(post, 405, 'METHOD_NOT_ALLOWED');
    expect(post.headers.allow).toBe('GET, HEAD');
    const put = await app.inject({ method: 'PUT', url: '/api/alerts/rules/abc' });
    expectContract(put, 405, 'METHOD_NOT_ALLOWED');
    expect(String(put.headers.allow).split(', ')).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
    expectContract(await app.inject({ method: 'DELETE', url: '/metrics' }), 405, 'METHOD_NOT_ALLOWED');
    await app.close();
  });

  it('malformed JSON → 400 MALFORMED_JSON, oversized → 413, wrong type → 415, validation → details', async () => {
    const { app } = await stubApp();
    const json = { 'content-type': 'application/json' };
    expectContract(await app.inject({ method: 'POST', url: '/api/watchlists', headers: json, payload: '{"name": "x",' }), 400, 'MALFORMED_JSON');
    expectContract(await app.inject({ method: 'POST', url: '/api/watchlists', headers: json, payload: '{"__proto__": {"x": 1}, "name": "a"}' }), 400, 'MALFORMED_JSON');
    expectContract(await app.inject({ method: 'POST', url: '/api/watchlists', headers: json, payload: JSON.stringify({ name: 'x'.repeat(100_000) }) }), 413, 'PAYLOAD_TOO_LARGE');
    expectContract(await app.inject({ method: 'POST', url: '/api/watchlists', headers: { 'content-type': 'text/plain' }, payload: 'name=x' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const v = expectContract(await app.inject({ method: 'POST', url: '/api/alerts/rules', headers: json, payload: JSON.stringify({ symbol: 'FPT', kind: 'price_above', threshold: 'high', extra: 1 }) }), 400, 'VALIDATION_FAILED');
    expect(v.details[0]).toMatchObject({ path: expect.stringMatching(/^body/), issue: expect.any(String) });
    const q = expectContract(await app.inject('/api/bars/FPT?interval=2m'), 400, 'VALIDATION_FAILED');
    expect(q.details).toEqual([{ path: 'query.interval', issue: expect.stringContaining('"1m"') }]);
    const huge = expectContract(await app.inject('/api/foreign/top?limit=' + '9'.repeat(400)), 400, 'VALIDATION_FAILED');
    expect(huge.details[0].path).toBe('query.limit');
    const inf = expectContract(await app.inject({ method: 'POST', url: '/api/alerts/rules', headers: json, payload: '{"symbol":"FPT","kind":"price_above","threshold":1e999}' }), 400, 'VALIDATION_FAILED');
    expect(inf.details[0].path).toBe('body.threshold');
    const typed = expectContract(await app.inject({ method: 'POST', url: '/api/watchlists', headers: json, payload: '{"name":0}' }), 400, 'VALIDATION_FAILED');
    expect(typed.details[0].path).toBe('body.name');
    const long = expectContract(await app.inject('/api/quotes/' + 'A'.repeat(150)), 400, 'VALIDATION_FAILED');
    expect(long.details[0].path).toBe('params');
    await app.close();
  });

  it('unexpected errors → 500 INTERNAL without internals, except in development', async () => {
    const boom = async () => {
      throw new Error('db password is hunter2');
    };
    const repos = emptyRepos({ symbols: { get: boom } });
    for (const appEnv of ['production', 'development'] as const) {
      const { app } = await stubApp({ settings: { appEnv }, deps: { repos } });
      const res = await app.inject('/api/symbols/FPT');
      const body = expectContract(res, 500, 'INTERNAL');
      expect(body.message).toBe('Internal error.');
      if (appEnv === 'production') {
        expect(res.body).not.toContain('hunter2');
        expect(body.details).toBeUndefined();
      } else {
        expect(body.details[0].path).toBe('stack');
        expect(body.details[0].issue).toContain('hunter2');
      }
      await app.close();
    }
  });

  it('rate limit → 429 RATE_LIMITED with Retry-After, probes exempt', async () => {
    const { app } = await stubApp({ settings: { rateLimit: { max: 3, windowMs: 60_000 } } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await app.inject('/api/indices')).statusCode);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const limited = await app.inject('/api/indices');
    expectContract(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect((await app.inject('/healthz')).statusCode).toBe(200);
    await app.close();
  });
});

describe('graceful close', () => {
  it('lets an in-flight request finish before the server stops', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const repos = emptyRepos({
      symbols: {
        get: async () => {
          entered();
          await gate;
          return { symbol: 'FPT', exchange: 'HOSE', market: 'VN', tradingDate: '2025-03-03', reference: 1000, ceiling: 1070, floor: 930, lotSize: 100, indices: [], sharesOutstanding: 1 };
        },
      },
    });
    const { app } = await stubApp({ deps: { repos } });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const pending = fetch(`${url}/api/symbols/FPT`);
    await inHandler;
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    const res = await pending;
    expect(res.status).toBe(200);
    expect((await res.json()).symbol).toBe('FPT');
    await closing;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('browser security', () => {
  it('sets CSP, nosniff, frame-ancestors, referrer and permissions policies', async () => {
    const { app } = await stubApp();
    const r = await app.inject({ url: '/api/indices', headers: { host: 'board.local:8080' } });
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain('connect-src \'self\' ws://board.local:8080 wss://board.local:8080');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
    expect(String(r.headers['permissions-policy'])).toContain('camera=()');
    // Errors carry them too.
    expect((await app.inject('/nope')).headers['x-content-type-options']).toBe('nosniff');
    await app.close();
    const { app: bare } = await stubApp({ settings: { securityHeaders: false } });
    expect((await bare.inject('/api/indices')).headers['content-security-policy']).toBeUndefined();
    await bare.close();
  });

  it('CORS answers only allow-listed origins', async () => {
    const { app } = await stubApp();
    const ok = await app.inject({ url: '/api/indices', headers: { origin: 'https://allowed.example.com' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://allowed.example.com');
    expect(ok.headers['access-control-expose-headers']).toContain('x-request-id');
    const evil = await app.inject({ url: '/api/indices', headers: { origin: 'https://evil.example.com' } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await app.inject({ method: 'OPTIONS', url: '/api/alerts/rules', headers: { origin: 'https://allowed.example.com', 'access-control-request-method': 'PATCH' } });
    expect(pre.statusCode).toBe(204);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('PATCH');
    await app.close();
  });
});

describe('SPA static serving', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-web-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div><script type="module" src="/assets/app-3f9a1c.js"></script>');
    fs.writeFileSync(path.join(dir, 'assets', 'app-3f9a1c.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg/>');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves hashed assets immutable, index.html revalidated, app routes fall back, API and missing files do not', async () => {
    const { app } = await stubApp({ settings: { webDist: dir } });
    const root = await app.inject('/');
    expect(root.statusCode).toBe(200);
    expect(root.headers['content-type']).toContain('text/html');
    expect(root.headers['cache-control']).toBe('no-cache');
    const asset = await app.inject('/assets/app-3f9a1c.js');
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe(IMMUTABLE_CACHE);
    expect((await app.inject('/favicon.svg')).headers['cache-control']).toBe('no-cache');
    for (const route of ['/s/VNM', '/s/BRK.B', '/foreign', '/alerts?tab=events']) {
      const r = await app.inject({ url: route, headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(r.statusCode, route).toBe(200);
      expect(r.body).toContain('id="root"');
      expect(r.headers['cache-control']).toBe('no-cache');
    }
    expectContract(await app.inject('/assets/missing-123.js'), 404, 'ROUTE_NOT_FOUND');
    expectContract(await app.inject('/logo-missing.png'), 404, 'ROUTE_NOT_FOUND');
    expectContract(await app.inject({ url: '/api/unknown', headers: { accept: 'text/html' } }), 404, 'ROUTE_NOT_FOUND');
    expectContract(await app.inject({ url: '/ws/market', headers: { accept: 'text/html' } }), 404, 'ROUTE_NOT_FOUND');
    expect((await app.inject('/metrics')).headers['content-type']).toContain('text/plain');
    expect((await app.inject('/api/indices')).json()).toEqual({ items: [] });
    await app.close();
  });

  it('classifies app routes', () => {
    expect(isSpaRoute('GET', '/s/FPT')).toBe(true);
    expect(isSpaRoute('GET', '/')).toBe(true);
    expect(isSpaRoute('POST', '/s/FPT')).toBe(false);
    expect(isSpaRoute('GET', '/api')).toBe(false);
    expect(isSpaRoute('GET', '/apis')).toBe(true);
    expect(isSpaRoute('GET', '/ws/market')).toBe(false);
    expect(isSpaRoute('GET', '/metrics')).toBe(false);
    expect(isSpaRoute('GET', '/assets/x')).toBe(false);
    expect(isSpaRoute('GET', '/main.css')).toBe(false);
  });

  it('without a build, / is a JSON 404 rather than a crash', async () => {
    const { app } = await stubApp({ settings: { webDist: path.join(dir, 'nope') } });
    expectContract(await app.inject('/'), 404, 'ROUTE_NOT_FOUND');
    await app.close();
  });
});
