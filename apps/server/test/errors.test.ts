/**
 * Bad input on every endpoint, generated with fast-check from the route
 * schemas' constraints: wrong types, out-of-range limits, impossible dates,
 * unknown symbols, injection strings, oversized and mistyped bodies, wrong
 * methods. Every answer must be a 4xx in the error contract with the request
 * id echoed — never a 5xx — and the database must be untouched.
 */
import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import {
  AlertEventsQuery,
  AlertRuleCreate,
  AlertRuleUpdate,
  BarsQuery,
  ERRORS,
  ErrorResponse,
  ForeignHistoryQuery,
  ForeignTopQuery,
  IdParams,
  IndicatorsQuery,
  MAX_PAGE,
  QuotesQuery,
  SessionQuery,
  SymbolParams,
  SymbolsQuery,
  TradesQuery,
  WatchlistCreate,
  WatchlistUpdate,
  type ErrorCode,
} from '@stock-tracker/protocol';
import { createFixture, type Fixture } from './http-fixture.ts';
import { violatingBody, violatingText } from './errors-schema-arb.ts';

const INJECTIONS = [
  "'; DROP TABLE trades;--",
  '" OR 1=1 --',
  "1' UNION SELECT password FROM users--",
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '${jndi:ldap://x}',
  '%00',
  '\u0000',
  'Robert\'); DELETE FROM alert_rules;--',
  '🙂🙂🙂',
  'ＦＰＴ',
  ' FPT',
];
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface GenReq {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  payload?: string;
  /** Statuses the request may legitimately get (all 4xx). */
  expect: number[];
  label: string;
}

const enc = encodeURIComponent;
const anyInjection = fc.constantFrom(...INJECTIONS);
const alnum = (min: number, max: number) => fc.stringMatching(new RegExp(`^[A-Z0-9]{${min},${max}}$`));

/** Path segments that can never be a known symbol: invalid (400) or unknown (404). */
function badSymbol(known: Set<string>): fc.Arbitrary<{ seg: string; expect: number[] }> {
  return fc.oneof(
    anyInjection.map((s) => ({ seg: enc(s), expect: [400, 404] })),
    alnum(21, 90).map((s) => ({ seg: s, expect: [400] })),
    alnum(101, 300).map((s) => ({ seg: s, expect: [400] })),
    alnum(4, 12)
      .filter((s) => !known.has(s))
      .map((s) => ({ seg: s, expect: [404] })),
    fc.string({ minLength: 1, maxLength: 30 }).filter((s) => /[^A-Za-z0-9._-]/.test(s) && s.trim() !== '' && !/^\.+$/.test(s)).map((s) => ({ seg: enc(s), expect: [400, 404] })),
  );
}

const badLimit = fc.oneof(
  fc.integer({ min: -1_000_000, max: 0 }).map(String),
  fc.integer({ min: MAX_PAGE + 1, max: 2_000_000_000 }).map(String),
  fc.double({ min: 1.01, max: 999.99, noNaN: true }).filter((x) => !Number.isInteger(x)).map(String),
  fc.constantFrom('abc', '', 'NaN', 'Infinity', '-1', '10; DROP TABLE trades', '9'.repeat(400), '1.5', 'true', '[]', '{}', "'"),
  anyInjection,
);
const badTime = fc.oneof(
  fc.constantFrom('yesterday', '2024-02-30', '2024-13-01', '2024-1-1', '-5', '1e99', '9'.repeat(30), '2024-01-01T25:00:00Z', 'now', "' OR 1=1"),
  anyInjection,
);
const badInterval = fc.oneof(fc.constantFrom('2m', '1M', '1w', 'daily', '', '1m ', '60000'), anyInjection);
const badDate = fc.oneof(fc.constantFrom('2024-02-30', 'today', '20240101', '2024/01/01', '01/02/2024', '2024-00-10'), anyInjection);
const badCursor = fc.oneof(fc.string({ minLength: 1, maxLength: 99 }), fc.base64String({ minLength: 4, maxLength: 80 }), anyInjection);
const badId = fc.oneof(
  anyInjection.map((s) => ({ seg: enc(s), expect: [400, 404] })),
  fc.stringMatching(/^[A-Za-z0-9]{65,99}$/).map((s) => ({ seg: s, expect: [400] })),
  fc.uuid().map((s) => ({ seg: s, expect: [404] })),
);

