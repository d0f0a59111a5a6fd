/**
 * Trading on the wire: orders, fills, positions, the account, risk limits,
 * strategy configuration, trading events and the backtest report. One
 * definition used by the pure trading core (@stock-tracker/trading), the
 * server (REST /api/trading, /ws/trading, storage), broker adapters, the web
 * app and the backtest CLI. Semantics: docs/trading.md.
 *
 * Conventions (as in events.ts): `ts` is epoch ms from market events, never the
 * wall clock; prices in the market's unit (VND, USD); quantities are whole
 * shares (no fractional shares); money is rounded to the market's currency unit
 * (VND: 1, USD: 0.01) at every fill, so sums are exact and reproducible.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Symbol } from './events.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 128 });

export const OrderSide = Type.Union([Type.Literal('buy'), Type.Literal('sell')]);
export type OrderSide = Static<typeof OrderSide>;

export const OrderType = Type.Union([Type.Literal('market'), Type.Literal('limit'), Type.Literal('stop'), Type.Literal('stop_limit')]);
export type OrderType = Static<typeof OrderType>;
export const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop_limit'];

export const TimeInForce = Type.Union([Type.Literal('day'), Type.Literal('gtc')]);
export type TimeInForce = Static<typeof TimeInForce>;

/** new → accepted → partially_filled → filled | cancelled | rejected | expired. */
export const OrderStatus = Type.Union([
  Type.Literal('new'),
  Type.Literal('accepted'),
  Type.Literal('partially_filled'),
  Type.Literal('filled'),
  Type.Literal('cancelled'),
  Type.Literal('rejected'),
  Type.Literal('expired'),
]);
export type OrderStatus = Static<typeof OrderStatus>;
export const FINAL_ORDER_STATUSES: readonly OrderStatus[] = ['filled', 'cancelled', 'rejected', 'expired'];
export const isFinalOrderStatus = (s: OrderStatus): boolean => s === 'filled' || s === 'cancelled' || s === 'rejected' || s === 'expired';

/** Who created an order. */
export const OrderSource = Type.Union([Type.Literal('manual'), Type.Literal('strategy'), Type.Literal('risk')]);
export type OrderSource = Static<typeof OrderSource>;

/** Exits attached to the position an order opens (percent of the average cost; null/absent = off). */
export const PositionExits = Type.Object({
  stopLossPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
  takeProfitPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 10_000 }))),
  trailingStopPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
});
export type PositionExits = Static<typeof PositionExits>;

/**
 * What a user, a strategy or the risk manager asks for. Exactly one of `qty`
 * (shares, a multiple of the lot) or `notional` (buy orders only: cash to
 * spend; the quantity is decided at each fill, rounded down to the lot, fees
 * included) is given. `limitPrice` for limit/stop_limit, `stopPrice` for
 * stop/stop_limit.
 */
export const OrderRequest = Type.Object({
  /** Idempotency key, unique per account: a second submit with the same key returns the first order. */
  clientOrderId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_\\-:.]+$' })),
  symbol: Symbol,
  side: OrderSide,
  type: OrderType,
  qty: Type.Optional(Type.Integer({ minimum: 1 })),
  notional: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  limitPrice: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  stopPrice: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  tif: Type.Optional(TimeInForce),
  exits: Type.Optional(PositionExits),
});
export type OrderRequest = Static<typeof OrderRequest>;

/** Changes a replace may make (a replace keeps the order id; filled quantity stays). */
export const OrderReplace = Type.Object({
  qty: Type.Optional(Type.Integer({ minimum: 1 })),
  limitPrice: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  stopPrice: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  tif: Type.Optional(TimeInForce),
});
export type OrderReplace = Static<typeof OrderReplace>;

