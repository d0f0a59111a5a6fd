/**
 * TradingCore: one account's orders, fill model, portfolio and risk limits,
 * plus the strategies attached to it. Pure: no I/O, no wall clock; the core's
 * time is the largest event time it has seen. Driven by the market engine's
 * outputs (onMarket) and by orders (submit/cancel/replace); every change comes
 * out as TradingEvents, in order. The same outputs and calls in the same order
 * give the same events: ids derive from the account id and counters, never
 * from randomness. The fill model, the rules and every assumption are
 * described in docs/trading.md; the comments here say why, not what.
 */
import type {
  AccountState,
  Bar,
  ClassifiedTrade,
  EngineOutput,
  EquityPoint,
  FeeSchedule,
  Fill,
  ForeignState,
  KillSwitchState,
  Liquidity,
  Market,
  Order,
  OrderReplace,
  OrderRequest,
  OrderSource,
  OrderStatus,
  Position,
  PositionExits,
  QuoteState,
  RiskEventKind,
  RiskLimits,
  SessionPhase,
  SymbolRef,
  TradingEvent,
} from '@stock-tracker/protocol';
import { isFinalOrderStatus } from '@stock-tracker/protocol';
import { type ExchangeRules, isOnTick, rulesFor, stepPrice, tradingDateOf } from '@stock-tracker/rules';
import { addTradingDays } from './calendar.ts';
import { FEE_PRESETS, feesFor, roundMoney } from './fees.ts';
import type { AccountView, BrokerUpdate, OrderResult, Strategy, StrategyContext, StrategyDecision, TradingCoreOptions } from './types.ts';

export interface SubmitMeta {
  source?: OrderSource;
  strategyId?: string | null;
  /** Event time of the order; default: the core's time (latest event). */
  ts?: number;
}

/** Persisted state (JSON). `version` guards the format. */
export interface TradingSnapshot {
  version: 1;
  accountId: string;
  [k: string]: unknown;
}

/** Fill model defaults (docs/trading.md, "Fill model"). */
export const DEFAULT_FILL_MODEL = { slippageTicks: 0, participation: null as number | null, limitAtPrice: 'fill' as 'fill' | 'through', walkBook: true };
/** Share settlement in trading days: VN T+2, US no hold (Alpaca accounts trade on unsettled funds/shares). */
export const DEFAULT_SETTLEMENT_DAYS: Record<Market, number> = { VN: 2, US: 0 };

const MINUTE = 60_000;
const EMPTY: TradingEvent[] = [];

/**
 * `interest.gen` is bumped whenever any core's answer to wants()/strategiesTrade() may change (an order opens or closes, a fill moves a
 * position, strategies are attached or removed, a core is restored). TradingHub caches, per symbol, which accounts
 * want its outputs and rebuilds that list only when this moved: asking every account about every trade/quote was the
 * hub's largest cost. An object, not an exported function: the hub reads it per delivery, and a cross-module call
 * goes through the transpiler's export getter each time. One counter for all cores keeps the hub's check O(1); a change in an unrelated account only
 * costs a rebuild, never a wrong delivery.
 * @internal TradingHub support, not part of the public API.
 */
export const interest = { gen: 0 };
const isAuction = (p: SessionPhase) => p === 'ato' || p === 'atc' || p === 'plo';

interface Lot {
  qty: number;
  /** First trading date on which these shares may be sold. */
  sellableFrom: string;
}

interface Pos {
  symbol: string;
  qty: number;
  costBasis: number;
  realized: number;
  lots: Lot[];
  openedTs: number;
  exits: PositionExits | null;
  highWater: number | null;
}

interface Sym {
  symbol: string;
  ref: SymbolRef | undefined;
  rules: ExchangeRules;
  market: Market;
  last: number | undefined;
  quote: QuoteState | undefined;
  foreign: ForeignState | undefined;
  phase: SessionPhase;
  halted: boolean;
  tradingDate: string | null;
  /** Start of the last closed bar given to strategies (late corrections are not replayed). */
  lastBarTs: number;
  /** Book volume already taken by our orders since that side of the book last changed, per level. */
  usedBids: number[];
  usedAsks: number[];
  /** Open orders, oldest first (fill priority). */
  orders: Order[];
}

interface OrderInfo {
  /** Sum of the sell fills' realised P&L (for the cooldown counter and the backtest's win rate). */
  pnl: number;
  fills: number;
}

/** Counts of the closed round trips, for summaries: one entry per sell order with fills, its realised P&L. */
export type ClosedTrade = { orderId: string; symbol: string; ts: number; pnl: number };

export class TradingCore {
  readonly accountId: string;
  private readonly fees: Record<Market, FeeSchedule>;
  private limits: RiskLimits;
  private readonly fm: typeof DEFAULT_FILL_MODEL;
  private readonly settleDays: Record<Market, number>;
  private readonly saleProceeds: 'immediate' | 'settlement';
  private readonly external: boolean;
  private readonly curveMax: number;
  private readonly buyReserve: number;
  private readonly strats: Strategy[] = [];

  private time = -Infinity;
  private minute = -Infinity;
  private orderSeq = 0;
  private signalSeq = 0;
  private cash: number;
  private pending: { from: string; amount: number }[] = [];
  private readonly startEquity: number;
  private dayStartEquity: number;
  private peakEquity: number;
  private fees$ = 0;
  private taxes$ = 0;
  private realized$ = 0;
  private kill: KillSwitchState = { active: false, code: null, reason: null, since: null, untilTradingDate: null };
  private cooldownUntil: number | null = null;
  private losingStreak = 0;
  /**
   * The account's trading date: the latest trading date the market data
   * announced (reference data / quote rows), not a clock date, so compressed
   * simulator days and replays roll days exactly as the feed does.
   */
  private accDate: string | null = null;

  private readonly syms = new Map<string, Sym>();
  private readonly pos = new Map<string, Pos>();
  private readonly byId = new Map<string, Order>();
  private readonly byClientId = new Map<string, Order>();
  private readonly info = new Map<string, OrderInfo>();
  private readonly fillIds = new Set<string>();
  private openCount = 0;
  private curve: EquityPoint[] = [];
  private closed: ClosedTrade[] = [];
  /** Previous engine output was a trade of this symbol/minute: a closed bar right after it is a late correction. */
  private lastTradeSym: string | null = null;
  private lastTradeMinute = -1;

  private out: TradingEvent[] | null = null;

  constructor(readonly opts: TradingCoreOptions) {
    this.accountId = opts.accountId;
    if (!(opts.cash >= 0) || !Number.isFinite(opts.cash)) throw new RangeError(`cash must be a finite number >= 0, got ${opts.cash}`);
    this.fees = { VN: opts.fees?.VN ?? FEE_PRESETS.vn, US: opts.fees?.US ?? FEE_PRESETS.us };
    this.limits = { ...(opts.riskLimits ?? {}) };
    this.anyExit = this.limits.stopLossPct != null || this.limits.takeProfitPct != null || this.limits.trailingStopPct != null;
    this.fm = { ...DEFAULT_FILL_MODEL, ...stripUndef(opts.fillModel ?? {}) } as typeof DEFAULT_FILL_MODEL;
    this.settleDays = { VN: opts.settlementDays?.VN ?? DEFAULT_SETTLEMENT_DAYS.VN, US: opts.settlementDays?.US ?? DEFAULT_SETTLEMENT_DAYS.US };
    this.saleProceeds = opts.saleProceeds ?? 'immediate';
    this.external = opts.execution === 'external';
    this.curveMax = Math.max(1, opts.equityCurveMax ?? 100_000);
    this.buyReserve = opts.marketBuyReserve ?? 0.05;
    this.cash = opts.cash;
    this.startEquity = opts.cash;
    this.dayStartEquity = opts.cash;
    this.peakEquity = opts.cash;
    const core = this;
    this.view = {
      accountId: this.accountId,
      buyingPower: () => this.buyingPower(),
      cash: () => this.cash,
      equity: () => this.equity(),
      position: (symbol) => {
        const p = this.pos.get(symbol);
        return p && p.qty > 0 ? this.positionOf(p) : undefined;
      },
      sellableQty: (symbol) => this.sellable(symbol),
      positionCount: () => {
        let n = 0;
        for (const p of this.pos.values()) if (p.qty > 0) n++;
        return n;
      },
      openOrders: (symbol) => (symbol === undefined ? this.openOrderList() : (this.syms.get(symbol)?.orders ?? [])),
      openOrderCount: (symbol) => (symbol === undefined ? this.openCount : (this.syms.get(symbol)?.orders.length ?? 0)),
      sharesHeld: (symbol) => this.pos.get(symbol)?.qty ?? 0,
      entriesBlocked: () => this.kill.active || (this.cooldownUntil !== null && this.time < this.cooldownUntil),
    };
    this.ctx = {
      get ts() {
        return core.ctxTs;
      },
      account: this.view,
      reference: (symbol) => this.syms.get(symbol)?.ref,
      quote: (symbol) => this.syms.get(symbol)?.quote,
      foreign: (symbol) => this.syms.get(symbol)?.foreign,
      lastPrice: (symbol) => this.syms.get(symbol)?.last,
    };
  }

