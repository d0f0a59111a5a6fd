import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as ti from 'technicalindicators';
import type { Bar } from '@stock-tracker/protocol';
import { Bollinger, Ema, Macd, Rsi, Sma, Vwap, computeSeries, rsiFromAverages } from '../src/indicators.ts';

// Real data: ~5,100 daily S&P 500 rows (vega-datasets, BSD-3-Clause).
interface Row {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}
function loadSp500(): Row[] {
  // The package's `exports` map hides data files from resolution, so read it from the workspace root.
  const path = fileURLToPath(new URL('../../../node_modules/vega-datasets/data/sp500-2000.csv', import.meta.url));
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const col = (name: string) => header.indexOf(name);
  const [d, o, h, l, c, v] = ['date', 'open', 'high', 'low', 'close', 'volume'].map(col);
  return lines.slice(1).map((line) => {
    const f = line.split(',');
    return { ts: Date.parse(`${f[d!]}T00:00:00Z`), open: +f[o!]!, high: +f[h!]!, low: +f[l!]!, close: +f[c!]!, volume: +f[v!]! };
  });
}
const rows = loadSp500();
const closes = rows.map((r) => r.close);

/** Relative tolerance, with an absolute floor scaled to the price level for values that cross zero (MACD). */
function expectClose(actual: number | null | undefined, expected: number, rel = 1e-9, absFloor = 0): void {
  expect(actual).not.toBeNull();
  expect(actual).not.toBeUndefined();
  const tol = Math.max(rel * Math.abs(expected), absFloor);
  if (Math.abs((actual as number) - expected) > tol) {
    throw new Error(`expected ${actual} to be within ${tol} of ${expected}`);
  }
}

/** Runs an incremental indicator over the closes; the oracle's array starts at the first non-warm-up index. */
function alignWithOracle<T>(ours: (T | null)[], oracle: unknown[]): { warmup: number } {
  const warmup = ours.findIndex((v) => v !== null);
  expect(warmup).toBeGreaterThanOrEqual(0);
  expect(ours.length - warmup).toBe(oracle.length);
  expect(ours.slice(0, warmup).every((v) => v === null)).toBe(true);
  return { warmup };
}

describe('indicators against technicalindicators on real S&P 500 closes', () => {
  it('loads the full data set', () => {
    // 2000-01-03..2020-04-17: 5,105 data rows in the shipped file.
    expect(rows.length).toBe(5105);
    expect(rows[0]!.ts).toBe(Date.parse('2000-01-03T00:00:00Z'));
    expect(rows.at(-1)!.ts).toBe(Date.parse('2020-04-17T00:00:00Z'));
    expect(closes.every((c) => Number.isFinite(c) && c > 0)).toBe(true);
  });

  it.each([5, 20, 50, 200])('SMA(%i)', (period) => {
    const sma = new Sma(period);
    const ours = closes.map((c) => sma.update(c));
    const oracle = ti.SMA.calculate({ period, values: closes });
    const { warmup } = alignWithOracle(ours, oracle);
    expect(warmup).toBe(period - 1);
    oracle.forEach((v, i) => expectClose(ours[warmup + i], v));
    expect(sma.value).toBe(ours.at(-1));
  });

  it.each([9, 12, 26, 50])('EMA(%i), SMA-seeded like the oracle', (period) => {
    const ema = new Ema(period);
    const ours = closes.map((c) => ema.update(c));
    const oracle = ti.EMA.calculate({ period, values: closes });
    const { warmup } = alignWithOracle(ours, oracle);
    expect(warmup).toBe(period - 1);
    expect(ours[warmup]).toBeCloseTo(closes.slice(0, period).reduce((a, b) => a + b, 0) / period, 9);
    oracle.forEach((v, i) => expectClose(ours[warmup + i], v));
  });

  it.each([14, 7, 21])('RSI(%i) with Wilder smoothing', (period) => {
    const rsi = new Rsi(period);
    const ours = closes.map((c) => rsi.update(c));
    // The oracle rounds RSI to 2 decimals; its Wilder averages are unrounded, so
    // compare tightly against RSI rebuilt from those averages, and against its
    // rounded output within half a unit of the last decimal.
    const gains = ti.AverageGain.calculate({ period, values: closes });
    const losses = ti.AverageLoss.calculate({ period, values: closes });
    const rounded = ti.RSI.calculate({ period, values: closes });
    const { warmup } = alignWithOracle(ours, rounded);
    expect(warmup).toBe(period);
    expect(gains.length).toBe(rounded.length);
    gains.forEach((g, i) => {
      expectClose(ours[warmup + i], rsiFromAverages(g, losses[i]!));
      expectClose(ours[warmup + i], rounded[i]!, 0, 0.005 + 1e-9);
    });
  });

  it('MACD(12,26,9) with EMA oscillator and EMA signal', () => {
    const macd = new Macd(12, 26, 9);
    const ours = closes.map((c) => macd.update(c));
    const oracle = ti.MACD.calculate({
      values: closes,
      fastPeriod: 12,
      slowPeriod: 26,
      signalPeriod: 9,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    });
    const { warmup } = alignWithOracle(ours, oracle);
    expect(warmup).toBe(25);
    // MACD crosses zero, so relative error alone is meaningless near zero:
    // the floor is 1e-9 of the price level (S&P ~1,000–3,000).
    const floor = 1e-6;
    let withSignal = 0;
    oracle.forEach((o, i) => {
      const v = ours[warmup + i]!;
      expectClose(v.macd, o.MACD!, 1e-9, floor);
      if (o.signal === undefined) {
        expect(v.signal).toBeNull();
        expect(v.histogram).toBeNull();
      } else {
        withSignal++;
        expectClose(v.signal, o.signal, 1e-9, floor);
        expectClose(v.histogram, o.histogram!, 1e-9, floor);
      }
    });
    expect(withSignal).toBe(oracle.length - 8);
  });

  it.each([
    [20, 2],
    [10, 1.5],
  ])('Bollinger(%i, %f) with population std dev, as the oracle', (period, mult) => {
    const bb = new Bollinger(period, mult);
    const ours = closes.map((c) => bb.update(c));
    const oracle = ti.BollingerBands.calculate({ period, stdDev: mult, values: closes });
    const { warmup } = alignWithOracle(ours, oracle);
    expect(warmup).toBe(period - 1);
    oracle.forEach((o, i) => {
      const v = ours[warmup + i]!;
      expectClose(v.middle, o.middle);
      expectClose(v.upper, o.upper);
      expectClose(v.lower, o.lower);
    });
  });

  it('VWAP fed the typical price matches the oracle (which uses (H+L+C)/3)', () => {
    const vwap = new Vwap();
    const ours = rows.map((r) => vwap.update((r.high + r.low + r.close) / 3, r.volume));
    const oracle = ti.VWAP.calculate({
      high: rows.map((r) => r.high),
      low: rows.map((r) => r.low),
      close: rows.map((r) => r.close),
      volume: rows.map((r) => r.volume),
    });
    expect(oracle.length).toBe(ours.length);
    oracle.forEach((v, i) => expectClose(ours[i], v));
  });
});

