/**
 * Indicator series computed in the browser from the bars on screen, so they
 * move with the live candle. The maths is the engine's own (`computeSeries` in
 * packages/engine), the same code behind /api/indicators and the alert rules,
 * so the chart, the API and alerts always agree. This module only drops the
 * warm-up points and reshapes them for the chart.
 */
import { computeSeries } from '@stock-tracker/engine';
import type { Bar, IndicatorPoint } from '@stock-tracker/protocol';

export type OverlayName = 'sma' | 'ema' | 'bollinger' | 'vwap';
export type PaneName = 'rsi' | 'macd';
export interface Point {
  ts: number;
  value: number;
}

type Field = 'value' | 'signal' | 'histogram' | 'upper' | 'lower';
const pick = (points: IndicatorPoint[], field: Field): Point[] => {
  const out: Point[] = [];
  for (const p of points) {
    const v = p[field];
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ ts: p.ts, value: v });
  }
  return out;
};

export const sma = (bars: readonly Bar[], period: number): Point[] => pick(computeSeries('sma', bars, { period }), 'value');
export const ema = (bars: readonly Bar[], period: number): Point[] => pick(computeSeries('ema', bars, { period }), 'value');
export const rsi = (bars: readonly Bar[], period: number): Point[] => pick(computeSeries('rsi', bars, { period }), 'value');

export function bollinger(bars: readonly Bar[], period: number, mult = 2): { upper: Point[]; middle: Point[]; lower: Point[] } {
  const s = computeSeries('bollinger', bars, { period, mult });
  return { upper: pick(s, 'upper'), middle: pick(s, 'value'), lower: pick(s, 'lower') };
}

export function macd(bars: readonly Bar[], fast = 12, slow = 26, signal = 9): { macd: Point[]; signal: Point[]; histogram: Point[] } {
  const s = computeSeries('macd', bars, { fast, slow, signal });
  return { macd: pick(s, 'value'), signal: pick(s, 'signal'), histogram: pick(s, 'histogram') };
}
