/**
 * QuoteCache: the latest QuoteState (one price-board row) per symbol.
 *
 * Listing. A row is listed (visible and emitted) once its symbol has a reference
 * price: from a `reference` event or, for tapes without reference data (Alpaca,
 * US replays), synthesized from the first trade: reference = first trade price,
 * exchange and market 'US', no daily limits, lot 1, trading date = the New York
 * date of that trade. A synthetic day ends at the next New York midnight; the
 * following day's reference is the prior day's last price (which is what a
 * reference price is). Book, foreign and status updates that arrive before the
 * listing are kept and appear once the row is listed.
 *
 * New day. A reference event with a different trading date resets the day
 * figures (open/high/low/last, volumes, foreign); the book and status stay.
 *
 * Immutability. Every change builds a new QuoteState; an emitted object is never
 * mutated (consumers keep references).
 *
 * Out of order. Book, foreign and status updates older than the latest applied
 * one are stale and ignored; references older than the latest (by time or by
 * trading date) too. Trades always add to the day totals, but last/change only
 * move forward in time and open is the earliest trade; the row's `ts` never
 * goes back.
 *
 * Phase. Status events set it, per exchange (or market-wide) and per symbol
 * (the newer one wins; halted = exchange halt or symbol halt). Before any status
 * for a row, the exchange's scheduled phase at the event time is used.
 */
import type {
  ClassifiedTrade,
  ForeignState,
  Level,
  QuoteEvent,
  QuoteState,
  SessionPhase,
  StatusEvent,
  SymbolRef,
} from '@stock-tracker/protocol';
import { daySchedule, isOnTick, phaseInSchedule, tickSize, rulesFor, tradingDateOf, US, type DaySchedule, type ExchangeRules } from '@stock-tracker/rules';

export interface StatusMark {
  phase: SessionPhase;
  halted: boolean;
  ts: number;
}

/** Internal mutable row; `state` is the last immutable snapshot built from it. */
export interface QuoteRow {
  symbol: string;
  ref: SymbolRef | undefined;
  refTs: number;
  synthetic: boolean;
  /** Synthetic rows: start of the next local day. */
  dayEnd: number;
  rules: ExchangeRules;
  state: QuoteState | undefined;
  ts: number;
  bids: Level[];
  asks: Level[];
  bookTs: number;
  symStatus: StatusMark | undefined;
  /** Resolved from status events (undefined: none yet, follow the schedule); refreshed when a status or the exchange changes. */
  statusPhase: SessionPhase | undefined;
  halted: boolean;
  foreign: ForeignState | null;
  open: number | null;
  openTs: number;
  high: number | null;
  low: number | null;
  last: number | null;
  lastTs: number;
  lastVolume: number;
  totalVolume: number;
  totalValue: number;
  buyVolume: number;
  sellVolume: number;
  unknownVolume: number;
}

/**
 * Plain-data copy of a QuoteCache (MarketEngine.exportSnapshot): every row in
 * insertion order (iteration order decides the order of status outputs) and
 * the exchange/market status marks. Rows keep their exact internal fields;
 * the exchange rules are re-derived from the reference on restore.
 */
export interface QuoteCacheSnapshot {
  rows: Array<Omit<QuoteRow, 'rules'>>;
  exchangeStatus: Array<[string, StatusMark]>;
  marketStatus: StatusMark | undefined;
}

export interface StatusChange {
  state: QuoteState;
  /** Phase before this status event. */
  prevPhase: SessionPhase;
}

const EMPTY: Level[] = [];
const round9 = (x: number) => Math.round(x * 1e9) / 1e9;

export class QuoteCache {
  private readonly rows = new Map<string, QuoteRow>();
  private readonly exchangeStatus = new Map<string, StatusMark>();
  private marketStatus: StatusMark | undefined;
  private readonly schedules = new Map<ExchangeRules, DaySchedule>();
  private lastRow: QuoteRow | undefined;

  /** A structured-clone copy of the whole cache (shares nothing with it). */
  exportState(): QuoteCacheSnapshot {
    const rows = [...this.rows.values()].map(({ rules: _rules, ...row }) => row);
    return structuredClone({ rows, exchangeStatus: [...this.exchangeStatus], marketStatus: this.marketStatus });
  }

