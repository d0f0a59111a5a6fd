/**
 * A seeded, deterministic simulation of the Vietnamese stock market, with the
 * trading day compressed into `dayMs` of real time and looped (day k starts at
 * startTs + k·dayMs; breaks compressed to `breakMs`, see calendar.ts). Pure:
 * time only moves through `advanceTo`, randomness only comes from the seeded
 * generator, so a seed and options give one tape.
 *
 * Event times: with `clock: 'wall'` (the default) events carry the wall
 * instant at which they happen in the compressed day; with `clock: 'exchange'`
 * (the live feed) the same events carry the exchange's local time of that
 * instant on the simulated trading date (09:15–11:30 for a morning continuous
 * trade), so stamps agree with the phases of @stock-tracker/rules. Only the
 * stamps differ between the two: same seed, same trades, ids and prices.
 *
 * Per symbol, a fair value follows an Ornstein–Uhlenbeck walk in log price
 * around a daily drift (a few "runners" drift past the daily limit and lock at
 * ceiling or floor). The order book sits around the fair value on the tick
 * ladder; aggressive orders lean towards the fair value and trade against the
 * book, so every continuous trade is at a price the board showed. Auctions
 * (ATO/ATC) match once per symbol when they close.
 */
import type {
  ForeignEvent,
  MarketEvent,
  QuoteEvent,
  SessionPhase,
  StatusEvent,
  SymbolRef,
  TradeEvent,
} from '@stock-tracker/protocol';
import { priceLimits, type ExchangeRules } from '@stock-tracker/rules';
import { LadderBook, priceLadder, type Fill } from './book.ts';
import { VN_TZ, dayLayout, defaultBreakMs, localMidnight, localMsAt, phaseChanges, tradingDateForDay, type DayLayout } from './calendar.ts';
import { Rng } from './rng.ts';
import { EXCHANGE_RULES, selectUniverse, type ListedSymbol, type VnExchange } from './universe.ts';

export interface SimulatorOptions {
  /** Default 1. */
  seed?: number;
  /** Epoch ms at which simulated day 0 starts (pre-open). */
  startTs: number;
  /** Wall length of one compressed trading day; default 10 minutes. */
  dayMs?: number;
  /** How many symbols (default: the whole listing) or which ones. */
  symbols?: number | string[];
  /** Mean events per second while every exchange trades continuously (bursts add to it); default 200. */
  intensity?: number;
  /** Occasional bursts of activity focused on one name; default true. */
  bursts?: boolean;
  /** Wall length of the lunch break (other breaks in proportion, calendar.ts); default 1% of `dayMs`. */
  breakMs?: number;
  /** Event stamps: the compressed wall instant (default) or the exchange's local time on the simulated trading date. */
  clock?: SimulatorClock;
}

export type SimulatorClock = 'wall' | 'exchange';

export const DEFAULT_DAY_MS = 600_000;
export const DEFAULT_INTENSITY = 200;
export const MIN_DAY_MS = 1_000;

/** Share of random actions that are aggressive orders (the rest move the book). */
const P_TRADE = 0.45;
/** Measured mean events per random action, to turn `intensity` into an action rate. */
const EVENTS_PER_ACTION = 1.6;
/** Rate multiplier during a burst; half of the burst's actions hit its focus name. */
const BURST_RATE = 4;
/** Mean-reversion speed of the fair value towards its drift path, per day. */
const KAPPA = 4;
/** Typical order value, VND: sets order and book-level sizes per name. */
const ORDER_VALUE = 100_000_000;

interface Exchange {
  code: VnExchange;
  rules: ExchangeRules;
  phase: SessionPhase;
  syms: Sym[];
}

interface Sym {
  info: ListedSymbol;
  ex: Exchange;
  ref: SymbolRef;
  book: LadderBook;
  /** Log of fair value over the reference price. */
  x: number;
  /** Day fraction at which x was last updated. */
  lastU: number;
  /** End-of-day drift target for x. */
  target: number;
  runner: boolean;
  seq: number;
  last: number | null;
  lots: number;
  halted: boolean;
  // foreign investors
  totalRoom: number;
  holdings: number;
  fBuyVol: number;
  fSellVol: number;
  fBuyVal: number;
  fSellVal: number;
  fBias: number;
  fInterest: number;
}

