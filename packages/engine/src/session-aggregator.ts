/**
 * Session aggregation per symbol: the whole day, each session phase, and 1-minute bars
 * (OHLC, volume, value, VWAP, active buy/sell/unknown volume, trade count).
 *
 * Bars
 * - Minute boundaries are UTC epoch minutes. Every exchange time zone in use has a
 *   whole-hour (at least whole-minute) UTC offset, so UTC minutes are local minutes;
 *   coarser intervals (1h, 1d) would need the local offset.
 * - A bar closes on time, even without a trade: `advance(ts)` closes every open bar
 *   whose minute ended at or before `ts` (emitted once more with closed=true).
 *   While open, every trade emits an updated snapshot (closed=false).
 * - Closed bars are kept in a bounded history per symbol (oldest dropped first).
 *
 * Out-of-order trades are never dropped: they always count in the day and phase
 * totals. A late trade whose minute is already closed updates that minute's bar
 * when it is still in the history (created and inserted in order if the minute had
 * no bar), and the corrected closed bar is re-emitted flagged `late`; a minute older
 * than the whole history only counts in the totals. In every aggregate, open is the
 * earliest trade by time and close the latest (ties: the later arrival wins close).
 *
 * Summaries: a phase summary is emitted when the phase ends (`endPhase`) if it
 * changed since its last emission; the day summary at `endDay` (close) and, if still
 * pending, when a new trading day starts.
 */
import type { Bar, ClassifiedTrade, SessionPhase, SessionSummary } from '@stock-tracker/protocol';
import { SESSION_PHASES } from '@stock-tracker/protocol';

const MINUTE = 60_000;

/**
 * Running OHLCV aggregate; internal and mutable, snapshots are what leaves.
 * Day, phase and bar aggregates share one shape (bar fields unused elsewhere)
 * so that `add`, the hottest function, stays monomorphic.
 */
export interface Acc {
  open: number;
  openTs: number;
  high: number;
  low: number;
  close: number;
  closeTs: number;
  volume: number;
  value: number;
  buy: number;
  sell: number;
  unknown: number;
  trades: number;
  /** Changed since the last emitted summary. */
  dirty: boolean;
  /** Bars: minute start. */
  ts: number;
  /** Bars: cached immutable closed snapshot; cleared when a late trade changes the bar. */
  snap: Bar | undefined;
}

export type BarAcc = Acc;

export interface SymbolAgg {
  symbol: string;
  tradingDate: string;
  day: Acc;
  phases: Map<SessionPhase, Acc>;
  open: BarAcc | undefined;
  history: BarAcc[];
}

/**
 * Plain-data copy of a SessionAggregator: every symbol's day, phase and bar
 * accumulators (open bar and closed history), the symbols with an open bar in
 * the order they opened (the order bars close in), and the aggregator time.
 */
export interface SessionSnapshot {
  aggs: SymbolAgg[];
  openBars: string[];
  nextClose: number;
  now: number;
}

export type BarSink = (bar: Bar, late: boolean) => void;
export type SummarySink = (summary: SessionSummary) => void;

export interface SessionAggregatorOptions {
  /** Closed 1-minute bars kept per symbol. Default 500. */
  barHistory?: number;
}

const newAcc = (ts = 0): Acc => ({
  open: 0,
  openTs: Infinity,
  high: -Infinity,
  low: Infinity,
  close: 0,
  closeTs: -Infinity,
  volume: 0,
  value: 0,
  buy: 0,
  sell: 0,
  unknown: 0,
  trades: 0,
  dirty: false,
  ts,
  snap: undefined,
});

const newBarAcc = (ts: number): BarAcc => newAcc(ts);

function add(acc: Acc, t: ClassifiedTrade): void {
  const { price, volume, ts } = t;
  if (ts < acc.openTs) {
    acc.open = price;
    acc.openTs = ts;
  }
  if (ts >= acc.closeTs) {
    acc.close = price;
    acc.closeTs = ts;
  }
  if (price > acc.high) acc.high = price;
  if (price < acc.low) acc.low = price;
  acc.volume += volume;
  acc.value += price * volume;
  if (t.side === 'buy') acc.buy += volume;
  else if (t.side === 'sell') acc.sell += volume;
  else acc.unknown += volume;
  acc.trades++;
  acc.dirty = true;
}

