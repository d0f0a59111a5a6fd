/**
 * Market data endpoints. Live state (quotes, board, foreign, top, indices,
 * today's session, current bars) is read from the engine's memory; history
 * (trades, past bars, foreign/index history, past sessions) from storage.
 */
import type { FastifyInstance } from 'fastify';
import {
  AppError,
  BarsQuery,
  BarsResponse,
  DEFAULT_PAGE,
  ForeignHistoryQuery,
  ForeignHistoryResponse,
  ForeignState,
  ForeignTopQuery,
  ForeignTopResponse,
  IdParams,
  IndexHistoryResponse,
  IndexState,
  IndicatorsQuery,
  IndicatorsResponse,
  IndicesResponse,
  MarketStatusResponse,
  QuoteState,
  QuotesQuery,
  QuotesResponse,
  SessionQuery,
  SessionResponse,
  SymbolParams,
  SymbolRef,
  SymbolsQuery,
  SymbolsResponse,
  TradesQuery,
  TradesResponse,
  type SessionPhase,
} from '@stock-tracker/protocol';
import { computeSeries } from '@stock-tracker/engine';
import { nextPhaseChange } from '@stock-tracker/feeds';
import { rulesFor } from '@stock-tracker/rules';
import type { AppDeps } from '../deps.ts';
import { normalizeSymbol, parseRange, resolveSymbol, timeZoneOf } from '../params.ts';
import { mergedBars } from '../bars.ts';
import { errorResponses } from './common.ts';

/** Bars fed to an indicator before the requested window so it is warmed up there. */
const INDICATOR_WARMUP = 100;
const MAX_INDICATOR_BARS = 5_000;

