/**
 * The backfill contract: a HistorySource pages through one symbol's vendor
 * history, a BackfillStore keeps bars and a per-symbol checkpoint together,
 * so an interrupted run resumes where it stopped and a repeated one stores
 * nothing twice.
 */
import type { BarEvent } from '@stock-tracker/protocol';

export type BackfillInterval = '1d' | '1m';
export const BACKFILL_INTERVALS: readonly BackfillInterval[] = ['1d', '1m'];

/** Inclusive range of local trading dates (YYYY-MM-DD, the exchange's time zone). */
export interface DateRange {
  from: string;
  to: string;
}

export interface HistoryPage {
  /** Bars of this page, schema-valid; bad vendor rows are left out and counted in `malformed`. */
  bars: BarEvent[];
  malformed: number;
  /** First problem among the malformed rows, for the log. */
  problem?: string;
  /** Where to resume after this page; null when the symbol is complete. */
  next: string | null;
}

export interface HistorySource {
  readonly feed: 'ssi' | 'alpaca';
  /** Pages from `cursor` (null = the start of the range) to the end of the range. */
  pages(symbol: string, interval: BackfillInterval, range: DateRange, cursor: string | null, signal?: AbortSignal): AsyncGenerator<HistoryPage>;
}

export interface BackfillCheckpoint {
  /** Resume point; null = from the start. */
  cursor: string | null;
  /** Bars received so far for this symbol (all pages, across runs). */
  rows: number;
  done: boolean;
}

export interface BackfillStore {
  checkpoint(job: string, symbol: string): Promise<BackfillCheckpoint | undefined>;
  /**
   * Stores a page's bars and moves the symbol's checkpoint to `next` in one
   * transaction (done when `next` is null). Returns how many bars were new.
   */
  savePage(job: string, symbol: string, interval: BackfillInterval, bars: BarEvent[], next: string | null): Promise<number>;
  /** Forgets the job's checkpoints (a fresh run); stored bars stay. */
  reset(job: string): Promise<void>;
}