type Item =
  | { t: number; kind: 'day'; k: number }
  /** The day's reference data (and foreign rooms), right after its pre-open status events. */
  | { t: number; kind: 'refs'; k: number }
  // wallTs/exTs: the stamps on either clock (wallTs is floored from the exact offset, as phaseChanges does).
  | { t: number; kind: 'phase'; ex: Exchange; phase: SessionPhase; wallTs: number; exTs: number }
  /** The auction of `phase` matches as it ends (just before the next phase's item). */
  | { t: number; kind: 'auction'; ex: Exchange; phase: 'ato' | 'atc'; wallTs: number; exTs: number }
  | { t: number; kind: 'halt'; sym: Sym; halted: boolean }
  | { t: number; kind: 'burst'; sym: Sym; on: boolean };

export class Simulator {
  readonly seed: number;
  readonly startTs: number;
  readonly dayMs: number;
  readonly intensity: number;
  readonly bursts: boolean;
  readonly breakMs: number;
  readonly clock: SimulatorClock;
  /** Where the sessions fall inside the wall-clock day. */
  readonly layout: DayLayout;

  private readonly rng: Rng;
  private readonly listing: ListedSymbol[];
  private readonly exchanges: Exchange[];
  private readonly syms: Sym[];
  private readonly totalWeight: number;

  private k = -1;
  private tradingDate = '';
  private dayStart = 0;
  private dayToken = '';
  /** Local midnight of the current trading date (exchange clock). */
  private midnight = 0;
  /** Exchange-clock stamp of the next day's start, computed when first needed. */
  private nextOpen: { k: number; ts: number } | null = null;
  /** Last stamp handed out: stamps never go back. */
  private lastTs = -Infinity;
  private queue: Item[] = [];
  private qpos = 0;
  private nextAt = Infinity;
  private active: Sym[] = [];
  private cumWeight: number[] = [];
  private activeWeight = 0;
  private burstSym: Sym | null = null;
  private out: (ev: MarketEvent) => void = () => {};

  constructor(opts: SimulatorOptions) {
    if (!Number.isFinite(opts.startTs)) throw new RangeError('startTs must be an epoch-ms number');
    this.seed = opts.seed ?? 1;
    this.startTs = Math.floor(opts.startTs);
    this.dayMs = Math.floor(opts.dayMs ?? DEFAULT_DAY_MS);
    if (!(this.dayMs >= MIN_DAY_MS)) throw new RangeError(`dayMs must be at least ${MIN_DAY_MS}`);
    this.intensity = opts.intensity ?? DEFAULT_INTENSITY;
    if (!(this.intensity > 0) || !Number.isFinite(this.intensity)) throw new RangeError('intensity must be a positive number');
    this.bursts = opts.bursts ?? true;
    this.clock = opts.clock ?? 'wall';
    if (this.clock !== 'wall' && this.clock !== 'exchange') throw new RangeError(`clock must be 'wall' or 'exchange' (got '${String(this.clock)}')`);
    this.breakMs = opts.breakMs ?? defaultBreakMs(this.dayMs);
    this.rng = new Rng(this.seed);
    this.listing = selectUniverse(opts.symbols, new Rng(this.seed ^ 0x5eed));

    this.exchanges = (['HOSE', 'HNX', 'UPCOM'] as const)
      .filter((code) => this.listing.some((s) => s.exchange === code))
      .map((code) => ({ code, rules: EXCHANGE_RULES[code], phase: 'closed' as SessionPhase, syms: [] }));
    // The Vietnamese market's day whichever exchanges are simulated (so phaseChanges(rules, …, window) gives the same instants).
    this.layout = dayLayout(Object.values(EXCHANGE_RULES), this.dayMs, this.breakMs);
    this.syms = this.listing.map((info) => this.newSym(info));
    this.totalWeight = this.syms.reduce((a, s) => a + s.info.liquidity, 0);
    this.prepareDay(0);
    this.queue = [{ t: this.startTs, kind: 'day', k: 0 }];
  }

  /** Static facts about the simulated names. */
  universe(): ListedSymbol[] {
    return this.listing.map((s) => ({ ...s, indices: [...s.indices] }));
  }

  /** Reference data of the current simulated day (of day 0 before it starts). */
  references(): SymbolRef[] {
    return this.syms.map((s) => ({ ...s.ref, indices: [...s.ref.indices] }));
  }

