import fc from 'fast-check';
import type { Bar, ClassifiedTrade } from '@stock-tracker/protocol';
import { applyTrade, bucketStart, sessionVwap, zoneOffsetMs } from '../src/chart/candles.ts';
import { bollinger, ema, macd, rsi, sma } from '../src/chart/indicators.ts';

const TZ = 'Asia/Ho_Chi_Minh';
const at = (h: number, m: number, s = 0) => Date.UTC(2024, 5, 3, h - 7, m, s); // Hanoi local time on 3 June
let n = 0;
const trade = (ts: number, price: number, volume: number, side: ClassifiedTrade['side'] = 'buy'): ClassifiedTrade => ({
  id: `t${n++}`, symbol: 'VNM', ts, price, volume, side, sideSource: 'quote', phase: 'continuous',
});

describe('bar buckets in exchange time', () => {
  it('knows Hanoi is UTC+7 and New York follows daylight saving', () => {
    expect(zoneOffsetMs(at(10, 0), TZ)).toBe(7 * 3_600_000);
    expect(zoneOffsetMs(Date.UTC(2024, 0, 15), 'America/New_York')).toBe(-5 * 3_600_000);
    expect(zoneOffsetMs(Date.UTC(2024, 6, 15), 'America/New_York')).toBe(-4 * 3_600_000);
  });
  it('starts daily bars at local midnight, not UTC midnight', () => {
    expect(bucketStart(at(9, 15, 12), '1d', TZ)).toBe(at(0, 0));
    expect(bucketStart(at(14, 45), '1d', TZ)).toBe(at(0, 0));
    expect(new Date(bucketStart(at(9, 15), '1d', TZ)).toISOString()).toBe('2024-06-02T17:00:00.000Z');
  });
  it('aligns intraday bars to whole intervals of local time', () => {
    expect(bucketStart(at(9, 17, 59), '1m', TZ)).toBe(at(9, 17));
    expect(bucketStart(at(9, 17, 59), '5m', TZ)).toBe(at(9, 15));
    expect(bucketStart(at(9, 44, 1), '15m', TZ)).toBe(at(9, 30));
    expect(bucketStart(at(13, 59), '1h', TZ)).toBe(at(13, 0));
  });
  it('puts every instant inside its bucket', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.constantFrom('1m', '5m', '15m', '1h', '1d' as const), (ts, iv) => {
        const start = bucketStart(ts, iv, TZ);
        const len = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 }[iv];
        expect(start).toBeLessThanOrEqual(ts);
        expect(ts - start).toBeLessThan(len);
        expect(bucketStart(start, iv, TZ)).toBe(start);
      }),
    );
  });
});

describe('live candles from trades', () => {
  const base: Bar = {
    symbol: 'VNM', interval: '5m', ts: at(9, 15), open: 50_000, high: 50_200, low: 49_900, close: 50_100, volume: 1_000, value: 50_050_000,
    vwap: 50_050, buyVolume: 600, sellVolume: 300, unknownVolume: 100, trades: 5, closed: false,
  };
  it('updates the open candle: high/low/close, volume split, value and VWAP', () => {
    const bars = applyTrade([base], trade(at(9, 17), 50_300, 200, 'buy'), '5m', TZ);
    const sold = applyTrade(bars, trade(at(9, 18), 49_800, 100, 'sell'), '5m', TZ);
    const last = sold[sold.length - 1]!;
    expect(sold).toHaveLength(1);
    expect(last).toMatchObject({ open: 50_000, high: 50_300, low: 49_800, close: 49_800, volume: 1_300, buyVolume: 800, sellVolume: 400, unknownVolume: 100, trades: 7 });
    expect(last.value).toBe(50_050_000 + 50_300 * 200 + 49_800 * 100);
    expect(last.vwap).toBeCloseTo(last.value / last.volume, 6);
  });
  it('opens a new candle in the next interval and closes the previous one', () => {
    const bars = applyTrade([base], trade(at(9, 20, 1), 50_400, 300, 'unknown'), '5m', TZ);
    expect(bars).toHaveLength(2);
    expect(bars[0]!.closed).toBe(true);
    expect(bars[1]).toMatchObject({ ts: at(9, 20), open: 50_400, high: 50_400, low: 50_400, close: 50_400, volume: 300, unknownVolume: 300, closed: false });
  });
  it('ignores late trades and invalid prints, returning the same array', () => {
    const bars = [base];
    expect(applyTrade(bars, trade(at(9, 14), 51_000, 100), '5m', TZ)).toBe(bars);
    expect(applyTrade(bars, trade(at(9, 16), 0, 100), '5m', TZ)).toBe(bars);
    expect(applyTrade(bars, trade(at(9, 16), 50_000, 0), '5m', TZ)).toBe(bars);
  });
  it('matches a daily bar whose timestamp is any instant of the local day', () => {
    const daily = { ...base, interval: '1d' as const, ts: at(9, 0) };
    expect(applyTrade([daily], trade(at(14, 0), 50_500, 100), '1d', TZ)).toHaveLength(1);
  });
  it('conserves volume: the candles hold exactly the volume of the trades folded in', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ dt: fc.integer({ min: 0, max: 120_000 }), p: fc.integer({ min: 1, max: 100 }), v: fc.integer({ min: 1, max: 10_000 }), side: fc.constantFrom('buy', 'sell', 'unknown' as const) }), { maxLength: 60 }), (steps) => {
        let ts = at(9, 15);
        let bars: readonly Bar[] = [];
        let total = 0;
        for (const s of steps) {
          ts += s.dt;
          bars = applyTrade(bars, trade(ts, s.p * 100, s.v, s.side), '1m', TZ);
          total += s.v;
        }
        expect(bars.reduce((a, b) => a + b.volume, 0)).toBe(total);
        for (const b of bars) {
          expect(b.buyVolume + b.sellVolume + b.unknownVolume).toBe(b.volume);
          expect(b.low).toBeLessThanOrEqual(Math.min(b.open, b.close));
          expect(b.high).toBeGreaterThanOrEqual(Math.max(b.open, b.close));
        }
        for (let i = 1; i < bars.length; i++) expect(bars[i]!.ts).toBeGreaterThan(bars[i - 1]!.ts);
      }),
    );
  });
  it('computes the session VWAP cumulatively and restarts it each local day', () => {
    const mk = (ts: number, close: number, volume: number): Bar => ({ ...base, ts, close, volume, value: close * volume });
    const v = sessionVwap([mk(at(9, 15), 100, 10), mk(at(9, 20), 200, 30), mk(at(9, 15) + 86_400_000, 300, 5)], TZ);
    expect(v.map((p) => p.value)).toEqual([100, (100 * 10 + 200 * 30) / 40, 300]);
  });
});