  /** Replaces the whole cache with a copy of `s` (from exportState). */
  restoreState(s: QuoteCacheSnapshot): void {
    const c = structuredClone(s);
    this.rows.clear();
    for (const row of c.rows) this.rows.set(row.symbol, { ...row, rules: row.ref !== undefined ? rulesFor(row.ref.exchange, row.ref.market) : US });
    this.exchangeStatus.clear();
    for (const [k, m] of c.exchangeStatus) this.exchangeStatus.set(k, m);
    this.marketStatus = c.marketStatus;
    this.schedules.clear();
    this.lastRow = undefined;
  }

  /** Listed state of a symbol. */
  get(symbol: string): QuoteState | undefined {
    return this.find(symbol)?.state;
  }

  /** All listed rows (the snapshots themselves: cheap, and safe since they are immutable). */
  snapshot(): QuoteState[] {
    const out: QuoteState[] = [];
    for (const r of this.rows.values()) if (r.state !== undefined) out.push(r.state);
    return out;
  }

  reference(symbol: string): SymbolRef | undefined {
    return this.find(symbol)?.ref;
  }

  references(): SymbolRef[] {
    const out: SymbolRef[] = [];
    for (const r of this.rows.values()) if (r.ref !== undefined) out.push(r.ref);
    return out;
  }

  /**
   * Price sanity against known reference data: inside [floor, ceiling] and on
   * the tick grid. Always true when the symbol has no (real) reference data or
   * its market has no daily limits.
   */
  acceptsPrice(symbol: string, price: number): boolean {
    const r = this.find(symbol);
    return r === undefined || !hasLimits(r) || priceOk(r, price);
  }

