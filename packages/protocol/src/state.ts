/**
 * Derived state: what the market engine produces and what REST and WebSocket
 * serve. One definition, used by engine, server, web and tests.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BarInterval, Exchange, Level, Market, SessionPhase, Side, Symbol } from './events.ts';

const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ForeignState = Type.Object({
  symbol: Symbol,
  ts: Type.Number(),
  buyVolume: Type.Number(),
  sellVolume: Type.Number(),
  buyValue: Type.Number(),
  sellValue: Type.Number(),
  netVolume: Type.Number(),
  netValue: Type.Number(),
  totalRoom: Type.Number(),
  currentRoom: Type.Number(),
  /** Share of the total room already used, 0..100; null when the total room is unknown. */
  roomUsagePct: Nullable(Type.Number()),
});
export type ForeignState = Static<typeof ForeignState>;

/** Latest state of one symbol: one row of the price board. */
export const QuoteState = Type.Object({
  symbol: Symbol,
  exchange: Exchange,
  market: Market,
  tradingDate: Type.String(),
  ts: Type.Number({ description: 'time of the last event that changed this state' }),
  reference: Type.Number(),
  ceiling: Nullable(Type.Number()),
  floor: Nullable(Type.Number()),
  open: Nullable(Type.Number()),
  high: Nullable(Type.Number()),
  low: Nullable(Type.Number()),
  last: Nullable(Type.Number()),
  lastVolume: Type.Number(),
  change: Nullable(Type.Number({ description: 'last - reference' })),
  changePct: Nullable(Type.Number()),
  totalVolume: Type.Number(),
  totalValue: Type.Number(),
  buyVolume: Type.Number({ description: 'active buy volume today' }),
  sellVolume: Type.Number({ description: 'active sell volume today' }),
  unknownVolume: Type.Number(),
  bids: Type.Array(Level),
  asks: Type.Array(Level),
  phase: SessionPhase,
  halted: Type.Boolean(),
  foreign: Nullable(ForeignState),
});
export type QuoteState = Static<typeof QuoteState>;

export const SideSource = Type.Union([
  Type.Literal('vendor'),
  Type.Literal('quote'),
  Type.Literal('tick'),
  Type.Literal('auction'),
  Type.Literal('none'),
]);
export type SideSource = Static<typeof SideSource>;

export const ClassifiedTrade = Type.Object({
  id: Type.String(),
  symbol: Symbol,
  ts: Type.Number(),
  price: Type.Number(),
  volume: Type.Number(),
  side: Side,
  sideSource: SideSource,
  phase: SessionPhase,
});
export type ClassifiedTrade = Static<typeof ClassifiedTrade>;

export const Bar = Type.Object({
  symbol: Symbol,
  interval: BarInterval,
  ts: Type.Number({ description: 'bar start, epoch ms' }),
  open: Type.Number(),
  high: Type.Number(),
  low: Type.Number(),
  close: Type.Number(),
  volume: Type.Number(),
  value: Type.Number(),
  vwap: Nullable(Type.Number()),
  buyVolume: Type.Number(),
  sellVolume: Type.Number(),
  unknownVolume: Type.Number(),
  trades: Type.Integer(),
  closed: Type.Boolean(),
});
export type Bar = Static<typeof Bar>;

/** Aggregate of one symbol over one session phase (or `day` for the whole day). */
export const SessionSummary = Type.Object({
  symbol: Symbol,
  tradingDate: Type.String(),
  phase: Type.Union([SessionPhase, Type.Literal('day')]),
  open: Nullable(Type.Number()),
  high: Nullable(Type.Number()),
  low: Nullable(Type.Number()),
  close: Nullable(Type.Number()),
  volume: Type.Number(),
  value: Type.Number(),
  vwap: Nullable(Type.Number()),
  buyVolume: Type.Number(),
  sellVolume: Type.Number(),
  unknownVolume: Type.Number(),
  trades: Type.Integer(),
});
export type SessionSummary = Static<typeof SessionSummary>;

export const Breadth = Type.Object({
  advances: Type.Integer(),
  declines: Type.Integer(),
  unchanged: Type.Integer(),
  ceilings: Type.Integer(),
  floors: Type.Integer(),
});
export type Breadth = Static<typeof Breadth>;

export const IndexState = Type.Object({
  id: Type.String({ examples: ['VNINDEX', 'VN30', 'HNXINDEX'] }),
  name: Type.String(),
  ts: Type.Number(),
  value: Type.Number(),
  prevClose: Type.Number(),
  change: Type.Number(),
  changePct: Type.Number(),
  volume: Type.Number(),
  valueTraded: Type.Number(),
  breadth: Breadth,
  /** true when computed from constituents, false when the feed supplied it. */
  computed: Type.Boolean(),
});
export type IndexState = Static<typeof IndexState>;

export const ForeignTop = Type.Object({
  ts: Type.Number(),
  buyers: Type.Array(ForeignState, { description: 'largest net buy value first' }),
  sellers: Type.Array(ForeignState, { description: 'largest net sell value first' }),
});
export type ForeignTop = Static<typeof ForeignTop>;

