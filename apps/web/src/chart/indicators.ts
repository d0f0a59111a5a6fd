/**
 * Indicator series computed in the browser from the bars on screen, so they
 * move with the live candle. The maths is the `technicalindicators` library's;
 * this module only aligns its outputs to bar times.
 */
import { BollingerBands, EMA, MACD, RSI, SMA } from 'technicalindicators';
import type { Bar } from '@stock-tracker/protocol';

export type OverlayName = 'sma' | 'ema' | 'bollinger' | 'vwap';
export type PaneName = 'rsi' | 'macd';
export interface Point {
  ts: number;
  value: number;
}

/** Library outputs are shorter than the input (warm-up); align them to the last bars. */
function align<T>(bars: readonly Bar[], values: T[]): { ts: number; v: T }[] {
  const skip = bars.length - values.length;
  return values.map((v, i) => ({ ts: bars[i + skip]!.ts, v }));
}
const closes = (bars: readonly Bar[]) => bars.map((b) => b.close);

export function sma(bars: readonly Bar[], period: number): Point[] {
  if (bars.length < period) return [];
  return align(bars, SMA.calculate({ period, values: closes(bars) })).map(({ ts, v }) => ({ ts, value: v }));
}

export function ema(bars: readonly Bar[], period: number): Point[] {
  if (bars.length < period) return [];
  return align(bars, EMA.calculate({ period, values: closes(bars) })).map(({ ts, v }) => ({ ts, value: v }));
}

export function bollinger(bars: readonly Bar[], period: number, stdDev = 2): { upper: Point[]; middle: Point[]; lower: Point[] } {
  if (bars.length < period) return { upper: [], middle: [], lower: [] };
  const r = align(bars, BollingerBands.calculate({ period, stdDev, values: closes(bars) }));
  return {
    upper: r.map(({ ts, v }) => ({ ts, value: v.upper })),
    middle: r.map(({ ts, v }) => ({ ts, value: v.middle })),
    lower: r.map(({ ts, v }) => ({ ts, value: v.lower })),
  };
}

export function rsi(bars: readonly Bar[], period: number): Point[] {
  if (bars.length <= period) return [];
  return align(bars, RSI.calculate({ period, values: closes(bars) })).map(({ ts, v }) => ({ ts, value: v }));
}

export function macd(bars: readonly Bar[], fast = 12, slow = 26, signal = 9): { macd: Point[]; signal: Point[]; histogram: Point[] } {
  if (bars.length < slow) return { macd: [], signal: [], histogram: [] };
  const r = align(
    bars,
    MACD.calculate({ values: closes(bars), fastPeriod: fast, slowPeriod: slow, signalPeriod: signal, SimpleMAOscillator: false, SimpleMASignal: false }),
  );
  const pick = (k: 'MACD' | 'signal' | 'histogram') =>
    r.filter(({ v }) => typeof v[k] === 'number' && Number.isFinite(v[k])).map(({ ts, v }) => ({ ts, value: v[k] as number }));
  return { macd: pick('MACD'), signal: pick('signal'), histogram: pick('histogram') };
}
