/**
 * Every REST endpoint against real storage (PGlite and PostgreSQL) filled by a
 * simulated market: responses match the shared TypeBox schemas (checked with
 * Value.Check), over app.inject and over a real socket with fetch, and the
 * values agree with the engine's state or with figures recomputed here.
 */
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import {
  AlertEventsResponse,
  AlertRule,
  AlertRulesResponse,
  BarsResponse,
  ENDPOINTS,
  ErrorResponse,
  ForeignHistoryResponse,
  ForeignState,
  ForeignTopResponse,
  IndexHistoryResponse,
  IndexState,
  IndicatorsResponse,
  IndicesResponse,
  MarketStatusResponse,
  QuotesResponse,
  QuoteState,
  SessionResponse,
  SymbolRef,
  SymbolsResponse,
  TradesResponse,
  Watchlist,
  WatchlistsResponse,
  type Bar,
  type ClassifiedTrade,
} from '@stock-tracker/protocol';
import { createFixture, type Fixture } from './http-fixture.ts';
import type { StorageKind } from '../../../test/helpers/storage.ts';

interface Res {
  status: number;
  headers: Record<string, string>;
  body: any;
}
type Call = (method: string, url: string, body?: unknown) => Promise<Res>;

function injectCall(f: Fixture): Call {
  return async (method, url, body) => {
    const r = await f.app.inject({ method: method as 'GET', url, payload: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } });
    return { status: r.statusCode, headers: r.headers as Record<string, string>, body: r.body ? JSON.parse(r.body) : null };
  };
}

function fetchCall(base: string): Call {
  return async (method, url, body) => {
    const r = await fetch(base + url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } });
    const text = await r.text();
    return { status: r.status, headers: Object.fromEntries(r.headers.entries()), body: text ? JSON.parse(text) : null };
  };
}

function expectShape(schema: TSchema, body: unknown): void {
  const errors = [...Value.Errors(schema, body)].slice(0, 3).map((e) => `${e.path}: ${e.message}`);
  expect(errors).toEqual([]);
}

const sma = (xs: number[], n: number, i: number) => (i + 1 < n ? null : xs.slice(i + 1 - n, i + 1).reduce((a, b) => a + b, 0) / n);