export function marketRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { market, repos } = deps;

  /** Reference data: stored symbols overlaid with today's references from the engine. */
  async function allSymbols(): Promise<SymbolRef[]> {
    const bySymbol = new Map<string, SymbolRef>();
    for (const r of await repos.symbols.list()) bySymbol.set(r.symbol, r);
    for (const r of await market.references()) bySymbol.set(r.symbol, r);
    return [...bySymbol.values()].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  }

  app.get<{ Querystring: SymbolsQuery }>(
    '/symbols',
    { schema: { tags: ['symbols'], summary: 'Symbols and reference data', querystring: SymbolsQuery, response: { 200: SymbolsResponse, ...errorResponses } } },
    async (req) => {
      const { exchange, index, q } = req.query;
      const ex = exchange?.toUpperCase();
      const idx = index?.toUpperCase();
      const needle = q?.trim().toUpperCase();
      const items = (await allSymbols()).filter(
        (r) =>
          (!ex || r.exchange.toUpperCase() === ex) &&
          (!idx || r.indices.some((i) => i.toUpperCase() === idx)) &&
          (!needle || r.symbol.startsWith(needle) || (r.name ?? '').toUpperCase().startsWith(needle)),
      );
      return { items, next: null };
    },
  );

  app.get<{ Params: SymbolParams }>(
    '/symbols/:symbol',
    { schema: { tags: ['symbols'], summary: 'Reference data of one symbol', params: SymbolParams, response: { 200: SymbolRef, ...errorResponses } } },
    async (req) => resolveSymbol(market, repos, req.params.symbol),
  );

  app.get<{ Querystring: QuotesQuery }>(
    '/quotes',
    { schema: { tags: ['quotes'], summary: 'Current quotes: the board, or the listed symbols', querystring: QuotesQuery, response: { 200: QuotesResponse, ...errorResponses } } },
    async (req) => {
      const { symbols, exchange } = req.query;
      let items: QuoteState[];
      if (symbols) {
        const wanted = [...new Set(symbols.split(',').map(normalizeSymbol))];
        const found = await Promise.all(wanted.map((s) => market.quote(s)));
        const unknown = wanted.filter((_, i) => !found[i]);
        if (unknown.length > 0) {
          throw new AppError(
            'UNKNOWN_SYMBOL',
            `Unknown symbol${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}.`,
            unknown.slice(0, 50).map((s) => ({ path: 'query.symbols', issue: `unknown symbol '${s}'` })),
          );
        }
        items = found as QuoteState[];
      } else {
        items = (await market.quotes()).slice().sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
      }
      if (exchange) items = items.filter((q) => q.exchange.toUpperCase() === exchange.toUpperCase());
      return { ts: await market.now(), items };
    },
  );

  app.get<{ Params: SymbolParams }>(
    '/quotes/:symbol',
    { schema: { tags: ['quotes'], summary: 'Current quote of one symbol', params: SymbolParams, response: { 200: QuoteState, ...errorResponses } } },
    async (req) => {
      const symbol = normalizeSymbol(req.params.symbol);
      const q = await market.quote(symbol);
      if (q) return q;
      await resolveSymbol(market, repos, symbol);
      throw new AppError('NOT_FOUND', `No live quote for '${symbol}' yet.`);
    },
  );

  app.get<{ Params: SymbolParams; Querystring: TradesQuery }>(
    '/trades/:symbol',
    { schema: { tags: ['trades'], summary: 'Classified trades, newest first (cursor pagination)', params: SymbolParams, querystring: TradesQuery, response: { 200: TradesResponse, ...errorResponses } } },
    async (req) => {
      const ref = await resolveSymbol(market, repos, req.params.symbol);
      const page = await repos.trades.recent(ref.symbol, req.query.limit ?? DEFAULT_PAGE, req.query.before);
      return { items: page.items, next: page.next };
    },
  );

  app.get<{ Params: SymbolParams; Querystring: BarsQuery }>(
    '/bars/:symbol',
    { schema: { tags: ['bars'], summary: 'OHLCV bars with active buy/sell volume, oldest first', params: SymbolParams, querystring: BarsQuery, response: { 200: BarsResponse, ...errorResponses } } },
    async (req) => {
      const ref = await resolveSymbol(market, repos, req.params.symbol);
      const tz = timeZoneOf(ref);
      const range = parseRange(req.query, tz);
      const items = await mergedBars(market, repos, ref.symbol, req.query.interval ?? '1m', range, req.query.limit ?? DEFAULT_PAGE, tz);
      return { items, next: null };
    },
  );

  app.get<{ Params: SymbolParams; Querystring: SessionQuery }>(
    '/session/:symbol',
    { schema: { tags: ['session'], summary: 'Session summary (today from memory, past days from storage)', params: SymbolParams, querystring: SessionQuery, response: { 200: SessionResponse, ...errorResponses } } },
    async (req) => {
      const ref = await resolveSymbol(market, repos, req.params.symbol);
      const live = await market.reference(ref.symbol);
      const date = req.query.date;
      if (live && (!date || date === live.tradingDate)) {
        const s = await market.summary(ref.symbol);
        if (s) return { symbol: ref.symbol, tradingDate: live.tradingDate, day: s.day, phases: s.phases };
      }
      const stored = await repos.sessions.get(ref.symbol, date);
      if (!stored) throw new AppError('NOT_FOUND', `No session summary for ${ref.symbol}${date ? ` on ${date}` : ''}.`);
      return { symbol: ref.symbol, ...stored };
    },
  );

  app.get<{ Querystring: ForeignTopQuery }>(
    '/foreign/top',
    { schema: { tags: ['foreign'], summary: 'Top foreign net buyers and sellers (by net value)', querystring: ForeignTopQuery, response: { 200: ForeignTopResponse, ...errorResponses } } },
    async (req) => market.foreignTop(req.query.limit ?? 10),
  );

  app.get<{ Params: SymbolParams }>(
    '/foreign/:symbol',
    { schema: { tags: ['foreign'], summary: 'Foreign investor flows of one symbol today', params: SymbolParams, response: { 200: ForeignState, ...errorResponses } } },
    async (req) => {
      const ref = await resolveSymbol(market, repos, req.params.symbol);
      const f = await market.foreign(ref.symbol);
      if (!f) throw new AppError('NOT_FOUND', `No foreign flow data for ${ref.symbol} yet.`);
      return f;
    },
  );

  app.get<{ Params: SymbolParams; Querystring: ForeignHistoryQuery }>(
    '/foreign/:symbol/history',
    { schema: { tags: ['foreign'], summary: 'Stored foreign flow snapshots, oldest first', params: SymbolParams, querystring: ForeignHistoryQuery, response: { 200: ForeignHistoryResponse, ...errorResponses } } },
    async (req) => {
      const ref = await resolveSymbol(market, repos, req.params.symbol);
      const range = parseRange(req.query, timeZoneOf(ref));
      const items = await repos.foreign.history(ref.symbol, { ...range, limit: req.query.limit ?? DEFAULT_PAGE });
      return { items, next: null };
    },
  );

  app.get('/indices', { schema: { tags: ['indices'], summary: 'Current index values and breadth', response: { 200: IndicesResponse, ...errorResponses } } }, async () => ({
    items: await market.indices(),
  }));

  app.get<{ Params: IdParams }>(
    '/indices/:id',
    { schema: { tags: ['indices'], summary: 'One index', params: IdParams, response: { 200: IndexState, ...errorResponses } } },
    async (req) => {
      const id = req.params.id.toUpperCase();
      const ix = (await market.indices()).find((i) => i.id.toUpperCase() === id);
      if (!ix) throw new AppError('NOT_FOUND', `Unknown index '${id}'.`, [{ path: 'params.id', issue: `unknown index '${id}'` }]);
      return ix;
    },
  );

  app.get<{ Params: IdParams; Querystring: ForeignHistoryQuery }>(
    '/indices/:id/history',
    { schema: { tags: ['indices'], summary: 'Stored index values, oldest first', params: IdParams, querystring: ForeignHistoryQuery, response: { 200: IndexHistoryResponse, ...errorResponses } } },
    async (req) => {
      const id = req.params.id.toUpperCase();
      const range = parseRange(req.query, 'Asia/Ho_Chi_Minh');
      const items = await repos.indices.history(id, { ...range, limit: req.query.limit ?? DEFAULT_PAGE });
      if (items.length === 0 && !(await market.indices()).some((i) => i.id.toUpperCase() === id)) {
        throw new AppError('NOT_FOUND', `Unknown index '${id}'.`, [{ path: 'params.id', issue: `unknown index '${id}'` }]);
      }
      return { items, next: null };
    },
  );

  app.get<{ Params: SymbolParams; Querystring: IndicatorsQuery }>(
    '/indicators/:symbol',
    { schema: { tags: ['indicators'], summary: 'Indicator series over bars (one point per bar)', params: SymbolParams, querystring: IndicatorsQuery, response: { 200: IndicatorsResponse, ...errorResponses } } },
    async (req) => {
      const ref = await resolveSymbol(market, repos, req.params.symbol);
      const { name, period } = req.query;
      const interval = req.query.interval ?? '1m';
      const limit = req.query.limit ?? DEFAULT_PAGE;
      const warmup = Math.max(INDICATOR_WARMUP, (period ?? 0) * 3);
      const bars = await mergedBars(market, repos, ref.symbol, interval, {}, Math.min(limit + warmup, MAX_INDICATOR_BARS), timeZoneOf(ref));
      const points = computeSeries(name, bars, { period });
      return { symbol: ref.symbol, name, interval, items: points.slice(-limit) };
    },
  );

  app.get('/market/status', { schema: { tags: ['market'], summary: 'Session phase per exchange and feed status', response: { 200: MarketStatusResponse, ...errorResponses } } }, async () => {
    // Market time (the feed's clock: exchange time for the simulator), so `next` is on the same clock as the data.
    const now = await market.now();
    const byExchange = new Map<string, QuoteState[]>();
    for (const q of await market.quotes()) {
      const list = byExchange.get(q.exchange) ?? [];
      list.push(q);
      byExchange.set(q.exchange, list);
    }
    const exchanges = [...byExchange.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([exchange, qs]) => {
        // The exchange's phase is what its (non-halted) symbols say; a halt of one symbol is not the exchange's.
        const trading = qs.filter((q) => !q.halted);
        const counts = new Map<SessionPhase, number>();
        for (const q of trading.length > 0 ? trading : qs) counts.set(q.phase, (counts.get(q.phase) ?? 0) + 1);
        const phase = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
        const next = now > 0 ? nextPhaseChange(rulesFor(exchange, qs[0]!.market), phase, now) : null;
        return { exchange, phase, halted: trading.length === 0, next };
      });
    const f = await deps.feedStatus();
    return { ts: now, exchanges, feed: { name: f.name, connected: f.connected, lastEventTs: f.lastEventTs } };
  });
}