  // ---------------------------------------------------------------- strategies

  addStrategy(s: Strategy): void {
    if (this.strats.some((x) => x.id === s.id)) throw new RangeError(`strategy ${s.id} is already attached`);
    this.strats.push(s);
    this.updateHooks();
  }

  /** Detach a strategy and cancel its open orders. */
  removeStrategy(id: string, ts?: number): TradingEvent[] {
    const i = this.strats.findIndex((s) => s.id === id);
    if (i < 0) return EMPTY;
    this.strats.splice(i, 1);
    this.updateHooks();
    return this.run(() => {
      for (const o of this.openOrderList()) if (o.strategyId === id) this.finish(o, 'cancelled', ts ?? this.now(), `strategy ${id} stopped`, null);
    });
  }

  strategies(): readonly Strategy[] {
    return this.strats;
  }

  // ---------------------------------------------------------------- market data

  /** Feed one engine output; returns the trading events it caused (often none: a shared empty array). */
  onMarket(o: EngineOutput): TradingEvent[] {
    // Hot path (every engine output, for every account): no closure, no allocation when nothing happens.
    const t = o.type;
    if (t === 'bar' ? !o.bar.closed : t === 'index' || t === 'foreign_top' || t === 'session' || t === 'alert') {
      this.lastTradeSym = null;
      return EMPTY;
    }
    if (this.out !== null) {
      this.market(o);
      return EMPTY;
    }
    const buf = this.hot;
    this.out = buf;
    try {
      this.market(o);
    } finally {
      this.out = null;
    }
    if (buf.length === 0) return EMPTY;
    const res = buf.slice();
    buf.length = 0;
    return res;
  }

  private readonly hot: TradingEvent[] = [];

  // ---- TradingHub support: many accounts on one feed without every account handling every output.

  /** Whether a trade/quote of `symbol` can change anything here (orders or a position in it, or strategies that watch ticks). */
  wants(symbol: string): boolean {
    if (this.hooks.onTrade || this.hooks.onQuote) return true;
    const s = this.syms.get(symbol);
    if (s !== undefined && s.orders.length > 0) return true;
    const p = this.pos.get(symbol);
    return p !== undefined && p.qty > 0;
  }

  /** Some attached strategy trades `symbol` (closed bars of other symbols change nothing here). */
  strategiesTrade(symbol: string): boolean {
    for (let i = 0; i < this.strats.length; i++) {
      const set = this.strats[i]!.symbols;
      if (set === null || set.has(symbol)) return true;
    }
    return false;
  }

  /** Strategies that want foreign-flow events. */
  wantsForeign(): boolean {
    return this.hooks.onForeign;
  }

  /** Market facts of a symbol whose outputs were not delivered (the hub keeps the latest). */
  syncMarket(symbol: string, quote: QuoteState | undefined, last: number | undefined, foreign: ForeignState | undefined): void {
    const s = this.sym(symbol);
    if (quote !== undefined && s.quote !== quote) {
      // Setting .length is not free even when it is already 0 (quotes are the most frequent output).
      if (s.usedBids.length !== 0 && (s.quote === undefined || !sameLevels(s.quote.bids, quote.bids))) s.usedBids.length = 0;
      if (s.usedAsks.length !== 0 && (s.quote === undefined || !sameLevels(s.quote.asks, quote.asks))) s.usedAsks.length = 0;
      s.quote = quote;
      s.phase = quote.phase;
      s.halted = quote.halted;
      if (s.tradingDate === null || quote.tradingDate > s.tradingDate) s.tradingDate = quote.tradingDate;
    }
    if (last !== undefined) s.last = last;
    if (foreign !== undefined) s.foreign = foreign;
  }

  /** Event time passed (the hub calls this for every account at each new minute). */
  onTime(ts: number): TradingEvent[] {
    if (!(ts > this.time)) return EMPTY;
    const buf = this.begin();
    try {
      this.advanceTo(ts);
    } finally {
      this.out = null;
    }
    return this.end(buf);
  }

  /** A closed 1-minute bar the caller already knows to be on time (not a late correction). */
  onClosedBar(bar: Bar): TradingEvent[] {
    const buf = this.begin();
    try {
      this.lastTradeSym = null;
      this.advanceTo(bar.ts + MINUTE);
      this.onBarClosed(bar);
    } finally {
      this.out = null;
    }
    return this.end(buf);
  }

  /** Hot-path event buffer (no closure: tsx/esbuild names every closure it creates, which costs on each call). */
  private begin(): TradingEvent[] {
    this.out = this.hot;
    return this.hot;
  }

  private end(buf: TradingEvent[]): TradingEvent[] {
    if (buf.length === 0) return EMPTY;
    const res = buf.slice();
    buf.length = 0;
    return res;
  }

  private market(o: EngineOutput): void {
    switch (o.type) {
      case 'trade': {
        const t = o.trade;
        this.advanceTo(t.ts);
        this.onTrade(t);
        this.lastTradeSym = t.symbol;
        this.lastTradeMinute = Math.floor(t.ts / MINUTE) * MINUTE;
        return;
      }
      case 'bar': {
        const b = o.bar;
        const late = this.lastTradeSym === b.symbol && this.lastTradeMinute === b.ts;
        this.lastTradeSym = null;
        if (!b.closed || late || b.interval !== '1m') return;
        this.advanceTo(b.ts + MINUTE);
        this.onBarClosed(b);
        return;
      }
      case 'quote':
        this.lastTradeSym = null;
        this.advanceTo(o.state.ts);
        this.onQuote(o.state);
        return;
      case 'reference':
        this.lastTradeSym = null;
        this.onReference(o.ref);
        return;
      case 'foreign': {
        this.lastTradeSym = null;
        this.advanceTo(o.state.ts);
        const s = this.sym(o.state.symbol);
        s.foreign = o.state;
        if (this.hooks.onForeign) this.runStrategies('onForeign', s.symbol, o.state);
        return;
      }
      default:
        this.lastTradeSym = null;
    }
  }

  private onReference(ref: SymbolRef): void {
    const s = this.sym(ref.symbol);
    const prevDate = s.tradingDate;
    s.ref = ref;
    s.rules = rulesFor(ref.exchange, ref.market);
    s.market = ref.market;
    s.tradingDate = ref.tradingDate;
    if (prevDate !== null && ref.tradingDate > prevDate) {
      this.expireDayOrders(s, ref.tradingDate, 'trading day ended');
      // A good-till-cancelled order whose price left the new day's band could never trade there (VN brokers resubmit
      // such orders each day and the exchange refuses them): cancel it, naming the band.
      for (const o of s.orders.slice()) {
        const bad = this.checkRules(s, o);
        if (bad !== null && bad[0] === 'ORDER_REJECTED_BAND') this.finish(o, 'cancelled', this.now(), `new trading day: ${bad[1]}`, 'ORDER_REJECTED_BAND');
      }
    }
    this.newAccountDay(ref.tradingDate);
  }

  private onQuote(q: QuoteState): void {
    const s = this.sym(q.symbol);
    const prev = s.quote;
    s.quote = q;
    // A changed book side restores the liquidity our orders took from the old one. Compared by value, not by array
    // identity: identity does not survive snapshot()/restore(), and a restored core must keep (or drop) the used volume
    // exactly as the original does. A side republished with the same levels keeps it (the same displayed volume is not
    // taken twice).
    if (s.usedBids.length !== 0 && (prev === undefined || !sameLevels(prev.bids, q.bids))) s.usedBids.length = 0;
    if (s.usedAsks.length !== 0 && (prev === undefined || !sameLevels(prev.asks, q.asks))) s.usedAsks.length = 0;
    const prevPhase = s.phase;
    s.phase = q.phase;
    s.halted = q.halted;
    if (s.tradingDate === null) s.tradingDate = q.tradingDate;
    if (q.tradingDate > (s.tradingDate ?? '')) {
      s.tradingDate = q.tradingDate;
      this.expireDayOrders(s, q.tradingDate, 'trading day ended');
    }
    this.newAccountDay(q.tradingDate);
    if (q.phase === 'closed' && prevPhase !== 'closed') this.expireDayOrders(s, null, 'market closed');
    if (this.hooks.onQuote) this.runStrategies('onQuote', s.symbol, q);
  }