  /** Start instant (wall) of simulated day k. */
  dayStartOf(k: number): number {
    return this.startTs + k * this.dayMs;
  }

  /** Rules of the simulated exchanges, HOSE first when simulated (the one a start phase is read from). */
  exchangeRules(): ExchangeRules[] {
    return this.exchanges.map((e) => e.rules);
  }

  /** Simulated day (k) a wall instant falls in; negative before the start. */
  dayAt(wallTs: number): number {
    return Math.floor((wallTs - this.startTs) / this.dayMs);
  }

  /** Exchange-clock stamp of a wall instant: local time of its place in the compressed day, on that day's trading date. */
  exchangeTimeAt(wallTs: number): number {
    const k = Math.max(0, this.dayAt(wallTs));
    const midnight = localMidnight(tradingDateForDay(this.startTs, k), VN_TZ);
    return midnight + localMsAt(this.layout, wallTs - this.dayStartOf(k));
  }

  /**
   * Generates every event with ts <= target that was not generated yet, in
   * ts order (`target` on the simulator's clock: exchange time with
   * `clock: 'exchange'`). Chunking does not matter: advancing to a then b
   * gives the same events as advancing to b.
   */
  advanceTo(target: number): MarketEvent[];
  advanceTo(target: number, sink: (ev: MarketEvent) => void): number;
  advanceTo(target: number, sink?: (ev: MarketEvent) => void): MarketEvent[] | number {
    const last = Math.floor(target);
    return this.run((t, item) => this.stampOf(t, item) > last, sink);
  }

  /** Generates everything that happens up to the wall instant `wallTs`, whatever the clock (the live feed's pacing). */
  advanceToWall(wallTs: number): MarketEvent[];
  advanceToWall(wallTs: number, sink: (ev: MarketEvent) => void): number;
  advanceToWall(wallTs: number, sink?: (ev: MarketEvent) => void): MarketEvent[] | number {
    return this.run(this.wallLimit(wallTs), sink);
  }

  /** Internal times are fractional; an instant is due by `target` when floor(t) <= target, i.e. t < floor(target) + 1. */
  private wallLimit(target: number): (t: number) => boolean {
    const limit = Math.floor(target) + 1;
    return (t) => t >= limit;
  }

  private run(beyond: (t: number, item?: Item) => boolean, sink?: (ev: MarketEvent) => void): MarketEvent[] | number {
    const buf: MarketEvent[] = [];
    let n = 0;
    const emit = sink ?? ((ev: MarketEvent) => void buf.push(ev));
    this.out = (ev) => {
      n++;
      emit(ev);
    };
    for (;;) {
      const item = this.queue[this.qpos]!;
      if (item.t <= this.nextAt) {
        if (beyond(item.t, item)) break;
        this.qpos++;
        this.process(item);
        this.nextAt = this.drawNext(item.t);
      } else {
        if (beyond(this.nextAt)) break;
        const t = this.nextAt;
        this.action(t);
        this.nextAt = this.drawNext(t);
      }
    }
    this.out = () => {};
    return sink ? n : buf;
  }

  // ---------------------------------------------------------------- time stamps

  /** The stamp an instant of the current day would get (without the no-going-back clamp); a phase change's is its status event's. */
  private stampOf(t: number, item?: Item): number {
    if (item?.kind === 'phase' || item?.kind === 'auction') return this.clock === 'wall' ? item.wallTs : item.exTs;
    if (this.clock === 'wall') return Math.floor(t);
    if (t === Infinity) return Infinity;
    // A day starts at the window's open (08:30), even when breaks last no time.
    if ((item?.kind === 'day' || item?.kind === 'refs') && item.k === this.k) return this.midnight + this.layout.window.open * 60_000;
    if (t >= this.dayStart + this.dayMs) {
      // Only the next day's start item lies beyond the current day.
      const k = this.k + 1;
      if (this.nextOpen?.k !== k) this.nextOpen = { k, ts: localMidnight(tradingDateForDay(this.startTs, k), VN_TZ) + this.layout.window.open * 60_000 };
      return this.nextOpen.ts;
    }
    return this.midnight + localMsAt(this.layout, t - this.dayStart);
  }

  /** Stamp for an event at internal instant t. */
  private stamp(t: number): number {
    return this.clamp(this.stampOf(t));
  }

