/**
 * The backtest runner (pure): market events → MarketEngine → TradingCore(s) →
 * fills, equity curve and summary. The CLI feeds it a tape, the bench and the
 * tests feed it arrays. It drives the very same core as paper trading, with
 * the engine outputs in the same order, so the same tape gives the same
 * decisions and fills. Summary formulas: docs/trading.md ("Backtest summary").
 */
import { MarketEngine } from '@stock-tracker/engine';
import type { BacktestFill, BacktestSummary, EngineOutput, EquityPoint, FeePreset, FeeSchedule, FillModelOptions, Market, MarketEvent, RiskLimits, StrategyConfig, TradingEvent } from '@stock-tracker/protocol';
import { isTradingPhase, rulesFor } from '@stock-tracker/rules';
import { TradingCore } from './core.ts';
import { FEE_PRESETS } from './fees.ts';
import { createStrategy } from './strategies.ts';
import { TradingHub } from './hub.ts';

/** `auto`: each market its own preset (VN → vn, US → us). */
export type BacktestFees = FeePreset | 'auto';

export interface BacktestOptions {
  strategies: StrategyConfig[];
  cash: number;
  fees?: BacktestFees;
  riskLimits?: RiskLimits;
  fillModel?: FillModelOptions;
  /** Strategies without their own symbols trade only these (default: every symbol). */
  symbols?: string[];
  /** Called with every trading event of every account, in order. */
  onEvent?: (accountId: string, e: TradingEvent) => void;
}

export interface BacktestResult {
  fills: BacktestFill[];
  equity: EquityPoint[];
  summary: BacktestSummary;
  /** One account per strategy, in the order given. */
  accounts: { accountId: string; summary: BacktestSummary }[];
  events: number;
  rejectedEvents: number;
  signals: number;
  rejectedOrders: number;
}

export function feeSchedules(fees: BacktestFees): { VN: FeeSchedule; US: FeeSchedule } {
  if (fees === 'auto') return { VN: FEE_PRESETS.vn, US: FEE_PRESETS.us };
  return { VN: FEE_PRESETS[fees], US: FEE_PRESETS[fees] };
}

/** Trading minutes per day of an exchange (auctions included), for annualising per-minute returns. */
export function tradingMinutesPerDay(exchange: string, market?: Market): number {
  const r = rulesFor(exchange, market);
  let m = 0;
  for (const w of r.sessions) {
    if (!isTradingPhase(w.phase)) continue;
    const a = Number(w.start.slice(0, 2)) * 60 + Number(w.start.slice(3));
    const b = Number(w.end.slice(0, 2)) * 60 + Number(w.end.slice(3));
    m += b - a;
  }
  return m;
}

export class BacktestRunner {
  readonly engine = new MarketEngine();
  readonly cores: TradingCore[];
  private readonly fills: BacktestFill[] = [];
  private readonly fillCount = new Map<string, number>();
  private events = 0;
  private rejected = 0;
  private signals = 0;
  private rejectedOrders = 0;
  private lastTs: number | null = null;
  private exchange: { exchange: string; market: Market } | null = null;
  private readonly onEvent: BacktestOptions['onEvent'];
  private readonly hub: TradingHub;
  private readonly emit = (out: EngineOutput): void => {
    if (out.type === 'reference' && this.exchange === null) this.exchange = { exchange: out.ref.exchange, market: out.ref.market };
    this.hub.onMarket(out);
  };

  constructor(readonly opts: BacktestOptions) {
    if (opts.strategies.length === 0) throw new RangeError('a backtest needs at least one strategy');
    const fees = feeSchedules(opts.fees ?? 'auto');
    this.onEvent = opts.onEvent;
    this.cores = opts.strategies.map((cfg) => {
      const core = new TradingCore({ accountId: cfg.id, cash: opts.cash, fees, riskLimits: opts.riskLimits, fillModel: opts.fillModel });
      const symbols = cfg.symbols.length > 0 ? cfg.symbols : (opts.symbols ?? []);
      core.addStrategy(createStrategy({ ...cfg, symbols }));
      return core;
    });
    this.hub = new TradingHub(this.cores, (core, evs) => this.collect(core.accountId, evs));
  }

  push(ev: MarketEvent): void {
    this.events++;
    if (typeof ev.ts === 'number' && (this.lastTs === null || ev.ts > this.lastTs)) this.lastTs = ev.ts;
    if (!this.engine.apply(ev, this.emit)) this.rejected++;
  }