type BodyCase = { payload: string; headers: Record<string, string>; expect: number[] };
const json: Record<string, string> = { 'content-type': 'application/json' };
const badRuleBodies: fc.Arbitrary<BodyCase> = fc.oneof<fc.Arbitrary<BodyCase>[]>(
  fc.constantFrom<string>('{', '{"symbol":', 'null,', '{"a":1}}', "{'symbol':'FPT'}", 'undefined', '{"symbol":"FPT",}').map((p) => ({ payload: p, headers: json, expect: [400] })),
  fc
    .record({
      symbol: fc.oneof(fc.constant('FPT'), fc.integer(), anyInjection, fc.constant(null)),
      kind: fc.oneof(fc.constant('price_above'), fc.constantFrom('nope', 'PRICE_ABOVE', ''), fc.integer()),
      threshold: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('abc', '1', null, true)),
      cooldownMs: fc.oneof(fc.integer({ min: 0, max: 86_400_000 }), fc.integer({ min: 86_400_001 }), fc.integer({ max: -1 }), fc.constant(1.5)),
      note: fc.oneof(fc.string({ maxLength: 200 }), fc.string({ minLength: 201, maxLength: 400 })),
      extra: fc.oneof(fc.constant(undefined), fc.string()),
    })
    .filter(
      (b) =>
        // at least one field invalid, so every request is bad
        b.symbol !== 'FPT' || b.kind !== 'price_above' || typeof b.threshold !== 'number' || b.cooldownMs < 0 || b.cooldownMs > 86_400_000 || !Number.isInteger(b.cooldownMs) || b.note.length > 200 || b.extra !== undefined,
    )
    .map((b) => ({ payload: JSON.stringify(b), headers: json, expect: [400, 404] })),
  fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x').map((ct) => ({ payload: 'symbol=FPT', headers: { 'content-type': ct } as Record<string, string>, expect: [415] })),
  fc.integer({ min: 70_000, max: 200_000 }).map((n) => ({ payload: JSON.stringify({ symbol: 'FPT', kind: 'price_above', threshold: 1, note: 'x'.repeat(n) }), headers: json, expect: [413] })),
  fc.constant({ payload: '', headers: json, expect: [400] }),
);