export const Order = Type.Object({
  id: Id,
  clientOrderId: Id,
  accountId: Id,
  symbol: Symbol,
  side: OrderSide,
  type: OrderType,
  /** Ordered shares; for notional orders the shares bought so far (0 until the first fill). */
  qty: Type.Integer({ minimum: 0 }),
  notional: Nullable(Type.Number()),
  limitPrice: Nullable(Type.Number()),
  stopPrice: Nullable(Type.Number()),
  tif: TimeInForce,
  status: OrderStatus,
  filledQty: Type.Integer({ minimum: 0 }),
  /** Cash spent so far by a notional order (value + fees). */
  filledNotional: Type.Number(),
  avgFillPrice: Nullable(Type.Number()),
  /** Stop orders: true once a trade reached the stop price. */
  triggered: Type.Boolean(),
  source: OrderSource,
  strategyId: Nullable(Id),
  /** Trading date (exchange time zone) the order was created on; day orders expire when it ends. */
  tradingDate: Type.String(),
  createdTs: Type.Number(),
  updatedTs: Type.Number(),
  /** Why the last status change happened (free text, stable wording). */
  reason: Nullable(Type.String()),
  /** Catalogue code (errors.ts) when rejected, or why it was cancelled by the risk manager. */
  code: Nullable(Type.String()),
  exits: Nullable(PositionExits),
});
export type Order = Static<typeof Order>;

/** One status change of an order, with its reason. */
export const OrderEvent = Type.Object({
  ts: Type.Number(),
  orderId: Id,
  status: OrderStatus,
  prevStatus: Nullable(OrderStatus),
  reason: Type.String(),
  code: Nullable(Type.String()),
  order: Order,
});
export type OrderEvent = Static<typeof OrderEvent>;

/** Where a simulated fill's price came from (broker fills: `broker`). */
export const Liquidity = Type.Union([Type.Literal('book'), Type.Literal('trade'), Type.Literal('auction'), Type.Literal('broker')]);
export type Liquidity = Static<typeof Liquidity>;

export const Fill = Type.Object({
  /** Deterministic: `<orderId>-f<n>`. */
  id: Id,
  orderId: Id,
  accountId: Id,
  ts: Type.Number(),
  symbol: Symbol,
  side: OrderSide,
  qty: Type.Integer({ minimum: 1 }),
  price: Type.Number(),
  /** Broker commission (and regulatory fees). */
  fee: Type.Number({ minimum: 0 }),
  /** Sell tax (VN personal income tax on sales, 0.1 %). */
  tax: Type.Number({ minimum: 0 }),
  liquidity: Liquidity,
  strategyId: Nullable(Id),
});
export type Fill = Static<typeof Fill>;

export const Position = Type.Object({
  symbol: Symbol,
  qty: Type.Integer({ minimum: 0 }),
  /** Sellable now (VN: bought at least two trading days ago). */
  settledQty: Type.Integer({ minimum: 0 }),
  unsettledQty: Type.Integer({ minimum: 0 }),
  /** Average cost per share, buy fees included. */
  avgCost: Type.Number(),
  costBasis: Type.Number(),
  lastPrice: Nullable(Type.Number()),
  marketValue: Type.Number(),
  unrealizedPnl: Type.Number(),
  /** Realised on this symbol since the account opened (sell fees and tax deducted). */
  realizedPnl: Type.Number(),
  openedTs: Type.Number(),
  /** Active exit levels (absolute prices) or null. */
  stopLoss: Nullable(Type.Number()),
  takeProfit: Nullable(Type.Number()),
  trailingStop: Nullable(Type.Number()),
  /** Highest trade price since the position opened (trailing stop reference). */
  highWater: Nullable(Type.Number()),
});
export type Position = Static<typeof Position>;

export const KillSwitchState = Type.Object({
  active: Type.Boolean(),
  /** RISK_MAX_DAILY_LOSS, RISK_MAX_DRAWDOWN or RISK_KILL_SWITCH (manual). */
  code: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  since: Nullable(Type.Number()),
  /** Blocks entries until this trading date starts (daily loss); null = until a manual reset. */
  untilTradingDate: Nullable(Type.String()),
});
export type KillSwitchState = Static<typeof KillSwitchState>;

export const AccountState = Type.Object({
  accountId: Id,
  ts: Type.Number(),
  /** Cash on the account (pending sale proceeds included when they are usable). */
  cash: Type.Number(),
  /** Sale proceeds not yet usable (only with saleProceeds = 'settlement'). */
  pendingCash: Type.Number(),
  /** cash − cash reserved by open buy orders. */
  buyingPower: Type.Number(),
  reservedCash: Type.Number(),
  /** cash + pendingCash + Σ qty × last price. */
  equity: Type.Number(),
  startEquity: Type.Number(),
  dayStartEquity: Type.Number(),
  peakEquity: Type.Number(),
  realizedPnl: Type.Number(),
  unrealizedPnl: Type.Number(),
  fees: Type.Number(),
  taxes: Type.Number(),
  /** Σ |qty × last price| over positions. */
  grossExposure: Type.Number(),
  openOrders: Type.Integer({ minimum: 0 }),
  positions: Type.Array(Position),
  killSwitch: KillSwitchState,
  /** Entries blocked until this ts after too many losing trades; null = no cooldown. */
  cooldownUntil: Nullable(Type.Number()),
  losingStreak: Type.Integer({ minimum: 0 }),
  tradingDate: Nullable(Type.String()),
});
export type AccountState = Static<typeof AccountState>;

