import fc from 'fast-check';
import type { ClassifiedTrade, QuoteEvent, Side, SymbolRef } from '@stock-tracker/protocol';
import { QuoteCache } from '../src/quote-cache.ts';
import { HNX, HOSE, UPCOM, US, daySchedule, phaseAt, phaseInSchedule } from '@stock-tracker/rules';
import { foreignStateOf } from '../src/foreign-tracker.ts';
import { symbolRef, vn } from './builders.ts';

const ref = symbolRef;

let n = 0;
const ct = (ts: number, price: number, volume: number, side: Side = 'unknown', symbol = 'FPT'): ClassifiedTrade => ({
  id: `t${n++}`,
  symbol,
  ts,
  price,
  volume,
  side,
  sideSource: 'quote',
  phase: 'continuous',
});

const book = (ts: number, bid: number, ask: number, symbol = 'FPT'): QuoteEvent => ({
  type: 'quote',
  ts,
  symbol,
  bids: [{ price: bid, volume: 1_000 }],
  asks: [{ price: ask, volume: 2_000 }],
});

/** Cache with FPT referenced, and a helper that lists and applies a trade as the engine does. */
function setup() {
  const c = new QuoteCache();
  c.applyReference(ref(), vn(8, 30));
  const trade = (t: ClassifiedTrade) => {
    c.prepareTrade(t.symbol, t.ts, t.price);
    return c.applyTrade(t);
  };
  return { c, trade };
}