describe('indicators aligned to bars', () => {
  const closes = Array.from({ length: 60 }, (_, i) => 100 + 10 * Math.sin(i / 4) + i / 2);
  const bars: Bar[] = closes.map((c, i) => ({
    symbol: 'X', interval: '1m', ts: i * 60_000, open: c, high: c + 1, low: c - 1, close: c, volume: 1, value: c, vwap: c, buyVolume: 0, sellVolume: 0, unknownVolume: 1, trades: 1, closed: true,
  }));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('SMA equals the mean of the last n closes at each bar', () => {
    const s = sma(bars, 20);
    expect(s).toHaveLength(41);
    expect(s[0]!.ts).toBe(19 * 60_000);
    for (const p of s) {
      const i = p.ts / 60_000;
      expect(p.value).toBeCloseTo(mean(closes.slice(i - 19, i + 1)), 9);
    }
  });
  it('EMA follows the recurrence from an SMA seed', () => {
    const e = ema(bars, 10);
    const k = 2 / 11;
    let x = mean(closes.slice(0, 10));
    expect(e[0]!.value).toBeCloseTo(x, 9);
    for (let i = 10; i < closes.length; i++) {
      x = closes[i]! * k + x * (1 - k);
      expect(e[i - 9]!.value).toBeCloseTo(x, 6);
    }
  });
  it('Bollinger bands sit 2 standard deviations around the SMA', () => {
    const b = bollinger(bars, 20);
    const last = closes.slice(-20);
    const m = mean(last);
    const sd = Math.sqrt(mean(last.map((c) => (c - m) ** 2)));
    expect(b.middle.at(-1)!.value).toBeCloseTo(m, 6);
    expect(b.upper.at(-1)!.value).toBeCloseTo(m + 2 * sd, 6);
    expect(b.lower.at(-1)!.value).toBeCloseTo(m - 2 * sd, 6);
  });
  it('RSI stays in 0..100 and MACD histogram = MACD - signal; short series give nothing', () => {
    for (const p of rsi(bars, 14)) expect(p.value).toBeGreaterThanOrEqual(0), expect(p.value).toBeLessThanOrEqual(100);
    const m = macd(bars);
    expect(m.signal.length).toBeGreaterThan(0);
    const byTs = new Map(m.macd.map((p) => [p.ts, p.value]));
    const sig = new Map(m.signal.map((p) => [p.ts, p.value]));
    for (const h of m.histogram) expect(h.value).toBeCloseTo(byTs.get(h.ts)! - sig.get(h.ts)!, 9);
    expect(sma(bars.slice(0, 5), 20)).toEqual([]);
    expect(rsi(bars.slice(0, 14), 14)).toEqual([]);
  });
});