/** Query schemas per endpoint, with a valid path and required query to put the bad value next to. */
const QUERY_ROUTES: { label: string; base: string; schema: { properties: Record<string, object> } }[] = [
  { label: 'symbols', base: '/api/symbols?', schema: SymbolsQuery },
  { label: 'quotes', base: '/api/quotes?', schema: QuotesQuery },
  { label: 'trades', base: '/api/trades/FPT?', schema: TradesQuery },
  { label: 'bars', base: '/api/bars/FPT?', schema: BarsQuery },
  { label: 'session', base: '/api/session/FPT?', schema: SessionQuery },
  { label: 'foreignTop', base: '/api/foreign/top?', schema: ForeignTopQuery },
  { label: 'foreignHistory', base: '/api/foreign/FPT/history?', schema: ForeignHistoryQuery },
  { label: 'indexHistory', base: '/api/indices/VNINDEX/history?', schema: ForeignHistoryQuery },
  { label: 'indicators', base: '/api/indicators/FPT?name=sma&', schema: IndicatorsQuery },
  { label: 'alertEvents', base: '/api/alerts/events?', schema: AlertEventsQuery },
];
const PATH_ROUTES: { label: string; method: GenReq['method']; url: (seg: string) => string; param: object }[] = [
  { label: 'symbol', method: 'GET', url: (x) => `/api/symbols/${x}`, param: SymbolParams.properties.symbol },
  { label: 'quote', method: 'GET', url: (x) => `/api/quotes/${x}`, param: SymbolParams.properties.symbol },
  { label: 'trades', method: 'GET', url: (x) => `/api/trades/${x}`, param: SymbolParams.properties.symbol },
  { label: 'bars', method: 'GET', url: (x) => `/api/bars/${x}`, param: SymbolParams.properties.symbol },
  { label: 'session', method: 'GET', url: (x) => `/api/session/${x}`, param: SymbolParams.properties.symbol },
  { label: 'foreign', method: 'GET', url: (x) => `/api/foreign/${x}`, param: SymbolParams.properties.symbol },
  { label: 'foreignHistory', method: 'GET', url: (x) => `/api/foreign/${x}/history`, param: SymbolParams.properties.symbol },
  { label: 'indicators', method: 'GET', url: (x) => `/api/indicators/${x}?name=rsi`, param: SymbolParams.properties.symbol },
  { label: 'index', method: 'GET', url: (x) => `/api/indices/${x}`, param: IdParams.properties.id },
  { label: 'indexHistory', method: 'GET', url: (x) => `/api/indices/${x}/history`, param: IdParams.properties.id },
  { label: 'alertRule', method: 'GET', url: (x) => `/api/alerts/rules/${x}`, param: IdParams.properties.id },
  { label: 'alertRuleDelete', method: 'DELETE', url: (x) => `/api/alerts/rules/${x}`, param: IdParams.properties.id },
  { label: 'watchlist', method: 'GET', url: (x) => `/api/watchlists/${x}`, param: IdParams.properties.id },
  { label: 'watchlistDelete', method: 'DELETE', url: (x) => `/api/watchlists/${x}`, param: IdParams.properties.id },
];
const BODY_ROUTES: { label: string; method: GenReq['method']; url: string; schema: object; valid: Record<string, unknown> }[] = [
  { label: 'alertRuleCreate', method: 'POST', url: '/api/alerts/rules', schema: AlertRuleCreate, valid: { symbol: 'FPT', kind: 'price_above', threshold: 1 } },
  { label: 'alertRuleUpdate', method: 'PATCH', url: '/api/alerts/rules/0b6f1c2e-0000-4000-8000-000000000000', schema: AlertRuleUpdate, valid: { threshold: 2 } },
  { label: 'watchlistCreate', method: 'POST', url: '/api/watchlists', schema: WatchlistCreate, valid: { name: 'x', symbols: ['FPT'] } },
  { label: 'watchlistUpdate', method: 'PATCH', url: '/api/watchlists/0b6f1c2e-0000-4000-8000-000000000000', schema: WatchlistUpdate, valid: { name: 'y' } },
];

/** Requests derived from the route schemas: one constraint of one input broken per request. */
function schemaDerived(): fc.Arbitrary<GenReq>[] {
  const out: fc.Arbitrary<GenReq>[] = [];
  for (const r of QUERY_ROUTES) {
    for (const [name, prop] of Object.entries(r.schema.properties)) {
      const bad = violatingText(prop);
      if (bad) out.push(bad.map((v) => ({ method: 'GET' as const, url: `${r.base}${name}=${enc(v)}`, expect: [400], label: `schema:${r.label}.${name}` })));
    }
  }
  for (const r of PATH_ROUTES) {
    const bad = violatingText(r.param)!;
    // A segment the router cannot even match (e.g. an encoded slash) is a 404 ROUTE_NOT_FOUND.
    out.push(bad.map((v) => ({ method: r.method, url: r.url(enc(v)), expect: [400, 404], label: `schema:${r.label}.param` })));
  }
  for (const r of BODY_ROUTES) {
    const bodies = r.method === 'PATCH' ? fc.oneof(violatingBody(r.schema, r.valid), fc.constant({})) : violatingBody(r.schema, r.valid);
    out.push(bodies.map((b) => ({ method: r.method, url: r.url, payload: JSON.stringify(b), headers: json, expect: [400], label: `schema:${r.label}.body` })));
  }
  return out;
}