  private onTrade(t: ClassifiedTrade): void {
    const s = this.sym(t.symbol);
    s.last = t.price;
    if (!this.external && s.orders.length > 0) this.fillOnTrade(s, t);
    const p = this.pos.get(t.symbol);
    if (p !== undefined && p.qty > 0) {
      if (p.highWater === null || t.price > p.highWater) p.highWater = t.price;
      if (p.exits !== null || this.anyExit) this.checkExits(s, p, t);
      // Equity moves with every trade of a held symbol; only the equity limits need it at once (peak: at fills and minutes).
      if (this.limits.maxDailyLossPct != null || this.limits.maxDrawdownPct != null) this.checkAccountRisk();
    }
    if (this.hooks.onTrade) this.runStrategies('onTrade', s.symbol, t);
  }

  private onBarClosed(b: Bar): void {
    const s = this.sym(b.symbol);
    if (b.ts <= s.lastBarTs || !(b.volume > 0)) return;
    s.lastBarTs = b.ts;
    this.runStrategies('onBar', s.symbol, b, b.ts + MINUTE);
  }

  // ---------------------------------------------------------------- time

  /** Event time moves forward: per-minute equity points, day rollover, cooldown expiry. */
  private advanceTo(ts: number): void {
    if (!(ts > this.time)) return;
    const m = Math.floor(ts / MINUTE) * MINUTE;
    if (m > this.minute) {
      if (this.minute !== -Infinity) this.pushEquity(this.minute);
      this.minute = m;
    }
    this.time = ts;
    if (this.cooldownUntil !== null && ts >= this.cooldownUntil) {
      this.cooldownUntil = null;
      this.risk('cooldown_off', null, null, 'cooldown over');
    }
  }

  private newAccountDay(date: string): void {
    if (this.accDate !== null && date <= this.accDate) return;
    const first = this.accDate === null;
    this.accDate = date;
    if (!first) this.dayStartEquity = this.equity();
    if (this.pending.length > 0) {
      const due = this.pending.filter((p) => p.from <= date);
      if (due.length > 0) {
        this.pending = this.pending.filter((p) => p.from > date);
        for (const p of due) this.cash = roundMoney(this.cash + p.amount, this.moneyMarket());
      }
    }
    if (this.kill.active && this.kill.untilTradingDate !== null && date >= this.kill.untilTradingDate) {
      this.kill = { active: false, code: null, reason: null, since: null, untilTradingDate: null };
      this.risk('kill_switch_off', null, null, `new trading day ${date}`);
    }
    for (const s of this.syms.values()) if (s.orders.length > 0) this.expireDayOrders(s, date, 'trading day ended');
  }

  private pushEquity(minuteTs: number): void {
    const point: EquityPoint = { ts: minuteTs, equity: this.equity(), cash: this.cash };
    if (point.equity > this.peakEquity) this.peakEquity = point.equity;
    this.curve.push(point);
    if (this.curve.length > this.curveMax) this.curve.splice(0, this.curve.length - this.curveMax);
    this.emit({ type: 'equity', point });
    if (this.pos.size > 0) this.emit({ type: 'account', account: this.account() });
  }

  now(): number {
    return this.time === -Infinity ? 0 : this.time;
  }

  /** Close the current minute's equity point (end of a backtest). */
  flush(): TradingEvent[] {
    return this.run(() => {
      if (this.minute !== -Infinity) {
        this.pushEquity(this.minute);
        this.minute = Infinity;
      }
    });
  }

  // ---------------------------------------------------------------- orders

  submit(req: OrderRequest, meta: SubmitMeta = {}): OrderResult {
    let result: OrderResult | undefined;
    const events = this.run(() => {
      result = this.submitInner(req, meta);
    });
    result!.events = events;
    return result!;
  }

  cancel(orderId: string, ts?: number, reason = 'cancelled by request'): OrderResult {
    let result: OrderResult | undefined;
    const events = this.run(() => {
      const o = this.byId.get(orderId) ?? this.byClientId.get(orderId);
      if (o === undefined) result = { ok: false, order: undefined, code: 'NOT_FOUND', reason: `no order ${orderId}`, events: EMPTY };
      else if (isFinalOrderStatus(o.status)) result = { ok: false, order: { ...o }, code: 'ORDER_NOT_OPEN', reason: `order ${o.id} is ${o.status}`, events: EMPTY };
      else {
        this.finish(o, 'cancelled', ts ?? this.now(), reason, null);
        result = { ok: true, order: { ...o }, code: null, reason, events: EMPTY };
      }
    });
    result!.events = events;
    return result!;
  }

  replace(orderId: string, changes: OrderReplace, ts?: number): OrderResult {
    let result: OrderResult | undefined;
    const events = this.run(() => {
      const o = this.byId.get(orderId) ?? this.byClientId.get(orderId);
      const at = ts ?? this.now();
      if (o === undefined) return void (result = { ok: false, order: undefined, code: 'NOT_FOUND', reason: `no order ${orderId}`, events: EMPTY });
      if (isFinalOrderStatus(o.status)) return void (result = { ok: false, order: { ...o }, code: 'ORDER_NOT_OPEN', reason: `order ${o.id} is ${o.status}`, events: EMPTY });
      const s = this.sym(o.symbol);
      const next: Order = { ...o, ...stripUndef(changes) } as Order;
      if (o.notional !== null && changes.qty !== undefined) return void (result = this.refuse(o, 'ORDER_INVALID', 'a notional order has no quantity to replace'));
      if (next.qty < o.filledQty && o.notional === null) return void (result = this.refuse(o, 'ORDER_INVALID', `qty ${next.qty} is below the filled ${o.filledQty}`));
      const bad = this.checkRules(s, next) ?? this.checkPrices(o.type, next.limitPrice, next.stopPrice);
      if (bad) return void (result = this.refuse(o, bad[0], bad[1]));
      if (o.side === 'sell') {
        const extra = next.qty - o.qty;
        if (extra > 0 && extra > this.sellable(o.symbol)) return void (result = this.refuse(o, 'INSUFFICIENT_SETTLED_SHARES', `${extra} more shares are not sellable`));
      } else {
        const need = this.reserveOf(next, s) - this.reserveOf(o, s);
        if (need > 0 && need > this.buyingPower() + 1e-9) return void (result = this.refuse(o, 'INSUFFICIENT_BUYING_POWER', `replace needs ${fmt(need)} more buying power, ${fmt(this.buyingPower())} available`));
      }
      o.qty = next.qty;
      o.limitPrice = next.limitPrice;
      o.stopPrice = next.stopPrice;
      o.tif = next.tif;
      this.change(o, o.status, at, 'replaced', null);
      if (next.qty === o.filledQty && o.notional === null) this.finish(o, 'filled', at, 'filled (quantity reduced to the filled quantity)', null);
      else if (!this.external) this.fillOnArrival(s, o, at);
      result = { ok: true, order: { ...o }, code: null, reason: 'replaced', events: EMPTY };
    });
    result!.events = events;
    return result!;
  }

  private refuse(o: Order, code: string, reason: string): OrderResult {
    return { ok: false, order: { ...o }, code, reason, events: EMPTY };
  }

  private submitInner(req: OrderRequest, meta: SubmitMeta): OrderResult {
    const ts = meta.ts ?? this.now();
    if (req.clientOrderId !== undefined) {
      const dup = this.byClientId.get(req.clientOrderId);
      if (dup !== undefined) return { ok: !isFinalOrderStatus(dup.status) || dup.status === 'filled', order: { ...dup }, code: null, reason: 'duplicate clientOrderId: the first order stands', events: EMPTY };
    }
    const seq = ++this.orderSeq;
    const id = `${this.accountId}-o${seq}`;
    const s = this.syms.get(req.symbol);
    const o: Order = {
      id,
      clientOrderId: req.clientOrderId ?? id,
      accountId: this.accountId,
      symbol: req.symbol,
      side: req.side,
      type: req.type,
      qty: req.qty ?? 0,
      notional: req.notional ?? null,
      limitPrice: req.limitPrice ?? null,
      stopPrice: req.stopPrice ?? null,
      tif: req.tif ?? 'day',
      status: 'new',
      filledQty: 0,
      filledNotional: 0,
      avgFillPrice: null,
      triggered: false,
      source: meta.source ?? 'manual',
      strategyId: meta.strategyId ?? null,
      tradingDate: s?.tradingDate ?? this.accDate ?? '',
      createdTs: ts,
      updatedTs: ts,
      reason: null,
      code: null,
      exits: req.exits ?? null,
    };
    this.byId.set(id, o);
    this.byClientId.set(o.clientOrderId, o);
    this.info.set(id, { pnl: 0, fills: 0 });
    this.emitOrder(o, null, 'received');
    const bad = this.validate(req, o, s);
    if (bad) {
      this.change(o, 'rejected', ts, bad[1], bad[0]);
      return { ok: false, order: { ...o }, code: bad[0], reason: bad[1], events: EMPTY };
    }
    this.change(o, 'accepted', ts, 'accepted', null);
    this.openCount++;
    s!.orders.push(o);
    interest.gen++;
    if (!this.external) this.fillOnArrival(s!, o, ts);
    return { ok: true, order: { ...o }, code: null, reason: 'accepted', events: EMPTY };
  }