  private clamp(ts: number): number {
    if (ts < this.lastTs) return this.lastTs;
    this.lastTs = ts;
    return ts;
  }

  // ---------------------------------------------------------------- days

  private newSym(info: ListedSymbol): Sym {
    const ex = this.exchanges.find((e) => e.code === info.exchange)!;
    const totalRoom = Math.floor((info.sharesOutstanding * info.foreignLimitPct) / 100) * 100;
    const sym: Sym = {
      info,
      ex,
      ref: undefined as unknown as SymbolRef,
      book: undefined as unknown as LadderBook,
      x: 0,
      lastU: 0,
      target: 0,
      runner: false,
      seq: 0,
      last: null,
      lots: Math.max(1, Math.round(ORDER_VALUE / info.basePrice / 100)),
      halted: false,
      totalRoom,
      holdings: Math.floor((totalRoom * info.foreignUsage) / 100) * 100,
      fBuyVol: 0,
      fSellVol: 0,
      fBuyVal: 0,
      fSellVal: 0,
      fBias: 0,
      fInterest: 0,
    };
    ex.syms.push(sym);
    return sym;
  }

  /** Sets up day k: references from the previous close, fresh books, the day's drift and the schedule. */
  private prepareDay(k: number): void {
    const rng = this.rng;
    this.k = k;
    this.dayStart = this.dayStartOf(k);
    this.dayToken = this.dayStart.toString(36);
    this.tradingDate = tradingDateForDay(this.startTs, k);
    this.midnight = localMidnight(this.tradingDate, VN_TZ);
    for (const s of this.syms) {
      const rules = s.ex.rules;
      const reference = k === 0 ? s.info.basePrice : (s.last ?? s.ref.reference);
      const { ceiling, floor } = priceLimits(rules, reference);
      s.ref = {
        symbol: s.info.symbol,
        exchange: s.info.exchange,
        market: 'VN',
        name: s.info.name,
        tradingDate: this.tradingDate,
        reference,
        ceiling,
        floor,
        lotSize: rules.lotSize,
        indices: [...s.info.indices],
        sharesOutstanding: s.info.sharesOutstanding,
        foreignLimit: s.totalRoom,
      };
      const lots = s.lots;
      const lotSize = rules.lotSize;
      s.book = new LadderBook(priceLadder(rules, floor!, ceiling!), rules.bookDepth, (distance, atLimit) => {
        const base = lots * (1.5 + 6 * rng.next()) * (1 + 0.35 * distance) * (atLimit ? 25 : 1);
        return Math.max(1, Math.round(base)) * lotSize;
      });
      // Drift pulls long-run prices back towards the listing price so loops stay plausible.
      const sigma = s.info.volatility;
      const stretch = Math.log(reference / s.info.basePrice);
      s.runner = rng.chance(0.035);
      if (s.runner) {
        const up = stretch > 0.15 ? false : stretch < -0.15 ? true : rng.chance(0.6);
        s.target = (up ? 1 : -1) * (rules.dailyLimit! + 0.03);
      } else {
        s.target = rng.normal() * sigma - 0.2 * stretch;
      }
      s.x = rng.normal() * sigma * 0.4;
      s.lastU = 0;
      s.seq = 0;
      s.last = null;
      s.halted = false;
      s.holdings += s.fBuyVol - s.fSellVol;
      s.fBuyVol = s.fSellVol = s.fBuyVal = s.fSellVal = 0;
      s.fBias = Math.tanh(rng.normal());
      s.fInterest = (s.info.indices.includes('VN30') ? 0.3 : 0.12) * (0.5 + rng.next());
    }
    this.burstSym = null;
  }

