/**
 * Shared builders of the engine tests: the test day's clock and a HOSE
 * reference (FPT on 2024-01-02, reference 100,000, band ±7 %).
 */
import type { SymbolRef } from '@stock-tracker/protocol';

/** 2024-01-02 at hh:mm:ss in Vietnam (UTC+7, no DST). */
export const vn = (hh: number, mm: number, ss = 0) => Date.UTC(2024, 0, 2, hh - 7, mm, ss);

/** FPT's reference on the test day; `over` replaces any field. */
export const symbolRef = (over: Partial<SymbolRef> = {}): SymbolRef => ({
  symbol: 'FPT',
  exchange: 'HOSE',
  market: 'VN',
  tradingDate: '2024-01-02',
  reference: 100_000,
  ceiling: 107_000,
  floor: 93_000,
  lotSize: 100,
  indices: ['VNINDEX', 'VN30'],
  sharesOutstanding: 1_000_000_000,
  ...over,
});