export const IndicatorName = Type.Union([
  Type.Literal('sma'),
  Type.Literal('ema'),
  Type.Literal('rsi'),
  Type.Literal('macd'),
  Type.Literal('bollinger'),
  Type.Literal('vwap'),
]);
export type IndicatorName = Static<typeof IndicatorName>;

/** One indicator value per bar; multi-line indicators use several fields. */
export const IndicatorPoint = Type.Object({
  ts: Type.Number(),
  value: Nullable(Type.Number()),
  signal: Type.Optional(Nullable(Type.Number())),
  histogram: Type.Optional(Nullable(Type.Number())),
  upper: Type.Optional(Nullable(Type.Number())),
  lower: Type.Optional(Nullable(Type.Number())),
});
export type IndicatorPoint = Static<typeof IndicatorPoint>;

export const AlertKind = Type.Union([
  Type.Literal('price_above'),
  Type.Literal('price_below'),
  Type.Literal('change_pct_above'),
  Type.Literal('change_pct_below'),
  Type.Literal('volume_spike'),
  Type.Literal('foreign_net_buy_above'),
  Type.Literal('foreign_net_sell_above'),
  Type.Literal('rsi_cross_above'),
  Type.Literal('rsi_cross_below'),
  Type.Literal('price_cross_above_sma'),
  Type.Literal('price_cross_below_sma'),
]);
export type AlertKind = Static<typeof AlertKind>;
export const ALERT_KINDS: readonly AlertKind[] = [
  'price_above',
  'price_below',
  'change_pct_above',
  'change_pct_below',
  'volume_spike',
  'foreign_net_buy_above',
  'foreign_net_sell_above',
  'rsi_cross_above',
  'rsi_cross_below',
  'price_cross_above_sma',
  'price_cross_below_sma',
];

export const AlertRule = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  symbol: Symbol,
  kind: AlertKind,
  /**
   * price_*: price; change_pct_*: percent; volume_spike: multiple of the recent
   * average 1-minute volume; foreign_*: net value; rsi_*: RSI level (e.g. 70);
   * price_cross_*_sma: unused (0).
   */
  threshold: Type.Number(),
  /** Indicator period (RSI/SMA) or lookback bars (volume spike). */
  period: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  cooldownMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
  enabled: Type.Boolean(),
  note: Type.Optional(Type.String({ maxLength: 200 })),
  createdAt: Type.Number(),
});
export type AlertRule = Static<typeof AlertRule>;

export const AlertEvent = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  userId: Type.String(),
  symbol: Symbol,
  kind: AlertKind,
  ts: Type.Number(),
  value: Type.Number({ description: 'the observed value that fired the rule' }),
  threshold: Type.Number(),
  message: Type.String(),
});
export type AlertEvent = Static<typeof AlertEvent>;

/**
 * Operational notices for every user, not fired by a rule: streamed on the
 * alerts channel under the `system` key (ws.ts SYSTEM_ALERTS_KEY).
 * `feed_stale`: no market data arrived for too long while a market trades;
 * `feed_recovered`: data flows again (or the market stopped trading), which
 * ends the notice.
 */
export const SystemAlertKind = Type.Union([Type.Literal('feed_stale'), Type.Literal('feed_recovered'), Type.Literal('trade_gap')]);
export type SystemAlertKind = Static<typeof SystemAlertKind>;

export const SystemAlert = Type.Object({
  id: Type.String(),
  kind: SystemAlertKind,
  severity: Type.Union([Type.Literal('error'), Type.Literal('info')]),
  ts: Type.Number({ description: 'when it was raised, epoch ms' }),
  /** The feed's name (`ssi`, `alpaca`, `simulator`, `replay`). */
  feed: Type.String(),
  /** feed_stale: how long no market data had arrived; feed_recovered: how long the outage lasted. */
  silentMs: Type.Number(),
  message: Type.String(),
  /** trade_gap: the symbol and the volume the vendor reported that no received trade accounts for. */
  symbol: Type.Optional(Symbol),
  expectedVolume: Type.Optional(Type.Number({ minimum: 0 })),
  seenVolume: Type.Optional(Type.Number({ minimum: 0 })),
  missingVolume: Type.Optional(Type.Number({ minimum: 0 })),
});
export type SystemAlert = Static<typeof SystemAlert>;

/**
 * Trades the vendor says happened but the engine never received (engine
 * output `gap`): before trade `tradeId`, the vendor's cumulative day volume
 * was `expectedVolume`, the engine had counted `seenVolume` (plus earlier
 * gaps of the day); `missingVolume` is the part newly found missing.
 */
export const TradeGap = Type.Object({
  symbol: Symbol,
  tradingDate: Type.String(),
  ts: Type.Number(),
  tradeId: Type.String(),
  expectedVolume: Type.Number({ minimum: 0 }),
  seenVolume: Type.Number({ minimum: 0 }),
  missingVolume: Type.Number({ exclusiveMinimum: 0 }),
});
export type TradeGap = Static<typeof TradeGap>;