  /** Market rules, then holdings, then risk limits: the first refusal wins. */
  private validate(req: OrderRequest, o: Order, s: Sym | undefined): [string, string] | null {
    if (s === undefined || s.ref === undefined) return ['UNKNOWN_SYMBOL', `no reference data for ${req.symbol} yet`];
    if (req.side !== 'buy' && req.side !== 'sell') return ['ORDER_INVALID', `side must be buy or sell`];
    if (!['market', 'limit', 'stop', 'stop_limit'].includes(req.type)) return ['ORDER_INVALID', `unknown order type ${String(req.type)}`];
    if (req.tif !== undefined && req.tif !== 'day' && req.tif !== 'gtc') return ['ORDER_INVALID', `time in force must be day or gtc`];
    const hasQty = req.qty !== undefined;
    const hasNotional = req.notional !== undefined;
    if (hasQty === hasNotional) return ['ORDER_INVALID', 'give exactly one of qty and notional'];
    if (hasQty && !(Number.isInteger(req.qty) && req.qty! > 0)) return ['ORDER_INVALID', `qty must be a positive integer`];
    if (hasNotional && !(req.notional! > 0 && Number.isFinite(req.notional))) return ['ORDER_INVALID', 'notional must be a positive number'];
    if (hasNotional && (req.side !== 'buy' || (req.type !== 'market' && req.type !== 'limit'))) return ['ORDER_INVALID', 'notional is for market and limit buy orders only'];
    const p = this.checkPrices(req.type, o.limitPrice, o.stopPrice);
    if (p) return p;
    const r = this.checkRules(s, o);
    if (r) return r;
    if (o.side === 'sell') {
      const sellable = this.sellable(o.symbol);
      if (o.qty > sellable) {
        const pos = this.pos.get(o.symbol);
        const unsettled = pos ? pos.qty - this.settledQty(pos, s) : 0;
        return ['INSUFFICIENT_SETTLED_SHARES', `sell ${o.qty} ${o.symbol}: ${sellable} sellable (${pos?.qty ?? 0} held, ${unsettled} unsettled, ${(pos?.qty ?? 0) - unsettled - sellable} in open sells); no short selling`];
      }
      return null;
    }
    return this.checkEntryRisk(o, s);
  }

  private checkPrices(type: string, limit: number | null, stop: number | null): [string, string] | null {
    const needLimit = type === 'limit' || type === 'stop_limit';
    const needStop = type === 'stop' || type === 'stop_limit';
    if (needLimit !== (limit !== null)) return ['ORDER_INVALID', needLimit ? `a ${type} order needs limitPrice` : `a ${type} order takes no limitPrice`];
    if (needStop !== (stop !== null)) return ['ORDER_INVALID', needStop ? `a ${type} order needs stopPrice` : `a ${type} order takes no stopPrice`];
    for (const x of [limit, stop]) if (x !== null && !(x > 0 && Number.isFinite(x))) return ['ORDER_INVALID', 'prices must be positive numbers'];
    return null;
  }

  private checkRules(s: Sym, o: Order): [string, string] | null {
    const lot = s.ref?.lotSize ?? s.rules.lotSize;
    if (o.notional === null && o.qty % lot !== 0) return ['ORDER_REJECTED_LOT', `qty ${o.qty} is not a multiple of the ${o.symbol} lot (${lot})`];
    for (const [name, x] of [['limitPrice', o.limitPrice], ['stopPrice', o.stopPrice]] as const) {
      if (x === null) continue;
      if (!isOnTick(s.rules, x)) return ['ORDER_REJECTED_TICK', `${name} ${x} is off the ${s.rules.exchange} tick grid`];
      const c = s.ref?.ceiling ?? null;
      const f = s.ref?.floor ?? null;
      if ((c !== null && x > c) || (f !== null && x < f)) return ['ORDER_REJECTED_BAND', `${name} ${x} is outside the daily limits [${f}, ${c}]`];
    }
    return null;
  }

  private checkEntryRisk(o: Order, s: Sym): [string, string] | null {
    const L = this.limits;
    if (this.kill.active) return [this.kill.code ?? 'RISK_KILL_SWITCH', `entries blocked: ${this.kill.reason ?? 'kill switch'}`];
    if (this.cooldownUntil !== null && this.time < this.cooldownUntil) return ['RISK_COOLDOWN', `entries paused until ${new Date(this.cooldownUntil).toISOString()} after ${L.cooldownAfterLosses} losing trades`];
    const reserve = this.reserveOf(o, s);
    const value = o.notional ?? o.qty * this.priceEstimate(o, s);
    if (L.maxOrderValue != null && value > L.maxOrderValue) return ['RISK_MAX_ORDER_VALUE', `order value ${fmt(value)} > max ${fmt(L.maxOrderValue)}`];
    const pos = this.pos.get(o.symbol);
    const held = pos && pos.qty > 0 ? pos.qty * this.mark(o.symbol) : 0;
    const pendingBuys = this.openBuyReserve(o.symbol);
    const after = held + pendingBuys + value;
    if (L.maxPositionValue != null && after > L.maxPositionValue) return ['RISK_MAX_POSITION_VALUE', `${o.symbol} position would be ${fmt(after)} > max ${fmt(L.maxPositionValue)}`];
    const eq = this.equity();
    if (L.maxPositionPct != null && after > (eq * L.maxPositionPct) / 100 + 1e-9) return ['RISK_MAX_POSITION_PCT', `${o.symbol} position would be ${fmt(after)} > ${L.maxPositionPct}% of equity ${fmt(eq)}`];
    if (L.maxOpenPositions != null && !(pos && pos.qty > 0) && pendingBuys === 0) {
      const n = this.exposedSymbols();
      if (n >= L.maxOpenPositions) return ['RISK_MAX_OPEN_POSITIONS', `${n} open positions (or pending entries) = max ${L.maxOpenPositions}`];
    }
    if (L.maxGrossExposurePct != null) {
      const gross = this.grossExposure() + this.openBuyReserve(null) + value;
      if (gross > (eq * L.maxGrossExposurePct) / 100 + 1e-9) return ['RISK_MAX_GROSS_EXPOSURE', `gross exposure would be ${fmt(gross)} > ${L.maxGrossExposurePct}% of equity ${fmt(eq)}`];
    }
    const bp = this.buyingPower();
    if (reserve > bp + 1e-9) return ['INSUFFICIENT_BUYING_POWER', `order needs ${fmt(reserve)}, buying power ${fmt(bp)}`];
    return null;
  }

  // ---------------------------------------------------------------- fill model

  /** At submission (or replace): a market or marketable limit order takes the prevailing book in continuous trading. */
  private fillOnArrival(s: Sym, o: Order, ts: number): void {
    if (o.type !== 'market' && o.type !== 'limit') return;
    if (!this.fm.walkBook || s.phase !== 'continuous' || s.halted || s.quote === undefined) return;
    const levels = o.side === 'buy' ? s.quote.asks : s.quote.bids;
    const used = o.side === 'buy' ? s.usedAsks : s.usedBids;
    const ceiling = s.ref?.ceiling ?? null;
    const floor = s.ref?.floor ?? null;
    for (let i = 0; i < levels.length && this.isOpen(o); i++) {
      const lv = levels[i]!;
      if (o.limitPrice !== null && (o.side === 'buy' ? lv.price > o.limitPrice : lv.price < o.limitPrice)) break;
      // A book left over from the previous day can sit outside today's band: never trade there.
      if ((ceiling !== null && lv.price > ceiling) || (floor !== null && lv.price < floor) || !isOnTick(s.rules, lv.price)) break;
      const avail = lv.volume - (used[i] ?? 0);
      if (avail <= 0) continue;
      const q = this.fillQty(s, o, lv.price, avail);
      if (q <= 0) break;
      used[i] = (used[i] ?? 0) + q;
      this.fill(s, o, q, lv.price, ts, 'book');
    }
  }

