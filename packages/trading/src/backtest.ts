/**
 * The backtest runner (pure): market events → MarketEngine → TradingCore(s) →
 * fills, equity curve and summary. The CLI feeds it a tape; the bench and
 * tests feed it arrays. Formulas of the summary: docs/trading.md.
 */
import type { BacktestFill, BacktestSummary, EquityPoint, FeePreset, FillModelOptions, MarketEvent, RiskLimits, StrategyConfig, TradingEvent } from '@stock-tracker/protocol';

export interface BacktestOptions {
  strategies: StrategyConfig[];
  cash: number;
  fees?: FeePreset;
  riskLimits?: RiskLimits;
  fillModel?: FillModelOptions;
  /** Only these symbols reach the strategies (the engine still sees everything). */
  symbols?: string[];
  /** One account per strategy (default) or all strategies on one account. */
  accounts?: 'per_strategy' | 'shared';
  onEvent?: (accountId: string, e: TradingEvent) => void;
}

export interface BacktestResult {
  fills: BacktestFill[];
  equity: EquityPoint[];
  summary: BacktestSummary;
  /** Per account when several. */
  accounts: { accountId: string; summary: BacktestSummary }[];
  events: number;
  rejectedEvents: number;
  signals: number;
  rejectedOrders: number;
}

export class BacktestRunner {
  constructor(readonly opts: BacktestOptions) {}
  push(_ev: MarketEvent): void {
    throw new Error('not implemented yet');
  }
  finish(): BacktestResult {
    throw new Error('not implemented yet');
  }
}

/** Summary of an equity curve and its fills (see docs/trading.md for every formula). */
export function summarize(_startEquity: number, _equity: EquityPoint[], _closedTrades: number[]): BacktestSummary {
  throw new Error('not implemented yet');
}

export function runBacktest(events: Iterable<MarketEvent>, opts: BacktestOptions): BacktestResult {
  const r = new BacktestRunner(opts);
  for (const ev of events) r.push(ev);
  return r.finish();
}
