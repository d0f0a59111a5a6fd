/**
 * Latest QuoteState per symbol: one row of the board each. A value replaces
 * the current one only when it is not older, so a REST snapshot that arrives
 * after streamed updates cannot roll a row back.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { KeyedStore, type Scheduler } from './keyed-store.ts';

export function isNewerQuote(prev: QuoteState | undefined, next: QuoteState): boolean {
  if (!prev) return true;
  if (next.tradingDate !== prev.tradingDate) return next.tradingDate > prev.tradingDate;
  return next.ts >= prev.ts;
}

export type QuoteStore = KeyedStore<QuoteState>;

export function createQuoteStore(schedule?: Scheduler): QuoteStore {
  return new KeyedStore<QuoteState>({ schedule, accept: isNewerQuote });
}