  private fillOnTrade(s: Sym, t: ClassifiedTrade): void {
    const auction = isAuction(t.phase);
    const cap = this.fm.participation;
    let budget = cap === null ? Infinity : Math.floor(cap * t.volume);
    /** Volume at exactly the limit price is shared by the orders resting there (queue position unknown). */
    let atPrice = t.volume;
    // Snapshot: fills may finish orders and remove them from the list.
    for (const o of s.orders.slice()) {
      if (!this.isOpen(o) || t.ts < o.createdTs) continue;
      if (budget <= 0) break;
      if ((o.type === 'stop' || o.type === 'stop_limit') && !o.triggered) {
        const hit = o.side === 'buy' ? t.price >= o.stopPrice! : t.price <= o.stopPrice!;
        if (!hit) continue;
        o.triggered = true;
        this.change(o, o.status, t.ts, `stop triggered by a trade at ${t.price}`, null);
      }
      let price: number;
      let maxQty = budget;
      let liq: Liquidity = auction ? 'auction' : 'trade';
      if (o.type === 'market' || o.type === 'stop') {
        price = auction ? t.price : this.slip(s, o.side, t.price);
      } else {
        const lim = o.limitPrice!;
        const through = o.side === 'buy' ? t.price < lim : t.price > lim;
        const at = t.price === lim;
        if (auction) {
          // One uniform auction price: every limit at or better than it matches at it.
          if (!through && !at) continue;
          price = t.price;
        } else if (through) {
          price = lim;
        } else if (at && this.fm.limitAtPrice === 'fill') {
          price = lim;
          maxQty = Math.min(maxQty, atPrice);
        } else continue;
      }
      const q = this.fillQty(s, o, price, maxQty);
      if (q <= 0) continue;
      budget -= q;
      if (!auction && (o.type === 'limit' || o.type === 'stop_limit') && t.price === o.limitPrice) atPrice -= q;
      this.fill(s, o, q, price, t.ts, liq);
    }
  }

  /** Adverse slippage in ticks for fills at trade prices, kept inside the band. */
  private slip(s: Sym, side: 'buy' | 'sell', price: number): number {
    const n = this.fm.slippageTicks;
    if (!n) return price;
    let p = stepPrice(s.rules, price, side === 'buy' ? n : -n);
    const c = s.ref?.ceiling ?? null;
    const f = s.ref?.floor ?? null;
    if (c !== null && p > c) p = c;
    if (f !== null && p < f) p = f;
    return p;
  }

  /**
   * How many shares the order may take at `price`, at most `avail`: its
   * remaining quantity (or what its remaining notional buys, fees included),
   * in whole lots, and never more than the cash can pay (no margin).
   */
  private fillQty(s: Sym, o: Order, price: number, avail: number): number {
    const lot = s.ref?.lotSize ?? s.rules.lotSize;
    let q = o.notional !== null ? Infinity : o.qty - o.filledQty;
    if (avail < q) q = avail;
    q = Math.floor(q / lot) * lot;
    if (q <= 0) return 0;
    if (o.side === 'sell') return q;
    let money = this.cash - this.openBuyReserve(null) + this.reserveOf(o, s);
    if (o.notional !== null) money = Math.min(money, o.notional - o.filledNotional);
    const fees = this.fees[s.market];
    const per = price * lot * (1 + fees.rate) + fees.perShare * lot;
    const k = Math.min(q / lot, Math.floor((money + 1e-9) / per));
    let qq = Math.max(0, k) * lot;
    // Rounding and minimum fees: step down until it is affordable.
    while (qq > 0 && this.cost(s, 'buy', qq, price) > money + 1e-9) qq -= lot;
    if (qq <= 0) {
      if (o.notional !== null) {
        if (o.filledQty > 0) this.finish(o, 'filled', this.now(), `notional spent: the remaining ${fmt(o.notional - o.filledNotional)} buys no lot at ${price}`, null);
        else this.finish(o, 'cancelled', this.now(), `notional ${fmt(o.notional)} buys no lot at ${price}`, 'INSUFFICIENT_BUYING_POWER');
      } else if (q > 0) {
        this.finish(o, 'cancelled', this.now(), `cash ${fmt(money)} pays for no lot at ${price}`, 'INSUFFICIENT_BUYING_POWER');
      }
      return 0;
    }
    return qq;
  }

  private cost(s: Sym, side: 'buy' | 'sell', qty: number, price: number): number {
    const value = roundMoney(qty * price, s.market);
    const { fee, tax } = feesFor(this.fees[s.market], s.market, side, qty, value);
    return side === 'buy' ? value + fee + tax : value;
  }

  // ---------------------------------------------------------------- portfolio

  private fill(s: Sym, o: Order, qty: number, price: number, ts: number, liq: Liquidity): void {
    const info = this.info.get(o.id)!;
    const fillTs = ts < o.createdTs ? o.createdTs : ts;
    const f: Fill = this.applyFill(s, {
      id: `${o.id}-f${info.fills + 1}`,
      orderId: o.id,
      accountId: this.accountId,
      ts: fillTs,
      symbol: o.symbol,
      side: o.side,
      qty,
      price,
      fee: 0,
      tax: 0,
      liquidity: liq,
      strategyId: o.strategyId,
    }, true);
    const value = roundMoney(qty * price, s.market);
    const prevValue = (o.avgFillPrice ?? 0) * o.filledQty;
    o.filledQty += qty;
    o.filledNotional = roundMoney(o.filledNotional + value + (o.side === 'buy' ? f.fee + f.tax : 0), s.market);
    o.avgFillPrice = (prevValue + qty * price) / o.filledQty;
    if (o.notional !== null) o.qty = o.filledQty;
    const done = o.notional === null ? o.filledQty >= o.qty : false;
    if (done) this.finish(o, 'filled', fillTs, `filled ${o.filledQty} at avg ${round6(o.avgFillPrice)}`, null);
    else this.change(o, 'partially_filled', fillTs, `filled ${qty} at ${price} (${liq})`, null);
    this.afterFill();
  }

  /** After the order's own status: continuous limits (which may cancel orders), then the account. */
  private afterFill(): void {
    this.checkAccountRisk();
    this.emit({ type: 'account', account: this.account() });
  }

  /** Books a fill into cash and the position; fills from a broker come through here too. */
  private applyFill(s: Sym, f: Fill, computeFees: boolean): Fill {
    interest.gen++;
    const oi = this.info.get(f.orderId);
    if (oi) oi.fills++;
    const m = s.market;
    const value = roundMoney(f.qty * f.price, m);
    if (computeFees) {
      const ft = feesFor(this.fees[m], m, f.side, f.qty, value);
      f = { ...f, fee: ft.fee, tax: ft.tax };
    }
    this.fillIds.add(f.id);
    this.fees$ = roundMoney(this.fees$ + f.fee, m);
    this.taxes$ = roundMoney(this.taxes$ + f.tax, m);
    let p = this.pos.get(f.symbol);
    if (f.side === 'buy') {
      if (p === undefined || p.qty === 0) {
        const o = this.byId.get(f.orderId);
        const ex = o?.exits ?? null;
        p = { symbol: f.symbol, qty: 0, costBasis: 0, realized: p?.realized ?? 0, lots: [], openedTs: f.ts, exits: ex, highWater: null };
        this.pos.set(f.symbol, p);
      }
      this.cash = roundMoney(this.cash - value - f.fee - f.tax, m);
      p.qty += f.qty;
      p.costBasis += value + f.fee + f.tax;
      const date = this.dateOf(s, f.ts);
      p.lots.push({ qty: f.qty, sellableFrom: addTradingDays(date, this.settleDays[m]) });
      if (p.highWater === null || f.price > p.highWater) p.highWater = f.price;
    } else {
      if (p === undefined || p.qty < f.qty) throw new Error(`trading core: sell fill ${f.id} exceeds the position (no short selling)`);
      const avg = p.costBasis / p.qty;
      const proceeds = roundMoney(value - f.fee - f.tax, m);
      const pnl = proceeds - avg * f.qty;
      p.realized += pnl;
      this.realized$ += pnl;
      const info = this.info.get(f.orderId);
      if (info) info.pnl += pnl;
      p.costBasis = p.qty === f.qty ? 0 : p.costBasis - avg * f.qty;
      p.qty -= f.qty;
      // Settled lots go first (the only ones a sell may use).
      let left = f.qty;
      const today = this.dateOf(s, f.ts);
      for (const lot of p.lots) {
        if (left === 0) break;
        if (lot.sellableFrom > today) continue;
        const take = Math.min(lot.qty, left);
        lot.qty -= take;
        left -= take;
      }
      for (const lot of p.lots) {
        if (left === 0) break;
        const take = Math.min(lot.qty, left);
        lot.qty -= take;
        left -= take;
      }
      p.lots = p.lots.filter((l) => l.qty > 0);
      if (this.saleProceeds === 'settlement' && this.settleDays[m] > 0) {
        this.pending.push({ from: addTradingDays(today, this.settleDays[m]), amount: proceeds });
      } else this.cash = roundMoney(this.cash + proceeds, m);
      if (p.qty === 0) {
        p.exits = null;
        p.highWater = null;
      }
    }
    this.emit({ type: 'fill', fill: f });
    this.emit({ type: 'position', position: this.positionOf(p) });
    return f;
  }