  /**
   * Validates a book side in one pass: every level an object with a finite
   * positive price and volume, and each price acceptable (see acceptsPrice).
   */
  acceptsLevels(symbol: string, levels: readonly Level[]): boolean {
    const r = this.find(symbol);
    const limits = r !== undefined && hasLimits(r);
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      if (l === null || typeof l !== 'object') return false;
      const { price, volume } = l;
      if (!(typeof price === 'number' && price > 0 && price < Infinity && typeof volume === 'number' && volume > 0 && volume < Infinity)) return false;
      if (limits && !priceOk(r!, price)) return false;
    }
    return true;
  }

  /** Whether a trade at `ts` would start a new synthetic day (see prepareTrade). */
  startsNewDay(symbol: string, ts: number): boolean {
    const r = this.find(symbol);
    return r !== undefined && r.synthetic && ts >= r.dayEnd;
  }

  bestBid(symbol: string): number {
    const b = this.find(symbol)?.bids;
    return b !== undefined && b.length > 0 ? b[0]!.price : NaN;
  }

  bestAsk(symbol: string): number {
    const a = this.find(symbol)?.asks;
    return a !== undefined && a.length > 0 ? a[0]!.price : NaN;
  }

  /** The phase a symbol is in at `ts` (status if any, else the exchange schedule). */
  phaseOf(symbol: string, ts: number): SessionPhase {
    const r = this.find(symbol);
    if (r === undefined) return this.scheduled(US, ts);
    return r.statusPhase ?? this.scheduled(r.rules, ts);
  }

  /**
   * Apply a reference event. Returns undefined when stale; otherwise the new
   * state and whether it started a new trading day for an already listed row.
   */
  applyReference(ref: SymbolRef, ts: number): { state: QuoteState; newDay: boolean } | undefined {
    const r = this.row(ref.symbol);
    if (r.ref !== undefined && !r.synthetic && (ts < r.refTs || ref.tradingDate < r.ref.tradingDate)) return undefined;
    // Real reference data arriving after trades listed the symbol synthetically upgrades that day in place.
    const upgrade = r.synthetic && ts < r.dayEnd;
    const newDay = r.ref !== undefined && ref.tradingDate !== r.ref.tradingDate && !upgrade;
    if (newDay) resetDay(r);
    this.setRef(r, ref, ts, false);
    if (ts > r.ts) r.ts = ts;
    return { state: this.build(r), newDay };
  }

  /**
   * Called before a trade is classified: lists an unknown symbol with a
   * synthetic reference, or rolls a synthetic row into its next day. Returns
   * the synthesized reference (and whether it is a new day of a listed row),
   * or undefined when nothing changed.
   */
  prepareTrade(symbol: string, ts: number, price: number): { ref: SymbolRef; newDay: boolean } | undefined {
    const r = this.row(symbol);
    if (r.ref === undefined) {
      const ref = syntheticRef(symbol, price, ts);
      this.setRef(r, ref, ts, true);
      return { ref, newDay: false };
    }
    if (r.synthetic && ts >= r.dayEnd) {
      const ref = syntheticRef(symbol, r.last ?? r.ref.reference, ts);
      resetDay(r);
      this.setRef(r, ref, ts, true);
      return { ref, newDay: true };
    }
    return undefined;
  }

  /** Add a classified trade to a listed row (call prepareTrade first). */
  applyTrade(t: ClassifiedTrade): QuoteState {
    const r = this.find(t.symbol)!;
    const { price, volume, ts } = t;
    if (ts < r.openTs) {
      r.open = price;
      r.openTs = ts;
    }
    if (ts >= r.lastTs) {
      r.last = price;
      r.lastTs = ts;
      r.lastVolume = volume;
    }
    if (r.high === null || price > r.high) r.high = price;
    if (r.low === null || price < r.low) r.low = price;
    r.totalVolume += volume;
    r.totalValue += price * volume;
    if (t.side === 'buy') r.buyVolume += volume;
    else if (t.side === 'sell') r.sellVolume += volume;
    else r.unknownVolume += volume;
    if (ts > r.ts) r.ts = ts;
    return this.build(r);
  }

  /** Replace the book. Returns the new state, null if applied to a not yet listed row, undefined if stale. */
  applyQuote(ev: QuoteEvent): QuoteState | null | undefined {
    const r = this.row(ev.symbol);
    if (ev.ts < r.bookTs) return undefined;
    r.bookTs = ev.ts;
    // Events are treated as immutable once applied, so the level arrays are shared, not copied.
    r.bids = ev.bids;
    r.asks = ev.asks;
    if (r.ref === undefined) return null;
    if (ev.ts > r.ts) r.ts = ev.ts;
    return this.build(r);
  }

  /** Attach the (already de-staled) foreign state. Returns the new state, or null if the row is not listed. */
  applyForeign(f: ForeignState): QuoteState | null {
    const r = this.row(f.symbol);
    r.foreign = f;
    if (r.ref === undefined) return null;
    if (f.ts > r.ts) r.ts = f.ts;
    return this.build(r);
  }

  /** Apply a status event; returns the listed rows whose phase or halt changed. Undefined when stale. */
  applyStatus(ev: StatusEvent): StatusChange[] | undefined {
    const mark: StatusMark = { phase: ev.phase, halted: ev.halted, ts: ev.ts };
    if (ev.symbol !== undefined) {
      const r = this.row(ev.symbol);
      if (r.symStatus !== undefined && ev.ts < r.symStatus.ts) return undefined;
      return this.restatus([r], ev.ts, () => {
        r.symStatus = mark;
      });
    }
    if (ev.exchange !== undefined) {
      const key = ev.exchange.toUpperCase();
      const prev = this.exchangeStatus.get(key);
      if (prev !== undefined && ev.ts < prev.ts) return undefined;
      const affected = [...this.rows.values()].filter((r) => r.ref !== undefined && r.ref.exchange.toUpperCase() === key);
      return this.restatus(affected, ev.ts, () => this.exchangeStatus.set(key, mark));
    }
    if (this.marketStatus !== undefined && ev.ts < this.marketStatus.ts) return undefined;
    return this.restatus([...this.rows.values()], ev.ts, () => {
      this.marketStatus = mark;
    });
  }

  private restatus(rows: QuoteRow[], ts: number, update: () => void): StatusChange[] {
    update();
    const changes: StatusChange[] = [];
    for (const r of rows) {
      const prev = r.state;
      if (prev === undefined) {
        this.resolveStatus(r); // not listed: nothing to report yet
        continue;
      }
      if (ts > r.ts) r.ts = ts;
      this.resolveStatus(r);
      if ((r.statusPhase ?? this.scheduled(r.rules, r.ts)) === prev.phase && r.halted === prev.halted) continue;
      changes.push({ state: this.build(r), prevPhase: prev.phase });
    }
    return changes;
  }

  /** QuoteRow lookup; one event asks several times about the same symbol, so the last row is remembered. */
  private find(symbol: string): QuoteRow | undefined {
    const last = this.lastRow;
    if (last !== undefined && last.symbol === symbol) return last;
    const r = this.rows.get(symbol);
    if (r !== undefined) this.lastRow = r;
    return r;
  }

  private row(symbol: string): QuoteRow {
    let r = this.find(symbol);
    if (r === undefined) {
      r = {
        symbol,
        ref: undefined,
        refTs: -Infinity,
        synthetic: false,
        dayEnd: Infinity,
        rules: US,
        state: undefined,
        ts: -Infinity,
        bids: EMPTY,
        asks: EMPTY,
        bookTs: -Infinity,
        symStatus: undefined,
        statusPhase: undefined,
        halted: false,
        foreign: null,
        open: null,
        openTs: Infinity,
        high: null,
        low: null,
        last: null,
        lastTs: -Infinity,
        lastVolume: 0,
        totalVolume: 0,
        totalValue: 0,
        buyVolume: 0,
        sellVolume: 0,
        unknownVolume: 0,
      };
      this.rows.set(symbol, r);
    }
    return r;
  }

  private setRef(r: QuoteRow, ref: SymbolRef, ts: number, synthetic: boolean): void {
    r.ref = ref;
    r.refTs = ts;
    r.synthetic = synthetic;
    r.rules = rulesFor(ref.exchange, ref.market);
    r.dayEnd = synthetic ? daySchedule(r.rules, ts).end : Infinity;
    this.resolveStatus(r);
  }

  /** Phase/halt of a row from status events: the newer of its symbol status and its exchange (or market-wide) status. */
  private resolveStatus(r: QuoteRow): void {
    const ex = r.ref !== undefined ? this.exchangeStatus.get(r.ref.exchange.toUpperCase()) : undefined;
    const m = this.marketStatus;
    const exch = ex !== undefined && (m === undefined || ex.ts >= m.ts) ? ex : m;
    const sym = r.symStatus;
    r.statusPhase = sym !== undefined && (exch === undefined || sym.ts >= exch.ts) ? sym.phase : exch?.phase;
    r.halted = (sym?.halted ?? false) || (exch?.halted ?? false);
  }

  private scheduled(rules: ExchangeRules, ts: number): SessionPhase {
    let s = this.schedules.get(rules);
    if (s === undefined || ts < s.start || ts >= s.end) {
      s = daySchedule(rules, ts);
      this.schedules.set(rules, s);
    }
    return phaseInSchedule(s, ts);
  }

  private build(r: QuoteRow): QuoteState {
    const ref = r.ref!;
    // The schedule fallback is read at the row's latest time so that a late event cannot move the phase back.
    const phase = r.statusPhase ?? this.scheduled(r.rules, r.ts);
    const last = r.last;
    const change = last === null ? null : round9(last - ref.reference);
    const state: QuoteState = {
      symbol: r.symbol,
      exchange: ref.exchange,
      market: ref.market,
      tradingDate: ref.tradingDate,
      ts: r.ts,
      reference: ref.reference,
      ceiling: ref.ceiling,
      floor: ref.floor,
      open: r.open,
      high: r.high,
      low: r.low,
      last,
      lastVolume: r.lastVolume,
      change,
      changePct: change === null || ref.reference === 0 ? null : round9((change / ref.reference) * 100),
      totalVolume: r.totalVolume,
      totalValue: r.totalValue,
      buyVolume: r.buyVolume,
      sellVolume: r.sellVolume,
      unknownVolume: r.unknownVolume,
      bids: r.bids,
      asks: r.asks,
      phase,
      halted: r.halted,
      foreign: r.foreign,
    };
    r.state = state;
    return state;
  }
}

