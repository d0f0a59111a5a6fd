/**
 * MarketEngine: applies normalized MarketEvents and emits derived state
 * (EngineOutput) synchronously. Pure: no I/O, no wall clock; engine time is the
 * largest event ts seen (or passed to `advance`). Same tape, same output.
 *
 * Wiring
 *   trade     → classifier → quote cache → session aggregator (bars, summaries) → alerts.onQuote, index.onQuote
 *   closed bar (on time)  → alerts.onBar (indicators live there)
 *   quote     → quote cache (book only: no price change, so no alert/index work)
 *   foreign   → foreign tracker → quote cache → alerts.onForeign
 *   reference → quote cache (new trading date = new day) → index.onReference/onQuote
 *   status    → quote cache (phase/halt) → phase summary when a phase ends, day summary at close
 *   index     → index.onFeedIndex (feed-supplied values pass through)
 *   bar       → validated and counted only: bars are built from trades, merging
 *               vendor bars would count volume twice
 *   time      → every accepted event advances engine time (closes 1m bars);
 *               indices and the foreign top are recomputed on `advance()` and at
 *               most once per `derivedIntervalMs` of engine time.
 *
 * Validation: an event is rejected (returns false, counted, emits nothing,
 * changes nothing) when it is not well formed (including a symbol outside the
 * storage's pattern `[A-Za-z0-9._-]{1,20}`, or a trade id / exchange / index id
 * that is empty, longer than 64 characters or holds a control character such
 * as NUL), has a ts that is not a valid
 * Date instant (NaN, infinite, beyond ±8.64e15), a
 * non-positive or non-finite price/volume (trades, book levels), negative
 * foreign figures, or — when the symbol's reference data is known and its
 * market has daily limits — a trade/book price outside [floor, ceiling] or off
 * the tick grid. A re-sent trade (id already applied for the same symbol and
 * trading day, same ts: a replay of the original event) is a duplicate:
 * rejected too (see trade-dedup.ts).
 *
 * Out-of-order policy
 * - quote (book), foreign, status and reference updates older than the latest
 *   applied one of the same key (symbol; exchange for exchange-wide status) are
 *   stale: accepted (true), counted in `stale`, no effect. State never goes back.
 * - trades are never dropped: a late trade adds to the day, phase and quote
 *   totals (volume always adds up); `last`/close only move forward in time and
 *   open is the earliest trade; the quote row's ts never decreases.
 * - a late trade whose minute bar already closed updates that bar if it is still
 *   in the bounded history (or creates it there), and the corrected bar is
 *   re-emitted closed; it is not fed to alerts/indicators, which only see bars
 *   closing in time order. Older than the history: day/phase totals only.
 * - the tick test uses arrival order.
 * - a late trade is attributed to the symbol's current trading day; foreign
 *   updates older than the reference that started the day are stale.
 *
 * Symbols without reference data (e.g. Alpaca tapes) are listed from their first
 * trade with a synthetic reference (see quote-cache.ts), so replays of such
 * tapes still get quotes, bars and summaries.
 *
 * Output objects are immutable snapshots; consumers may keep them. Events are
 * treated as immutable too (book level arrays are shared, not copied).
 */
import type {
  AlertEvent,
  Bar,
  Emit,
  ForeignEvent,
  ForeignState,
  ForeignTop,
  IndexEvent,
  IndexState,
  Level,
  MarketEvent,
  QuoteEvent,
  QuoteState,
  SessionSummary,
  StatusEvent,
  SymbolRef,
  TradeEvent,
  AlertRule,
  BarEvent,
  ClassifiedTrade,
  TradeGap,
} from '@stock-tracker/protocol';
import { BAR_INTERVAL_MS, MARKET_EVENT_TYPES, SESSION_PHASES } from '@stock-tracker/protocol';
import { AlertEngine } from './alert-engine.ts';
import { TradeClassifier } from './classifier.ts';
import type { TickState } from './classifier.ts';
import { ForeignInvestorTracker, type ForeignSnapshot } from './foreign-tracker.ts';
import { DEFAULT_INDICES, IndexCalculator, type IndexDefinition, type IndexSnapshot } from './index-calculator.ts';
import { QuoteCache, type QuoteCacheSnapshot } from './quote-cache.ts';
import { SessionAggregator, type SessionSnapshot } from './session-aggregator.ts';
import { TradeDeduper, type SymbolTrades } from './trade-dedup.ts';