  /** A symbol's current trading date (from its reference data; the exchange calendar date as a fallback). */
  private dateOf(s: Sym, ts: number): string {
    return s.tradingDate ?? this.accDate ?? tradingDateOf(ts, s.rules.timeZone);
  }

  private settledQty(p: Pos, s: Sym): number {
    const today = this.dateOf(s, this.now());
    let q = 0;
    for (const l of p.lots) if (l.sellableFrom <= today) q += l.qty;
    return q;
  }

  /** Shares that may be sold now: settled, minus what open sells already hold. */
  private sellable(symbol: string): number {
    const p = this.pos.get(symbol);
    const s = this.syms.get(symbol);
    if (p === undefined || s === undefined || p.qty === 0) return 0;
    let held = 0;
    for (const o of s.orders) if (o.side === 'sell') held += o.qty - o.filledQty;
    return Math.max(0, this.settledQty(p, s) - held);
  }

  private mark(symbol: string): number {
    const s = this.syms.get(symbol);
    const p = this.pos.get(symbol);
    return s?.last ?? (p && p.qty > 0 ? p.costBasis / p.qty : 0);
  }

  private equity(): number {
    let e = this.cash;
    for (let i = 0; i < this.pending.length; i++) e += this.pending[i]!.amount;
    for (const p of this.pos.values()) {
      if (p.qty === 0) continue;
      const last = this.syms.get(p.symbol)!.last;
      e += p.qty * (last ?? p.costBasis / p.qty);
    }
    return e;
  }

  private grossExposure(): number {
    let g = 0;
    for (const p of this.pos.values()) if (p.qty > 0) g += Math.abs(p.qty * this.mark(p.symbol));
    return g;
  }

  private exposedSymbols(): number {
    const set = new Set<string>();
    for (const p of this.pos.values()) if (p.qty > 0) set.add(p.symbol);
    for (const s of this.syms.values()) for (const o of s.orders) if (o.side === 'buy') set.add(o.symbol);
    return set.size;
  }

  /** Price used to reserve cash for a buy: its limit; for market/stop orders the ceiling (VN, as brokers hold it) or the ask/last/stop + a buffer. */
  private priceEstimate(o: Order, s: Sym): number {
    if (o.limitPrice !== null) return o.limitPrice;
    if (s.ref?.ceiling != null) return s.ref.ceiling;
    const ask = s.quote?.asks[0]?.price ?? 0;
    const base = Math.max(ask, s.last ?? 0, o.stopPrice ?? 0, s.last === undefined && ask === 0 ? (s.ref?.reference ?? 0) : 0);
    return base * (1 + this.buyReserve);
  }

  private reserveOf(o: Order, s: Sym): number {
    if (o.side !== 'buy' || isFinalOrderStatus(o.status)) return 0;
    if (o.notional !== null) return Math.max(0, o.notional - o.filledNotional);
    const q = o.qty - o.filledQty;
    if (q <= 0) return 0;
    return this.cost(s, 'buy', q, this.priceEstimate(o, s));
  }

  private openBuyReserve(symbol: string | null): number {
    let r = 0;
    for (const s of this.syms.values()) {
      if (symbol !== null && s.symbol !== symbol) continue;
      for (const o of s.orders) if (o.side === 'buy') r += this.reserveOf(o, s);
    }
    return r;
  }

  private buyingPower(): number {
    return this.cash - this.openBuyReserve(null);
  }

  private moneyMarket(): Market {
    for (const s of this.syms.values()) return s.market;
    return 'VN';
  }

  // ---------------------------------------------------------------- risk

  private checkExits(s: Sym, p: Pos, t: ClassifiedTrade): void {
    const ex = this.exitsOf(p);
    if (ex.sl === null && ex.tp === null && ex.trail === null) return;
    for (const o of s.orders) if (o.source === 'risk' && o.side === 'sell') return;
    let kind: RiskEventKind | null = null;
    let level = 0;
    if (ex.sl !== null && t.price <= ex.sl) [kind, level] = ['stop_loss', ex.sl];
    else if (ex.trail !== null && t.price <= ex.trail) [kind, level] = ['trailing_stop', ex.trail];
    else if (ex.tp !== null && t.price >= ex.tp) [kind, level] = ['take_profit', ex.tp];
    if (kind === null) return;
    const qty = this.sellable(p.symbol);
    if (qty <= 0) return;
    const reason = `${kind.replace('_', ' ')}: trade at ${t.price} reached ${round6(level)}`;
    this.risk(kind, null, p.symbol, reason);
    this.submitInner(
      { clientOrderId: `${this.accountId}:${kind}:${p.symbol}:${t.ts}:${this.orderSeq + 1}`, symbol: p.symbol, side: 'sell', type: 'market', qty, tif: 'day' },
      { source: 'risk', ts: t.ts },
    );
  }

  private exitsOf(p: Pos): { sl: number | null; tp: number | null; trail: number | null } {
    const L = this.limits;
    const e = p.exits;
    const sl = e?.stopLossPct ?? L.stopLossPct ?? null;
    const tp = e?.takeProfitPct ?? L.takeProfitPct ?? null;
    const tr = e?.trailingStopPct ?? L.trailingStopPct ?? null;
    const avg = p.qty > 0 ? p.costBasis / p.qty : 0;
    return {
      sl: sl !== null ? avg * (1 - sl / 100) : null,
      tp: tp !== null ? avg * (1 + tp / 100) : null,
      trail: tr !== null && p.highWater !== null ? p.highWater * (1 - tr / 100) : null,
    };
  }

  /** Continuous limits on equity: daily loss and drawdown engage the kill switch. */
  private checkAccountRisk(): void {
    const eq = this.equity();
    if (eq > this.peakEquity) this.peakEquity = eq;
    if (this.kill.active) return;
    const L = this.limits;
    if (L.maxDailyLossPct != null && eq <= this.dayStartEquity * (1 - L.maxDailyLossPct / 100)) {
      const next = this.accDate !== null ? addTradingDays(this.accDate, 1) : null;
      this.engage('RISK_MAX_DAILY_LOSS', `daily loss ${fmt(this.dayStartEquity - eq)} reached ${L.maxDailyLossPct}% of ${fmt(this.dayStartEquity)}`, next);
    } else if (L.maxDrawdownPct != null && eq <= this.peakEquity * (1 - L.maxDrawdownPct / 100)) {
      this.engage('RISK_MAX_DRAWDOWN', `drawdown ${fmt(this.peakEquity - eq)} reached ${L.maxDrawdownPct}% of the peak ${fmt(this.peakEquity)}`, null);
    }
  }

  private engage(code: string, reason: string, until: string | null): void {
    const ts = this.now();
    this.kill = { active: true, code, reason, since: ts, untilTradingDate: until };
    this.risk('kill_switch_on', code, null, reason);
    for (const o of this.openOrderList()) this.finish(o, 'cancelled', ts, `kill switch: ${reason}`, code);
    this.emit({ type: 'account', account: this.account() });
  }

  engageKillSwitch(reason: string, ts?: number): TradingEvent[] {
    return this.run(() => {
      if (ts !== undefined) this.advanceTo(ts);
      if (!this.kill.active) this.engage('RISK_KILL_SWITCH', reason, null);
    });
  }

