/**
 * AlpacaBroker: the core's `Broker` interface over the Alpaca Trading API v2
 * (REST for orders, the `trade_updates` stream for what happens to them).
 *
 * Identity. The core's order id stays the order's id for its whole life;
 * Alpaca gives a replaced order a new id, so the adapter keeps the chain of
 * Alpaca ids per core order. The core's `clientOrderId` is sent as Alpaca's
 * `client_order_id` (hashed to 48 characters when longer: Alpaca's limit), so
 * a retried submit cannot create a second order.
 *
 * Exactly-once fills. Each Alpaca order's filled quantity only grows; the
 * adapter keeps, per Alpaca order, the quantity (and value) it has delivered.
 * A fill from the stream or from the account's FILL activities is delivered
 * only for the part above that mark, so the same execution seen twice (stream
 * and reconciliation, or a resent message) counts once, and a stream message
 * that reveals missed executions delivers them too. Execution ids seen on the
 * stream are remembered as a first guard. Fill ids are deterministic:
 * `<orderId>-f<n>` with n the order's cumulative filled quantity after the
 * fill, the same whichever source reported it.
 *
 * Reconciliation. Alpaca does not replay `trade_updates` missed while
 * disconnected. After every reconnect (before any message of the new
 * connection is delivered) the adapter reads the FILL activities since the
 * last fill it knew (minus a margin) and the current state of every order it
 * still considers open, and reports what changed.
 *
 * Live trading is refused unless `live: true` is passed with the live URL, and
 * `live: true` is refused with any other URL (docs/configuration.md).
 */
import { createHash } from 'node:crypto';
import { AppError, type AccountState, type Fill, type Order, type OrderEvent, type OrderReplace, type OrderStatus, type Position } from '@stock-tracker/protocol';
import { tradingDateOf, US } from '@stock-tracker/rules';
import { sleep, systemClock, type BackoffOptions, type Clock, type FeedLogger } from '@stock-tracker/feeds';
import type { Broker, BrokerUpdate } from '../../types.ts';
import { AlpacaApiError } from './errors.ts';
import { FillLedger } from './fills.ts';
import { ALPACA_LIVE_HOST, ALPACA_PAPER_URL, AlpacaRest, type AlpacaRestOptions } from './rest.ts';
import { AlpacaTradeStream, alpacaStreamUrlFor, type TradeStreamStatus } from './stream.ts';
import { isFinalStatus, type AlpacaFillActivity, type AlpacaOrder, type AlpacaReplaceRequest, type AlpacaTradeUpdate } from './wire.ts';

export interface AlpacaBrokerOptions {
  keyId: string;
  secretKey: string;
  /** REST base. Default https://paper-api.alpaca.markets (paper). */
  baseUrl?: string;
  /** trade_updates stream. Default: the REST host's /stream (wss). */
  streamUrl?: string;
  /** Must be true to use the live endpoint (real money); refused with any other endpoint. */
  live?: boolean;
  /** The core account the orders belong to (copied into fills). */
  accountId: string;
  clock?: Clock;
  log?: FeedLogger;
  rest?: Pick<AlpacaRestOptions, 'retries' | 'backoff' | 'timeoutMs' | 'maxRateLimitWaitMs' | 'onRetry' | 'fetch'>;
  stream?: { backoff?: BackoffOptions; stepTimeoutMs?: number; pingIntervalMs?: number };
  /** How far before the last known fill reconciliation looks again (clock skew between us and Alpaca). Default 60 s. */
  reconcileMarginMs?: number;
  /** After a submit that got no answer, ask Alpaca about it (by client_order_id) this much later. Default 2 s. */
  unknownSubmitCheckMs?: number;
}

export interface AlpacaBrokerStats {
  fills: number;
  /** Fills (or parts) dropped because they had been delivered already. */
  duplicateFills: number;
  /** Fills delivered by reconciliation rather than by the stream. */
  reconciledFills: number;
  reconciliations: number;
  /** Updates about orders this broker did not place (placed elsewhere on the account): ignored. */
  foreignUpdates: number;
  /** Replacements shrunk (or cancelled) because the old order filled more while being replaced. */
  raceCorrections: number;
  stream: TradeStreamStatus;
}