export interface EngineOptions {
  indices?: IndexDefinition[];
  alertRules?: AlertRule[];
  /** Trust the vendor's aggressor flag. Default true. */
  useVendorSide?: boolean;
  /** Closed 1m bars kept per symbol. Default 500. */
  barHistory?: number;
  /** Default size of the foreign top lists. Default 10. */
  foreignTopSize?: number;
  /** Engine-time spacing of index / foreign-top recomputation between `advance()` calls. Default 1000 ms. */
  derivedIntervalMs?: number;
}

export interface EngineStats {
  /** Accepted events by type (stale ones included). */
  events: Record<string, number>;
  /** Rejected events (malformed, out of limits, duplicates). */
  rejected: number;
  /** Of which duplicate trade ids. */
  duplicates: number;
  /** Accepted but older than the state they would update: no effect. */
  stale: number;
}

/**
 * Everything a MarketEngine knows, as plain data (see `exportSnapshot`):
 * structured-clone safe (Maps are stored as entry arrays, but ±Infinity
 * marks "none yet"), so `structuredClone` or `v8.serialize` carry it; plain
 * JSON does not. Alert rule state (edges, cooldowns, indicator series) is not
 * part of it: rules come from storage and re-arm on the first evaluation.
 */
export interface EngineSnapshot {
  version: 1;
  time: number;
  derivedSlot: number;
  counts: Record<string, number>;
  rejected: number;
  duplicates: number;
  stale: number;
  quotes: QuoteCacheSnapshot;
  sessions: SessionSnapshot;
  classifier: Array<[string, TickState]>;
  foreign: ForeignSnapshot;
  indices: IndexSnapshot;
  /** The day's applied trade (ts, id) per symbol: duplicates are still recognised after a restore. */
  dedup: Array<[string, SymbolTrades]>;
  /** Volume already reported missing per symbol today (gap detection). */
  gaps: Array<[string, number]>;
}

const noop: Emit = () => {};
const PHASES = new Set<string>(SESSION_PHASES);
const SIDES = new Set<string>(['buy', 'sell', 'unknown']);
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Epoch ms inside the range of a JavaScript Date (time zone math needs one). */
const MAX_TS = 8.64e15;
const isTs = (x: unknown): x is number => typeof x === 'number' && x >= -MAX_TS && x <= MAX_TS;
/** Finite and > 0 (NaN fails the comparison). */
const isPos = (x: unknown): x is number => typeof x === 'number' && x > 0 && x < Infinity;
const isNonNeg = (x: unknown): x is number => typeof x === 'number' && x >= 0 && x < Infinity;
/** Identifiers from a feed (trade ids, exchanges, index ids): non-empty, bounded, no control characters (NUL breaks PostgreSQL text). */
const ID_RE = /^[^\u0000-\u001f\u007f]{1,64}$/;
const isStr = (x: unknown): x is string => typeof x === 'string' && ID_RE.test(x);
/** The storage's symbol pattern (protocol `Symbol`): a symbol that cannot be stored or subscribed is refused at ingress. */
const SYMBOL_RE = /^[A-Za-z0-9._\-]{1,20}$/;
const isSymbol = (x: unknown): x is string => typeof x === 'string' && SYMBOL_RE.test(x);
const isCount = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0;

export class MarketEngine {
  readonly alerts: AlertEngine;
  private readonly cache = new QuoteCache();
  private readonly classifier: TradeClassifier;
  private readonly sessions: SessionAggregator;
  private readonly foreignTracker: ForeignInvestorTracker;
  private readonly indexCalc: IndexCalculator;
  private readonly dedup = new TradeDeduper();
  private readonly derivedInterval: number;
  private time = -Infinity;
  private derivedSlot = -Infinity;
  /** Fixed keys (every event type) keep the object's shape stable on the hot path. */
  private readonly counts: Record<string, number> = Object.fromEntries(MARKET_EVENT_TYPES.map((t) => [t, 0]));
  private rejected = 0;
  private duplicates = 0;
  private stale = 0;
  /** Per symbol: volume reported missing today (vendor cumulative volume ahead of the trades seen). */
  private readonly gaps = new Map<string, number>();
  /** Set by `replay`: the recorded classification the trade being applied keeps. */
  private forced: ClassifiedTrade | undefined;

