/**
 * Alpaca Trading API v2 wire shapes (docs/trading.md, "Alpaca broker") and
 * their decoding. Alpaca sends decimals as JSON strings "to preserve full
 * precision"; they are decoded to numbers here (US equities: whole shares or
 * small fractions, cent prices), at the edge, so nothing else sees strings.
 * Decoding is lenient about extra fields (the API adds fields within v2) and
 * strict about the ones the adapter relies on.
 */

export const ALPACA_ORDER_TYPES = ['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'] as const;
export type AlpacaOrderType = (typeof ALPACA_ORDER_TYPES)[number];
export const ALPACA_TIME_IN_FORCE = ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'] as const;
export type AlpacaTimeInForce = (typeof ALPACA_TIME_IN_FORCE)[number];
export type AlpacaSide = 'buy' | 'sell';

/** Order statuses documented for the order entity. */
export const ALPACA_OPEN_STATUSES = ['new', 'partially_filled', 'accepted', 'pending_new', 'accepted_for_bidding', 'pending_cancel', 'pending_replace', 'stopped', 'calculated', 'held', 'done_for_day', 'suspended'] as const;
export const ALPACA_FINAL_STATUSES = ['filled', 'canceled', 'expired', 'replaced', 'rejected'] as const;

/** Body of POST /v2/orders. `client_order_id` is always sent: it is what makes a retried submit safe. */
export interface AlpacaOrderRequest {
  symbol: string;
  qty?: number;
  notional?: number;
  side: AlpacaSide;
  type: AlpacaOrderType;
  time_in_force: AlpacaTimeInForce;
  limit_price?: number;
  stop_price?: number;
  trail_price?: number;
  trail_percent?: number;
  extended_hours?: boolean;
  /** At most 48 characters (documented). */
  client_order_id: string;
}

/** Body of PATCH /v2/orders/{id}; the replacement gets its own client_order_id (idempotent retries again). */
export interface AlpacaReplaceRequest {
  qty?: number;
  time_in_force?: AlpacaTimeInForce;
  limit_price?: number;
  stop_price?: number;
  trail?: number;
  client_order_id: string;
}

export interface AlpacaOrder {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: AlpacaSide;
  type: string;
  timeInForce: string;
  status: string;
  /** null for notional orders until filled. */
  qty: number | null;
  notional: number | null;
  filledQty: number;
  filledAvgPrice: number | null;
  limitPrice: number | null;
  stopPrice: number | null;
  extendedHours: boolean;
  /** Epoch ms. */
  createdAt: number;
  updatedAt: number | null;
  submittedAt: number | null;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  failedAt: number | null;
  replacedAt: number | null;
  replacedBy: string | null;
  replaces: string | null;
}

export interface AlpacaAccount {
  id: string;
  accountNumber: string;
  status: string;
  currency: string;
  cash: number;
  buyingPower: number;
  equity: number;
  portfolioValue: number;
  tradingBlocked: boolean;
  accountBlocked: boolean;
  patternDayTrader: boolean;
}

export interface AlpacaPosition {
  symbol: string;
  /** Negative for short positions (documented); shorting is not supported by the product. */
  qty: number;
  avgEntryPrice: number;
  marketValue: number | null;
  currentPrice: number | null;
  unrealizedPl: number | null;
  side: string;
}

/** A FILL account activity (GET /v2/account/activities/FILL): one execution. */
export interface AlpacaFillActivity {
  id: string;
  orderId: string;
  symbol: string;
  side: AlpacaSide;
  qty: number;
  price: number;
  /** The order's filled quantity after this execution. */
  cumQty: number;
  leavesQty: number;
  type: string;
  orderStatus: string | null;
  transactionTime: number;
}

/** One `trade_updates` message's `data`. */
export interface AlpacaTradeUpdate {
  event: string;
  order: AlpacaOrder;
  executionId: string | null;
  /** Fill events: this execution's price and quantity. */
  price: number | null;
  qty: number | null;
  positionQty: number | null;
  /** Epoch ms; null when the event carries none (`new`, `pending_*`). */
  timestamp: number | null;
}

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw new WireError(`field ${k} is missing or not a string`);
  return v;
}

function optStr(o: Obj, k: string): string | null {
  const v = o[k];
  return typeof v === 'string' && v !== '' ? v : null;
}

/** A decimal sent as a string (or, leniently, a number); null/absent gives null. */
function optNum(o: Obj, k: string): number | null {
  const v = o[k];
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new WireError(`field ${k} is not a number (${JSON.stringify(v)})`);
  return n;
}

function num(o: Obj, k: string): number {
  const n = optNum(o, k);
  if (n === null) throw new WireError(`field ${k} is missing`);
  return n;
}

/** RFC 3339 with any offset (documented) and up to nanoseconds; epoch ms. */
export function parseTime(v: string): number {
  const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(t)) throw new WireError(`bad time ${JSON.stringify(v.slice(0, 40))}`);
  return t;
}

function optTime(o: Obj, k: string): number | null {
  const v = optStr(o, k);
  return v === null ? null : parseTime(v);
}

function side(o: Obj): AlpacaSide {
  const s = str(o, 'side');
  if (s !== 'buy' && s !== 'sell') throw new WireError(`side ${JSON.stringify(s)}`);
  return s;
}