function barOf(symbol: string, b: BarAcc, closed: boolean): Bar {
  return {
    symbol,
    interval: '1m',
    ts: b.ts,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
    value: b.value,
    vwap: b.volume > 0 ? b.value / b.volume : null,
    buyVolume: b.buy,
    sellVolume: b.sell,
    unknownVolume: b.unknown,
    trades: b.trades,
    closed,
  };
}

function summaryOf(symbol: string, tradingDate: string, phase: SessionPhase | 'day', a: Acc): SessionSummary {
  const any = a.trades > 0;
  return {
    symbol,
    tradingDate,
    phase,
    open: any ? a.open : null,
    high: any ? a.high : null,
    low: any ? a.low : null,
    close: any ? a.close : null,
    volume: a.volume,
    value: a.value,
    vwap: a.volume > 0 ? a.value / a.volume : null,
    buyVolume: a.buy,
    sellVolume: a.sell,
    unknownVolume: a.unknown,
    trades: a.trades,
  };
}

export class SessionAggregator {
  private readonly aggs = new Map<string, SymbolAgg>();
  /** Symbols with an open bar. */
  private readonly openBars = new Map<string, SymbolAgg>();
  /** Earliest instant at which some open bar must close. */
  private nextClose = Infinity;
  private now = -Infinity;
  private readonly maxHistory: number;

  constructor(opts: SessionAggregatorOptions = {}) {
    this.maxHistory = Math.max(1, opts.barHistory ?? 500);
  }

  /** A structured-clone copy of every accumulator (shares nothing with the aggregator). */
  exportState(): SessionSnapshot {
    return structuredClone({ aggs: [...this.aggs.values()], openBars: [...this.openBars.keys()], nextClose: this.nextClose, now: this.now });
  }

  /** Replaces every accumulator with a copy of `s` (from exportState). */
  restoreState(s: SessionSnapshot): void {
    const c = structuredClone(s);
    this.aggs.clear();
    this.openBars.clear();
    for (const agg of c.aggs) this.aggs.set(agg.symbol, agg);
    for (const symbol of c.openBars) this.openBars.set(symbol, this.aggs.get(symbol)!);
    this.nextClose = c.nextClose;
    this.now = c.now;
  }

  /** Aggregator time: the latest instant passed to `advance` or `addTrade`. */
  time(): number {
    return this.now;
  }

  /** Move time forward; close (and emit) every open bar whose minute has ended. Cheap when none has. */
  advance(ts: number, onBar: BarSink): void {
    if (ts > this.now) this.now = ts;
    if (this.now < this.nextClose) return;
    let next = Infinity;
    for (const [symbol, agg] of this.openBars) {
      const bar = agg.open!;
      const end = bar.ts + MINUTE;
      if (end <= this.now) {
        agg.open = undefined;
        this.openBars.delete(symbol);
        this.pushHistory(agg, bar);
        onBar(this.closedSnap(agg, bar), false);
      } else if (end < next) next = end;
    }
    this.nextClose = next;
  }

  /** Add one classified trade of the given trading day; emits the bar it touched. */
  addTrade(t: ClassifiedTrade, tradingDate: string, onBar: BarSink): void {
    this.advance(t.ts, onBar);
    const agg = this.agg(t.symbol, tradingDate);
    add(agg.day, t);
    let phaseAcc = agg.phases.get(t.phase);
    if (phaseAcc === undefined) {
      phaseAcc = newAcc();
      agg.phases.set(t.phase, phaseAcc);
    }
    add(phaseAcc, t);

    const minute = Math.floor(t.ts / MINUTE) * MINUTE;
    const open = agg.open;
    if (open !== undefined && open.ts === minute) {
      add(open, t);
      onBar(barOf(t.symbol, open, false), false);
    } else if (minute + MINUTE > this.now) {
      // After advance(t.ts) any open bar is this minute's, so there is none here.
      const bar = newBarAcc(minute);
      add(bar, t);
      agg.open = bar;
      this.openBars.set(t.symbol, agg);
      if (minute + MINUTE < this.nextClose) this.nextClose = minute + MINUTE;
      onBar(barOf(t.symbol, bar, false), false);
    } else {
      this.addLate(agg, minute, t, onBar);
    }
  }