  /** The sink of the apply/advance call in progress; the prebound callbacks below write to it. */
  private out: Emit = noop;
  private readonly onAlert = (alert: AlertEvent): void => this.out({ type: 'alert', alert });
  private readonly onSummary = (summary: SessionSummary): void => this.out({ type: 'session', summary });
  private readonly onBar = (bar: Bar, late: boolean): void => {
    this.out({ type: 'bar', bar });
    if (bar.closed && !late) this.alerts.onBar(bar, this.onAlert);
  };

  constructor(opts: EngineOptions = {}) {
    this.alerts = new AlertEngine(opts.alertRules);
    this.classifier = new TradeClassifier({ useVendorSide: opts.useVendorSide ?? true });
    this.sessions = new SessionAggregator({ barHistory: opts.barHistory ?? 500 });
    this.foreignTracker = new ForeignInvestorTracker(opts.foreignTopSize ?? 10);
    this.indexCalc = new IndexCalculator(opts.indices ?? DEFAULT_INDICES);
    this.derivedInterval = Math.max(1, opts.derivedIntervalMs ?? 1000);
  }

  /** Apply one normalized event; outputs go to `emit` synchronously. False when rejected. */
  apply(ev: MarketEvent, emit: Emit): boolean {
    if (ev === null || typeof ev !== 'object' || !isTs(ev.ts)) return this.reject();
    const prevOut = this.out;
    this.out = emit;
    try {
      let ok: boolean;
      switch (ev.type) {
        case 'trade':
          ok = this.applyTrade(ev);
          break;
        case 'quote':
          ok = this.applyQuote(ev);
          break;
        case 'foreign':
          ok = this.applyForeign(ev);
          break;
        case 'status':
          ok = this.applyStatus(ev);
          break;
        case 'reference':
          ok = this.applyReference(ev.ref, ev.ts);
          break;
        case 'index':
          ok = this.applyIndex(ev);
          break;
        case 'bar':
          ok = validBar(ev) && this.tick(ev.ts);
          break;
        default:
          ok = false;
      }
      if (!ok) return this.reject();
      this.counts[ev.type]!++;
      const slot = Math.floor(this.time / this.derivedInterval);
      if (slot !== this.derivedSlot) {
        this.derivedSlot = slot;
        this.computeDerived();
      }
      return true;
    } finally {
      this.out = prevOut;
    }
  }

  /** Move engine time forward: close ended bars, recompute indices and the foreign top if changed. */
  advance(ts: number, emit: Emit): void {
    if (!isTs(ts)) return;
    const prevOut = this.out;
    this.out = emit;
    try {
      this.tick(ts);
      this.derivedSlot = Math.floor(this.time / this.derivedInterval);
      this.computeDerived();
    } finally {
      this.out = prevOut;
    }
  }

  now(): number {
    return this.time === -Infinity ? 0 : this.time;
  }

  /**
   * Re-applies a trade that an engine already classified (a new collector
   * leader seeding itself from the day's stored and published trades): the
   * same path as a trade event — dedup, totals, bars, summaries, the tick
   * test's price path — but the trade keeps its recorded side and phase, so
   * the buy/sell split comes out as it was published. False when rejected
   * (e.g. a duplicate). Emits what a trade event would.
   */
  replay(trade: ClassifiedTrade, emit: Emit): boolean {
    this.forced = trade;
    try {
      return this.apply({ type: 'trade', ts: trade.ts, symbol: trade.symbol, id: trade.id, price: trade.price, volume: trade.volume, phase: trade.phase }, emit);
    } finally {
      this.forced = undefined;
    }
  }