/** Alpaca's client_order_id is at most 48 characters (documented); longer core ids are hashed, deterministically. */
export function alpacaClientOrderId(coreId: string): string {
  if (coreId.length <= 48) return coreId;
  return `st-${createHash('sha256').update(coreId).digest('hex').slice(0, 45)}`;
}

export function isLiveAlpacaUrl(url: string): boolean {
  try {
    return new URL(url).hostname.toLowerCase() === ALPACA_LIVE_HOST;
  } catch {
    return false;
  }
}

interface Leg {
  alpacaId: string;
  /** Alpaca's submission time of this order (epoch ms). */
  createdAt: number;
  /** What has been delivered for this Alpaca order (its filled quantity only grows). */
  ledger: FillLedger;
}

interface Tracked {
  order: Order;
  /** Alpaca client_order_ids of the chain (original, then each replacement's). */
  cids: string[];
  legs: Leg[];
  replaces: number;
  /** Total filled qty delivered over every leg. */
  filledQty: number;
  filledValue: number;
  /** A replace in flight: the old Alpaca order and what had been delivered on it when the remainder was computed. */
  replacing: { oldId: string; deliveredOnOld: number } | null;
}


export class AlpacaBroker implements Broker {
  readonly name = 'alpaca';
  readonly live: boolean;
  readonly rest: AlpacaRest;
  readonly stream: AlpacaTradeStream;
  private readonly o: AlpacaBrokerOptions;
  private readonly clock: Clock;
  private readonly listeners = new Set<(u: BrokerUpdate) => void>();
  private readonly byOrderId = new Map<string, Tracked>();
  private readonly byAlpacaId = new Map<string, Tracked>();
  private readonly byCid = new Map<string, Tracked>();
  private readonly executions = new Set<string>();
  private readonly executionOrder: string[] = [];
  /** Newest fill time known (epoch ms): where reconciliation starts reading. */
  private lastFillTs: number;
  private readonly counters = { fills: 0, duplicateFills: 0, reconciledFills: 0, reconciliations: 0, foreignUpdates: 0, raceCorrections: 0 };

  constructor(o: AlpacaBrokerOptions) {
    const baseUrl = o.baseUrl ?? ALPACA_PAPER_URL;
    const streamUrl = o.streamUrl ?? alpacaStreamUrlFor(baseUrl);
    const live = o.live === true;
    if (!live && (isLiveAlpacaUrl(baseUrl) || isLiveAlpacaUrl(streamUrl))) {
      throw new Error(`AlpacaBroker: ${baseUrl} is Alpaca's live (real money) endpoint; live trading needs live: true (ALPACA_TRADING_LIVE=true)`);
    }
    if (live && !(isLiveAlpacaUrl(baseUrl) && isLiveAlpacaUrl(streamUrl))) {
      throw new Error(`AlpacaBroker: live: true needs the live endpoint https://${ALPACA_LIVE_HOST} (got ${baseUrl}, stream ${streamUrl})`);
    }
    this.o = o;
    this.live = live;
    this.clock = o.clock ?? systemClock;
    this.lastFillTs = this.clock.now();
    this.rest = new AlpacaRest({ keyId: o.keyId, secretKey: o.secretKey, baseUrl, clock: this.clock, ...o.rest });
    this.stream = new AlpacaTradeStream({ keyId: o.keyId, secretKey: o.secretKey, url: streamUrl, clock: this.clock, log: o.log, ...o.stream });
  }

  /** Connects the trade_updates stream; resolves once listening. Rejects (AlpacaAuthError) when the keys are refused. */
  start(): Promise<void> {
    return this.stream.start({
      onUpdate: (u) => this.onTradeUpdate(u),
      // After a reconnect, and at the first connection when orders were resumed (a restart).
      onListening: (reconnect) => (reconnect || this.byOrderId.size > 0 ? this.reconcile() : undefined),
    });
  }