  /** A phase of a symbol ended: emit its summary if it changed since last emitted. */
  endPhase(symbol: string, phase: SessionPhase, onSummary: SummarySink): void {
    const agg = this.aggs.get(symbol);
    const acc = agg?.phases.get(phase);
    if (agg === undefined || acc === undefined || !acc.dirty) return;
    acc.dirty = false;
    onSummary(summaryOf(symbol, agg.tradingDate, phase, acc));
  }

  /** The trading day of a symbol closed: emit the day summary if it changed since last emitted. */
  endDay(symbol: string, onSummary: SummarySink): void {
    const agg = this.aggs.get(symbol);
    if (agg === undefined || !agg.day.dirty) return;
    agg.day.dirty = false;
    onSummary(summaryOf(symbol, agg.tradingDate, 'day', agg.day));
  }

  /** Start a new trading day: flush pending phase/day summaries of the old one, then reset them. Bars are kept. */
  newDay(symbol: string, tradingDate: string, onSummary: SummarySink): void {
    const agg = this.aggs.get(symbol);
    if (agg === undefined) {
      this.agg(symbol, tradingDate);
      return;
    }
    for (const phase of SESSION_PHASES) this.endPhase(symbol, phase, onSummary);
    this.endDay(symbol, onSummary);
    agg.tradingDate = tradingDate;
    agg.day = newAcc();
    agg.phases = new Map();
  }

  /** Relabel the current day (a real reference replaced a synthetic one); totals are kept. */
  setTradingDate(symbol: string, tradingDate: string): void {
    const agg = this.aggs.get(symbol);
    if (agg !== undefined) agg.tradingDate = tradingDate;
  }

  summary(symbol: string): { day: SessionSummary; phases: SessionSummary[] } | undefined {
    const agg = this.aggs.get(symbol);
    if (agg === undefined) return undefined;
    const phases: SessionSummary[] = [];
    for (const phase of SESSION_PHASES) {
      const acc = agg.phases.get(phase);
      if (acc !== undefined) phases.push(summaryOf(symbol, agg.tradingDate, phase, acc));
    }
    return { day: summaryOf(symbol, agg.tradingDate, 'day', agg.day), phases };
  }

  /** Closed bars oldest first, then the open bar (closed=false) if any. */
  bars(symbol: string): Bar[] {
    const agg = this.aggs.get(symbol);
    if (agg === undefined) return [];
    const out = agg.history.map((b) => this.closedSnap(agg, b));
    if (agg.open !== undefined) out.push(barOf(symbol, agg.open, false));
    return out;
  }

  private agg(symbol: string, tradingDate: string): SymbolAgg {
    let agg = this.aggs.get(symbol);
    if (agg === undefined) {
      agg = { symbol, tradingDate, day: newAcc(), phases: new Map(), open: undefined, history: [] };
      this.aggs.set(symbol, agg);
    }
    return agg;
  }

  private closedSnap(agg: SymbolAgg, b: BarAcc): Bar {
    if (b.snap === undefined) b.snap = barOf(agg.symbol, b, true);
    return b.snap;
  }

  private pushHistory(agg: SymbolAgg, bar: BarAcc): void {
    agg.history.push(bar);
    if (agg.history.length > this.maxHistory) agg.history.shift();
  }

  /** A trade for a minute that already closed. */
  private addLate(agg: SymbolAgg, minute: number, t: ClassifiedTrade, onBar: BarSink): void {
    const h = agg.history;
    // Late trades are usually recent: search from the newest end.
    let i = h.length - 1;
    while (i >= 0 && h[i]!.ts > minute) i--;
    let bar: BarAcc;
    if (i >= 0 && h[i]!.ts === minute) {
      bar = h[i]!;
    } else {
      // No bar for that minute (no trade in it until now); keep bars ordered by time.
      if (i < 0 && h.length >= this.maxHistory) {
        // Older than everything kept: counts in the totals only.
        return;
      }
      bar = newBarAcc(minute);
      h.splice(i + 1, 0, bar);
      if (h.length > this.maxHistory) h.shift();
    }
    add(bar, t);
    bar.snap = undefined;
    onBar(this.closedSnap(agg, bar), true);
  }
}