  /**
   * Everything this engine knows, as a deep copy (nothing shared with the
   * engine, so later events do not change it). An engine restored from it
   * (`restore`) produces, for any further events, exactly the outputs this
   * engine would (engine-restore.test.ts) — alert rule state aside (see
   * EngineSnapshot). Pure and deterministic: no clock, no I/O.
   */
  exportSnapshot(): EngineSnapshot {
    return {
      version: 1,
      time: this.time,
      derivedSlot: this.derivedSlot,
      counts: { ...this.counts },
      rejected: this.rejected,
      duplicates: this.duplicates,
      stale: this.stale,
      quotes: this.cache.exportState(),
      sessions: this.sessions.exportState(),
      classifier: this.classifier.exportState(),
      foreign: this.foreignTracker.exportState(),
      indices: this.indexCalc.exportState(),
      dedup: this.dedup.exportState(),
      gaps: [...this.gaps],
    };
  }

  /**
   * Replaces this engine's market state with a copy of `snap` (from
   * `exportSnapshot`, possibly of another engine). Options stay this
   * engine's (alert rules, bar history, side policy); the snapshot is not
   * modified and can be restored again.
   */
  restore(snap: EngineSnapshot): void {
    if (snap?.version !== 1) throw new Error(`MarketEngine.restore: unsupported snapshot version ${String((snap as { version?: unknown } | null)?.version)}`);
    this.time = snap.time;
    this.derivedSlot = snap.derivedSlot;
    for (const k of Object.keys(this.counts)) this.counts[k] = snap.counts[k] ?? 0;
    this.rejected = snap.rejected;
    this.duplicates = snap.duplicates;
    this.stale = snap.stale;
    this.cache.restoreState(snap.quotes);
    this.sessions.restoreState(snap.sessions);
    this.classifier.restoreState(snap.classifier);
    this.foreignTracker.restoreState(snap.foreign);
    this.indexCalc.restoreState(snap.indices);
    this.dedup.restoreState(snap.dedup);
    this.gaps.clear();
    for (const [symbol, v] of snap.gaps) this.gaps.set(symbol, v);
  }

  /**
   * Volume of `symbol`'s current day that was already reported missing by
   * another engine (a previous collector leader's `gap`s): a seeded engine
   * does not report it again. Only ever raises the figure.
   */
  markGapReported(symbol: string, volume: number): void {
    if (isPos(volume) && volume > (this.gaps.get(symbol) ?? 0)) this.gaps.set(symbol, volume);
  }

  /** A new engine with `opts` holding a copy of `snap`'s state. */
  static fromSnapshot(snap: EngineSnapshot, opts: EngineOptions = {}): MarketEngine {
    const e = new MarketEngine(opts);
    e.restore(snap);
    return e;
  }

  quote(symbol: string): QuoteState | undefined {
    return this.cache.get(symbol);
  }

  quotes(): QuoteState[] {
    return this.cache.snapshot();
  }

  reference(symbol: string): SymbolRef | undefined {
    return this.cache.reference(symbol);
  }

  references(): SymbolRef[] {
    return this.cache.references();
  }

  summary(symbol: string): { day: SessionSummary; phases: SessionSummary[] } | undefined {
    return this.sessions.summary(symbol);
  }

  bars(symbol: string): Bar[] {
    return this.sessions.bars(symbol);
  }

  foreign(symbol: string): ForeignState | undefined {
    return this.foreignTracker.get(symbol);
  }

  foreignTop(n?: number): ForeignTop {
    return this.foreignTracker.top(n);
  }

  indices(): IndexState[] {
    return this.indexCalc.all();
  }

  stats(): EngineStats {
    return { events: { ...this.counts }, rejected: this.rejected, duplicates: this.duplicates, stale: this.stale };
  }

  // ---- event handlers: validate first, change state only once accepted ----