  /** The day's timed items: exchange phases, halts, bursts and the next day's start. */
  private scheduleDay(): Item[] {
    const rng = this.rng;
    const items: Item[] = [{ t: this.dayStart, kind: 'refs', k: this.k }];
    const continuous = new Map<Exchange, Array<[number, number]>>();
    for (const ex of this.exchanges) {
      // Exact (fractional) instants, so nothing happens between the wall instant of a boundary and its exchange time.
      const changes = phaseChanges(ex.rules, this.dayStart, this.dayMs, this.layout).map((c) => ({
        t: this.dayStart + c.offset,
        phase: c.phase,
        wallTs: c.ts,
        exTs: this.midnight + c.minute * 60_000,
      }));
      const spans: Array<[number, number]> = [];
      changes.forEach((c, i) => {
        const prev = changes[i - 1]?.phase;
        // On the exchange clock the match is stamped in the auction's last millisecond: still its phase.
        if (prev === 'ato' || prev === 'atc') items.push({ t: c.t, kind: 'auction', ex, phase: prev, wallTs: c.wallTs, exTs: c.exTs - 1 });
        items.push({ t: c.t, kind: 'phase', ex, phase: c.phase, wallTs: c.wallTs, exTs: c.exTs });
        const next = changes[i + 1];
        if (c.phase === 'continuous' && next) spans.push([c.t, next.t]);
      });
      continuous.set(ex, spans);
    }
    // Pick a start inside one of the symbol's continuous spans, leaving margins.
    const placeIn = (sym: Sym, len: number): number | null => {
      const spans = continuous.get(sym.ex)!;
      if (spans.length === 0) return null;
      const [a, b] = spans[rng.int(spans.length)]!;
      const lo = a + 0.1 * (b - a);
      const hi = b - len - 0.05 * (b - a);
      return hi > lo ? Math.floor(rng.uniform(lo, hi)) : null;
    };
    const halted = new Set<Sym>();
    for (let i = rng.poisson(0.8); i > 0; i--) {
      const sym = this.syms[rng.int(this.syms.length)]!;
      const len = Math.floor(this.dayMs * rng.uniform(0.01, 0.04));
      const at = placeIn(sym, len);
      if (at === null || halted.has(sym)) continue;
      halted.add(sym);
      items.push({ t: at, kind: 'halt', sym, halted: true }, { t: at + len, kind: 'halt', sym, halted: false });
    }
    if (this.bursts) {
      for (let i = rng.poisson(3); i > 0; i--) {
        const sym = this.pickWeighted(this.syms, rng.next() * this.totalWeight);
        const len = Math.floor(this.dayMs * rng.uniform(0.005, 0.02));
        const at = placeIn(sym, len);
        if (at === null) continue;
        items.push({ t: at, kind: 'burst', sym, on: true }, { t: at + len, kind: 'burst', sym, on: false });
      }
    }
    items.push({ t: this.dayStartOf(this.k + 1), kind: 'day', k: this.k + 1 });
    // Same instant: auctions first (stamped a millisecond before the boundary, they must precede
    // every exchange's status event at it), then the pre-open statuses, the day's references, the
    // other phase changes (at the day's start only when breaks last no time), then halts and
    // bursts; otherwise insertion order (the sort is stable). Phase changes at one instant in
    // local-time order.
    const rank = (i: Item) => (i.kind === 'auction' ? 0 : i.kind === 'phase' ? (i.phase === 'pre_open' ? 1 : 3) : i.kind === 'refs' ? 2 : 4);
    const local = (i: Item) => (i.kind === 'auction' || i.kind === 'phase' ? i.exTs : 0);
    return items.sort((a, b) => a.t - b.t || rank(a) - rank(b) || local(a) - local(b));
  }

  // ---------------------------------------------------------------- timed items

  private process(item: Item): void {
    switch (item.kind) {
      case 'day': {
        if (item.k !== this.k) this.prepareDay(item.k);
        for (const ex of this.exchanges) ex.phase = 'closed';
        this.queue = this.scheduleDay();
        this.qpos = 0;
        this.refreshActive();
        return;
      }
      case 'refs': {
        // After the pre-open status events: a consumer that carries the exchange's phase into the new day's
        // states (the engine) then has pre_open at 08:30, as the rules say, not yesterday's `closed`.
        const ts = this.clamp(this.stampOf(item.t, item));
        for (const s of this.syms) this.out({ type: 'reference', ts, ref: { ...s.ref, indices: [...s.ref.indices] } });
        for (const s of this.syms) this.emitForeign(s, ts);
        return;
      }
      case 'phase': {
        const { ex, phase } = item;
        const prev = ex.phase;
        const ts = this.clamp(this.stampOf(item.t, item));
        ex.phase = phase;
        this.out({ type: 'status', ts, exchange: ex.code, phase, halted: false } satisfies StatusEvent);
        // After the status: the opening book is quoted in the phase it opens (ATO), as the rules say for its stamp.
        if (prev === 'pre_open' && phase !== 'closed') for (const s of ex.syms) this.openBook(s, item.t, ts);
        this.refreshActive();
        return;
      }
      case 'auction': {
        const ts = this.clamp(this.stampOf(item.t, item));
        for (const s of item.ex.syms) if (!s.halted) this.auction(s, item.phase, item.t, ts);
        return;
      }
      case 'halt': {
        const s = item.sym;
        s.halted = item.halted;
        const ts = this.stamp(item.t);
        this.out({ type: 'status', ts, exchange: s.ex.code, symbol: s.info.symbol, phase: s.ex.phase, halted: item.halted });
        this.refreshActive();
        return;
      }
      case 'burst': {
        const s = item.sym;
        if (item.on) {
          this.burstSym = s;
          this.updateFair(s, item.t);
          // News: a jump in fair value that the order flow then chases.
          s.x += this.rng.normal() * s.info.volatility * 1.5;
        } else if (this.burstSym === s) this.burstSym = null;
        return;
      }
    }
  }