describe('QuoteCache', () => {
  it('a reference event lists the row with reference, limits and no trades yet', () => {
    const { c } = setup();
    expect(c.get('FPT')).toMatchObject({
      symbol: 'FPT',
      exchange: 'HOSE',
      market: 'VN',
      tradingDate: '2024-01-02',
      reference: 100_000,
      ceiling: 107_000,
      floor: 93_000,
      last: null,
      change: null,
      changePct: null,
      totalVolume: 0,
      bids: [],
      asks: [],
      foreign: null,
      // 08:30 in Ho Chi Minh is before the first HOSE window.
      phase: 'pre_open',
      halted: false,
    });
  });

  it('trades set open/high/low/last, change vs reference and the volume split', () => {
    const { c, trade } = setup();
    trade(ct(vn(9, 20), 101_000, 1_000, 'buy'));
    trade(ct(vn(9, 21), 103_500, 500, 'buy'));
    trade(ct(vn(9, 22), 99_000, 300, 'sell'));
    const s = trade(ct(vn(9, 23), 102_000, 200, 'unknown'));
    expect(s).toMatchObject({
      open: 101_000,
      high: 103_500,
      low: 99_000,
      last: 102_000,
      lastVolume: 200,
      change: 2_000,
      changePct: 2, // 2000 / 100000
      totalVolume: 2_000,
      // 101000*1000 + 103500*500 + 99000*300 + 102000*200
      totalValue: 101_000_000 + 51_750_000 + 29_700_000 + 20_400_000,
      buyVolume: 1_500,
      sellVolume: 300,
      unknownVolume: 200,
      ts: vn(9, 23),
    });
    expect(c.get('FPT')).toBe(s);
  });

  it('a late trade adds to the totals but does not move last, and may become the open', () => {
    const { trade } = setup();
    trade(ct(vn(9, 30), 101_000, 100));
    const s = trade(ct(vn(9, 25), 95_000, 100));
    expect(s).toMatchObject({ last: 101_000, open: 95_000, low: 95_000, totalVolume: 200, ts: vn(9, 30), change: 1_000 });
  });

  it('emitted states are never mutated', () => {
    const { c, trade } = setup();
    const s1 = trade(ct(vn(9, 20), 101_000, 100, 'buy'));
    const copy = structuredClone(s1);
    trade(ct(vn(9, 21), 102_000, 100, 'sell'));
    c.applyQuote(book(vn(9, 22), 101_500, 102_000));
    c.applyStatus({ type: 'status', ts: vn(9, 23), symbol: 'FPT', phase: 'continuous', halted: true });
    c.applyReference(ref({ tradingDate: '2024-01-03' }), vn(9, 24) + 86_400_000);
    expect(s1).toEqual(copy);
  });

  it('the book is replaced by newer quotes; older ones are stale', () => {
    const { c } = setup();
    expect(c.applyQuote(book(vn(9, 20), 100_000, 100_500))?.bids[0]!.price).toBe(100_000);
    expect(c.applyQuote(book(vn(9, 19), 90_000, 90_500))).toBeUndefined();
    expect(c.bestBid('FPT')).toBe(100_000);
    expect(c.bestAsk('FPT')).toBe(100_500);
    expect(c.bestBid('NOPE')).toBeNaN();
  });

  it('a reference with a new trading date resets the day; the same date keeps it; an older one is stale', () => {
    const { c, trade } = setup();
    trade(ct(vn(9, 20), 101_000, 100, 'buy'));
    c.applyForeign(foreignStateOf({ type: 'foreign', ts: vn(9, 21), symbol: 'FPT', buyVolume: 1, sellVolume: 0, buyValue: 1, sellValue: 0, totalRoom: 10, currentRoom: 5 }));
    c.applyQuote(book(vn(9, 22), 100_000, 100_500));
    // Same date, corrected reference: totals stay, change follows the new reference.
    const same = c.applyReference(ref({ reference: 100_500, ceiling: 107_500, floor: 93_500 }), vn(9, 23))!;
    expect(same.newDay).toBe(false);
    expect(same.state).toMatchObject({ totalVolume: 100, last: 101_000, change: 500, reference: 100_500 });
    const next = c.applyReference(ref({ tradingDate: '2024-01-03', reference: 101_000, ceiling: 108_000, floor: 94_000 }), vn(8, 30) + 86_400_000)!;
    expect(next.newDay).toBe(true);
    expect(next.state).toMatchObject({ tradingDate: '2024-01-03', reference: 101_000, totalVolume: 0, buyVolume: 0, last: null, open: null, high: null, foreign: null });
    // The book is not a day figure.
    expect(next.state.bids).toHaveLength(1);
    expect(c.applyReference(ref(), vn(9, 0))).toBeUndefined();
    expect(c.get('FPT')!.tradingDate).toBe('2024-01-03');
  });

  it('an unknown symbol is listed from its first trade with a synthetic US reference; earlier book data is kept', () => {
    const c = new QuoteCache();
    const t0 = Date.UTC(2024, 2, 5, 15, 0); // 10:00 New York (EST)
    expect(c.applyQuote(book(t0 - 1_000, 189.5, 189.6, 'AAPL'))).toBeNull();
    expect(c.get('AAPL')).toBeUndefined();
    const listed = c.prepareTrade('AAPL', t0, 189.55)!;
    expect(listed.newDay).toBe(false);
    expect(listed.ref).toMatchObject({ symbol: 'AAPL', exchange: 'US', market: 'US', tradingDate: '2024-03-05', reference: 189.55, ceiling: null, floor: null, lotSize: 1 });
    const s = c.applyTrade(ct(t0, 189.55, 10, 'buy', 'AAPL'));
    expect(s).toMatchObject({ reference: 189.55, change: 0, changePct: 0, bids: [{ price: 189.5, volume: 1_000 }], phase: 'continuous' });
    expect(c.reference('AAPL')).toBe(listed.ref);
    c.applyTrade(ct(t0 + 1, 190.1, 10, 'buy', 'AAPL'));
    expect(c.get('AAPL')!.change).toBe(0.55);
    // Same New York day: nothing new.
    expect(c.prepareTrade('AAPL', t0 + 3_600_000, 190)).toBeUndefined();
    // Next New York day (05:00 UTC = 00:00 EST): the prior last price becomes the reference.
    const nextDay = Date.UTC(2024, 2, 6, 5, 0);
    expect(c.startsNewDay('AAPL', nextDay - 1)).toBe(false);
    expect(c.startsNewDay('AAPL', nextDay)).toBe(true);
    const rolled = c.prepareTrade('AAPL', nextDay + 3_600_000, 191)!;
    expect(rolled.newDay).toBe(true);
    expect(rolled.ref).toMatchObject({ tradingDate: '2024-03-06', reference: 190.1 });
    expect(c.applyTrade(ct(nextDay + 3_600_000, 191, 5, 'buy', 'AAPL'))).toMatchObject({ totalVolume: 5, open: 191 });
  });

  it('prices are checked against limits and the tick grid only when real reference data has limits', () => {
    const { c } = setup();
    expect(c.acceptsPrice('FPT', 107_000)).toBe(true);
    expect(c.acceptsPrice('FPT', 93_000)).toBe(true);
    expect(c.acceptsPrice('FPT', 107_100)).toBe(false); // above ceiling
    expect(c.acceptsPrice('FPT', 92_900)).toBe(false); // below floor
    expect(c.acceptsPrice('FPT', 100_050)).toBe(false); // HOSE tick is 100 from 50,000
    expect(c.acceptsPrice('UNKNOWN', 1.2345)).toBe(true);
    c.applyReference(ref({ symbol: 'AAPL', exchange: 'NASDAQ', market: 'US', ceiling: null, floor: null, reference: 190 }), 0);
    expect(c.acceptsPrice('AAPL', 1_000)).toBe(true);
  });

  describe('status', () => {
    it('exchange status sets the phase of its rows; the newer of symbol and exchange status wins', () => {
      const { c } = setup();
      c.applyReference(ref({ symbol: 'SHB', exchange: 'HNX', reference: 10_000, ceiling: 11_000, floor: 9_000 }), vn(8, 30));
      const a = c.applyStatus({ type: 'status', ts: vn(9, 0), exchange: 'HOSE', phase: 'ato', halted: false })!;
      expect(a.map((x) => [x.state.symbol, x.prevPhase, x.state.phase])).toEqual([['FPT', 'pre_open', 'ato']]);
      const h = c.applyStatus({ type: 'status', ts: vn(9, 5), symbol: 'FPT', phase: 'ato', halted: true })!;
      expect(h.map((x) => x.state.halted)).toEqual([true]);
      // The exchange moves on: the phase follows, the symbol halt stays until lifted.
      const b = c.applyStatus({ type: 'status', ts: vn(9, 15), exchange: 'hose', phase: 'continuous', halted: false })!;
      expect(b.map((x) => [x.prevPhase, x.state.phase, x.state.halted])).toEqual([['ato', 'continuous', true]]);
      c.applyStatus({ type: 'status', ts: vn(9, 16), symbol: 'FPT', phase: 'continuous', halted: false });
      expect(c.get('FPT')!.halted).toBe(false);
      // Stale exchange status.
      expect(c.applyStatus({ type: 'status', ts: vn(9, 10), exchange: 'HOSE', phase: 'ato', halted: false })).toBeUndefined();
      // No change: no rows reported.
      expect(c.applyStatus({ type: 'status', ts: vn(9, 17), exchange: 'HOSE', phase: 'continuous', halted: false })).toEqual([]);
      expect(c.get('SHB')!.phase).toBe('pre_open');
    });

    it('market-wide status applies to every exchange', () => {
      const { c } = setup();
      c.applyReference(ref({ symbol: 'SHB', exchange: 'HNX', reference: 10_000, ceiling: 11_000, floor: 9_000 }), vn(8, 30));
      const ch = c.applyStatus({ type: 'status', ts: vn(15, 5), phase: 'closed', halted: false })!;
      expect(ch.map((x) => [x.state.symbol, x.state.phase])).toEqual([
        ['FPT', 'closed'],
        ['SHB', 'closed'],
      ]);
    });

    it('property: the cached day schedule gives the same phase as phaseAt', () => {
      // 2023-01-01 .. 2025-12-31, any instant (US instants cover both DST regimes).
      fc.assert(
        fc.property(fc.constantFrom(HOSE, HNX, UPCOM, US), fc.integer({ min: Date.UTC(2023, 0, 1), max: Date.UTC(2025, 11, 31) }), (rules, ts) => {
          const s = daySchedule(rules, ts);
          expect(ts).toBeGreaterThanOrEqual(s.start);
          expect(ts).toBeLessThan(s.end);
          expect(phaseInSchedule(s, ts)).toBe(phaseAt(rules, ts));
        }),
      );
    });

    it('without any status the exchange schedule gives the phase', () => {
      const { c } = setup();
      expect(c.phaseOf('FPT', vn(9, 5))).toBe('ato');
      expect(c.phaseOf('FPT', vn(10, 0))).toBe('continuous');
      expect(c.phaseOf('FPT', vn(12, 0))).toBe('lunch_break');
      expect(c.phaseOf('FPT', vn(14, 40))).toBe('atc');
      expect(c.phaseOf('FPT', vn(15, 30))).toBe('closed');
      c.applyStatus({ type: 'status', ts: vn(9, 0), exchange: 'HOSE', phase: 'ato', halted: false });
      expect(c.phaseOf('FPT', vn(10, 0))).toBe('ato');
    });
  });

  it('snapshot lists every listed row and is cheap (the immutable states themselves)', () => {
    const { c, trade } = setup();
    trade(ct(vn(9, 20), 101_000, 100, 'buy', 'VNM'));
    c.applyQuote(book(vn(9, 20), 1, 2, 'HIDDEN')); // not listed: no reference, no trade
    const snap = c.snapshot();
    expect(snap.map((s) => s.symbol)).toEqual(['FPT', 'VNM']);
    expect(snap[0]).toBe(c.get('FPT'));
    expect(c.references().map((r) => r.symbol)).toEqual(['FPT', 'VNM']);
  });
});