/** Risk limits of an account; null or absent = that limit is off. Money in the account's currency. */
export const RiskLimits = Type.Object({
  maxOrderValue: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0 }))),
  maxPositionValue: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0 }))),
  /** Per symbol, percent of equity. */
  maxPositionPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
  maxOpenPositions: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  /** Σ position values + open buys, percent of equity. */
  maxGrossExposurePct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
  /** Loss since the day started, percent of the day's starting equity: kill switch until the next trading day. */
  maxDailyLossPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
  /** Fall from the peak equity, percent: kill switch until a manual reset. */
  maxDrawdownPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
  /** After this many losing trades in a row, entries pause for `cooldownMinutes` of event time. */
  cooldownAfterLosses: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  cooldownMinutes: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  /** Default exits attached to every new position (an order's own `exits` win). */
  stopLossPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
  takeProfitPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 10_000 }))),
  trailingStopPct: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 100 }))),
});
export type RiskLimits = Static<typeof RiskLimits>;

/**
 * Fees and taxes. fee = max(rate × value + perShare × qty, minFee) per fill
 * (+ sellPerShare × qty, capped at sellPerShareMax, on sells); tax = sellTaxRate × value on sells.
 * Rounded to the currency unit.
 */
export const FeeSchedule = Type.Object({
  rate: Type.Number({ minimum: 0, maximum: 0.1 }),
  minFee: Type.Number({ minimum: 0 }),
  perShare: Type.Number({ minimum: 0 }),
  sellTaxRate: Type.Number({ minimum: 0, maximum: 0.1 }),
  sellPerShare: Type.Number({ minimum: 0 }),
  sellPerShareMax: Nullable(Type.Number({ minimum: 0 })),
});
export type FeeSchedule = Static<typeof FeeSchedule>;
export const FeePreset = Type.Union([Type.Literal('none'), Type.Literal('vn'), Type.Literal('us')]);
export type FeePreset = Static<typeof FeePreset>;

/** Fill model options (defaults in docs/trading.md and DEFAULT_FILL_MODEL). */
export const FillModelOptions = Type.Object({
  /** Adverse ticks added to every market (and triggered stop) fill. Default 0. */
  slippageTicks: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  /** Share of each trade's volume an order may take, 0..1; null = unlimited. Default null. */
  participation: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 1 }))),
  /** A trade exactly at a limit price fills it (up to that trade's volume): 'fill'; or only trades through it do: 'through'. Default 'fill'. */
  limitAtPrice: Type.Optional(Type.Union([Type.Literal('fill'), Type.Literal('through')])),
  /** Market orders walk the prevailing book at submission. Default true. */
  walkBook: Type.Optional(Type.Boolean()),
});
export type FillModelOptions = Static<typeof FillModelOptions>;

/** Parameters of a built-in strategy, as numbers (the CLI's `--params k=v`). */
export const StrategyParams = Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,31}$' }), Type.Number());
export type StrategyParams = Static<typeof StrategyParams>;

export const StrategyConfig = Type.Object({
  id: Id,
  /** Built-in strategy name: sma-cross, ema-cross, rsi-reversion, macd-cross, bollinger-breakout, vn-flow. */
  strategy: Type.String({ minLength: 1, maxLength: 64 }),
  params: StrategyParams,
  /** Symbols it trades; empty = every symbol on the feed. */
  symbols: Type.Array(Symbol, { maxItems: 500 }),
});
export type StrategyConfig = Static<typeof StrategyConfig>;

export const StrategyParamSpec = Type.Object({
  name: Type.String(),
  default: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
  integer: Type.Boolean(),
  description: Type.String(),
});
export type StrategyParamSpec = Static<typeof StrategyParamSpec>;

export const StrategyInfo = Type.Object({
  name: Type.String(),
  description: Type.String(),
  params: Type.Array(StrategyParamSpec),
});
export type StrategyInfo = Static<typeof StrategyInfo>;

