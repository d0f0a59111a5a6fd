/** The backtest report as the REST API stores it, and the series the report page draws from it. */
import type { BacktestFill, BacktestSummary, EquityPoint } from '@stock-tracker/protocol';

export interface ReportCandle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** `GET /api/trading/backtests/:id` `report` (apps/server/src/trading/backtests.ts). */
export interface StoredReport {
  tape?: string;
  strategy: string;
  params: Record<string, number>;
  symbols: string[];
  cash: number;
  events: number;
  fills: BacktestFill[];
  equity: EquityPoint[];
  summary: BacktestSummary;
  signals: number;
  rejected: number;
  /** 1-minute candles of the traded symbols (absent in reports stored before it was added). */
  bars?: Record<string, ReportCandle[]>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
export function asReport(v: unknown): StoredReport | null {
  if (!isObj(v) || !Array.isArray(v.fills) || !Array.isArray(v.equity) || !isObj(v.summary)) return null;
  return v as unknown as StoredReport;
}

/** Drawdown from the running peak (starting at `start`), in percent, ≤ 0 — the curve the report's max drawdown is the minimum of. */
export function drawdownSeries(start: number, equity: readonly EquityPoint[]): { ts: number; value: number }[] {
  let peak = start;
  return equity.map((p) => {
    if (p.equity > peak) peak = p.equity;
    // `|| 0`: no "-0" at the peak.
    return { ts: p.ts, value: (peak > 0 ? -((peak - p.equity) / peak) * 100 : 0) || 0 };
  });
}