  /** Closes the last minute bar (as replay does) and the equity curves; returns the report. */
  finish(): BacktestResult {
    if (this.lastTs !== null) this.engine.advance(this.lastTs, this.emit);
    for (const core of this.cores) {
      const evs = core.flush();
      if (evs.length > 0) this.collect(core.accountId, evs);
    }
    const mpy = 252 * tradingMinutesPerDay(this.exchange?.exchange ?? 'HOSE', this.exchange?.market);
    const accounts = this.cores.map((c) => ({
      accountId: c.accountId,
      summary: summarize(this.opts.cash, c.equityCurve(), c.closedTrades().map((t) => t.pnl), c.account(), this.fillCount.get(c.accountId) ?? 0, mpy),
    }));
    const equity = mergeCurves(this.cores.map((c) => c.equityCurve()));
    const all = this.cores.map((c) => c.account());
    const total = {
      fees: all.reduce((s, a) => s + a.fees, 0),
      taxes: all.reduce((s, a) => s + a.taxes, 0),
      equity: all.reduce((s, a) => s + a.equity, 0),
    };
    const summary =
      this.cores.length === 1
        ? accounts[0]!.summary
        : summarize(
            this.opts.cash * this.cores.length,
            equity,
            this.cores.flatMap((c) => c.closedTrades().map((t) => t.pnl)),
            total,
            this.fills.length,
            mpy,
          );
    return { fills: this.fills, equity, summary, accounts, events: this.events, rejectedEvents: this.rejected, signals: this.signals, rejectedOrders: this.rejectedOrders };
  }

  private collect(accountId: string, evs: TradingEvent[]): void {
    for (const e of evs) {
      if (e.type === 'fill') {
        const f = e.fill;
        this.fillCount.set(accountId, (this.fillCount.get(accountId) ?? 0) + 1);
        this.fills.push({ ts: f.ts, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, fee: f.fee, tax: f.tax, orderId: f.orderId, strategyId: f.strategyId });
      } else if (e.type === 'signal') this.signals++;
      else if (e.type === 'order' && e.event.status === 'rejected') this.rejectedOrders++;
      if (this.onEvent) this.onEvent(accountId, e);
    }
  }
}

/** Sum of several accounts' curves, point by point (every core sees the same minutes). */
function mergeCurves(curves: EquityPoint[][]): EquityPoint[] {
  if (curves.length === 1) return curves[0]!;
  const by = new Map<number, EquityPoint>();
  for (const c of curves)
    for (const p of c) {
      const x = by.get(p.ts);
      if (x) {
        x.equity += p.equity;
        x.cash += p.cash;
      } else by.set(p.ts, { ...p });
    }
  return [...by.values()].sort((a, b) => a.ts - b.ts);
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4 + 0;

/**
 * Summary of an equity curve (docs/trading.md):
 * - returnPct = (end − start) / start × 100, end = the last point (start if none);
 * - maxDrawdownPct = max over points of (running peak − equity) / running peak × 100, the peak starting at `start`;
 * - trades = closed round trips (sell orders with fills), winRate = share with realised P&L > 0, × 100;
 * - sharpe = mean / population σ of the point-to-point returns (start → first point → …) × √(minutesPerYear); null with fewer than 2 returns or σ = 0.
 */
export function summarize(
  startEquity: number,
  equity: EquityPoint[],
  closedPnls: number[],
  account: { fees: number; taxes: number; equity: number },
  fills: number,
  minutesPerYear = 252 * 270,
): BacktestSummary {
  const end = equity.length > 0 ? equity[equity.length - 1]!.equity : account.equity;
  let peak = startEquity;
  let mdd = 0;
  for (const p of equity) {
    if (p.equity > peak) peak = p.equity;
    if (peak > 0) {
      const dd = ((peak - p.equity) / peak) * 100;
      if (dd > mdd) mdd = dd;
    }
  }
  const rets: number[] = [];
  let prev = startEquity;
  for (const p of equity) {
    if (prev > 0) rets.push(p.equity / prev - 1);
    prev = p.equity;
  }
  let sharpe: number | null = null;
  if (rets.length >= 2) {
    const mean = rets.reduce((a, b) => a + b, 0) / rets.length;
    const sd = Math.sqrt(rets.reduce((a, b) => a + (b - mean) ** 2, 0) / rets.length);
    if (sd > 1e-12) sharpe = r4((mean / sd) * Math.sqrt(minutesPerYear));
  }
  const wins = closedPnls.filter((p) => p > 0).length;
  return {
    startEquity,
    endEquity: r4(end),
    returnPct: startEquity > 0 ? r4(((end - startEquity) / startEquity) * 100) : 0,
    maxDrawdownPct: r4(mdd),
    trades: closedPnls.length,
    winRate: closedPnls.length > 0 ? r4((wins / closedPnls.length) * 100) : null,
    sharpe,
    fills,
    fees: r4(account.fees),
    taxes: r4(account.taxes),
  };
}

export function runBacktest(events: Iterable<MarketEvent>, opts: BacktestOptions): BacktestResult {
  const r = new BacktestRunner(opts);
  for (const ev of events) r.push(ev);
  return r.finish();
}