function bar(ts: number, close: number, volume = 1000, vwap: number | null = close): Bar {
  return {
    symbol: 'SPX',
    interval: '1m',
    ts,
    open: close,
    high: close,
    low: close,
    close,
    volume,
    value: (vwap ?? close) * volume,
    vwap,
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: volume,
    trades: 1,
    closed: true,
  };
}

describe('computeSeries', () => {
  const bars = rows.slice(0, 300).map((r) => bar(r.ts, r.close, r.volume));

  it('gives one point per bar with null values during warm-up', () => {
    const points = computeSeries('sma', bars, { period: 10 });
    expect(points.length).toBe(bars.length);
    expect(points.map((p) => p.ts)).toEqual(bars.map((b) => b.ts));
    expect(points.slice(0, 9).every((p) => p.value === null)).toBe(true);
    const expected = bars.slice(0, 10).reduce((a, b) => a + b.close, 0) / 10;
    expect(points[9]!.value).toBeCloseTo(expected, 9);
  });

  it('uses default periods (RSI 14, SMA 20)', () => {
    expect(computeSeries('rsi', bars).findIndex((p) => p.value !== null)).toBe(14);
    expect(computeSeries('sma', bars).findIndex((p) => p.value !== null)).toBe(19);
    expect(computeSeries('ema', bars, { period: 5 }).findIndex((p) => p.value !== null)).toBe(4);
  });

  it('MACD fills value/signal/histogram', () => {
    const points = computeSeries('macd', bars, { fast: 3, slow: 6, signal: 4 });
    expect(points[4]).toEqual({ ts: bars[4]!.ts, value: null, signal: null, histogram: null });
    expect(points[5]!.value).not.toBeNull();
    expect(points[5]!.signal).toBeNull();
    const p = points[8]!;
    expect(p.signal).not.toBeNull();
    expect(p.histogram!).toBeCloseTo(p.value! - p.signal!, 12);
  });

  it('Bollinger fills value=middle, upper, lower', () => {
    const points = computeSeries('bollinger', bars, { period: 5, mult: 3 });
    const p = points[10]!;
    const window = bars.slice(6, 11).map((b) => b.close);
    const mean = window.reduce((a, b) => a + b, 0) / 5;
    const sd = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / 5);
    expect(p.value!).toBeCloseTo(mean, 9);
    expect(p.upper!).toBeCloseTo(mean + 3 * sd, 9);
    expect(p.lower!).toBeCloseTo(mean - 3 * sd, 9);
  });

  it('VWAP uses the bar vwap, falling back to close, weighted by volume', () => {
    const points = computeSeries('vwap', [bar(0, 10, 100, 11), bar(60_000, 20, 300, null), bar(120_000, 99, 0, null)]);
    expect(points.map((p) => p.value)).toEqual([11, (11 * 100 + 20 * 300) / 400, (11 * 100 + 20 * 300) / 400]);
  });

  it('rejects a nonsensical period', () => {
    expect(() => computeSeries('sma', bars, { period: 0 })).toThrow(RangeError);
    expect(() => new Rsi(2.5)).toThrow(RangeError);
  });
});

