import fc from 'fast-check';
import type { SessionPhase, Side, TradeEvent } from '@stock-tracker/protocol';
import { TradeClassifier, leeReady, tickTest } from '../src/classifier.ts';

let n = 0;
const trade = (price: number, extra: Partial<TradeEvent> = {}): TradeEvent => ({
  type: 'trade',
  ts: 1_000 + n,
  symbol: 'AAA',
  id: `t${n++}`,
  price,
  volume: 100,
  ...extra,
});

describe('TradeClassifier', () => {
  it('quote rule: above the midpoint is a buy, below a sell', () => {
    const c = new TradeClassifier();
    // bid 100 / ask 102: midpoint 101
    expect(c.classify(trade(101.5), 'continuous', 100, 102)).toMatchObject({ side: 'buy', sideSource: 'quote' });
    expect(c.classify(trade(100.5), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'quote' });
    // at the ask / at the bid
    expect(c.classify(trade(102), 'continuous', 100, 102)).toMatchObject({ side: 'buy', sideSource: 'quote' });
    expect(c.classify(trade(100), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'quote' });
  });

  it('tick test at the midpoint: uptick buy, downtick sell, zero ticks follow the last change', () => {
    const c = new TradeClassifier();
    // First trade: nothing to compare with.
    expect(c.classify(trade(101), 'continuous', 100, 102)).toMatchObject({ side: 'unknown', sideSource: 'none' });
    // Same price again: a zero tick with no earlier change is still undecidable.
    expect(c.classify(trade(101), 'continuous', 100, 102)).toMatchObject({ side: 'unknown', sideSource: 'none' });
    // Quote moved so 102 is the midpoint: 102 > 101 is an uptick.
    expect(c.classify(trade(102), 'continuous', 101, 103)).toMatchObject({ side: 'buy', sideSource: 'tick' });
    // Zero-uptick: same price after an uptick.
    expect(c.classify(trade(102), 'continuous', 101, 103)).toMatchObject({ side: 'buy', sideSource: 'tick' });
    // Downtick to 101 at the 100/102 midpoint.
    expect(c.classify(trade(101), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'tick' });
    // Zero-downtick.
    expect(c.classify(trade(101), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'tick' });
  });

  it('an empty, one-sided, locked or crossed book counts as no quote (tick test)', () => {
    const c = new TradeClassifier();
    c.classify(trade(50), 'continuous', NaN, NaN);
    // 49 would be a quote-rule buy against bid 40 / ask 50 (mid 45) but each book below is unusable,
    // so the tick test decides: 49 < 50 is a downtick.
    expect(c.classify(trade(49), 'continuous', NaN, NaN)).toMatchObject({ side: 'sell', sideSource: 'tick' });
    expect(c.classify(trade(48), 'continuous', 40, NaN)).toMatchObject({ side: 'sell', sideSource: 'tick' });
    expect(c.classify(trade(47), 'continuous', 45, 45)).toMatchObject({ side: 'sell', sideSource: 'tick' });
    expect(c.classify(trade(46), 'continuous', 50, 40)).toMatchObject({ side: 'sell', sideSource: 'tick' });
    expect(c.classify(trade(45), 'continuous', 0, 50)).toMatchObject({ side: 'sell', sideSource: 'tick' });
  });

  it('the vendor side wins when present; a vendor "unknown" means not told', () => {
    const c = new TradeClassifier();
    // The quote rule would say sell (at the bid) but the vendor says buy.
    expect(c.classify(trade(100, { side: 'buy' }), 'continuous', 100, 102)).toMatchObject({ side: 'buy', sideSource: 'vendor' });
    expect(c.classify(trade(102, { side: 'sell' }), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'vendor' });
    // Vendor flag beats the auction rule too.
    expect(c.classify(trade(101, { side: 'sell' }), 'atc', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'vendor' });
    expect(c.classify(trade(102, { side: 'unknown' }), 'continuous', 100, 102)).toMatchObject({ side: 'buy', sideSource: 'quote' });
  });

  it('useVendorSide: false ignores the vendor flag', () => {
    const c = new TradeClassifier({ useVendorSide: false });
    expect(c.classify(trade(100, { side: 'buy' }), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'quote' });
  });

  it('auction trades are unclassified but still move the price path', () => {
    const c = new TradeClassifier();
    for (const phase of ['ato', 'atc', 'plo'] as SessionPhase[]) {
      expect(c.classify(trade(102), phase, 100, 102)).toMatchObject({ side: 'unknown', sideSource: 'auction', phase });
    }
    // Previous trade (auction) at 102: 101 at the midpoint is a downtick.
    expect(c.classify(trade(101), 'continuous', 100, 102)).toMatchObject({ side: 'sell', sideSource: 'tick' });
  });

  it('keeps one price path per symbol and forgets it on reset', () => {
    const c = new TradeClassifier();
    c.classify(trade(10), 'continuous', NaN, NaN);
    expect(c.classify(trade(20, { symbol: 'BBB' }), 'continuous', NaN, NaN).sideSource).toBe('none');
    expect(c.classify(trade(11), 'continuous', NaN, NaN).side).toBe('buy');
    c.reset('AAA');
    expect(c.classify(trade(12), 'continuous', NaN, NaN).sideSource).toBe('none');
  });

  it('echoes the trade fields', () => {
    const c = new TradeClassifier();
    const ev = trade(25_300, { volume: 700 });
    expect(c.classify(ev, 'continuous', 25_250, 25_300)).toEqual({
      id: ev.id,
      symbol: 'AAA',
      ts: ev.ts,
      price: 25_300,
      volume: 700,
      side: 'buy',
      sideSource: 'quote',
      phase: 'continuous',
    });
  });

  it('property: a valid quote decides every non-midpoint trade; the side matches the price position', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: -100, max: 10_100 }),
        (bid, spread, price) => {
          const ask = bid + spread;
          const d = leeReady(price, bid, ask, NaN, 0);
          const mid = (bid + ask) / 2;
          if (price === mid) expect(d).toEqual({ side: 'unknown', source: 'none' });
          else expect(d).toEqual({ side: price > mid ? 'buy' : 'sell', source: 'quote' });
        },
      ),
    );
  });

  it('property: the tick test compares with the previous price, then the last change', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 }), fc.constantFrom(-1, 0, 1), (p, prev, dir) => {
        const d = tickTest(p, prev, dir);
        const expected: Side = p > prev ? 'buy' : p < prev ? 'sell' : dir > 0 ? 'buy' : dir < 0 ? 'sell' : 'unknown';
        expect(d.side).toBe(expected);
      }),
    );
  });
});

