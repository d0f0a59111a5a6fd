/**
 * Fills as chart markers: each fill is put on the candle that contains it
 * (the last bar starting at or before the fill), buys ▲ below the bar in the
 * "up" colour, sells ▼ above it in the "down" colour (Vietnamese colours).
 * Several fills on one candle and side become one marker with the summed
 * quantity. Pure, so it is shared by the symbol page and the backtest report.
 */
import type { UTCTimestamp } from 'lightweight-charts';
import { formatPrice } from '../lib/format.ts';

export interface FillLike {
  ts: number;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
}

export interface FillMarker {
  /** The candle's start, epoch ms. */
  ts: number;
  side: 'buy' | 'sell';
  qty: number;
  /** Volume-weighted price of the fills merged into this marker. */
  price: number;
  count: number;
}

/** `barTimes` ascending. Fills before the first bar are dropped (not on the chart). */
export function fillMarkers(fills: readonly FillLike[], barTimes: readonly number[]): FillMarker[] {
  if (barTimes.length === 0) return [];
  const by = new Map<string, FillMarker & { value: number }>();
  for (const f of fills) {
    // Binary search: the last bar start <= f.ts.
    let lo = 0;
    let hi = barTimes.length - 1;
    if (f.ts < barTimes[0]!) continue;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (barTimes[mid]! <= f.ts) lo = mid;
      else hi = mid - 1;
    }
    const ts = barTimes[lo]!;
    const key = `${ts}|${f.side}`;
    const m = by.get(key);
    if (m) {
      m.qty += f.qty;
      m.value += f.qty * f.price;
      m.count++;
      m.price = m.value / m.qty;
    } else by.set(key, { ts, side: f.side, qty: f.qty, price: f.price, count: 1, value: f.qty * f.price });
  }
  return [...by.values()].map(({ value: _v, ...m }) => m).sort((a, b) => a.ts - b.ts || (a.side < b.side ? -1 : 1));
}

const cssVar = (name: string, fallback: string) =>
  (typeof document !== 'undefined' && getComputedStyle(document.documentElement).getPropertyValue(name).trim()) || fallback;

/** lightweight-charts markers: buys ▲ under the bar (up colour), sells ▼ over it (down colour). */
export function toSeriesMarkers(markers: readonly FillMarker[], market: 'VN' | 'US' = 'VN') {
  const up = cssVar('--up', '#16a34a');
  const down = cssVar('--down', '#dc2626');
  return markers.map((m) => ({
    time: (m.ts / 1000) as UTCTimestamp,
    position: m.side === 'buy' ? ('belowBar' as const) : ('aboveBar' as const),
    shape: m.side === 'buy' ? ('arrowUp' as const) : ('arrowDown' as const),
    color: m.side === 'buy' ? up : down,
    text: `${m.side === 'buy' ? 'B' : 'S'} ${m.qty.toLocaleString('en-US')} @ ${formatPrice(m.price, market)}`,
    size: 1,
  }));
}