/** A strategy's decision and why, emitted whether or not it led to an order. */
export const StrategySignal = Type.Object({
  id: Id,
  strategyId: Id,
  symbol: Symbol,
  ts: Type.Number(),
  action: Type.Union([Type.Literal('enter'), Type.Literal('exit'), Type.Literal('hold')]),
  reason: Type.String(),
  /** Indicator values behind the decision. */
  values: Type.Record(Type.String(), Nullable(Type.Number())),
  /** Client order id of the order it submitted, if any. */
  clientOrderId: Nullable(Type.String()),
});
export type StrategySignal = Static<typeof StrategySignal>;

export const RiskEventKind = Type.Union([
  Type.Literal('kill_switch_on'),
  Type.Literal('kill_switch_off'),
  Type.Literal('cooldown_on'),
  Type.Literal('cooldown_off'),
  Type.Literal('stop_loss'),
  Type.Literal('take_profit'),
  Type.Literal('trailing_stop'),
]);
export type RiskEventKind = Static<typeof RiskEventKind>;

export const RiskEvent = Type.Object({
  ts: Type.Number(),
  kind: RiskEventKind,
  code: Nullable(Type.String()),
  symbol: Nullable(Symbol),
  reason: Type.String(),
});
export type RiskEvent = Static<typeof RiskEvent>;

export const EquityPoint = Type.Object({
  /** Minute start, epoch ms. */
  ts: Type.Number(),
  equity: Type.Number(),
  cash: Type.Number(),
});
export type EquityPoint = Static<typeof EquityPoint>;

/** Everything the trading core emits, in order. */
export const TradingEvent = Type.Union([
  Type.Object({ type: Type.Literal('order'), event: OrderEvent }),
  Type.Object({ type: Type.Literal('fill'), fill: Fill }),
  Type.Object({ type: Type.Literal('position'), position: Position }),
  Type.Object({ type: Type.Literal('account'), account: AccountState }),
  Type.Object({ type: Type.Literal('signal'), signal: StrategySignal }),
  Type.Object({ type: Type.Literal('risk'), risk: RiskEvent }),
  Type.Object({ type: Type.Literal('equity'), point: EquityPoint }),
]);
export type TradingEvent = Static<typeof TradingEvent>;
export type TradingEventType = TradingEvent['type'];

/** Backtest summary; formulas in docs/trading.md. */
export const BacktestSummary = Type.Object({
  startEquity: Type.Number(),
  endEquity: Type.Number(),
  /** (end − start) / start × 100. */
  returnPct: Type.Number(),
  /** Largest fall from a running peak of the per-minute equity curve, percent (≥ 0). */
  maxDrawdownPct: Type.Number(),
  /** Closed round trips (a sell that realises P&L). */
  trades: Type.Integer({ minimum: 0 }),
  /** Winning closed trades / trades × 100; null without trades. */
  winRate: Nullable(Type.Number()),
  /** Mean / population σ of per-minute equity returns × √(minutes per year); null when undefined. */
  sharpe: Nullable(Type.Number()),
  fills: Type.Integer({ minimum: 0 }),
  fees: Type.Number(),
  taxes: Type.Number(),
});
export type BacktestSummary = Static<typeof BacktestSummary>;

/** One fill in a backtest report (the CLI's `--json`). */
export const BacktestFill = Type.Object({
  ts: Type.Number(),
  symbol: Symbol,
  side: OrderSide,
  qty: Type.Integer(),
  price: Type.Number(),
  fee: Type.Number(),
  tax: Type.Number(),
  orderId: Type.String(),
  strategyId: Nullable(Type.String()),
});
export type BacktestFill = Static<typeof BacktestFill>;

export const BacktestReport = Type.Object({
  file: Type.String(),
  strategy: Type.String(),
  params: StrategyParams,
  symbols: Type.Array(Symbol),
  cash: Type.Number(),
  /** `auto`: each market its own preset (VN → vn, US → us). */
  fees: Type.Union([FeePreset, Type.Literal('auto')]),
  events: Type.Integer({ minimum: 0 }),
  fills: Type.Array(BacktestFill),
  summary: BacktestSummary,
  equity: Type.Array(EquityPoint),
  signals: Type.Integer({ minimum: 0 }),
  rejected: Type.Integer({ minimum: 0 }),
});
export type BacktestReport = Static<typeof BacktestReport>;
