/**
 * REST fuzzing (fast-check): at least 10,000 generated requests (FUZZ_RUNS,
 * default 10000) across every endpoint of the protocol's ENDPOINTS table —
 * auth included — plus the operational ones, with hostile path values, query
 * strings, bodies, content types, tokens, cookies, origins, request ids and
 * client addresses, through `app.inject` against real storage (PGlite).
 *
 * Every answer must be below 500; every 4xx must be the error contract
 * (catalogue code with its status, request_id equal to X-Request-ID); the
 * process must stay healthy (health, login and owned reads still work) and
 * its heap bounded. `FUZZ_RUNS=100000 npx vitest run apps/server/test/fuzz-rest.test.ts`
 * for a longer run; FUZZ_SEED to replay one.
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import { ALERT_KINDS, ENDPOINTS, ERRORS, ErrorResponse, type ErrorCode } from '@stock-tracker/protocol';
import type { LightMyRequestResponse } from 'fastify';
import { newRefreshToken, hashRefreshToken } from '../src/auth/refresh-tokens.ts';
import { createAuthFixture, PASSWORD, SYMBOLS, type AuthFixture, type Session } from './auth-fixture.ts';

const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 10_000));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const CHUNK = 1_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const HOSTILE = [
  "'; DROP TABLE users;--",
  '" OR 1=1 --',
  '../../etc/passwd',
  '..',
  '%00',
  '%zz',
  '%2e%2e%2f',
  '\u0000',
  'a\u0000b',
  '<script>alert(1)</script>',
  '😀💥',
  '\ud800',
  'ﬀ',
  'İ',
  'a'.repeat(300),
  ' ',
  '*',
  'user:local',
  '__proto__',
  'constructor',
  '{"$ne":null}',
  '1e309',
  '-0',
  'NaN',
  'Infinity',
  '9'.repeat(400),
];

/** Pre-encoded values go into URLs as they are; everything else is percent-encoded. */
const RAW_URL = new Set(['%00', '%zz', '%2e%2e%2f']);
const seg = (s: string) => {
  if (RAW_URL.has(s)) return s;
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate cannot be encoded: send its (invalid UTF-8) bytes instead
  }
};

const textArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,24}$/) },
);
const numberText = fc.oneof(fc.integer({ min: -1e9, max: 1e12 }).map(String), fc.double({ noNaN: false }).map(String), fc.constantFrom('0', '1', '1000', '1001', '-1', '1.5', '1e3', '0x10', ''));
const dateText = fc.oneof(
  fc.constantFrom('2025-03-03', '2025-02-30', '2025-13-01', '2025-03-03T02:30:00Z', '2025-03-03T25:00:00Z', 'today', '1740965400000', '99999999999999999999'),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);

interface Ctx {
  sessions: Session[];
  cookies: string[];
  ids: string[];
  usernames: string[];
}

const QUERY_KEYS = ['symbols', 'exchange', 'index', 'q', 'limit', 'before', 'interval', 'from', 'to', 'date', 'name', 'period', 'symbol'];
const cursorArb = fc.oneof(
  textArb,
  fc.tuple(fc.double(), fc.string({ maxLength: 20 })).map(([ts, id]) => Buffer.from(JSON.stringify([ts, id])).toString('base64url')),
  fc.constantFrom(Buffer.from(JSON.stringify([1740965400000, 'a\u0000b'])).toString('base64url'), Buffer.from('[1e400,"x"]').toString('base64url'), Buffer.from('{"ts":1}').toString('base64url')),
);
const queryArb = fc.array(
  fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: textArb }),
    fc.oneof(numberText, dateText, textArb, cursorArb, fc.constantFrom('1m', '5m', '1d', '7m', 'sma', 'rsi', 'macd', 'HOSE', 'VN30', 'FPT,VNM', 'FPT,,VNM', SYMBOLS.join(','))),
  ),
  { maxLength: 5 },
);