function requests(known: Set<string>): fc.Arbitrary<GenReq> {
  const sym = badSymbol(known);
  const get = (label: string, url: string, expect: number[]): GenReq => ({ method: 'GET', url, expect, label });
  return fc.oneof(
    ...schemaDerived(),
    sym.map((s) => get('symbol', `/api/symbols/${s.seg}`, s.expect)),
    sym.map((s) => get('quote', `/api/quotes/${s.seg}`, s.expect)),
    sym.map((s) => get('trades-symbol', `/api/trades/${s.seg}`, s.expect)),
    sym.map((s) => get('bars-symbol', `/api/bars/${s.seg}?interval=1m`, s.expect)),
    sym.map((s) => get('session-symbol', `/api/session/${s.seg}`, s.expect)),
    sym.map((s) => get('foreign-symbol', `/api/foreign/${s.seg}`, s.expect)),
    sym.map((s) => get('foreign-history-symbol', `/api/foreign/${s.seg}/history`, s.expect)),
    sym.map((s) => get('indicators-symbol', `/api/indicators/${s.seg}?name=sma`, s.expect)),
    badLimit.map((l) => get('trades-limit', `/api/trades/FPT?limit=${enc(l)}`, [400])),
    badLimit.map((l) => get('bars-limit', `/api/bars/FPT?limit=${enc(l)}`, [400])),
    badLimit.map((l) => get('events-limit', `/api/alerts/events?limit=${enc(l)}`, [400])),
    badLimit.map((l) => get('indicator-limit', `/api/indicators/FPT?name=rsi&limit=${enc(l)}`, [400])),
    badLimit.map((l) => get('foreign-top-limit', `/api/foreign/top?limit=${enc(l === '' ? '0' : l)}`, [400])),
    fc.integer({ min: 101, max: 100_000 }).map((n) => get('foreign-top-limit-range', `/api/foreign/top?limit=${n}`, [400])),
    badCursor.map((c) => get('trades-cursor', `/api/trades/FPT?before=${enc(c)}`, [400])),
    badCursor.map((c) => get('events-cursor', `/api/alerts/events?before=${enc(c)}`, [400])),
    fc.tuple(badTime, fc.constantFrom('from', 'to')).map(([t, k]) => get('bars-time', `/api/bars/FPT?${k}=${enc(t)}`, [400])),
    fc.tuple(badTime, fc.constantFrom('from', 'to')).map(([t, k]) => get('foreign-history-time', `/api/foreign/FPT/history?${k}=${enc(t)}`, [400])),
    fc.tuple(badTime, fc.constantFrom('from', 'to')).map(([t, k]) => get('index-history-time', `/api/indices/VNINDEX/history?${k}=${enc(t)}`, [400])),
    fc.tuple(fc.integer({ min: 1, max: 4e12 }), fc.integer({ min: 1, max: 1e9 })).map(([to, d]) => get('bars-inverted', `/api/bars/FPT?from=${to + d}&to=${to}`, [400])),
    badInterval.map((i) => get('bars-interval', `/api/bars/FPT?interval=${enc(i)}`, [400])),
    badInterval.map((i) => get('indicators-interval', `/api/indicators/FPT?name=ema&interval=${enc(i)}`, [400])),
    fc.oneof(fc.constant(''), fc.constantFrom('SMA', 'stochastic', 'rsi2'), anyInjection).map((n) => get('indicators-name', `/api/indicators/FPT${n === '' ? '' : `?name=${enc(n)}`}`, [400])),
    fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 501 })).map((p) => get('indicators-period', `/api/indicators/FPT?name=sma&period=${p}`, [400])),
    badDate.map((d) => get('session-date', `/api/session/FPT?date=${enc(d)}`, [400])),
    fc.oneof(fc.constantFrom('A,,B', ',', 'FPT,', 'A B', '*'), anyInjection, fc.constant(Array.from({ length: 501 }, (_, i) => `S${i}`).join(','))).map((s) => get('quotes-symbols', `/api/quotes?symbols=${enc(s)}`, [400])),
    alnum(4, 12)
      .filter((s) => !known.has(s))
      .map((s) => get('quotes-unknown', `/api/quotes?symbols=FPT,${s}`, [404])),
    fc.oneof(fc.string({ minLength: 17, maxLength: 40 }), fc.string({ minLength: 41, maxLength: 80 })).map((s) => get('symbols-exchange', `/api/symbols?exchange=${enc(s)}&q=${enc(s + s)}`, [400])),
    badId.map((i) => get('rule-id', `/api/alerts/rules/${i.seg}`, i.expect)),
    badId.map((i) => get('watchlist-id', `/api/watchlists/${i.seg}`, i.expect)),
    badId.map((i) => get('index-id', `/api/indices/${i.seg}`, i.expect.includes(404) ? i.expect : [...i.expect, 404])),
    badId.map((i) => ({ method: 'DELETE' as const, url: `/api/alerts/rules/${i.seg}`, expect: i.expect, label: 'rule-delete' })),
    badRuleBodies.map((b) => ({ method: 'POST' as const, url: '/api/alerts/rules', ...b, label: 'rule-create' })),
    fc.tuple(fc.uuid(), badRuleBodies).map(([id, b]) => ({ method: 'PATCH' as const, url: `/api/alerts/rules/${id}`, ...b, expect: [...b.expect, 404], label: 'rule-patch' })),
    fc
      .record({ name: fc.oneof(fc.constant(''), fc.string({ minLength: 61, maxLength: 100 }), fc.integer()), symbols: fc.oneof(fc.constant(['FPT']), fc.array(anyInjection, { minLength: 1, maxLength: 3 })) })
      .map((b) => ({ method: 'POST' as const, url: '/api/watchlists', payload: JSON.stringify(b), headers: json, expect: [400], label: 'watchlist-create' })),
    fc.constantFrom<[GenReq['method'], string]>(['POST', '/api/symbols'], ['DELETE', '/api/quotes'], ['PUT', '/api/alerts/rules/abc'], ['POST', '/api/indices/VNINDEX'], ['PATCH', '/api/watchlists'], ['DELETE', '/api/market/status']).map(([m, u]) => ({ method: m, url: u, expect: [405], label: 'wrong-method' })),
    fc.array(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 4 }).map((segs) => get('unknown-route', `/api/nope/${segs.join('/')}`, [404])),
  );
}

