/**
 * Runs a backfill: for each symbol, page through the vendor's history from
 * the symbol's checkpoint, storing every page together with the next
 * checkpoint. A symbol marked done is skipped, so re-running a finished job
 * fetches nothing; `fresh` forgets the checkpoints and fetches everything
 * again (the store's upsert keeps that from creating duplicates). An abort
 * (Ctrl-C) stops between or inside requests; the next run resumes.
 */
import type { Clock } from '../feed.ts';
import { systemClock } from '../feed.ts';
import type { BackfillInterval, BackfillStore, DateRange, HistorySource } from './types.ts';

export interface BackfillProgress {
  symbolsTotal: number;
  symbolsDone: number;
  /** Bars received in this run. */
  rows: number;
  /** Of which new to the store. */
  stored: number;
  /** Symbol being fetched (absent between symbols). */
  current?: string;
  /** Estimated time left, from the pace of the symbols fetched so far; null before the first. */
  etaMs: number | null;
  /** What just happened. */
  event: 'page' | 'symbol_done' | 'symbol_skipped';
  /** For symbol_done/symbol_skipped: that symbol's bar count in this run. */
  symbolRows?: number;
}

export interface BackfillOptions {
  source: HistorySource;
  store: BackfillStore;
  symbols: string[];
  interval: BackfillInterval;
  range: DateRange;
  /** Ignore (and reset) existing checkpoints. */
  fresh?: boolean;
  signal?: AbortSignal;
  clock?: Clock;
  onProgress?: (p: BackfillProgress) => void;
  /** A vendor row was unusable (counted and skipped). */
  onMalformed?: (symbol: string, count: number, problem: string | undefined) => void;
}

export interface BackfillResult {
  job: string;
  symbols: number;
  /** Symbols already complete from an earlier run. */
  skipped: number;
  rows: number;
  stored: number;
  pages: number;
  malformed: number;
  /** Stopped by the signal before every symbol was complete. */
  interrupted: boolean;
}

export const backfillJobKey = (feed: string, interval: BackfillInterval, range: DateRange) => `${feed}:${interval}:${range.from}:${range.to}`;

export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const clock = o.clock ?? systemClock;
  const job = backfillJobKey(o.source.feed, o.interval, o.range);
  if (o.fresh) await o.store.reset(job);
  const symbols = [...new Set(o.symbols.map((s) => s.toUpperCase()))];
  const res: BackfillResult = { job, symbols: symbols.length, skipped: 0, rows: 0, stored: 0, pages: 0, malformed: 0, interrupted: false };
  const began = clock.now();
  let fetchedSymbols = 0;
  let done = 0;
  const eta = () => (fetchedSymbols === 0 ? null : Math.round(((clock.now() - began) / fetchedSymbols) * (symbols.length - done)));
  const report = (p: Omit<BackfillProgress, 'symbolsTotal' | 'symbolsDone' | 'rows' | 'stored' | 'etaMs'>) =>
    o.onProgress?.({ symbolsTotal: symbols.length, symbolsDone: done, rows: res.rows, stored: res.stored, etaMs: eta(), ...p });

  for (const symbol of symbols) {
    if (o.signal?.aborted) break;
    const cp = await o.store.checkpoint(job, symbol);
    if (cp?.done) {
      res.skipped += 1;
      done += 1;
      report({ event: 'symbol_skipped', symbolRows: 0 });
      continue;
    }
    let symbolRows = 0;
    try {
      for await (const page of o.source.pages(symbol, o.interval, o.range, cp?.cursor ?? null, o.signal)) {
        const stored = await o.store.savePage(job, symbol, o.interval, page.bars, page.next);
        res.pages += 1;
        res.rows += page.bars.length;
        res.stored += stored;
        symbolRows += page.bars.length;
        if (page.malformed > 0) {
          res.malformed += page.malformed;
          o.onMalformed?.(symbol, page.malformed, page.problem);
        }
        report({ event: 'page', current: symbol });
        if (o.signal?.aborted) break;
      }
    } catch (err) {
      if (o.signal?.aborted) break;
      throw err;
    }
    if (o.signal?.aborted) break;
    fetchedSymbols += 1;
    done += 1;
    report({ event: 'symbol_done', current: symbol, symbolRows });
  }
  res.interrupted = done < symbols.length;
  return res;
}