describe.each<StorageKind>(['pglite', 'postgres'])('REST API on %s', (kind) => {
  let f: Fixture;
  let base: string;
  beforeAll(async () => {
    f = await createFixture(kind);
    base = await f.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await f?.close();
  });

  describe.each(['inject', 'fetch'] as const)('read endpoints over %s', (transport) => {
    let call: Call;
    beforeAll(() => {
      call = transport === 'inject' ? injectCall(f) : fetchCall(base);
    });

    it('symbols: list, filters, one symbol', async () => {
      const all = await call('GET', '/api/symbols');
      expect(all.status).toBe(200);
      expectShape(SymbolsResponse, all.body);
      expect(all.body.items.map((r: SymbolRef) => r.symbol).sort()).toEqual(f.refs.map((r) => r.symbol).sort());
      const hnx = await call('GET', '/api/symbols?exchange=hnx');
      expect(hnx.body.items.length).toBeGreaterThan(0);
      expect(hnx.body.items.every((r: SymbolRef) => r.exchange === 'HNX')).toBe(true);
      const vn30 = await call('GET', '/api/symbols?index=VN30');
      expect(vn30.body.items).toHaveLength(f.refs.filter((r) => r.indices.includes('VN30')).length);
      const q = await call('GET', '/api/symbols?q=fp');
      expect(q.body.items.map((r: SymbolRef) => r.symbol)).toContain('FPT');
      const one = await call('GET', `/api/symbols/${f.symbol.toLowerCase()}`);
      expect(one.status).toBe(200);
      expectShape(SymbolRef, one.body);
      expect(one.body).toEqual(f.engine.reference(f.symbol));
    });

    it('quotes: board, selection, exchange filter, one symbol', async () => {
      const board = await call('GET', '/api/quotes');
      expect(board.status).toBe(200);
      expectShape(QuotesResponse, board.body);
      expect(board.body.ts).toBe(f.engine.now());
      expect(board.body.items).toHaveLength(f.engine.quotes().length);
      const pick = await call('GET', `/api/quotes?symbols=${f.symbol},VCB,${f.symbol}`);
      expect(pick.body.items.map((q: QuoteState) => q.symbol)).toEqual([f.symbol, 'VCB']);
      const upcom = await call('GET', '/api/quotes?exchange=UPCOM');
      expect(upcom.body.items.length).toBeGreaterThan(0);
      expect(upcom.body.items.every((q: QuoteState) => q.exchange === 'UPCOM')).toBe(true);
      const one = await call('GET', `/api/quotes/${f.symbol}`);
      expectShape(QuoteState, one.body);
      expect(one.body).toEqual(f.engine.quote(f.symbol));
    });

    it('trades: cursor pages cover every stored trade once, newest first', async () => {
      const stored = await f.storage.db.query<{ n: number }>('SELECT count(*)::int AS n FROM trades WHERE symbol = $1', [f.symbol]);
      const expected = stored.rows[0]!.n;
      expect(expected).toBeGreaterThan(20);
      const seen: ClassifiedTrade[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const r: Res = await call('GET', `/api/trades/${f.symbol}?limit=7${next ? `&before=${encodeURIComponent(next)}` : ''}`);
        expect(r.status).toBe(200);
        expectShape(TradesResponse, r.body);
        seen.push(...r.body.items);
        next = r.body.next;
        pages++;
      } while (next && pages < 1000);
      expect(seen).toHaveLength(expected);
      expect(new Set(seen.map((t) => t.id)).size).toBe(expected);
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.ts).toBeLessThanOrEqual(seen[i - 1]!.ts);
    });

    it('bars: 1m ends with the live open bar; 5m buckets re-aggregate the 1m bars', async () => {
      const m1 = await call('GET', `/api/bars/${f.symbol}?interval=1m&limit=1000`);
      expect(m1.status).toBe(200);
      expectShape(BarsResponse, m1.body);
      const bars: Bar[] = m1.body.items;
      const live = f.engine.bars(f.symbol);
      expect(bars.at(-1)).toEqual(live.at(-1));
      for (let i = 1; i < bars.length; i++) expect(bars[i]!.ts).toBeGreaterThan(bars[i - 1]!.ts);

      const m5 = await call('GET', `/api/bars/${f.symbol}?interval=5m&limit=1000`);
      expectShape(BarsResponse, m5.body);
      const byBucket = new Map<number, Bar[]>();
      for (const b of bars) {
        const k = Math.floor(b.ts / 300_000) * 300_000;
        byBucket.set(k, [...(byBucket.get(k) ?? []), b]);
      }
      expect(m5.body.items.map((b: Bar) => b.ts)).toEqual([...byBucket.keys()]);
      for (const b of m5.body.items as Bar[]) {
        const parts = byBucket.get(b.ts)!;
        expect(b.volume).toBe(parts.reduce((s, p) => s + p.volume, 0));
        expect(b.buyVolume + b.sellVolume + b.unknownVolume).toBe(b.volume);
        expect(b.open).toBe(parts[0]!.open);
        expect(b.close).toBe(parts.at(-1)!.close);
        expect(b.high).toBe(Math.max(...parts.map((p) => p.high)));
        expect(b.low).toBe(Math.min(...parts.map((p) => p.low)));
      }
      const windowed = await call('GET', `/api/bars/${f.symbol}?from=${bars[1]!.ts}&to=${new Date(bars[3]!.ts).toISOString()}`);
      expect(windowed.body.items.map((b: Bar) => b.ts)).toEqual(bars.slice(1, 4).map((b) => b.ts));
      const daily = await call('GET', `/api/bars/${f.symbol}?interval=1d`);
      expectShape(BarsResponse, daily.body);
      expect(daily.body.items.reduce((s: number, b: Bar) => s + b.volume, 0)).toBe(bars.reduce((s, b) => s + b.volume, 0));
    });

    it('session: today from memory, a past day from storage', async () => {
      const today = await call('GET', `/api/session/${f.symbol}`);
      expect(today.status).toBe(200);
      expectShape(SessionResponse, today.body);
      expect(today.body.tradingDate).toBe(f.engine.reference(f.symbol)!.tradingDate);
      expect(today.body.day.volume).toBe(f.engine.quote(f.symbol)!.totalVolume);
      const firstDay = '2025-03-03';
      const past = await call('GET', `/api/session/${f.symbol}?date=${firstDay}`);
      expect(past.status).toBe(200);
      expectShape(SessionResponse, past.body);
      expect(past.body.tradingDate).toBe(firstDay);
      expect(past.body.day.volume).toBe(past.body.phases.reduce((s: number, p: { volume: number }) => s + p.volume, 0));
      const none = await call('GET', `/api/session/${f.symbol}?date=2001-01-01`);
      expect(none.status).toBe(404);
      expect(none.body.code).toBe('NOT_FOUND');
    });

    it('foreign: top lists, one symbol, history', async () => {
      const top = await call('GET', '/api/foreign/top?limit=3');
      expectShape(ForeignTopResponse, top.body);
      expect(top.body.buyers.length).toBeLessThanOrEqual(3);
      const nets = top.body.buyers.map((b: ForeignState) => b.netValue);
      expect(nets).toEqual([...nets].sort((a, b) => b - a));
      const withFlows = f.engine.quotes().find((q) => q.foreign)!.symbol;
      const one = await call('GET', `/api/foreign/${withFlows}`);
      expectShape(ForeignState, one.body);
      expect(one.body).toEqual(f.engine.foreign(withFlows));
      const hist = await call('GET', `/api/foreign/${withFlows}/history?limit=1000`);
      expectShape(ForeignHistoryResponse, hist.body);
      expect(hist.body.items.length).toBeGreaterThan(0);
      const ts = hist.body.items.map((x: ForeignState) => x.ts);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
    });

    it('indices: all, one, history', async () => {
      const all = await call('GET', '/api/indices');
      expectShape(IndicesResponse, all.body);
      expect(all.body.items.map((i: IndexState) => i.id)).toEqual(expect.arrayContaining(['VNINDEX', 'VN30', 'HNXINDEX']));
      const one = await call('GET', '/api/indices/vn30');
      expectShape(IndexState, one.body);
      expect(one.body.id).toBe('VN30');
      const hist = await call('GET', '/api/indices/VNINDEX/history?limit=5');
      expectShape(IndexHistoryResponse, hist.body);
      expect(hist.body.items).toHaveLength(5);
      const unknown = await call('GET', '/api/indices/NOPE/history');
      expect(unknown.status).toBe(404);
    });

    it('indicators: SMA equals the SMA of the bars served by /api/bars', async () => {
      const bars: Bar[] = (await call('GET', `/api/bars/${f.symbol}?limit=1000`)).body.items;
      const r = await call('GET', `/api/indicators/${f.symbol}?name=sma&period=5&limit=1000`);
      expect(r.status).toBe(200);
      expectShape(IndicatorsResponse, r.body);
      const closes = bars.map((b) => b.close);
      expect(r.body.items.map((p: { ts: number }) => p.ts)).toEqual(bars.map((b) => b.ts));
      r.body.items.forEach((p: { value: number | null }, i: number) => {
        const want = sma(closes, 5, i);
        if (want === null) expect(p.value).toBeNull();
        else expect(p.value).toBeCloseTo(want, 6);
      });
      for (const name of ['ema', 'rsi', 'macd', 'bollinger', 'vwap']) {
        const x = await call('GET', `/api/indicators/${f.symbol}?name=${name}&interval=1m&limit=10`);
        expect(x.status).toBe(200);
        expectShape(IndicatorsResponse, x.body);
      }
    });

    it('market status', async () => {
      const r = await call('GET', '/api/market/status');
      expectShape(MarketStatusResponse, r.body);
      expect(r.body.exchanges.map((e: { exchange: string }) => e.exchange)).toEqual(['HNX', 'HOSE', 'UPCOM']);
      expect(r.body.feed).toEqual({ name: 'simulator', connected: true, lastEventTs: f.engine.now() });
    });

    it('alert events page newest first without overlap', async () => {
      const seen: string[] = [];
      let next: string | null = null;
      let prevTs = Infinity;
      do {
        const r: Res = await call('GET', `/api/alerts/events?limit=4${next ? `&before=${next}` : ''}`);
        expect(r.status).toBe(200);
        expectShape(AlertEventsResponse, r.body);
        for (const e of r.body.items) {
          expect(e.ts).toBeLessThanOrEqual(prevTs);
          prevTs = e.ts;
          seen.push(e.id);
        }
        next = r.body.next;
      } while (next);
      expect(seen.length).toBe(f.outputs.alert);
      expect(new Set(seen).size).toBe(seen.length);
      const bySymbol = await call('GET', `/api/alerts/events?symbol=${f.refs[0]!.symbol}&limit=1000`);
      expect(bySymbol.body.items.every((e: { symbol: string }) => e.symbol === f.refs[0]!.symbol)).toBe(true);
    });
  });

  it('alert rules CRUD writes storage and the running engine', async () => {
    const call = injectCall(f);
    const created = await call('POST', '/api/alerts/rules', { symbol: f.symbol.toLowerCase(), kind: 'price_below', threshold: 1000 });
    expect(created.status).toBe(201);
    expectShape(AlertRule, created.body);
    expect(created.body).toMatchObject({ symbol: f.symbol, kind: 'price_below', threshold: 1000, enabled: true, userId: f.userId });
    const id = created.body.id as string;
    expect(f.engine.alerts.get(id)).toEqual(created.body);
    expect((await f.repos.alertRules.get(f.userId, id))?.threshold).toBe(1000);

    const list = await call('GET', '/api/alerts/rules');
    expectShape(AlertRulesResponse, list.body);
    expect(list.body.items.map((r: { id: string }) => r.id)).toContain(id);

    const patched = await call('PATCH', `/api/alerts/rules/${id}`, { threshold: 2000, enabled: false });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, threshold: 2000, enabled: false });
    expect(f.engine.alerts.get(id)?.enabled).toBe(false);
    expect((await call('GET', `/api/alerts/rules/${id}`)).body.threshold).toBe(2000);
    // A patch changes only what it names: schema defaults must not re-enable the rule.
    const again = await call('PATCH', `/api/alerts/rules/${id}`, { threshold: 3000 });
    expect(again.body).toMatchObject({ threshold: 3000, enabled: false, cooldownMs: created.body.cooldownMs });
    expect(f.engine.alerts.get(id)?.enabled).toBe(false);
    expect((await call('PATCH', `/api/alerts/rules/${id}`, {})).status).toBe(400);

    const del = await call('DELETE', `/api/alerts/rules/${id}`);
    expect(del.status).toBe(204);
    expect(f.engine.alerts.get(id)).toBeUndefined();
    const gone = await call('GET', `/api/alerts/rules/${id}`);
    expect(gone.status).toBe(404);
    expectShape(ErrorResponse, gone.body);
    expect((await call('DELETE', `/api/alerts/rules/${id}`)).status).toBe(404);

    const unknown = await call('POST', '/api/alerts/rules', { symbol: 'ZZZZZ', kind: 'price_above', threshold: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('UNKNOWN_SYMBOL');
  });

  it('another user’s rule behaves as not found', async () => {
    const other = await f.repos.users.create({ username: `other-${kind}` });
    const theirs = await f.repos.alertRules.create(other.id, { symbol: f.symbol, kind: 'price_above', threshold: 1 });
    const call = injectCall(f);
    expect((await call('GET', `/api/alerts/rules/${theirs.id}`)).status).toBe(404);
    expect((await call('PATCH', `/api/alerts/rules/${theirs.id}`, { threshold: 5 })).status).toBe(404);
    expect((await call('DELETE', `/api/alerts/rules/${theirs.id}`)).status).toBe(404);
    expect((await f.repos.alertRules.get(other.id, theirs.id))?.threshold).toBe(1);
  });

  it('watchlists CRUD (symbols normalized, unknown refused)', async () => {
    const call = fetchCall(base);
    const created = await call('POST', '/api/watchlists', { name: 'Banks', symbols: ['vcb', 'ACB', 'VCB'] });
    expect(created.status).toBe(201);
    expectShape(Watchlist, created.body);
    expect(created.body.symbols).toEqual(['VCB', 'ACB']);
    const id = created.body.id as string;
    const list = await call('GET', '/api/watchlists');
    expectShape(WatchlistsResponse, list.body);
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(id);
    const renamed = await call('PATCH', `/api/watchlists/${id}`, { name: 'My banks', symbols: ['TCB'] });
    expect(renamed.body).toMatchObject({ id, name: 'My banks', symbols: ['TCB'] });
    expect((await call('GET', `/api/watchlists/${id}`)).body.name).toBe('My banks');
    const bad = await call('PATCH', `/api/watchlists/${id}`, { symbols: ['TCB', 'NOPE1'] });
    expect(bad.status).toBe(404);
    expect(bad.body).toMatchObject({ code: 'UNKNOWN_SYMBOL', details: [{ path: 'body.symbols.1' }] });
    expect((await call('DELETE', `/api/watchlists/${id}`)).status).toBe(204);
    expect((await call('GET', `/api/watchlists/${id}`)).status).toBe(404);
  });

  it('OpenAPI document lists every endpoint of the protocol', async () => {
    const r = await injectCall(f)('GET', '/api/docs/json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    for (const spec of Object.values(ENDPOINTS)) {
      const [method, path] = spec.split(' ') as [string, string];
      const oaPath = `/api${path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
      expect(r.body.paths[oaPath]?.[method.toLowerCase()], `${spec} in OpenAPI`).toBeDefined();
    }
    const ui = await f.app.inject('/api/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });
});