  private applyTrade(ev: TradeEvent): boolean {
    const { symbol, id, price, ts } = ev;
    if (!isSymbol(symbol) || !isStr(id) || !isPos(price) || !isPos(ev.volume)) return false;
    if (ev.side !== undefined && !SIDES.has(ev.side)) return false;
    if (ev.phase !== undefined && !PHASES.has(ev.phase)) return false;
    if (!this.cache.acceptsPrice(symbol, price)) return false;
    if (this.dedup.isDuplicate(symbol, id, ts) && !this.cache.startsNewDay(symbol, ts)) {
      this.duplicates++;
      return false;
    }
    this.tick(ts);
    const listed = this.cache.prepareTrade(symbol, ts, price);
    if (listed !== undefined) this.startDay(listed.ref, listed.newDay);
    this.dedup.record(symbol, id, ts);
    const phase = ev.phase ?? this.cache.phaseOf(symbol, ts);
    const trade = this.keepForced(this.classifier.classify(ev, phase, this.cache.bestBid(symbol), this.cache.bestAsk(symbol)));
    const state = this.cache.applyTrade(trade);
    if (ev.cumVolume !== undefined) this.checkGap(ev, state);
    this.out({ type: 'trade', trade });
    this.sessions.addTrade(trade, state.tradingDate, this.onBar);
    this.out({ type: 'quote', state });
    this.alerts.onQuote(state, this.onAlert);
    this.indexCalc.onQuote(state);
    return true;
  }

  private applyQuote(ev: QuoteEvent): boolean {
    const { symbol } = ev;
    if (!isSymbol(symbol) || !this.validLevels(symbol, ev.bids) || !this.validLevels(symbol, ev.asks)) return false;
    this.tick(ev.ts);
    const state = this.cache.applyQuote(ev);
    if (state === undefined) this.stale++;
    else if (state !== null) this.out({ type: 'quote', state });
    return true;
  }

  private applyForeign(ev: ForeignEvent): boolean {
    if (
      !isSymbol(ev.symbol) ||
      !isNonNeg(ev.buyVolume) ||
      !isNonNeg(ev.sellVolume) ||
      !isNonNeg(ev.buyValue) ||
      !isNonNeg(ev.sellValue) ||
      !isNonNeg(ev.totalRoom) ||
      !isNonNeg(ev.currentRoom)
    )
      return false;
    this.tick(ev.ts);
    const f = this.foreignTracker.apply(ev);
    if (f === undefined) {
      this.stale++;
      return true;
    }
    const state = this.cache.applyForeign(f);
    this.out({ type: 'foreign', state: f });
    if (state !== null) this.out({ type: 'quote', state });
    this.alerts.onForeign(f, this.onAlert);
    return true;
  }

  private applyStatus(ev: StatusEvent): boolean {
    if (!PHASES.has(ev.phase) || typeof ev.halted !== 'boolean') return false;
    if (ev.symbol !== undefined && !isSymbol(ev.symbol)) return false;
    if (ev.exchange !== undefined && !isStr(ev.exchange)) return false;
    this.tick(ev.ts);
    const changes = this.cache.applyStatus(ev);
    if (changes === undefined) {
      this.stale++;
      return true;
    }
    for (const { state, prevPhase } of changes) {
      if (prevPhase !== state.phase) {
        this.sessions.endPhase(state.symbol, prevPhase, this.onSummary);
        if (state.phase === 'closed') this.sessions.endDay(state.symbol, this.onSummary);
      }
      this.out({ type: 'quote', state });
    }
    return true;
  }

  private applyReference(ref: SymbolRef, ts: number): boolean {
    if (!validRef(ref)) return false;
    this.tick(ts);
    const res = this.cache.applyReference(ref, ts);
    if (res === undefined) {
      this.stale++;
      return true;
    }
    this.startDay(ref, res.newDay);
    this.out({ type: 'quote', state: res.state });
    this.indexCalc.onQuote(res.state);
    return true;
  }

  private applyIndex(ev: IndexEvent): boolean {
    if (
      !isStr(ev.index) ||
      !isPos(ev.value) ||
      !isNonNeg(ev.prevClose) ||
      !isNonNeg(ev.volume) ||
      !isNonNeg(ev.valueTraded) ||
      !isCount(ev.advances) ||
      !isCount(ev.declines) ||
      !isCount(ev.unchanged) ||
      !isCount(ev.ceilings) ||
      !isCount(ev.floors)
    )
      return false;
    this.tick(ev.ts);
    this.out({ type: 'index', state: this.indexCalc.onFeedIndex(ev) });
    return true;
  }