const requestIdHeader = fc.oneof(
  fc.constant(undefined),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
  fc.string({ minLength: 129, maxLength: 300 }).map((s) => `x${s}`),
  fc.constantFrom('has space', 'semi;colon', 'a'.repeat(129), '<script>', 'ünïcode'),
);

// 2,000 generated requests on PGlite and 600 on PostgreSQL per run.
describe.each([
  ['pglite', 2_000],
  ['postgres', 600],
] as const)('bad input never yields a 5xx on %s (property, %i generated requests)', (kind, runs) => {
  let f: Fixture;
  let tradesBefore: number;
  beforeAll(async () => {
    f = await createFixture(kind);
    tradesBefore = await f.repos.trades.count();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('answers 4xx in the error contract with the request id', async () => {
    const families = schemaDerived().length;
    const known = new Set(f.refs.map((r) => r.symbol));
    const labels = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(requests(known), requestIdHeader, async (req, rid) => {
        const headers: Record<string, string> = { ...req.headers };
        if (rid !== undefined) headers['x-request-id'] = rid;
        const res = await f.app.inject({ method: req.method, url: req.url, headers, payload: req.payload });
        labels.set(req.label, (labels.get(req.label) ?? 0) + 1);
        const ctx = `${req.label}: ${req.method} ${req.url.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(req.expect, ctx).toContain(res.statusCode);
        const body = res.json();
        expect(Value.Check(ErrorResponse, body), ctx).toBe(true);
        expect(ERRORS[body.code as ErrorCode]?.status, ctx).toBe(res.statusCode);
        expect(body.request_id).toBe(res.headers['x-request-id']);
        expect(JSON.stringify(body)).not.toMatch(/\bat .*\.ts:\d+/); // no stack frames
        if (rid !== undefined && SANE_ID.test(rid)) expect(body.request_id).toBe(rid);
        else expect(body.request_id).toMatch(SANE_ID);
        if (res.statusCode === 400 && body.code === 'VALIDATION_FAILED') expect(body.details?.length, ctx).toBeGreaterThan(0);
      }),
      // HTTP_FUZZ_RUNS scales the run (e.g. 100000 for a soak); HTTP_FUZZ_SEED explores other cases.
      { numRuns: Number(process.env.HTTP_FUZZ_RUNS ?? runs), seed: Number(process.env.HTTP_FUZZ_SEED ?? 20_251_125) },
    );
    // Every generator family was exercised.
    expect(families).toBeGreaterThanOrEqual(40);
    expect(labels.size).toBeGreaterThanOrEqual(runs >= 2_000 ? 60 : 40);
    expect(await f.repos.trades.count()).toBe(tradesBefore);
    const tables = await f.storage.db.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('trades','alert_rules','users','symbols')");
    expect(tables.rows[0]!.n).toBe(4);
  });
});