  stop(): Promise<void> {
    return this.stream.stop();
  }

  stats(): AlpacaBrokerStats {
    return { ...this.counters, stream: this.stream.status() };
  }

  onUpdate(listener: (u: BrokerUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async submit(order: Order): Promise<Order> {
    if (this.byOrderId.has(order.id)) throw new AppError('CONFLICT', `order ${order.id} was submitted already`);
    // Alpaca fills notional orders in fractional shares; the core counts whole shares (Fill.qty is an integer).
    if (order.notional !== null) throw new AppError('ORDER_INVALID', 'notional orders are not supported with the Alpaca broker (Alpaca fills them in fractional shares): give a quantity');
    const cid = alpacaClientOrderId(order.clientOrderId);
    const t: Tracked = { order: { ...order }, cids: [cid], legs: [], replaces: 0, filledQty: 0, filledValue: 0, replacing: null };
    // Tracked before the request: the stream may report the order before the POST answers.
    this.byOrderId.set(order.id, t);
    this.byCid.set(cid, t);
    let placed: AlpacaOrder;
    try {
      placed = await this.rest.submitOrder({
        symbol: order.symbol,
        side: order.side,
        type: order.type,
        time_in_force: order.tif,
        client_order_id: cid,
        qty: order.qty,
        ...(order.limitPrice !== null ? { limit_price: order.limitPrice } : {}),
        ...(order.stopPrice !== null ? { stop_price: order.stopPrice } : {}),
      });
    } catch (err) {
      // A 4xx refusal is final (429 included: not processed). Without an answer, or with 5xx to the end,
      // the order may exist at Alpaca: keep it and find out by its client_order_id shortly.
      const unknown = err instanceof AlpacaApiError && (err.brokerStatus === 0 || err.brokerStatus >= 500);
      if (unknown) void this.settleUnknownSubmit(t);
      else this.untrack(t);
      throw err;
    }
    this.attach(t, placed);
    this.applyOrderState(t, placed, placed.updatedAt ?? placed.createdAt, 'accepted by Alpaca');
    return { ...t.order };
  }

  async cancel(orderId: string): Promise<void> {
    const t = this.byOrderId.get(orderId);
    if (!t) throw new AppError('NOT_FOUND', `order ${orderId} is not known to the Alpaca broker`);
    const leg = t.legs[t.legs.length - 1];
    if (!leg) throw new AppError('BROKER_UNAVAILABLE', `order ${orderId} has no Alpaca id yet (its submit was not answered)`);
    try {
      await this.rest.cancelOrder(leg.alpacaId);
    } catch (err) {
      throw notOpen(err, orderId);
    }
    // The `canceled` event arrives on the stream; Alpaca may still fill before it.
  }

  async replace(orderId: string, changes: OrderReplace): Promise<Order> {
    const t = this.byOrderId.get(orderId);
    if (!t) throw new AppError('NOT_FOUND', `order ${orderId} is not known to the Alpaca broker`);
    const leg = t.legs[t.legs.length - 1];
    if (!leg) throw new AppError('BROKER_UNAVAILABLE', `order ${orderId} has no Alpaca id yet (its submit was not answered)`);
    // Alpaca's replacement is a fresh order (filled 0) for `qty` shares, so it is sent what remains;
    // the core's quantity is the total, filled part included (a replace keeps the filled quantity).
    const total = changes.qty ?? t.order.qty;
    const remaining = total - t.filledQty;
    if (remaining <= 0) throw new AppError('ORDER_INVALID', `order ${orderId}: the new quantity ${total} is not above the ${t.filledQty} already filled`);
    let placed: AlpacaOrder;
    try {
      placed = await this.replaceLeg(t, leg, {
        ...(changes.qty !== undefined || t.filledQty > 0 ? { qty: remaining } : {}),
        ...(changes.limitPrice !== undefined ? { limit_price: changes.limitPrice } : {}),
        ...(changes.stopPrice !== undefined ? { stop_price: changes.stopPrice } : {}),
        ...(changes.tif !== undefined ? { time_in_force: changes.tif } : {}),
      });
    } catch (err) {
      throw notOpen(err, orderId);
    }
    t.order = {
      ...t.order,
      qty: changes.qty ?? t.order.qty,
      limitPrice: changes.limitPrice ?? t.order.limitPrice,
      stopPrice: changes.stopPrice ?? t.order.stopPrice,
      tif: changes.tif ?? t.order.tif,
    };
    this.applyOrderState(t, placed, placed.updatedAt ?? placed.createdAt, 'replaced at Alpaca');
    return { ...t.order };
  }

  /** PATCHes one Alpaca order of the chain (the replacement gets `<clientOrderId>.r<n>`) and tracks the new one. */
  private async replaceLeg(t: Tracked, leg: Leg, body: Omit<AlpacaReplaceRequest, 'client_order_id'>): Promise<AlpacaOrder> {
    const n = t.replaces + 1;
    const cid = alpacaClientOrderId(`${t.order.clientOrderId}.r${n}`);
    this.byCid.set(cid, t);
    t.replacing = { oldId: leg.alpacaId, deliveredOnOld: leg.ledger.deliveredQty };
    let placed: AlpacaOrder;
    try {
      placed = await this.rest.replaceOrder(leg.alpacaId, { ...body, client_order_id: cid });
    } catch (err) {
      this.byCid.delete(cid);
      t.replacing = null;
      throw err;
    }
    t.replaces = n;
    t.cids.push(cid);
    this.attach(t, placed);
    return placed;
  }

  /**
   * The old order filled more between the PATCH and Alpaca's switch than the
   * remainder sent assumed: take those shares off the replacement (or cancel
   * it when nothing would be left), so the order never exceeds its quantity.
   */
  private async shrinkAfterRace(t: Tracked, extra: number): Promise<void> {
    const leg = t.legs[t.legs.length - 1];
    if (!leg) return;
    try {
      const cur = await this.rest.getOrder(leg.alpacaId);
      if (isFinalStatus(cur.status) || cur.qty === null) return;
      const qty = cur.qty - extra;
      if (qty <= cur.filledQty + 1e-9) await this.rest.cancelOrder(cur.id);
      else await this.replaceLeg(t, leg, { qty });
      this.counters.raceCorrections += 1;
    } catch (err) {
      this.o.log?.warn({ orderId: t.order.id, extra }, `alpaca: could not take ${extra} shares off the replacement of ${t.order.id}: ${(err as Error).message}`);
    }
  }

  /** The Alpaca account in the core's shape (positions included). Risk state is the core's, so it is neutral here. */
  async account(): Promise<AccountState> {
    const [a, positions] = await Promise.all([this.rest.getAccount(), this.positions()]);
    const now = this.clock.now();
    const market = positions.reduce((s, p) => s + p.marketValue, 0);
    return {
      accountId: this.o.accountId,
      ts: now,
      cash: a.cash,
      pendingCash: 0,
      buyingPower: a.buyingPower,
      reservedCash: Math.max(0, a.cash - a.buyingPower),
      equity: a.equity,
      startEquity: a.equity,
      dayStartEquity: a.equity,
      peakEquity: a.equity,
      realizedPnl: 0,
      unrealizedPnl: positions.reduce((s, p) => s + p.unrealizedPnl, 0),
      fees: 0,
      taxes: 0,
      grossExposure: Math.abs(market),
      openOrders: [...this.byOrderId.values()].filter((t) => !isFinalCore(t.order.status)).length,
      positions,
      killSwitch: { active: false, code: null, reason: null, since: null, untilTradingDate: null },
      cooldownUntil: null,
      losingStreak: 0,
      tradingDate: tradingDateOf(now, US.timeZone),
    };
  }

  async positions(): Promise<Position[]> {
    const rows = await this.rest.getPositions();
    // Long positions only: short selling is not supported by the product (a short shows as qty < 0 at Alpaca).
    return rows
      .filter((p) => p.qty > 0)
      .map((p) => {
        const last = p.currentPrice;
        const marketValue = p.marketValue ?? (last !== null ? last * p.qty : p.avgEntryPrice * p.qty);
        return {
          symbol: p.symbol,
          qty: p.qty,
          settledQty: p.qty,
          unsettledQty: 0,
          avgCost: p.avgEntryPrice,
          costBasis: p.avgEntryPrice * p.qty,
          lastPrice: last,
          marketValue,
          unrealizedPnl: p.unrealizedPl ?? marketValue - p.avgEntryPrice * p.qty,
          realizedPnl: 0,
          openedTs: 0,
          stopLoss: null,
          takeProfit: null,
          trailingStop: null,
          highWater: null,
        };
      });
  }

  /**
   * After a restart: takes over the core's open orders (the core persisted
   * them; this broker instance knows nothing). Each is found at Alpaca by its
   * client_order_id, replacements by theirs (`<clientOrderId>.r<n>`, so the
   * chain is found again), and the core's filled quantity becomes the
   * delivered mark. Fills made while the process was down then come out of
   * the next reconciliation, exactly once and with their real prices: call
   * it before `start()`, which then reconciles as soon as it listens.
   */
  async resume(orders: readonly Order[]): Promise<void> {
    for (const order of orders) {
      if (isFinalCore(order.status) || this.byOrderId.has(order.id)) continue;
      const cid = alpacaClientOrderId(order.clientOrderId);
      const t: Tracked = { order: { ...order }, cids: [cid], legs: [], replaces: 0, filledQty: 0, filledValue: 0, replacing: null };
      let current: AlpacaOrder | null = await this.rest.getOrderByClientId(cid).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'NOT_FOUND') return null;
        throw err;
      });
      this.byOrderId.set(order.id, t);
      this.byCid.set(cid, t);
      if (!current) continue; // its submit never reached Alpaca: reconciliation reports it rejected
      // Spread the core's filled quantity over the chain, oldest leg first.
      let left = order.filledQty;
      const avg = order.avgFillPrice ?? 0;
      for (let i = 0; ; i++) {
        this.attach(t, current);
        const leg = t.legs[t.legs.length - 1]!;
        const mark = Math.min(left, current.filledQty);
        leg.ledger = new FillLedger(mark, mark * avg);
        left -= mark;
        if (current.status !== 'replaced' || !current.replacedBy || i >= 10) break;
        t.replaces = i + 1;
        const next = alpacaClientOrderId(`${order.clientOrderId}.r${t.replaces}`);
        t.cids.push(next);
        this.byCid.set(next, t);
        current = await this.rest.getOrder(current.replacedBy);
      }
      t.filledQty = order.filledQty;
      t.filledValue = order.filledQty * avg;
      this.lastFillTs = Math.min(this.lastFillTs, order.updatedTs);
    }
  }

  /** A submit that got no answer: after a pause, ask Alpaca by client_order_id; report it accepted (via its state) or rejected. */
  private async settleUnknownSubmit(t: Tracked): Promise<void> {
    await sleep(this.clock, this.o.unknownSubmitCheckMs ?? 2_000);
    if (t.legs.length > 0 || !this.byOrderId.has(t.order.id)) return; // the stream or a reconciliation knew first
    try {
      const found = await this.rest.getOrderByClientId(t.cids[0]!);
      this.attach(t, found);
      this.applyOrderState(t, found, found.updatedAt ?? found.createdAt, 'found at Alpaca after an unanswered submit');
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') {
        this.setStatus(t, 'rejected', this.clock.now(), 'the submit never reached Alpaca', 'BROKER_UNAVAILABLE');
        this.untrack(t);
      }
      // Anything else: the next reconciliation decides.
    }
  }

  /** Reads what happened while the stream was away: fills first (so a `filled` status follows its fill), then order states. */
  async reconcile(): Promise<void> {
    this.counters.reconciliations += 1;
    const since = this.lastFillTs - (this.o.reconcileMarginMs ?? 60_000);
    const fills = await this.rest.fillsSince(since);
    for (const a of fills) this.onActivity(a);
    // One listing of every order submitted since the oldest open one (replacements included) instead of one
    // request per order: the account has 200 requests a minute. Orders it misses are asked for one by one.
    const open = [...this.byOrderId.values()].filter((t) => !isFinalCore(t.order.status));
    const oldest = Math.min(...open.flatMap((t) => (t.legs[0] ? [t.legs[0].createdAt] : [])));
    const known = new Map<string, AlpacaOrder>();
    if (Number.isFinite(oldest)) {
      for (const o of await this.rest.listOrders({ status: 'all', after: oldest - 1_000, direction: 'asc', limit: 500 })) known.set(o.id, o);
    }
    const get = async (id: string) => known.get(id) ?? (await this.rest.getOrder(id));
    for (const t of open) {
      if (isFinalCore(t.order.status)) continue;
      let leg = t.legs[t.legs.length - 1];
      let current: AlpacaOrder | null = null;
      if (!leg) {
        // A submit whose answer was lost: the order exists only if Alpaca knows its client_order_id.
        current = await this.rest.getOrderByClientId(t.cids[0]!).catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'NOT_FOUND') return null;
          throw err;
        });
        if (!current) {
          this.setStatus(t, 'rejected', this.clock.now(), 'the submit never reached Alpaca', 'BROKER_UNAVAILABLE');
          this.untrack(t);
          continue;
        }
        this.attach(t, current);
        leg = t.legs[t.legs.length - 1]!;
      }
      current ??= await get(leg.alpacaId);
      // Follow replacements made while away (a bounded chain).
      for (let i = 0; i < 10 && current.status === 'replaced' && current.replacedBy; i++) {
        this.catchUpFills(t, current, 'reconciliation');
        if (t.replacing?.oldId === current.id) {
          // The `replaced` message was missed: the same race check as on the stream.
          const extra = current.filledQty - t.replacing.deliveredOnOld;
          t.replacing = null;
          if (extra > 1e-9) void this.shrinkAfterRace(t, extra);
        }
        current = await get(current.replacedBy);
        this.attach(t, current);
      }
      this.applyOrderState(t, current, current.updatedAt ?? this.clock.now(), 'reconciled after a reconnect');
    }
  }

  private emit(u: BrokerUpdate): void {
    for (const l of this.listeners) l(u);
  }

  private untrack(t: Tracked): void {
    this.byOrderId.delete(t.order.id);
    for (const c of t.cids) this.byCid.delete(c);
    for (const l of t.legs) this.byAlpacaId.delete(l.alpacaId);
  }

  private attach(t: Tracked, o: AlpacaOrder): void {
    if (t.legs.some((l) => l.alpacaId === o.id)) return;
    t.legs.push({ alpacaId: o.id, createdAt: o.createdAt, ledger: new FillLedger() });
    this.byAlpacaId.set(o.id, t);
  }

  private find(o: AlpacaOrder): Tracked | undefined {
    const t = this.byAlpacaId.get(o.id) ?? this.byCid.get(o.clientOrderId);
    if (t) this.attach(t, o);
    return t;
  }

  private onTradeUpdate(u: AlpacaTradeUpdate): void {
    const t = this.find(u.order);
    if (!t) {
      this.counters.foreignUpdates += 1;
      return;
    }
    const ts = u.timestamp ?? u.order.updatedAt ?? this.clock.now();
    if ((u.event === 'fill' || u.event === 'partial_fill') && u.qty !== null && u.price !== null) {
      if (u.executionId !== null) {
        if (this.executions.has(u.executionId)) {
          this.counters.duplicateFills += 1;
          return;
        }
        this.rememberExecution(u.executionId);
      }
      this.deliverFill(t, u.order.id, u.order.filledQty, u.qty, u.price, ts, u.order.filledAvgPrice, 'stream');
    }
    if (u.event === 'replaced') {
      // The old order's last word: its final filled quantity (anything filled on it not seen yet comes out here).
      this.catchUpFills(t, u.order, 'stream');
      const r = t.replacing;
      if (r && r.oldId === u.order.id) {
        t.replacing = null;
        const extra = u.order.filledQty - r.deliveredOnOld;
        if (extra > 1e-9) void this.shrinkAfterRace(t, extra);
      }
      return; // the replacing order's own events follow
    }
    if (u.event === 'order_replace_rejected' || u.event === 'order_cancel_rejected') {
      this.emitOrder(t, t.order.status, ts, `Alpaca: ${u.event.replace(/_/g, ' ')}`, 'BROKER_REJECTED');
      return;
    }
    this.applyOrderState(t, u.order, ts, eventReason(u.event));
  }

  private onActivity(a: AlpacaFillActivity): void {
    const t = this.byAlpacaId.get(a.orderId);
    if (!t) {
      this.counters.foreignUpdates += 1;
      return;
    }
    this.deliverFill(t, a.orderId, a.cumQty, a.qty, a.price, a.transactionTime, null, 'reconciliation');
  }

  /** The order says more is filled than was delivered, without the executions (none listed): deliver the rest at the average. */
  private catchUpFills(t: Tracked, o: AlpacaOrder, source: 'stream' | 'reconciliation'): void {
    const leg = t.legs.find((l) => l.alpacaId === o.id);
    if (!leg) return;
    const ts = o.filledAt ?? o.updatedAt ?? this.clock.now();
    for (const p of leg.ledger.catchUp(o.filledQty, o.filledAvgPrice)) this.pushFill(t, p.qty, p.price, ts, source);
  }

  /**
   * Delivers the part of an execution not delivered yet (FillLedger). `cum`
   * is the Alpaca order's filled quantity after the execution, `qty`/`price`
   * the execution's, `avg` the order's average when the source tells it.
   */
  private deliverFill(t: Tracked, alpacaId: string, cum: number, qty: number, price: number, ts: number, avg: number | null, source: 'stream' | 'reconciliation'): void {
    const leg = t.legs.find((l) => l.alpacaId === alpacaId);
    if (!leg) return;
    const pieces = leg.ledger.take(cum, qty, price, avg);
    // Nothing, or less than the execution's quantity, means (part of) it had been delivered already.
    if (pieces.length === 0 || (pieces.length === 1 && pieces[0]!.qty < qty - 1e-9)) this.counters.duplicateFills += 1;
    for (const p of pieces) this.pushFill(t, p.qty, p.price, ts, source);
  }

  private pushFill(t: Tracked, qty: number, price: number, ts: number, source: 'stream' | 'reconciliation'): void {
    t.filledQty += qty;
    t.filledValue += qty * price;
    if (ts > this.lastFillTs) this.lastFillTs = ts;
    this.counters.fills += 1;
    if (source === 'reconciliation') this.counters.reconciledFills += 1;
    const fill: Fill = {
      id: `${t.order.id}-f${fmtQty(t.filledQty)}`,
      orderId: t.order.id,
      accountId: this.o.accountId,
      ts,
      symbol: t.order.symbol,
      side: t.order.side,
      qty,
      price,
      // Alpaca charges no commission on US equities; regulatory fees are booked later as account activities (not modelled).
      fee: 0,
      tax: 0,
      liquidity: 'broker',
      strategyId: t.order.strategyId,
    };
    t.order = { ...t.order, filledQty: t.filledQty, avgFillPrice: round4(t.filledValue / t.filledQty), updatedTs: Math.max(t.order.updatedTs, ts) };
    this.emit({ type: 'fill', fill });
  }

  private rememberExecution(id: string): void {
    this.executions.add(id);
    this.executionOrder.push(id);
    // Bounded memory: the cumulative-quantity mark is the real guard; ids only catch exact resends.
    if (this.executionOrder.length > 10_000) this.executions.delete(this.executionOrder.shift()!);
  }

  /** Moves the core order to the status the Alpaca order implies; one order event per change. */
  private applyOrderState(t: Tracked, o: AlpacaOrder, ts: number, reason: string): void {
    if (o.status === 'replaced') return;
    // The order's status must not run ahead of its fills (e.g. `filled` read by reconciliation before its execution).
    if (o.status === 'filled' || o.status === 'partially_filled') this.catchUpFills(t, o, 'reconciliation');
    const next = mapStatus(o.status, t.filledQty);
    if (next === null) return;
    const code = next === 'rejected' ? 'BROKER_REJECTED' : null;
    this.setStatus(t, next, ts, reason, code);
  }

  private setStatus(t: Tracked, status: OrderStatus, ts: number, reason: string, code: string | null): void {
    if (t.order.status === status) return;
    // Statuses only move forward: final stays final, and a late `accepted` answer must not undo a `new` event's `accepted`
    // (the stream often reports an order before the POST that created it has answered).
    if (isFinalCore(t.order.status) || RANK[status] < RANK[t.order.status]) return;
    this.emitOrder(t, status, ts, reason, code);
  }

  private emitOrder(t: Tracked, status: OrderStatus, ts: number, reason: string, code: string | null): void {
    const prevStatus = t.order.status;
    t.order = { ...t.order, status, updatedTs: Math.max(t.order.updatedTs, ts), reason, code };
    const event: OrderEvent = { ts, orderId: t.order.id, status, prevStatus, reason, code, order: { ...t.order } };
    this.emit({ type: 'order', event });
  }
}

