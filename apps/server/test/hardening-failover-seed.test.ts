/**
 * The takeover seed's pure part (leader/seed.ts): which trades are replayed
 * (stored ∪ published, one each, today's only, in time order), what reaches
 * storage (only what it may lack), books, foreign figures and known gaps.
 * The whole path with real processes: hardening-failover.test.ts.
 */
import { MarketEngine } from '@stock-tracker/engine';
import type { ClassifiedTrade, EngineOutput, ForeignState, QuoteState, SymbolRef } from '@stock-tracker/protocol';
import { applySeed, dayStartOf, seedTrades, type SeedData } from '../src/leader/seed.ts';

const T0 = Date.UTC(2024, 0, 2, 2, 0); // 09:00 in Vietnam, 2024-01-02
const MIN = 60_000;
const REF: SymbolRef = { symbol: 'FPT', exchange: 'HOSE', market: 'VN', tradingDate: '2024-01-02', reference: 100_000, ceiling: 107_000, floor: 93_000, lotSize: 100, indices: [], sharesOutstanding: 1e6 };

const t = (id: string, ts: number, volume: number, side: ClassifiedTrade['side'] = 'buy', price = 100_000): ClassifiedTrade => ({
  id,
  symbol: 'FPT',
  ts,
  price,
  volume,
  side,
  sideSource: side === 'unknown' ? 'none' : 'tick',
  phase: 'continuous',
});
const empty = (): SeedData => ({ stored: [], published: [], quotes: [], foreign: [], gaps: new Map(), barHorizon: new Map(), problems: [] });

describe('seedTrades', () => {
  it('one trade per (symbol, id, ts) from both sources, today only, ordered by time then numeric-like id', () => {
    const stored = [t('FPT:20240102:1000', T0 + 5, 100), t('FPT:20240102:900', T0 + 5, 100), t('old', T0 - 86_400_000, 100)];
    const published = [t('FPT:20240102:1000', T0 + 5, 100), t('FPT:20240102:1100', T0 + 7, 100)];
    const { trades, busOnly } = seedTrades({ stored, published }, (_s, ts) => ts >= T0 - MIN);
    expect(trades.map((x) => x.id)).toEqual(['FPT:20240102:900', 'FPT:20240102:1000', 'FPT:20240102:1100']);
    expect([...busOnly].map((x) => x.id)).toEqual(['FPT:20240102:1100']);
  });

  it('dayStartOf: local midnight of the earliest trading day named', () => {
    const NYSE: SymbolRef = { ...REF, symbol: 'AAPL', exchange: 'NASDAQ', market: 'US', tradingDate: '2024-01-02', ceiling: null, floor: null };
    expect(dayStartOf([REF], 0)).toBe(Date.UTC(2024, 0, 1, 17, 0)); // 00:00 in Vietnam (UTC+7)
    expect(dayStartOf([REF, NYSE], 0)).toBe(Date.UTC(2024, 0, 1, 17, 0)); // the earlier of Vietnam's and New York's midnight
    expect(dayStartOf([], 10 * 86_400_000)).toBe(9 * 86_400_000);
    // A delisted symbol's old reference does not move the start back.
    expect(dayStartOf([REF, { ...REF, symbol: 'OLD', tradingDate: '2023-05-02' }], 0)).toBe(Date.UTC(2024, 0, 1, 17, 0));
  });
});