  resetKillSwitch(ts?: number): TradingEvent[] {
    return this.run(() => {
      if (ts !== undefined) this.advanceTo(ts);
      if (!this.kill.active) return;
      this.kill = { active: false, code: null, reason: null, since: null, untilTradingDate: null };
      this.peakEquity = this.equity();
      this.dayStartEquity = this.peakEquity;
      this.risk('kill_switch_off', null, null, 'manual reset');
      this.emit({ type: 'account', account: this.account() });
    });
  }

  setRiskLimits(limits: RiskLimits): void {
    this.limits = { ...limits };
    this.anyExit = limits.stopLossPct != null || limits.takeProfitPct != null || limits.trailingStopPct != null;
  }

  /** Some account-wide exit (stop-loss, take-profit, trailing stop) is configured. */
  private anyExit = false;

  riskLimits(): RiskLimits {
    return { ...this.limits };
  }

  private risk(kind: RiskEventKind, code: string | null, symbol: string | null, reason: string): void {
    this.emit({ type: 'risk', risk: { ts: this.now(), kind, code, symbol, reason } });
  }

  /** A sell order finished: count it as a closed trade (cooldown, win rate). */
  private closeTrade(o: Order, ts: number): void {
    const info = this.info.get(o.id);
    if (!info || o.side !== 'sell' || o.filledQty === 0) return;
    this.closed.push({ orderId: o.id, symbol: o.symbol, ts, pnl: info.pnl });
    const L = this.limits;
    if (info.pnl < 0) this.losingStreak++;
    else this.losingStreak = 0;
    if (L.cooldownAfterLosses != null && this.losingStreak >= L.cooldownAfterLosses) {
      const mins = L.cooldownMinutes ?? 60;
      this.cooldownUntil = ts + mins * MINUTE;
      this.risk('cooldown_on', 'RISK_COOLDOWN', null, `${this.losingStreak} losing trades in a row: entries paused for ${mins} min`);
      this.losingStreak = 0;
    }
  }

  // ---------------------------------------------------------------- order state

  private isOpen(o: Order): boolean {
    return !isFinalOrderStatus(o.status) && o.status !== 'new';
  }

  private openOrderList(): Order[] {
    const out: Order[] = [];
    for (const s of this.syms.values()) for (const o of s.orders) out.push(o);
    return out.sort((a, b) => a.createdTs - b.createdTs || seqOf(a.id) - seqOf(b.id));
  }

  private expireDayOrders(s: Sym, newDate: string | null, reason: string): void {
    for (const o of s.orders.slice()) {
      if (o.tif !== 'day') continue;
      if (newDate !== null && !(o.tradingDate < newDate)) continue;
      this.finish(o, 'expired', this.now(), reason, null);
    }
  }

  private change(o: Order, status: OrderStatus, ts: number, reason: string, code: string | null): void {
    const prev = o.status;
    o.status = status;
    o.updatedTs = Math.max(o.updatedTs, ts);
    o.reason = reason;
    if (code !== null) o.code = code;
    this.emitOrder(o, prev, reason);
  }

  private finish(o: Order, status: OrderStatus, ts: number, reason: string, code: string | null): void {
    const wasOpen = this.isOpen(o);
    this.change(o, status, ts, reason, code);
    if (!wasOpen) return;
    this.openCount--;
    const s = this.syms.get(o.symbol);
    if (s) {
      const i = s.orders.indexOf(o);
      if (i >= 0) s.orders.splice(i, 1);
      interest.gen++;
    }
    this.closeTrade(o, ts);
  }

  private emitOrder(o: Order, prev: OrderStatus | null, reason: string): void {
    if (this.out === null) return;
    this.out.push({ type: 'order', event: { ts: o.updatedTs, orderId: o.id, status: o.status, prevStatus: prev, reason, code: o.code, order: { ...o } } });
  }

  // ---------------------------------------------------------------- strategies

  private ctxTs = 0;
  private readonly view: AccountView;
  private readonly ctx: StrategyContext;
  private hooks = { onTrade: false, onQuote: false, onForeign: false };

  private updateHooks(): void {
    interest.gen++;
    this.hooks = { onTrade: this.strats.some((s) => s.onTrade !== undefined), onQuote: this.strats.some((s) => s.onQuote !== undefined), onForeign: this.strats.some((s) => s.onForeign !== undefined) };
  }

  private runStrategies(hook: 'onBar' | 'onTrade' | 'onQuote' | 'onForeign', symbol: string, arg: unknown, ts?: number): void {
    if (this.strats.length === 0) return;
    for (const st of this.strats) {
      const fn = st[hook] as ((a: unknown, c: StrategyContext) => StrategyDecision[] | void) | undefined;
      if (fn === undefined || (st.symbols !== null && !st.symbols.has(symbol))) continue;
      this.ctxTs = ts ?? this.now();
      const decisions = fn.call(st, arg, this.ctx);
      if (decisions && decisions.length > 0) this.apply(st, decisions, this.ctxTs);
    }
  }

  private apply(st: Strategy, decisions: StrategyDecision[], ts: number): void {
    for (const d of decisions) {
      for (const id of d.cancel ?? []) {
        const o = this.byId.get(id) ?? this.byClientId.get(id);
        if (o && this.isOpen(o)) this.finish(o, 'cancelled', ts, `cancelled by strategy ${st.id}: ${d.reason}`, null);
      }
      let clientOrderId: string | null = null;
      const n = ++this.signalSeq;
      if (d.order) clientOrderId = d.order.clientOrderId ?? `${st.id}:${d.symbol}:${ts}:${d.action}:${n}`;
      this.emit({
        type: 'signal',
        signal: { id: `${this.accountId}-s${n}`, strategyId: st.id, symbol: d.symbol, ts, action: d.action, reason: d.reason, values: d.values ?? {}, clientOrderId },
      });
      if (d.order) this.submitInner({ ...d.order, clientOrderId: clientOrderId! }, { source: 'strategy', strategyId: st.id, ts });
    }
  }

  // ---------------------------------------------------------------- external broker

  /** Order updates and fills reported by a broker (execution: 'external'); duplicate fills are ignored. */
  applyBrokerUpdate(u: BrokerUpdate): TradingEvent[] {
    return this.run(() => {
      if (u.type === 'fill') {
        const f = u.fill;
        if (this.fillIds.has(f.id)) return;
        const o = this.byId.get(f.orderId) ?? this.byClientId.get(f.orderId);
        this.advanceTo(f.ts);
        const s = this.sym(f.symbol);
        if (o) {
          const prevValue = (o.avgFillPrice ?? 0) * o.filledQty;
          o.filledQty += f.qty;
          o.avgFillPrice = (prevValue + f.qty * f.price) / o.filledQty;
          o.filledNotional = roundMoney(o.filledNotional + f.qty * f.price + (f.side === 'buy' ? f.fee + f.tax : 0), s.market);
        }
        this.applyFill(s, { ...f, orderId: o?.id ?? f.orderId }, false);
        if (o && o.notional === null && o.filledQty >= o.qty && this.isOpen(o)) this.finish(o, 'filled', f.ts, 'filled (broker)', null);
        this.afterFill();
        return;
      }
      const e = u.event;
      const o = this.byId.get(e.orderId) ?? this.byClientId.get(e.order.clientOrderId);
      if (!o || o.status === e.status) return;
      if (isFinalOrderStatus(e.status)) this.finish(o, e.status, e.ts, e.reason, e.code);
      else this.change(o, e.status, e.ts, e.reason, e.code);
    });
  }

  // ---------------------------------------------------------------- reads

  account(): AccountState {
    const positions = this.positions();
    let unreal = 0;
    for (const p of positions) unreal += p.unrealizedPnl;
    const reserved = this.openBuyReserve(null);
    let pendingCash = 0;
    for (const x of this.pending) pendingCash += x.amount;
    return {
      accountId: this.accountId,
      ts: this.now(),
      cash: this.cash,
      pendingCash,
      buyingPower: this.cash - reserved,
      reservedCash: reserved,
      equity: this.equity(),
      startEquity: this.startEquity,
      dayStartEquity: this.dayStartEquity,
      peakEquity: this.peakEquity,
      realizedPnl: this.realized$,
      unrealizedPnl: unreal,
      fees: this.fees$,
      taxes: this.taxes$,
      grossExposure: this.grossExposure(),
      openOrders: this.openCount,
      positions,
      killSwitch: { ...this.kill },
      cooldownUntil: this.cooldownUntil,
      losingStreak: this.losingStreak,
      tradingDate: this.accDate,
    };
  }

