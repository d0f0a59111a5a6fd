/**
 * Extending bars with live trades: the symbol page loads bars over REST and
 * then folds each streamed trade into the last candle (or opens a new one).
 * Pure functions: the same trades give the same candles.
 */
import { BAR_INTERVAL_MS, type Bar, type BarInterval, type ClassifiedTrade } from '@stock-tracker/protocol';

const offsetCache = new Map<string, Intl.DateTimeFormat>();
/** Offset of a time zone from UTC at an instant, in ms (Asia/Ho_Chi_Minh: +7 h). */
export function zoneOffsetMs(ts: number, timeZone: string): number {
  let f = offsetCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    offsetCache.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ts).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return asUtc - Math.floor(ts / 1000) * 1000;
}

/** Start of the bar holding `ts`: whole intervals of exchange-local time (1d = local midnight). */
export function bucketStart(ts: number, interval: BarInterval, timeZone: string): number {
  const ms = BAR_INTERVAL_MS[interval];
  const off = zoneOffsetMs(ts, timeZone);
  return Math.floor((ts + off) / ms) * ms - off;
}

/**
 * Folds one trade into the bars (oldest first) and returns the new array, or
 * the same array when the trade is older than the last bar (late or replayed).
 */
export function applyTrade(bars: readonly Bar[], t: ClassifiedTrade, interval: BarInterval, timeZone: string): readonly Bar[] {
  if (!(t.price > 0) || !(t.volume > 0) || !Number.isFinite(t.ts)) return bars;
  const start = bucketStart(t.ts, interval, timeZone);
  const last = bars[bars.length - 1];
  const lastStart = last ? bucketStart(last.ts, interval, timeZone) : -Infinity;
  if (start < lastStart) return bars;
  const buy = t.side === 'buy' ? t.volume : 0;
  const sell = t.side === 'sell' ? t.volume : 0;
  const unknown = t.side === 'buy' || t.side === 'sell' ? 0 : t.volume;
  if (last && start === lastStart) {
    const volume = last.volume + t.volume;
    const value = last.value + t.price * t.volume;
    const next: Bar = {
      ...last,
      high: Math.max(last.high, t.price),
      low: Math.min(last.low, t.price),
      close: t.price,
      volume,
      value,
      vwap: volume > 0 ? value / volume : null,
      buyVolume: last.buyVolume + buy,
      sellVolume: last.sellVolume + sell,
      unknownVolume: last.unknownVolume + unknown,
      trades: last.trades + 1,
    };
    return [...bars.slice(0, -1), next];
  }
  const bar: Bar = {
    symbol: t.symbol,
    interval,
    ts: start,
    open: t.price,
    high: t.price,
    low: t.price,
    close: t.price,
    volume: t.volume,
    value: t.price * t.volume,
    vwap: t.price,
    buyVolume: buy,
    sellVolume: sell,
    unknownVolume: unknown,
    trades: 1,
    closed: false,
  };
  return last ? [...bars.slice(0, -1), { ...last, closed: true }, bar] : [bar];
}

/** Session VWAP per bar: cumulative value / volume, restarting each exchange-local day. */
export function sessionVwap(bars: readonly Bar[], timeZone: string): { ts: number; value: number }[] {
  const out: { ts: number; value: number }[] = [];
  let day = NaN;
  let v = 0;
  let q = 0;
  for (const b of bars) {
    const d = bucketStart(b.ts, '1d', timeZone);
    if (d !== day) {
      day = d;
      v = 0;
      q = 0;
    }
    // Bars without a traded value (vendor bars) fall back to close × volume.
    v += b.value > 0 ? b.value : b.close * b.volume;
    q += b.volume;
    if (q > 0) out.push({ ts: b.ts, value: v / q });
  }
  return out;
}