/** Deterministic PRNG (mulberry32) so the synthetic tape is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('Lee–Ready on a synthetic tape with known aggressors', () => {
  /**
   * Market: a midpoint random walk on a 50 VND grid, spread 1–3 ticks. The true
   * aggressor buys at the ask or sells at the bid; noise: 15% of trades print
   * inside the spread (midpoint or one tick off), 10% are classified against a
   * stale quote (the quote the classifier sees lags one step).
   */
  function tape(seed: number, count: number) {
    const r = rng(seed);
    const tick = 50;
    let mid = 20_000;
    let prevBid = NaN;
    let prevAsk = NaN;
    const out: { price: number; truth: 'buy' | 'sell'; bid: number; ask: number }[] = [];
    for (let i = 0; i < count; i++) {
      const spreadTicks = 1 + Math.floor(r() * 3);
      mid += (Math.floor(r() * 3) - 1) * tick;
      const bid = mid - Math.floor(spreadTicks / 2) * tick;
      const ask = bid + spreadTicks * tick;
      const truth = r() < 0.5 ? 'buy' : 'sell';
      let price = truth === 'buy' ? ask : bid;
      const noise = r();
      if (noise < 0.15) {
        const m = (bid + ask) / 2;
        price = spreadTicks > 1 ? m + (r() < 0.5 ? -1 : 1) * (r() < 0.5 ? 0 : tick / 2) : m;
      }
      const stale = r() < 0.1 && !Number.isNaN(prevBid);
      out.push({ price, truth, bid: stale ? prevBid : bid, ask: stale ? prevAsk : ask });
      prevBid = bid;
      prevAsk = ask;
    }
    return out;
  }

  it('agrees with the true aggressor far more often than chance, and beats the tick test alone', () => {
    const t = tape(42, 20_000);
    const lr = new TradeClassifier({ useVendorSide: false });
    const tickOnly = new TradeClassifier({ useVendorSide: false });
    let agreeLr = 0;
    let agreeTick = 0;
    t.forEach((x, i) => {
      const ev: TradeEvent = { type: 'trade', ts: i, symbol: 'SYN', id: String(i), price: x.price, volume: 100, side: x.truth };
      if (lr.classify(ev, 'continuous', x.bid, x.ask).side === x.truth) agreeLr++;
      if (tickOnly.classify(ev, 'continuous', NaN, NaN).side === x.truth) agreeTick++;
    });
    const lrRate = agreeLr / t.length;
    const tickRate = agreeTick / t.length;
    // Bid/ask prints (~75% of trades) are always right by the quote rule; the rest is noise.
    expect(lrRate).toBeGreaterThan(0.75);
    expect(lrRate).toBeGreaterThan(tickRate);
  });

  it('with the vendor flag trusted, agreement is total', () => {
    const t = tape(7, 2_000);
    const c = new TradeClassifier();
    const agree = t.filter(
      (x, i) => c.classify({ type: 'trade', ts: i, symbol: 'SYN', id: String(i), price: x.price, volume: 1, side: x.truth }, 'continuous', x.bid, x.ask).side === x.truth,
    ).length;
    expect(agree).toBe(t.length);
  });
});