  positions(): Position[] {
    const out: Position[] = [];
    for (const p of [...this.pos.values()].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))) if (p.qty > 0) out.push(this.positionOf(p));
    return out;
  }

  private positionOf(p: Pos): Position {
    const s = this.syms.get(p.symbol);
    const settled = s && p.qty > 0 ? this.settledQty(p, s) : 0;
    const last = s?.last ?? null;
    const mark = this.mark(p.symbol);
    const ex = this.exitsOf(p);
    return {
      symbol: p.symbol,
      qty: p.qty,
      settledQty: settled,
      unsettledQty: p.qty - settled,
      avgCost: p.qty > 0 ? p.costBasis / p.qty : 0,
      costBasis: p.costBasis,
      lastPrice: last,
      marketValue: p.qty * mark,
      unrealizedPnl: p.qty * mark - p.costBasis,
      realizedPnl: p.realized,
      openedTs: p.openedTs,
      stopLoss: p.qty > 0 ? ex.sl : null,
      takeProfit: p.qty > 0 ? ex.tp : null,
      trailingStop: p.qty > 0 ? ex.trail : null,
      highWater: p.highWater,
    };
  }

  orders(filter: { open?: boolean; symbol?: string } = {}): Order[] {
    const out: Order[] = [];
    for (const o of this.byId.values()) {
      if (filter.symbol !== undefined && o.symbol !== filter.symbol) continue;
      if (filter.open === true && !this.isOpen(o)) continue;
      if (filter.open === false && this.isOpen(o)) continue;
      out.push({ ...o });
    }
    return out;
  }

  order(id: string): Order | undefined {
    const o = this.byId.get(id) ?? this.byClientId.get(id);
    return o ? { ...o } : undefined;
  }

  equityCurve(): EquityPoint[] {
    return this.curve.slice();
  }

  /** Sell orders with fills, with their realised P&L, oldest first. */
  closedTrades(): ClosedTrade[] {
    return this.closed.slice();
  }

  // ---------------------------------------------------------------- persistence

  snapshot(): TradingSnapshot {
    const strategies: Record<string, unknown> = {};
    for (const s of this.strats) if (s.snapshot) strategies[s.id] = s.snapshot();
    return JSON.parse(
      JSON.stringify({
        version: 1,
        accountId: this.accountId,
        time: this.time === -Infinity ? null : this.time,
        minute: Number.isFinite(this.minute) ? this.minute : null,
        orderSeq: this.orderSeq,
        signalSeq: this.signalSeq,
        cash: this.cash,
        pending: this.pending,
        startEquity: this.startEquity,
        dayStartEquity: this.dayStartEquity,
        peakEquity: this.peakEquity,
        fees: this.fees$,
        taxes: this.taxes$,
        realized: this.realized$,
        kill: this.kill,
        cooldownUntil: this.cooldownUntil,
        losingStreak: this.losingStreak,
        limits: this.limits,
        accDate: this.accDate,
        syms: [...this.syms.values()].map((s) => ({ symbol: s.symbol, ref: s.ref ?? null, last: s.last ?? null, quote: s.quote ?? null, foreign: s.foreign ?? null, phase: s.phase, halted: s.halted, tradingDate: s.tradingDate, lastBarTs: Number.isFinite(s.lastBarTs) ? s.lastBarTs : null, usedBids: dense(s.usedBids), usedAsks: dense(s.usedAsks) })),
        positions: [...this.pos.values()],
        orders: [...this.byId.values()].filter((o) => this.isOpen(o)),
        info: [...this.info.entries()].filter(([id]) => this.isOpen(this.byId.get(id)!)),
        curve: this.curve,
        closed: this.closed,
        lastTradeSym: this.lastTradeSym,
        lastTradeMinute: this.lastTradeMinute,
        strategies,
      }),
    ) as TradingSnapshot;
  }

  /** A core in the state of `snap`; attach `strategies` (same ids) to restore their state too. */
  static restore(snap: TradingSnapshot, opts: TradingCoreOptions, strategies: Strategy[] = []): TradingCore {
    if (snap.version !== 1) throw new RangeError(`unknown trading snapshot version ${String(snap.version)}`);
    const x = snap as unknown as Record<string, any>;
    const c = new TradingCore({ ...opts, accountId: snap.accountId, cash: x.startEquity, riskLimits: x.limits });
    c.time = x.time ?? -Infinity;
    c.minute = x.minute ?? -Infinity;
    c.orderSeq = x.orderSeq;
    c.signalSeq = x.signalSeq;
    c.cash = x.cash;
    c.pending = x.pending;
    c.dayStartEquity = x.dayStartEquity;
    c.peakEquity = x.peakEquity;
    c.fees$ = x.fees;
    c.taxes$ = x.taxes;
    c.realized$ = x.realized;
    c.kill = x.kill;
    c.cooldownUntil = x.cooldownUntil;
    c.losingStreak = x.losingStreak;
    c.accDate = x.accDate;
    for (const r of x.syms) {
      const s = c.sym(r.symbol);
      if (r.ref) {
        s.ref = r.ref;
        s.rules = rulesFor(r.ref.exchange, r.ref.market);
        s.market = r.ref.market;
      }
      s.last = r.last ?? undefined;
      s.quote = r.quote ?? undefined;
      s.foreign = r.foreign ?? undefined;
      s.phase = r.phase;
      s.halted = r.halted;
      s.tradingDate = r.tradingDate;
      s.lastBarTs = r.lastBarTs ?? -Infinity;
      // Book volume our orders already took (absent in snapshots written before it was kept: nothing taken).
      s.usedBids = Array.isArray(r.usedBids) ? r.usedBids.slice() : [];
      s.usedAsks = Array.isArray(r.usedAsks) ? r.usedAsks.slice() : [];
    }
    c.lastTradeSym = x.lastTradeSym ?? null;
    c.lastTradeMinute = x.lastTradeMinute ?? -1;
    interest.gen++;
    for (const p of x.positions as Pos[]) c.pos.set(p.symbol, { ...p, lots: p.lots.map((l) => ({ ...l })) });
    for (const o of x.orders as Order[]) {
      c.byId.set(o.id, o);
      c.byClientId.set(o.clientOrderId, o);
      c.sym(o.symbol).orders.push(o);
      interest.gen++;
      c.openCount++;
    }
    for (const [id, inf] of x.info as [string, OrderInfo][]) c.info.set(id, inf);
    c.curve = x.curve;
    c.closed = x.closed;
    for (const st of strategies) {
      c.addStrategy(st);
      const state = (x.strategies as Record<string, unknown>)[st.id];
      if (state !== undefined && st.restore) st.restore(state);
    }
    return c;
  }

  // ---------------------------------------------------------------- plumbing

  private sym(symbol: string): Sym {
    // One-entry cache: the hub syncs a symbol and then delivers its output, so the same Sym is looked up twice in a
    // row (Sym records are never removed from the map, so a cached one cannot go stale).
    const c = this.lastSym;
    if (c !== null && c.symbol === symbol) return c;
    let s = this.syms.get(symbol);
    if (s === undefined) {
      const rules = rulesFor('US');
      s = { symbol, ref: undefined, rules, market: rules.market, last: undefined, quote: undefined, foreign: undefined, phase: 'pre_open', halted: false, tradingDate: null, lastBarTs: -Infinity, usedBids: [], usedAsks: [], orders: [] };
      this.syms.set(symbol, s);
    }
    this.lastSym = s;
    return s;
  }

  private lastSym: Sym | null = null;

  private emit(e: TradingEvent): void {
    if (this.out !== null) this.out.push(e);
  }

  /** Collects the events of one call; nested calls (strategies submitting) share the outer buffer. */
  private run(fn: () => void): TradingEvent[] {
    if (this.out !== null) {
      fn();
      return EMPTY;
    }
    const buf: TradingEvent[] = [];
    this.out = buf;
    try {
      fn();
    } finally {
      this.out = null;
    }
    return buf.length === 0 ? EMPTY : buf;
  }
}

function stripUndef<T extends object>(o: T): Partial<T> {
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[k] = v;
  return r as Partial<T>;
}

/** Same displayed levels (price and volume, in order). */
function sameLevels(a: readonly { price: number; volume: number }[], b: readonly { price: number; volume: number }[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.price !== b[i]!.price || a[i]!.volume !== b[i]!.volume) return false;
  return true;
}

/** Used volume per level as plain JSON: a level skipped while walking the book leaves a hole (null in JSON); 0 means the same. */
const dense = (used: number[]) => Array.from(used, (v) => v ?? 0);

const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-o') + 2)) || 0;
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
const fmt = (x: number) => String(Math.round(x * 100) / 100);