  private openBook(s: Sym, t: number, ts: number): void {
    this.updateFair(s, t);
    s.book.centre(s.book.position(this.fairPrice(s)), this.spread());
    this.emitQuote(s, ts);
  }

  /** One matched auction trade at the fair value on the grid, then the book re-forms around it (t: internal instant, ts: stamp). */
  private auction(s: Sym, phase: 'ato' | 'atc', t: number, ts: number): void {
    const rng = this.rng;
    this.updateFair(s, t);
    const book = s.book;
    const idx = Math.min(book.size - 1, Math.max(0, Math.round(book.position(this.fairPrice(s)))));
    const price = book.ladder[idx]!;
    const volume = Math.max(1, Math.round(s.lots * rng.uniform(8, 30))) * s.ex.rules.lotSize;
    this.emitTrade(s, ts, price, volume, undefined, phase);
    book.centre(rng.chance(0.5) ? idx : idx - 0.5, 1);
    this.emitQuote(s, ts);
    if (rng.chance(s.fInterest * 2)) this.foreignFlow(s, ts, volume, volume * price, rng.chance(0.5) ? 'buy' : 'sell');
  }

  // ---------------------------------------------------------------- random order flow

  private refreshActive(): void {
    this.active = this.syms.filter((s) => s.ex.phase === 'continuous' && !s.halted);
    let acc = 0;
    this.cumWeight = this.active.map((s) => (acc += s.info.liquidity));
    this.activeWeight = acc;
  }

  /** Next action time after t: Poisson arrivals at the current rate (memoryless, so redrawn after any change). */
  private drawNext(t: number): number {
    if (this.activeWeight === 0) return Infinity;
    const perMs = (this.intensity / EVENTS_PER_ACTION / 1000) * (this.activeWeight / this.totalWeight) * (this.burstSym ? BURST_RATE : 1);
    return t + this.rng.exp() / perMs;
  }

  private pickWeighted(list: Sym[], r: number, cum?: number[]): Sym {
    if (!cum) {
      let acc = 0;
      for (const s of list) if ((acc += s.info.liquidity) > r) return s;
      return list[list.length - 1]!;
    }
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return list[lo]!;
  }

  private action(t: number): void {
    const rng = this.rng;
    const burst = this.burstSym;
    const s =
      burst && !burst.halted && burst.ex.phase === 'continuous' && rng.chance(0.5)
        ? burst
        : this.pickWeighted(this.active, rng.next() * this.activeWeight, this.cumWeight);
    const ts = this.stamp(t);
    this.updateFair(s, t);
    const book = s.book;
    const pos = book.position(this.fairPrice(s));
    if (rng.next() < P_TRADE) {
      const canBuy = book.hasAsks();
      const canSell = book.hasBids();
      const pBuy = 0.5 + 0.4 * Math.tanh(1.5 * (pos - book.mid()));
      const side = !canBuy ? 'sell' : !canSell ? 'buy' : rng.next() < pBuy ? 'buy' : 'sell';
      const size = Math.max(1, Math.round(s.lots * rng.exp() * (rng.chance(0.08) ? 5 : 1))) * s.ex.rules.lotSize;
      const fills: Fill[] = book.take(side, size, book.shown(side === 'buy' ? 'ask' : 'bid'));
      let volume = 0;
      let value = 0;
      for (const f of fills) {
        this.emitTrade(s, ts, f.price, f.volume, side);
        volume += f.volume;
        value += f.volume * f.price;
      }
      this.emitQuote(s, ts);
      if (volume > 0 && rng.chance(s.fInterest)) {
        const buy = rng.next() < 0.5 + 0.4 * s.fBias;
        this.foreignFlow(s, ts, volume, value, buy ? 'buy' : 'sell');
      }
    } else {
      if (Math.abs(pos - book.mid()) > 0.75) book.centre(pos, this.spread());
      else {
        const side = rng.chance(0.5) ? 'bid' : 'ask';
        const shown = book.shown(side);
        if (shown > 0) {
          const lot = s.ex.rules.lotSize;
          const delta = Math.round(s.lots * rng.uniform(-2, 3)) * lot;
          book.adjust(side, rng.int(shown), delta === 0 ? lot : delta, lot);
        }
      }
      this.emitQuote(s, ts);
    }
  }