const hasLimits = (r: QuoteRow) => r.ref !== undefined && !r.synthetic && r.ref.ceiling !== null && r.ref.floor !== null && r.rules.dailyLimit !== null;

function priceOk(r: QuoteRow, price: number): boolean {
  if (price < r.ref!.floor! || price > r.ref!.ceiling!) return false;
  // Integer prices on an integer tick (all of Vietnam): an int32 modulo is exact and far
  // cheaper than the scaled float check (a double % is a libc fmod call).
  const tick = tickSize(r.rules, price);
  if ((price | 0) === price && (tick | 0) === tick) return (price | 0) % (tick | 0) === 0;
  return isOnTick(r.rules, price);
}

function resetDay(r: QuoteRow): void {
  r.open = r.high = r.low = r.last = null;
  r.openTs = Infinity;
  r.lastTs = -Infinity;
  r.lastVolume = r.totalVolume = r.totalValue = r.buyVolume = r.sellVolume = r.unknownVolume = 0;
  r.foreign = null;
}

function syntheticRef(symbol: string, reference: number, ts: number): SymbolRef {
  return {
    symbol,
    exchange: US.exchange,
    market: 'US',
    tradingDate: tradingDateOf(ts, US.timeZone),
    reference,
    ceiling: null,
    floor: null,
    lotSize: US.lotSize,
    indices: [],
    sharesOutstanding: 0,
  };
}