describe('applySeed', () => {
  it('rebuilds the day exactly; storage gets only the bus-only trades and the bars from the newest stored one on', async () => {
    // What the previous leader saw: minutes 0..2, with an unknown-side trade (Lee–Ready would classify it).
    const day = [t('1', T0 + 1_000, 100, 'buy', 100_100), t('2', T0 + 2_000, 200, 'sell', 99_900), t('3', T0 + MIN + 1_000, 300, 'unknown', 100_200), t('4', T0 + 2 * MIN + 1_000, 400, 'sell', 100_000)];
    const original = new MarketEngine();
    original.apply({ type: 'reference', ts: 0, ref: REF }, () => {});
    for (const x of day) original.replay(x, () => {});

    const engine = new MarketEngine();
    engine.apply({ type: 'reference', ts: 0, ref: REF }, () => {});
    const quote: QuoteState = { ...original.quote('FPT')!, ts: T0 + 2 * MIN + 5_000, bids: [{ price: 99_900, volume: 1_000 }], asks: [{ price: 100_100, volume: 500 }] };
    const foreign: ForeignState = { symbol: 'FPT', ts: T0 + 2 * MIN + 2_000, buyVolume: 10, sellVolume: 5, buyValue: 1_000, sellValue: 500, netVolume: 5, netValue: 500, totalRoom: 100, currentRoom: 50, roomUsagePct: 50 };
    const data: SeedData = {
      ...empty(),
      stored: day.slice(0, 3),
      published: day.slice(1), // the bus still has the last three; the fourth never reached storage
      quotes: [quote],
      foreign: [foreign],
      gaps: new Map([['FPT|2024-01-02', 700], ['FPT|2024-01-01', 50]]),
      barHorizon: new Map([['FPT', T0 + MIN]]), // minute 1 is stored, minute 0 too
    };
    const written: EngineOutput[] = [];
    const stats = await applySeed(engine, data, (o) => written.push(o), { sliceSize: 2 });
    expect(stats).toMatchObject({ trades: 4, storedTrades: 3, publishedTrades: 3, busOnlyTrades: 1, skipped: 0, quotes: 1, foreign: 1 });

    const pick = (q: QuoteState) => ({ v: q.totalVolume, h: q.high, l: q.low, o: q.open, last: q.last, b: q.buyVolume, s: q.sellVolume, u: q.unknownVolume });
    expect(pick(engine.quote('FPT')!)).toEqual(pick(original.quote('FPT')!));
    expect(engine.summary('FPT')).toEqual(original.summary('FPT'));
    expect(engine.quote('FPT')!.bids).toEqual(quote.bids);
    expect(engine.foreign('FPT')).toEqual(foreign);
    // Storage: the trade it lacked, and minute 1's bar closing (minute 0 is older than the stored horizon); minute 2 is still open.
    expect(written.filter((o) => o.type === 'trade').map((o) => (o.type === 'trade' ? o.trade.id : ''))).toEqual(['4']);
    expect(written.filter((o) => o.type === 'bar').map((o) => (o.type === 'bar' ? [o.bar.ts, o.bar.closed, o.bar.volume] : []))).toEqual([[T0 + MIN, true, 300]]);
    // Today's gap is known: 700 missing is not reported again.
    const outs: EngineOutput[] = [];
    engine.apply({ type: 'trade', ts: T0 + 3 * MIN, symbol: 'FPT', id: '9', price: 100_000, volume: 100, cumVolume: 1_000 + 700 + 100 }, (o) => outs.push(o));
    expect(outs.filter((o) => o.type === 'gap')).toEqual([]);
    // The replayed ids are known: a vendor resend is a duplicate.
    expect(engine.apply({ type: 'trade', ts: T0 + 2_000, symbol: 'FPT', id: '2', price: 99_900, volume: 200 }, () => {})).toBe(false);
  });

  it("yesterday's book and foreign figures are not seeded into today", async () => {
    const engine = new MarketEngine();
    engine.apply({ type: 'reference', ts: 0, ref: REF }, () => {});
    const row = { symbol: 'FPT', tradingDate: '2024-01-01', reference: 100_000, ceiling: 107_000, floor: 93_000, ts: T0 - 86_400_000, bids: [{ price: 99_000, volume: 1 }], asks: [] } as unknown as QuoteState;
    const f: ForeignState = { symbol: 'FPT', ts: T0 - 86_400_000, buyVolume: 1, sellVolume: 0, buyValue: 1, sellValue: 0, netVolume: 1, netValue: 1, totalRoom: 1, currentRoom: 1, roomUsagePct: 0 };
    const stats = await applySeed(engine, { ...empty(), quotes: [row], foreign: [f] }, () => {});
    expect(stats).toMatchObject({ quotes: 0, foreign: 0 });
    expect(engine.quote('FPT')!.bids).toEqual([]);
    expect(engine.foreign('FPT')).toBeUndefined();
  });

  it('a quote row of a later trading day moves the symbol to that day before the replay', async () => {
    const engine = new MarketEngine();
    engine.apply({ type: 'reference', ts: 0, ref: { ...REF, tradingDate: '2024-01-01' } }, () => {});
    const row = { symbol: 'FPT', tradingDate: '2024-01-02', reference: 101_000, ceiling: 108_000, floor: 94_000, ts: T0, bids: [], asks: [] } as unknown as QuoteState;
    await applySeed(engine, { ...empty(), quotes: [row], stored: [t('1', T0 + 1_000, 100)] }, () => {});
    expect(engine.reference('FPT')).toMatchObject({ tradingDate: '2024-01-02', reference: 101_000 });
    expect(engine.quote('FPT')!.totalVolume).toBe(100);
  });
});
