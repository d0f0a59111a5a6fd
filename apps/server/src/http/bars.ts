/**
 * Bars for REST: storage holds closed bars (flushed by the writer), the engine
 * holds the open bar and closed bars not yet flushed. A response merges both so
 * a chart shows the current minute: 1m bars by start time (engine wins), other
 * intervals by re-aggregating the recent buckets from 1m bars of both sources.
 */
import { BAR_INTERVAL_MS, MAX_PAGE, type Bar, type BarInterval } from '@stock-tracker/protocol';
import { localParts } from '@stock-tracker/rules';
import type { LiveMarket } from './deps.ts';
import type { Repositories } from '../storage/repositories.ts';
import { zonedMidnight } from './params.ts';

/** Start of the bucket holding `ts`: epoch-aligned, except days which follow the exchange's calendar. */
export function bucketStart(ts: number, interval: BarInterval, timeZone: string): number {
  if (interval === '1d') return zonedMidnight(localParts(ts, timeZone).date, timeZone);
  const ms = BAR_INTERVAL_MS[interval];
  return Math.floor(ts / ms) * ms;
}

function bucketEnd(start: number, interval: BarInterval, timeZone: string): number {
  if (interval !== '1d') return start + BAR_INTERVAL_MS[interval];
  // Next local midnight (a day is not always 24 h where DST exists).
  return bucketStart(start + 36 * 3_600_000, '1d', timeZone);
}

/** Aggregates 1m bars (oldest first) into `interval` buckets. */
export function aggregateBars(bars: readonly Bar[], interval: BarInterval, timeZone: string, now: number): Bar[] {
  if (interval === '1m') return [...bars];
  const out: Bar[] = [];
  let cur: Bar | undefined;
  let curEnd = 0;
  for (const b of bars) {
    const start = bucketStart(b.ts, interval, timeZone);
    if (!cur || cur.ts !== start) {
      if (cur) out.push(finish(cur, curEnd, now));
      cur = { ...b, interval, ts: start };
      curEnd = bucketEnd(start, interval, timeZone);
      continue;
    }
    cur.high = Math.max(cur.high, b.high);
    cur.low = Math.min(cur.low, b.low);
    cur.close = b.close;
    cur.volume += b.volume;
    cur.value += b.value;
    cur.buyVolume += b.buyVolume;
    cur.sellVolume += b.sellVolume;
    cur.unknownVolume += b.unknownVolume;
    cur.trades += b.trades;
    cur.closed = cur.closed && b.closed;
  }
  if (cur) out.push(finish(cur, curEnd, now));
  return out;
}

function finish(b: Bar, end: number, now: number): Bar {
  return { ...b, vwap: b.volume > 0 ? b.value / b.volume : null, closed: b.closed && end <= now };
}

const inRange = (ts: number, from?: number, to?: number) => (from === undefined || ts >= from) && (to === undefined || ts <= to);

/** At most this many recent buckets are rebuilt from 1m rows per request. */
const MAX_LIVE_BUCKETS = 3;

export async function mergedBars(
  market: LiveMarket,
  repos: Repositories,
  symbol: string,
  interval: BarInterval,
  range: { from?: number; to?: number },
  limit: number,
  timeZone: string,
): Promise<Bar[]> {
  const stored = await repos.bars.range(symbol, interval, { ...range, limit });
  const live = await market.bars(symbol);
  const byTs = new Map<number, Bar>();
  for (const b of stored) byTs.set(b.ts, b);
  if (live.length > 0) {
    if (interval === '1m') {
      for (const b of live) if (inRange(b.ts, range.from, range.to)) byTs.set(b.ts, b);
    } else {
      const lastStored = stored.length > 0 ? stored[stored.length - 1]!.ts : -Infinity;
      const buckets = [...new Set(live.map((b) => bucketStart(b.ts, interval, timeZone)))]
        .filter((s) => s >= lastStored && inRange(s, range.from, range.to))
        .slice(-MAX_LIVE_BUCKETS);
      for (const start of buckets) {
        const end = bucketEnd(start, interval, timeZone);
        const minutes = new Map<number, Bar>();
        // Storage pages at MAX_PAGE rows: read a long bucket (a day) in slices.
        for (let from = start; from < end; from += MAX_PAGE * 60_000) {
          const to = Math.min(end, from + MAX_PAGE * 60_000) - 1;
          for (const b of await repos.bars.range(symbol, '1m', { from, to, limit: MAX_PAGE })) minutes.set(b.ts, b);
        }
        for (const b of live) if (b.ts >= start && b.ts < end) minutes.set(b.ts, b);
        const merged = aggregateBars([...minutes.values()].sort((a, b) => a.ts - b.ts), interval, timeZone, await market.now());
        for (const m of merged) byTs.set(m.ts, m);
      }
    }
  }
  const all = [...byTs.values()].sort((a, b) => a.ts - b.ts);
  if (all.length <= limit) return all;
  // Same window rule as storage: only `from` → the first `limit` from it; otherwise the latest `limit`.
  return range.from !== undefined && range.to === undefined ? all.slice(0, limit) : all.slice(all.length - limit);
}