export function decodeOrder(v: unknown): AlpacaOrder {
  if (!isObj(v)) throw new WireError('order is not an object');
  return {
    id: str(v, 'id'),
    clientOrderId: str(v, 'client_order_id'),
    symbol: str(v, 'symbol'),
    side: side(v),
    // `order_type` is the documented name; `type` the older alias still sent.
    type: optStr(v, 'type') ?? str(v, 'order_type'),
    timeInForce: str(v, 'time_in_force'),
    status: str(v, 'status'),
    qty: optNum(v, 'qty'),
    notional: optNum(v, 'notional'),
    filledQty: optNum(v, 'filled_qty') ?? 0,
    filledAvgPrice: optNum(v, 'filled_avg_price'),
    limitPrice: optNum(v, 'limit_price'),
    stopPrice: optNum(v, 'stop_price'),
    extendedHours: v['extended_hours'] === true,
    createdAt: parseTime(str(v, 'created_at')),
    updatedAt: optTime(v, 'updated_at'),
    submittedAt: optTime(v, 'submitted_at'),
    filledAt: optTime(v, 'filled_at'),
    canceledAt: optTime(v, 'canceled_at'),
    expiredAt: optTime(v, 'expired_at'),
    failedAt: optTime(v, 'failed_at'),
    replacedAt: optTime(v, 'replaced_at'),
    replacedBy: optStr(v, 'replaced_by'),
    replaces: optStr(v, 'replaces'),
  };
}

export function decodeAccount(v: unknown): AlpacaAccount {
  if (!isObj(v)) throw new WireError('account is not an object');
  return {
    id: str(v, 'id'),
    accountNumber: optStr(v, 'account_number') ?? '',
    status: str(v, 'status'),
    currency: optStr(v, 'currency') ?? 'USD',
    cash: num(v, 'cash'),
    buyingPower: num(v, 'buying_power'),
    equity: optNum(v, 'equity') ?? num(v, 'portfolio_value'),
    portfolioValue: optNum(v, 'portfolio_value') ?? num(v, 'equity'),
    tradingBlocked: v['trading_blocked'] === true,
    accountBlocked: v['account_blocked'] === true,
    patternDayTrader: v['pattern_day_trader'] === true,
  };
}

export function decodePosition(v: unknown): AlpacaPosition {
  if (!isObj(v)) throw new WireError('position is not an object');
  return {
    symbol: str(v, 'symbol'),
    qty: num(v, 'qty'),
    avgEntryPrice: num(v, 'avg_entry_price'),
    marketValue: optNum(v, 'market_value'),
    currentPrice: optNum(v, 'current_price'),
    unrealizedPl: optNum(v, 'unrealized_pl'),
    side: optStr(v, 'side') ?? 'long',
  };
}

export function decodeFillActivity(v: unknown): AlpacaFillActivity {
  if (!isObj(v)) throw new WireError('activity is not an object');
  return {
    id: str(v, 'id'),
    orderId: str(v, 'order_id'),
    symbol: str(v, 'symbol'),
    side: side(v),
    qty: num(v, 'qty'),
    price: num(v, 'price'),
    cumQty: num(v, 'cum_qty'),
    leavesQty: optNum(v, 'leaves_qty') ?? 0,
    type: optStr(v, 'type') ?? 'fill',
    orderStatus: optStr(v, 'order_status'),
    transactionTime: parseTime(str(v, 'transaction_time')),
  };
}

export function decodeTradeUpdate(v: unknown): AlpacaTradeUpdate {
  if (!isObj(v)) throw new WireError('trade update data is not an object');
  return {
    event: str(v, 'event'),
    order: decodeOrder(v['order']),
    executionId: optStr(v, 'execution_id'),
    price: optNum(v, 'price'),
    qty: optNum(v, 'qty'),
    positionQty: optNum(v, 'position_qty'),
    timestamp: optTime(v, 'timestamp'),
  };
}

export function decodeList<T>(v: unknown, decode: (x: unknown) => T, what: string): T[] {
  if (!Array.isArray(v)) throw new WireError(`${what}: the answer is not a JSON array`);
  return v.map(decode);
}

/** Request bodies: decimals as strings, as the API recommends ("to avoid truncation and precision errors"). */
export function encodeOrderRequest(r: AlpacaOrderRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { symbol: r.symbol, side: r.side, type: r.type, time_in_force: r.time_in_force, client_order_id: r.client_order_id };
  if (r.qty !== undefined) out['qty'] = String(r.qty);
  if (r.notional !== undefined) out['notional'] = String(r.notional);
  if (r.limit_price !== undefined) out['limit_price'] = String(r.limit_price);
  if (r.stop_price !== undefined) out['stop_price'] = String(r.stop_price);
  if (r.trail_price !== undefined) out['trail_price'] = String(r.trail_price);
  if (r.trail_percent !== undefined) out['trail_percent'] = String(r.trail_percent);
  if (r.extended_hours !== undefined) out['extended_hours'] = r.extended_hours;
  return out;
}

export function encodeReplaceRequest(r: AlpacaReplaceRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { client_order_id: r.client_order_id };
  if (r.qty !== undefined) out['qty'] = String(r.qty);
  if (r.time_in_force !== undefined) out['time_in_force'] = r.time_in_force;
  if (r.limit_price !== undefined) out['limit_price'] = String(r.limit_price);
  if (r.stop_price !== undefined) out['stop_price'] = String(r.stop_price);
  if (r.trail !== undefined) out['trail'] = String(r.trail);
  return out;
}

export const isFinalStatus = (status: string): boolean => (ALPACA_FINAL_STATUSES as readonly string[]).includes(status);
