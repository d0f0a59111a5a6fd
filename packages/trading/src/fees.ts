/**
 * Fees and taxes per market, and money rounding. Presets (docs/trading.md):
 * - vn: broker fee 0.15 % of the value (a common online-broker rate in Vietnam;
 *   set your own), no minimum; sell tax 0.1 % of the sale value (personal
 *   income tax withheld on every sale).
 * - us: commission-free (as Alpaca); the FINRA trading activity fee on sales,
 *   $0.000166 per share capped at $8.30 per fill. The SEC fee is 0 (its rate
 *   has been $0.00 per million since May 2025).
 * - none: nothing.
 */
import type { FeePreset, FeeSchedule, Market } from '@stock-tracker/protocol';

export const FEE_PRESETS: Record<FeePreset, FeeSchedule> = {
  none: { rate: 0, minFee: 0, perShare: 0, sellTaxRate: 0, sellPerShare: 0, sellPerShareMax: null },
  vn: { rate: 0.0015, minFee: 0, perShare: 0, sellTaxRate: 0.001, sellPerShare: 0, sellPerShareMax: null },
  us: { rate: 0, minFee: 0, perShare: 0, sellTaxRate: 0, sellPerShare: 0.000166, sellPerShareMax: 8.3 },
};

/** Currency unit per market: VND has no minor unit in practice, USD cents. */
export const CURRENCY_DECIMALS: Record<Market, number> = { VN: 0, US: 2 };

/** Rounds money to the market's unit (half away from zero, then normalises -0). */
export function roundMoney(x: number, market: Market): number {
  const f = 10 ** CURRENCY_DECIMALS[market];
  const r = Math.round(Math.abs(x) * f + 1e-9) / f;
  return (x < 0 ? -r : r) + 0;
}

export interface FeeAmounts {
  fee: number;
  tax: number;
}

/** Fee and tax of one fill of `qty` shares worth `value` (already rounded). */
export function feesFor(s: FeeSchedule, market: Market, side: 'buy' | 'sell', qty: number, value: number): FeeAmounts {
  let fee = s.rate * value + s.perShare * qty;
  if (fee < s.minFee) fee = s.minFee;
  let tax = 0;
  if (side === 'sell') {
    let reg = s.sellPerShare * qty;
    if (s.sellPerShareMax !== null && reg > s.sellPerShareMax) reg = s.sellPerShareMax;
    fee += reg;
    tax = s.sellTaxRate * value;
  }
  return { fee: roundMoney(fee, market), tax: roundMoney(tax, market) };
}