const RANK: Record<OrderStatus, number> = { new: 0, accepted: 1, partially_filled: 2, filled: 3, cancelled: 3, rejected: 3, expired: 3 };

function isFinalCore(s: OrderStatus): boolean {
  return s === 'filled' || s === 'cancelled' || s === 'rejected' || s === 'expired';
}

/** Alpaca order status → the core's; null = no change to report (pending states keep the current one). */
export function mapStatus(alpaca: string, filledQty: number): OrderStatus | null {
  switch (alpaca) {
    case 'pending_new':
    case 'accepted':
    case 'accepted_for_bidding':
      return 'new';
    case 'new':
    case 'held':
      return filledQty > 0 ? 'partially_filled' : 'accepted';
    case 'partially_filled':
      return 'partially_filled';
    case 'filled':
      return 'filled';
    case 'canceled':
      return 'cancelled';
    case 'expired':
      return 'expired';
    case 'rejected':
      return 'rejected';
    default:
      // pending_cancel, pending_replace, stopped, calculated, done_for_day, suspended: still working, nothing to report.
      return null;
  }
}

function eventReason(event: string): string {
  switch (event) {
    case 'new':
      return 'routed to the exchange by Alpaca';
    case 'fill':
      return 'filled at Alpaca';
    case 'partial_fill':
      return 'partially filled at Alpaca';
    case 'canceled':
      return 'cancelled at Alpaca';
    case 'expired':
      return 'expired at Alpaca (time in force)';
    case 'rejected':
      return 'rejected by Alpaca';
    default:
      return `Alpaca: ${event.replace(/_/g, ' ')}`;
  }
}

/** Cancel/replace of an order Alpaca no longer considers open (422 "not cancelable", "already filled"): ORDER_NOT_OPEN. */
function notOpen(err: unknown, orderId: string): unknown {
  if (err instanceof AlpacaApiError && err.brokerStatus === 422 && /cancel|replace|state|filled|not open|closed/i.test(err.brokerMessage)) {
    return new AppError('ORDER_NOT_OPEN', `order ${orderId}: ${err.brokerMessage}`, err.details);
  }
  return err;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const fmtQty = (q: number) => String(Math.round(q * 1e6) / 1e6);