describe('malformed input is counted and skipped', () => {
  it('non-finite values leave the state unchanged', () => {
    const a = new Sma(3);
    const b = new Sma(3);
    for (const x of [1, 2, Number.NaN, 3, Number.POSITIVE_INFINITY, 4]) a.update(x);
    for (const x of [1, 2, 3, 4]) b.update(x);
    expect(a.value).toBe(b.value);
    expect(a.skipped).toBe(2);
    const v = new Vwap();
    v.update(10, 5);
    expect(v.update(20, -1)).toBe(10);
    expect(v.update(Number.NaN, 1)).toBe(10);
    expect(v.skipped).toBe(2);
    const r = new Rsi(2);
    [1, 2, 1].forEach((x) => r.update(x));
    const before = r.value;
    expect(r.update(Number.NaN)).toBe(before);
  });
});

describe('indicator properties', () => {
  const price = fc.double({ min: 0.01, max: 1e6, noNaN: true, noDefaultInfinity: true });

  it('SMA of a constant series is the constant', () => {
    fc.assert(
      fc.property(price, fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 200 }), (c, period, extra) => {
        const sma = new Sma(period);
        let v: number | null = null;
        for (let i = 0; i < period + extra; i++) v = sma.update(c);
        expect(v).not.toBeNull();
        expect(Math.abs(v! - c)).toBeLessThanOrEqual(1e-12 * c);
      }),
    );
  });

  it('SMA equals the mean of the last `period` values for any series', () => {
    fc.assert(
      fc.property(fc.array(price, { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 30 }), (xs, period) => {
        const sma = new Sma(period);
        xs.forEach((x, i) => {
          const v = sma.update(x);
          if (i + 1 < period) expect(v).toBeNull();
          else {
            const w = xs.slice(i + 1 - period, i + 1);
            const mean = w.reduce((a, b) => a + b, 0) / period;
            expect(Math.abs(v! - mean)).toBeLessThanOrEqual(1e-9 * Math.max(...w));
          }
        });
      }),
    );
  });

  it('RSI stays within [0, 100]', () => {
    fc.assert(
      fc.property(fc.array(price, { minLength: 2, maxLength: 300 }), fc.integer({ min: 1, max: 30 }), (xs, period) => {
        const rsi = new Rsi(period);
        for (const x of xs) {
          const v = rsi.update(x);
          if (v !== null) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(100);
          }
        }
      }),
    );
  });

  it('Bollinger upper >= middle >= lower', () => {
    fc.assert(
      fc.property(
        fc.array(price, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (xs, period, mult) => {
          const bb = new Bollinger(period, mult);
          for (const x of xs) {
            const v = bb.update(x);
            if (v !== null) {
              expect(v.upper).toBeGreaterThanOrEqual(v.middle);
              expect(v.middle).toBeGreaterThanOrEqual(v.lower);
            }
          }
        },
      ),
    );
  });

  it('Bollinger of a constant series collapses to the constant', () => {
    fc.assert(
      fc.property(price, fc.integer({ min: 1, max: 40 }), (c, period) => {
        const bb = new Bollinger(period, 2);
        let v = null;
        for (let i = 0; i < period * 3; i++) v = bb.update(c);
        expect(Math.abs(v!.upper - c)).toBeLessThanOrEqual(1e-9 * c);
        expect(Math.abs(v!.lower - c)).toBeLessThanOrEqual(1e-9 * c);
      }),
    );
  });

  it('a flat series has RSI 50 and rising-only has RSI 100', () => {
    const flat = new Rsi(5);
    for (let i = 0; i < 10; i++) flat.update(100);
    expect(flat.value).toBe(50);
    const up = new Rsi(5);
    for (let i = 0; i < 10; i++) up.update(100 + i);
    expect(up.value).toBe(100);
  });
});
