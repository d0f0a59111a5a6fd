/**
 * Incremental technical indicators: one instance per series, O(1) per update
 * (amortized where a window is re-summed once per wrap to cancel float drift).
 *
 * Conventions (the common ones, matching most charting packages):
 * - EMA is seeded with the SMA of its first `period` values, then
 *   ema += k·(x − ema) with k = 2/(period+1).
 * - RSI uses Wilder smoothing: the first averages are plain means of the first
 *   `period` gains/losses, then avg = (avg·(period−1) + x)/period. A window with
 *   neither gains nor losses (flat) gives 50 (no momentum either way).
 * - MACD line = EMA(fast) − EMA(slow); signal = EMA(signal) of the MACD line;
 *   histogram = MACD − signal. The line exists from value `slow`, signal from
 *   value `slow + signal − 1`.
 * - Bollinger uses the population standard deviation (divide by `period`).
 * - VWAP is cumulative: Σ price·volume / Σ volume.
 * Non-finite input is counted in `skipped` and ignored (the value is unchanged).
 */
import type { Bar, IndicatorName, IndicatorPoint } from '@stock-tracker/protocol';

function checkPeriod(name: string, period: number): void {
  if (!Number.isInteger(period) || period < 1) throw new RangeError(`${name}: period must be a positive integer, got ${period}`);
}

/** Fixed-size window of the last `size` numbers. */
class Window {
  private readonly buf: Float64Array;
  private next = 0;
  count = 0;
  constructor(readonly size: number) {
    this.buf = new Float64Array(size);
  }
  /** Pushes x; returns the value that fell out of the window, or undefined while filling. */
  push(x: number): number | undefined {
    const full = this.count === this.size;
    const out = full ? this.buf[this.next] : undefined;
    this.buf[this.next] = x;
    this.next = (this.next + 1) % this.size;
    if (!full) this.count++;
    return out;
  }
  /** True right after the write pointer wrapped: a good moment to re-sum. */
  get wrapped(): boolean {
    return this.next === 0 && this.count === this.size;
  }
  sum(): number {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += this.buf[i]!;
    return s;
  }
  sumSquaredDeviations(mean: number): number {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += (this.buf[i]! - mean) ** 2;
    return s;
  }
}

export class Sma {
  private readonly win: Window;
  private sum = 0;
  private current: number | null = null;
  skipped = 0;
  constructor(readonly period: number) {
    checkPeriod('Sma', period);
    this.win = new Window(period);
  }
  update(x: number): number | null {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return this.current;
    }
    const out = this.win.push(x);
    this.sum += x - (out ?? 0);
    // Re-sum once per wrap so rounding error from add/subtract never accumulates.
    if (this.win.wrapped) this.sum = this.win.sum();
    if (this.win.count === this.period) this.current = this.sum / this.period;
    return this.current;
  }
  get value(): number | null {
    return this.current;
  }
}

export class Ema {
  private readonly k: number;
  private seedSum = 0;
  private seen = 0;
  private current: number | null = null;
  skipped = 0;
  constructor(readonly period: number) {
    checkPeriod('Ema', period);
    this.k = 2 / (period + 1);
  }
  update(x: number): number | null {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return this.current;
    }
    if (this.current !== null) {
      this.current += this.k * (x - this.current);
      return this.current;
    }
    this.seedSum += x;
    if (++this.seen === this.period) this.current = this.seedSum / this.period;
    return this.current;
  }
  get value(): number | null {
    return this.current;
  }
}

export class Rsi {
  private prev: number | null = null;
  private changes = 0;
  private gainSum = 0;
  private lossSum = 0;
  private avgGain: number | null = null;
  private avgLoss: number | null = null;
  private current: number | null = null;
  skipped = 0;
  constructor(readonly period = 14) {
    checkPeriod('Rsi', period);
  }
  update(x: number): number | null {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return this.current;
    }
    const prev = this.prev;
    this.prev = x;
    if (prev === null) return null;
    const d = x - prev;
    const gain = d > 0 ? d : 0;
    const loss = d < 0 ? -d : 0;
    const p = this.period;
    if (this.avgGain === null || this.avgLoss === null) {
      this.gainSum += gain;
      this.lossSum += loss;
      if (++this.changes < p) return null;
      this.avgGain = this.gainSum / p;
      this.avgLoss = this.lossSum / p;
    } else {
      this.avgGain = (this.avgGain * (p - 1) + gain) / p;
      this.avgLoss = (this.avgLoss * (p - 1) + loss) / p;
    }
    this.current = rsiFromAverages(this.avgGain, this.avgLoss);
    return this.current;
  }
  get value(): number | null {
    return this.current;
  }
}

export function rsiFromAverages(avgGain: number, avgLoss: number): number {
  if (avgLoss === 0) return avgGain === 0 ? 50 : 100;
  return 100 - 100 / (1 + avgGain / avgLoss);
}

export interface MacdValue {
  macd: number;
  signal: number | null;
  histogram: number | null;
}