  private spread(): number {
    return this.rng.chance(0.85) ? 1 : 2;
  }

  private fairPrice(s: Sym): number {
    return s.ref.reference * Math.exp(s.x);
  }

  /** Exact OU transition of the log fair value from its last update to time t. */
  private updateFair(s: Sym, t: number): void {
    const u = (t - this.dayStart) / this.dayMs;
    const du = u - s.lastU;
    if (du <= 0) return;
    const path = s.runner ? s.target * Math.min(1, u / 0.55) : s.target * u;
    const a = Math.exp(-KAPPA * du);
    const sd = 2.5 * s.info.volatility * Math.sqrt((1 - a * a) / (2 * KAPPA));
    let x = path + (s.x - path) * a + sd * this.rng.normal();
    // Keep the fair value near the band so a locked name can come back the same day.
    const ref = s.ref.reference;
    x = Math.min(Math.log(s.ref.ceiling! / ref) + 0.02, Math.max(Math.log(s.ref.floor! / ref) - 0.02, x));
    s.x = x;
    s.lastU = u;
  }

  /** Foreign investors take part of a trade; buying is capped by the remaining room, selling by holdings. */
  private foreignFlow(s: Sym, ts: number, volume: number, value: number, side: 'buy' | 'sell'): void {
    const lot = s.ex.rules.lotSize;
    const held = s.holdings + s.fBuyVol - s.fSellVol;
    const room = s.totalRoom - held;
    let q = Math.max(1, Math.round((volume * this.rng.uniform(0.2, 1)) / lot)) * lot;
    q = Math.min(q, volume, Math.floor((side === 'buy' ? room : held) / lot) * lot);
    if (q <= 0) return;
    const v = Math.round((value * q) / volume);
    if (side === 'buy') {
      s.fBuyVol += q;
      s.fBuyVal += v;
    } else {
      s.fSellVol += q;
      s.fSellVal += v;
    }
    this.emitForeign(s, ts);
  }

  // ---------------------------------------------------------------- output

  private emitTrade(s: Sym, ts: number, price: number, volume: number, side: 'buy' | 'sell' | undefined, phase?: SessionPhase): void {
    s.seq++;
    s.last = price;
    const ev: TradeEvent = { type: 'trade', ts, symbol: s.info.symbol, id: `${this.tradingDate}-${s.info.symbol}-${this.dayToken}-${s.seq}`, price, volume };
    if (side) ev.side = side;
    if (phase) ev.phase = phase;
    this.out(ev);
  }

  private emitQuote(s: Sym, ts: number): void {
    const ev: QuoteEvent = { type: 'quote', ts, symbol: s.info.symbol, bids: s.book.bids(), asks: s.book.asks() };
    this.out(ev);
  }

  private emitForeign(s: Sym, ts: number): void {
    const ev: ForeignEvent = {
      type: 'foreign',
      ts,
      symbol: s.info.symbol,
      buyVolume: s.fBuyVol,
      sellVolume: s.fSellVol,
      buyValue: s.fBuyVal,
      sellValue: s.fSellVal,
      totalRoom: s.totalRoom,
      currentRoom: Math.max(0, s.totalRoom - s.holdings - s.fBuyVol + s.fSellVol),
    };
    this.out(ev);
  }
}