function bodyArb(name: string, ctx: Ctx): fc.Arbitrary<unknown> {
  const symbolArb = fc.oneof(fc.constantFrom(...SYMBOLS, 'fpt', 'NOPE1'), textArb);
  const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(1e308, -1e308, 0, -0, 86_400_001, 2 ** 53), textArb);
  const extra = fc.option(fc.dictionary(fc.constantFrom('userId', 'id', '__proto__', 'constructor', 'admin', 'role'), fc.jsonValue()), { nil: undefined });
  const withExtra = <T extends object>(a: fc.Arbitrary<T>) => fc.tuple(a, extra).map(([o, x]) => (x ? { ...o, ...x } : o));
  switch (name) {
    case 'alertRuleCreate':
    case 'alertRuleUpdate': {
      const plausible = fc.record({
        symbol: fc.constantFrom(...SYMBOLS),
        kind: fc.constantFrom(...ALERT_KINDS),
        threshold: fc.integer({ min: 0, max: 200_000 }),
        cooldownMs: fc.integer({ min: 0, max: 86_400_000 }),
      });
      const hostile = withExtra(
        fc.record(
          {
            symbol: symbolArb,
            kind: fc.oneof(fc.constantFrom(...ALERT_KINDS), textArb),
            threshold: num,
            period: num,
            cooldownMs: num,
            enabled: fc.oneof(fc.boolean(), textArb),
            note: fc.oneof(textArb, fc.constant('n'.repeat(70_000))),
          },
          { requiredKeys: name === 'alertRuleCreate' ? ['symbol', 'kind', 'threshold'] : [] },
        ),
      );
      return fc.oneof({ weight: 1, arbitrary: plausible }, { weight: 2, arbitrary: hostile });
    }
    case 'watchlistCreate':
    case 'watchlistUpdate':
      return fc.oneof(
        { weight: 1, arbitrary: fc.record({ name: fc.stringMatching(/^[A-Za-z ]{1,20}$/), symbols: fc.subarray([...SYMBOLS]) }) },
        { weight: 2, arbitrary: withExtra(fc.record({ name: textArb, symbols: fc.oneof(fc.array(symbolArb, { maxLength: 8 }), textArb, fc.constant(Array(250).fill('FPT'))) }, { requiredKeys: [] })) },
      );
    case 'authRegister':
    case 'authLogin':
      return withExtra(
        fc.record(
          {
            username: fc.oneof(fc.constantFrom(...ctx.usernames), fc.stringMatching(/^[a-z0-9._-]{3,32}$/), textArb),
            password: fc.oneof(fc.constant(PASSWORD), fc.string({ minLength: 8, maxLength: 40 }), textArb, fc.constant('p'.repeat(300))),
          },
          { requiredKeys: [] },
        ),
      );
    case 'authPassword':
      return withExtra(fc.record({ currentPassword: fc.oneof(fc.constant(PASSWORD), textArb), newPassword: fc.oneof(fc.string({ minLength: 8, maxLength: 40 }), textArb) }, { requiredKeys: [] }));
    default:
      return fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }));
  }
}