  /** A (new or synthetic) reference took effect; on a new trading day reset the per-day components first. */
  private startDay(ref: SymbolRef, newDay: boolean): void {
    if (newDay) {
      this.sessions.newDay(ref.symbol, ref.tradingDate, this.onSummary);
      this.classifier.reset(ref.symbol);
      this.foreignTracker.reset(ref.symbol, this.time);
      this.dedup.reset(ref.symbol);
      this.gaps.delete(ref.symbol);
    } else {
      this.sessions.setTradingDate(ref.symbol, ref.tradingDate);
    }
    this.out({ type: 'reference', ref });
    this.indexCalc.onReference(ref);
  }

  /** `replay`: the trade keeps its recorded side (the classifier still saw its price). */
  private keepForced(t: ClassifiedTrade): ClassifiedTrade {
    const f = this.forced;
    return f === undefined ? t : { ...t, side: f.side, sideSource: f.sideSource };
  }

  /**
   * Vendor cumulative volume (`cumVolume`, e.g. SSI TotalVol) against the
   * trades seen: when the volume before this trade (cumVolume − volume) is
   * above what this engine counted plus what it already reported missing,
   * trades were missed (a reconnect, a collector takeover): emit a `gap` with
   * the difference instead of under-counting silently. Totals are not
   * inflated — a gap is reported, not invented. Late trades that fill a
   * reported gap reduce it (no new output).
   */
  private checkGap(ev: TradeEvent, state: QuoteState): void {
    const cum = ev.cumVolume;
    if (!isNonNeg(cum)) return;
    const symbol = ev.symbol;
    const reported = this.gaps.get(symbol) ?? 0;
    const seen = state.totalVolume - ev.volume;
    const expected = cum - ev.volume;
    const missing = expected - seen - reported;
    if (missing > 1e-6) {
      this.gaps.set(symbol, reported + missing);
      const gap: TradeGap = { symbol, tradingDate: state.tradingDate, ts: ev.ts, tradeId: ev.id, expectedVolume: expected, seenVolume: seen, missingVolume: missing };
      this.out({ type: 'gap', gap });
    } else if (reported > 0 && missing < 0) {
      this.gaps.set(symbol, Math.max(0, reported + missing));
    }
  }

  /** Advance engine time (closing ended bars). Returns true so handlers can chain it. */
  private tick(ts: number): true {
    if (ts > this.time) this.time = ts;
    this.sessions.advance(ts, this.onBar);
    return true;
  }

  private computeDerived(): void {
    for (const state of this.indexCalc.compute(this.time)) this.out({ type: 'index', state });
    if (this.foreignTracker.dirty) this.out({ type: 'foreign_top', top: this.foreignTracker.top() });
  }

  private validLevels(symbol: string, levels: Level[]): boolean {
    return Array.isArray(levels) && levels.length <= 10 && this.cache.acceptsLevels(symbol, levels);
  }

  private reject(): false {
    this.rejected++;
    return false;
  }
}

function validRef(ref: SymbolRef): boolean {
  if (ref === null || typeof ref !== 'object') return false;
  const { ceiling, floor } = ref;
  if (!isSymbol(ref.symbol) || !isStr(ref.exchange) || (ref.market !== 'VN' && ref.market !== 'US')) return false;
  if (typeof ref.tradingDate !== 'string' || !DATE_RE.test(ref.tradingDate)) return false;
  if (!isPos(ref.reference) || !isPos(ref.lotSize) || !isNonNeg(ref.sharesOutstanding)) return false;
  if (!Array.isArray(ref.indices) || !ref.indices.every(isStr)) return false;
  if (ref.foreignLimit !== undefined && !isNonNeg(ref.foreignLimit)) return false;
  // Limits: both absent (no daily limit) or floor <= reference <= ceiling.
  if (ceiling === null && floor === null) return true;
  return isPos(ceiling) && isPos(floor) && floor <= ref.reference && ref.reference <= ceiling;
}

function validBar(ev: BarEvent): boolean {
  const { open, high, low, close } = ev;
  return (
    isSymbol(ev.symbol) &&
    Object.hasOwn(BAR_INTERVAL_MS, ev.interval) &&
    isPos(open) &&
    isPos(high) &&
    isPos(low) &&
    isPos(close) &&
    low <= Math.min(open, close) &&
    high >= Math.max(open, close) &&
    isNonNeg(ev.volume)
  );
}