export class Macd {
  private readonly fastEma: Ema;
  private readonly slowEma: Ema;
  private readonly signalEma: Ema;
  private current: MacdValue | null = null;
  skipped = 0;
  constructor(
    readonly fast = 12,
    readonly slow = 26,
    readonly signal = 9,
  ) {
    this.fastEma = new Ema(fast);
    this.slowEma = new Ema(slow);
    this.signalEma = new Ema(signal);
  }
  update(x: number): MacdValue | null {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return this.current;
    }
    const f = this.fastEma.update(x);
    const s = this.slowEma.update(x);
    if (f === null || s === null) return null;
    const macd = f - s;
    const signal = this.signalEma.update(macd);
    this.current = { macd, signal, histogram: signal === null ? null : macd - signal };
    return this.current;
  }
  get value(): MacdValue | null {
    return this.current;
  }
}

export interface BollingerValue {
  middle: number;
  upper: number;
  lower: number;
}

export class Bollinger {
  private readonly win: Window;
  private mean = 0;
  /** Sum of squared deviations from the mean over the window. */
  private m2 = 0;
  private current: BollingerValue | null = null;
  skipped = 0;
  constructor(
    readonly period = 20,
    readonly mult = 2,
  ) {
    checkPeriod('Bollinger', period);
    if (!Number.isFinite(mult) || mult < 0) throw new RangeError(`Bollinger: mult must be >= 0, got ${mult}`);
    this.win = new Window(period);
  }
  update(x: number): BollingerValue | null {
    if (!Number.isFinite(x)) {
      this.skipped++;
      return this.current;
    }
    const out = this.win.push(x);
    if (out === undefined) {
      // Welford's online update while the window fills.
      const n = this.win.count;
      const d = x - this.mean;
      this.mean += d / n;
      this.m2 += d * (x - this.mean);
    } else {
      // Sliding Welford: replace `out` by `x` without touching the rest of the window.
      const oldMean = this.mean;
      this.mean += (x - out) / this.period;
      this.m2 += (x - out) * (x - this.mean + out - oldMean);
    }
    if (this.win.wrapped) {
      // Exact two-pass recomputation once per wrap keeps drift bounded.
      this.mean = this.win.sum() / this.period;
      this.m2 = this.win.sumSquaredDeviations(this.mean);
    }
    if (this.win.count < this.period) return null;
    const sd = Math.sqrt(Math.max(0, this.m2) / this.period);
    this.current = { middle: this.mean, upper: this.mean + this.mult * sd, lower: this.mean - this.mult * sd };
    return this.current;
  }
  get value(): BollingerValue | null {
    return this.current;
  }
}

export class Vwap {
  private pv = 0;
  private vol = 0;
  private current: number | null = null;
  skipped = 0;
  update(price: number, volume: number): number | null {
    if (!Number.isFinite(price) || !Number.isFinite(volume) || volume < 0) {
      this.skipped++;
      return this.current;
    }
    this.pv += price * volume;
    this.vol += volume;
    if (this.vol > 0) this.current = this.pv / this.vol;
    return this.current;
  }
  get value(): number | null {
    return this.current;
  }
}

export interface IndicatorParams {
  period?: number;
  fast?: number;
  slow?: number;
  signal?: number;
  mult?: number;
}

/** Default parameters per indicator (what charting packages show by default). */
export const INDICATOR_DEFAULTS: Record<IndicatorName, IndicatorParams> = {
  sma: { period: 20 },
  ema: { period: 20 },
  rsi: { period: 14 },
  macd: { fast: 12, slow: 26, signal: 9 },
  bollinger: { period: 20, mult: 2 },
  vwap: {},
};

/** One point per bar (ts = bar start); `value` is null while the indicator warms up. */
export function computeSeries(name: IndicatorName, bars: readonly Bar[], params: IndicatorParams = {}): IndicatorPoint[] {
  const p = { ...INDICATOR_DEFAULTS[name], ...stripUndefined(params) };
  switch (name) {
    case 'sma':
    case 'ema':
    case 'rsi': {
      const ind = name === 'sma' ? new Sma(p.period!) : name === 'ema' ? new Ema(p.period!) : new Rsi(p.period!);
      return bars.map((b) => ({ ts: b.ts, value: ind.update(b.close) }));
    }
    case 'macd': {
      const ind = new Macd(p.fast, p.slow, p.signal);
      return bars.map((b) => {
        const v = ind.update(b.close);
        return { ts: b.ts, value: v?.macd ?? null, signal: v?.signal ?? null, histogram: v?.histogram ?? null };
      });
    }
    case 'bollinger': {
      const ind = new Bollinger(p.period, p.mult);
      return bars.map((b) => {
        const v = ind.update(b.close);
        return { ts: b.ts, value: v?.middle ?? null, upper: v?.upper ?? null, lower: v?.lower ?? null };
      });
    }
    case 'vwap': {
      // Cumulative over the bars given: pass one session's bars for a session VWAP.
      const ind = new Vwap();
      return bars.map((b) => ({ ts: b.ts, value: ind.update(b.vwap ?? b.close, b.volume) }));
    }
    default:
      throw new RangeError(`unknown indicator ${String(name)}`);
  }
}

function stripUndefined(o: IndicatorParams): IndicatorParams {
  const r: IndicatorParams = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, number>)[k] = v;
  return r;
}