/** `arb` about once in `oneIn + 1` draws, otherwise undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number) => fc.oneof({ weight: oneIn, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

interface Req {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  remoteAddress: string;
}

const OPS: Record<string, string> = {
  ...Object.fromEntries(Object.entries(ENDPOINTS).map(([k, v]) => [k, v.replace(' /', ' /api/')])),
  healthz: 'GET /healthz',
  readyz: 'GET /readyz',
  health: 'GET /api/health',
  metrics: 'GET /metrics',
  docs: 'GET /api/docs/json',
  unknown: 'GET /api/{junk}',
};

function requestArb(ctx: Ctx): fc.Arbitrary<Req> {
  const tokenArb = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 5, arbitrary: fc.constantFrom(...ctx.sessions.map((s) => `Bearer ${s.token}`)) },
    { weight: 1, arbitrary: fc.constantFrom('Bearer x.y.z', 'Basic YTpi', 'Bearer', 'bearer  ', `Bearer ${'A'.repeat(5000)}`, 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.') },
  );
  const cookieArb = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(...ctx.cookies),
    fc.constantFrom(`__Secure-st_refresh=${'A'.repeat(43)}`, 'st_refresh=x', '__Secure-st_refresh=', 'a=b; __Secure-st_refresh="quoted"', '='.repeat(50)),
  );
  // A few busy addresses (their rate limits engage) and many one-off ones (requests reach the handlers).
  const ipArb = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('127.0.0.1', '10.0.0.1', '10.0.0.2', '::1') }, { weight: 2, arbitrary: fc.ipV4() }, { weight: 1, arbitrary: fc.ipV6() });
  const ctArb = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'APPLICATION/JSON', 'application/json; charset=latin1');
  return fc
    .record({
      op: fc.constantFrom(...Object.keys(OPS)),
      otherMethod: sometimes(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'), 6),
      symbol: fc.oneof(fc.constantFrom(...SYMBOLS, 'fpt', 'VNINDEX', 'NOPE1'), textArb),
      id: fc.oneof(fc.constantFrom(...ctx.ids, 'VNINDEX', 'VN30'), fc.uuid(), textArb),
      junk: textArb,
      query: queryArb,
      rawQuery: sometimes(fc.constantFrom('%zz=1', '&&=&', 'limit=1&limit=2', 'a[b]=1', '?'), 10),
      authorization: tokenArb,
      cookie: cookieArb,
      origin: sometimes(fc.constantFrom('https://allowed.example.com', 'https://evil.example.com', 'null', 'http://localhost'), 3),
      requestId: sometimes(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), fc.constantFrom('x'.repeat(200), 'bad id', '../')), 2),
      bodyMode: fc.constantFrom('json', 'json', 'json', 'json', 'random', 'raw', 'none'),
      contentType: ctArb,
      rawBody: fc.oneof(fc.string({ maxLength: 50 }), fc.constantFrom('{', '{"a":', 'null', '[]', '"x"', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}')),
      ip: ipArb,
    })
    .chain((r) => {
      const [method0, path0] = OPS[r.op]!.split(' ') as [string, string];
      const method = r.otherMethod ?? method0;
      const path = path0.replace(':symbol', seg(r.symbol)).replace(':id', seg(r.id)).replace('{junk}', seg(r.junk));
      const qs = new URLSearchParams(r.query).toString();
      const url = path + (qs ? `?${qs}` : '') + (r.rawQuery ? `${qs ? '&' : '?'}${r.rawQuery}` : '');
      const headers: Record<string, string> = {};
      if (r.authorization) headers.authorization = r.authorization;
      if (r.cookie) headers.cookie = r.cookie;
      if (r.origin) headers.origin = r.origin;
      if (r.requestId) headers['x-request-id'] = r.requestId;
      return bodyArb(r.op, ctx).map((body): Req => {
        let payload: string | undefined;
        if (method !== 'GET' && method !== 'HEAD') {
          if (r.bodyMode === 'json' && body !== undefined) {
            payload = JSON.stringify(body);
            headers['content-type'] = 'application/json';
          } else if (r.bodyMode === 'random') {
            payload = JSON.stringify(body ?? null);
            headers['content-type'] = r.contentType;
          } else if (r.bodyMode === 'raw') {
            payload = r.rawBody;
            headers['content-type'] = r.contentType;
          }
        }
        return { name: r.op, method, url, headers, payload, remoteAddress: r.ip };
      });
    });
}

const CODES = new Set(Object.keys(ERRORS));

function checkResponse(req: Req, res: LightMyRequestResponse): void {
  const where = `${req.method} ${req.url} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, where).toBeLessThan(500);
  const rid = res.headers['x-request-id'];
  expect(typeof rid === 'string' && rid.length > 0, `X-Request-ID on ${where}`).toBe(true);
  if (res.statusCode >= 400 && req.method !== 'HEAD') {
    let body: unknown;
    try {
      body = res.json();
    } catch {
      throw new Error(`non-JSON error body: ${where}`);
    }
    expect(Value.Check(ErrorResponse, body), where).toBe(true);
    const b = body as { code: string; request_id: string };
    expect(CODES.has(b.code), where).toBe(true);
    expect(ERRORS[b.code as ErrorCode].status, where).toBe(res.statusCode);
    expect(b.request_id, where).toBe(rid);
  }
}

describe(`REST fuzz (${RUNS} requests, seed ${SEED})`, () => {
  let f: AuthFixture;
  const ctx: Ctx = { sessions: [], cookies: [], ids: [], usernames: [] };
  const hits = new Map<string, number>();
  const statuses = new Map<number, number>();

  /** Fresh sessions for the fuzzed users (the fuzz logs out and changes passwords, which ends them). */
  async function mintSessions(users: { id: string; username: string }[]) {
    ctx.sessions.length = 0;
    ctx.cookies.length = 0;
    for (const u of users) {
      const sessionId = randomUUID();
      const refresh = newRefreshToken();
      const now = Date.now();
      await f.authRepo.createSession({ id: sessionId, userId: u.id, tokenHash: hashRefreshToken(refresh), now, tokenExpiresAt: now + 3_600_000, sessionExpiresAt: now + 3_600_000 });
      ctx.sessions.push({ token: (await f.service.tokens.sign(u.id, sessionId)).token, cookie: `__Secure-st_refresh=${refresh}`, userId: u.id, username: u.username });
      ctx.cookies.push(`__Secure-st_refresh=${refresh}`);
    }
  }

  beforeAll(async () => {
    f = await createAuthFixture('pglite', {
      settings: { rateLimit: { max: 0, windowMs: 60_000, authMax: 60, writeMax: 150, alertRuleMax: 30 } },
    });
    const users = [await f.signUp('alice'), await f.signUp('bob'), await f.signUp('carol')];
    ctx.usernames.push(...users.map((u) => u.username), 'local', 'admin');
    for (const u of users.slice(0, 2)) {
      const wl = (await f.as(u, 'POST', '/api/watchlists', { name: 'mine', symbols: ['FPT'] })).json();
      const rule = (await f.as(u, 'POST', '/api/alerts/rules', { symbol: 'VNM', kind: 'price_above', threshold: 1 })).json();
      ctx.ids.push(wl.id, rule.id);
    }
    await mintSessions(users.map((u) => ({ id: u.userId, username: u.username })));
  });
  afterAll(() => f?.close());

  it('no 5xx, every error in the contract, healthy afterwards, bounded heap', async () => {
    const users = ctx.sessions.map((s) => ({ id: s.userId, username: s.username }));
    const heaps: number[] = [];
    let done = 0;
    for (let chunk = 0; done < RUNS; chunk++) {
      const n = Math.min(CHUNK, RUNS - done);
      await fc.assert(
        fc.asyncProperty(requestArb(ctx), async (req) => {
          const res = await f.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: req.payload, remoteAddress: req.remoteAddress });
          hits.set(req.name, (hits.get(req.name) ?? 0) + 1);
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          checkResponse(req, res);
        }),
        { numRuns: n, seed: SEED + chunk, endOnFailure: true },
      );
      done += n;
      await mintSessions(users);
      if (chunk === 1 || done >= RUNS) heaps.push(heapAfterGc());
    }

    // Every endpoint of the contract was exercised.
    for (const name of Object.keys(ENDPOINTS)) expect(hits.get(name) ?? 0, name).toBeGreaterThan(Math.min(20, RUNS / 200));
    // The mix reached the handlers, not only the refusals.
    const ok = [...statuses].filter(([s]) => s < 300).reduce((a, [, c]) => a + c, 0);
    expect(ok).toBeGreaterThan(RUNS * 0.05);
    console.info(`fuzz-rest: ${RUNS} requests, seed ${SEED}, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);

    // Healthy: probes, a login, owned reads and market reads all still answer normally.
    expect((await f.app.inject('/healthz')).statusCode).toBe(200);
    // (from an address the fuzz did not use: the busy ones may be rate limited for the rest of the window)
    const reg = await f.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username: 'after-fuzz', password: PASSWORD }, remoteAddress: '192.0.2.250' });
    expect(reg.statusCode, reg.body).toBe(201);
    expect((await f.as({ token: reg.json().accessToken } as Session, 'GET', '/api/watchlists')).statusCode).toBe(200);
    expect((await f.as(null, 'GET', '/api/quotes/FPT')).statusCode).toBe(200);
    // Bounded: per-process auth state is capped, and the heap did not grow with the request count.
    expect(f.service.throttle.size.accounts).toBeLessThanOrEqual(10_000);
    if (heaps.length >= 2) expect(heaps.at(-1)! - heaps[0]!, `heap ${heaps.map((h) => Math.round(h / 1e6)).join(' → ')} MB`).toBeLessThan(64 * 1024 * 1024);
  }, 600_000);
});
