/**
 * Normalized market events: the one vocabulary every feed adapter produces and
 * the market engine consumes. Declared as TypeBox schemas so that the same
 * definition gives TypeScript types, runtime validation and JSON Schema.
 *
 * Conventions
 * - `ts` is epoch milliseconds (UTC). Trading dates are `YYYY-MM-DD` in the
 *   exchange's time zone.
 * - Prices are in the vendor's unit (VND for Vietnam, USD for the US).
 * - Volumes are share counts (not lots).
 */
import { Type, type Static } from '@sinclair/typebox';

export const Market = Type.Union([Type.Literal('VN'), Type.Literal('US')]);
export type Market = Static<typeof Market>;

/** Exchange code. Vietnamese exchanges are listed; US venues are free-form. */
export const Exchange = Type.String({ minLength: 1, maxLength: 16, examples: ['HOSE', 'HNX', 'UPCOM', 'NASDAQ'] });
export type Exchange = string;

export const Symbol = Type.String({ minLength: 1, maxLength: 20, pattern: '^[A-Za-z0-9._\\-]+$' });

export const Side = Type.Union([Type.Literal('buy'), Type.Literal('sell'), Type.Literal('unknown')]);
export type Side = Static<typeof Side>;

export const SessionPhase = Type.Union([
  Type.Literal('pre_open'),
  Type.Literal('ato'),
  Type.Literal('continuous'),
  Type.Literal('lunch_break'),
  Type.Literal('atc'),
  Type.Literal('plo'),
  Type.Literal('closed'),
]);
export type SessionPhase = Static<typeof SessionPhase>;
export const SESSION_PHASES: readonly SessionPhase[] = ['pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed'];

export const Level = Type.Object({ price: Type.Number(), volume: Type.Number() });
export type Level = Static<typeof Level>;

/** Reference data for one symbol for one trading day. */
export const SymbolRef = Type.Object({
  symbol: Symbol,
  exchange: Exchange,
  market: Market,
  name: Type.Optional(Type.String()),
  tradingDate: Type.String({ description: 'YYYY-MM-DD in the exchange time zone' }),
  reference: Type.Number({ description: 'reference (prior close) price' }),
  ceiling: Type.Union([Type.Number(), Type.Null()], { description: 'null where the market has no daily limit' }),
  floor: Type.Union([Type.Number(), Type.Null()]),
  lotSize: Type.Integer({ minimum: 1 }),
  indices: Type.Array(Type.String(), { description: 'index ids this symbol belongs to, e.g. VNINDEX, VN30' }),
  sharesOutstanding: Type.Number({ minimum: 0 }),
  foreignLimit: Type.Optional(Type.Number({ description: 'max shares foreigners may hold' })),
});
export type SymbolRef = Static<typeof SymbolRef>;

export const TradeEvent = Type.Object({
  type: Type.Literal('trade'),
  ts: Type.Number(),
  symbol: Symbol,
  /** Unique per trade within a symbol and trading day; storage de-duplicates on it. */
  id: Type.String({ minLength: 1, maxLength: 64 }),
  price: Type.Number({ exclusiveMinimum: 0 }),
  volume: Type.Number({ exclusiveMinimum: 0 }),
  /** The vendor's aggressor flag when the feed provides one. */
  side: Type.Optional(Side),
  /** The phase the trade happened in when the vendor says so (auction trades are unclassified). */
  phase: Type.Optional(SessionPhase),
  /**
   * The vendor's cumulative matched volume of the day including this trade
   * (SSI TotalVol). Lets the engine notice missed trades (a `gap` output).
   */
  cumVolume: Type.Optional(Type.Number({ minimum: 0 })),
});
export type TradeEvent = Static<typeof TradeEvent>;

export const QuoteEvent = Type.Object({
  type: Type.Literal('quote'),
  ts: Type.Number(),
  symbol: Symbol,
  bids: Type.Array(Level, { maxItems: 10, description: 'best first' }),
  asks: Type.Array(Level, { maxItems: 10, description: 'best first' }),
});
export type QuoteEvent = Static<typeof QuoteEvent>;

/** Cumulative foreign investor figures for the day. */
export const ForeignEvent = Type.Object({
  type: Type.Literal('foreign'),
  ts: Type.Number(),
  symbol: Symbol,
  buyVolume: Type.Number({ minimum: 0 }),
  sellVolume: Type.Number({ minimum: 0 }),
  buyValue: Type.Number({ minimum: 0 }),
  sellValue: Type.Number({ minimum: 0 }),
  totalRoom: Type.Number({ minimum: 0 }),
  currentRoom: Type.Number({ minimum: 0 }),
});
export type ForeignEvent = Static<typeof ForeignEvent>;

export const IndexEvent = Type.Object({
  type: Type.Literal('index'),
  ts: Type.Number(),
  index: Type.String({ minLength: 1, maxLength: 20 }),
  value: Type.Number(),
  prevClose: Type.Number(),
  volume: Type.Number({ minimum: 0 }),
  valueTraded: Type.Number({ minimum: 0 }),
  advances: Type.Integer({ minimum: 0 }),
  declines: Type.Integer({ minimum: 0 }),
  unchanged: Type.Integer({ minimum: 0 }),
  ceilings: Type.Integer({ minimum: 0 }),
  floors: Type.Integer({ minimum: 0 }),
});
export type IndexEvent = Static<typeof IndexEvent>;

/** Session phase change for a whole exchange (symbol absent) or one symbol (halts). */
export const StatusEvent = Type.Object({
  type: Type.Literal('status'),
  ts: Type.Number(),
  exchange: Type.Optional(Exchange),
  symbol: Type.Optional(Symbol),
  phase: SessionPhase,
  halted: Type.Boolean(),
});
export type StatusEvent = Static<typeof StatusEvent>;

export const BarInterval = Type.Union([
  Type.Literal('1m'),
  Type.Literal('5m'),
  Type.Literal('15m'),
  Type.Literal('1h'),
  Type.Literal('1d'),
]);
export type BarInterval = Static<typeof BarInterval>;
export const BAR_INTERVAL_MS: Record<BarInterval, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

/** A vendor-built bar (history, or a vendor bar stream). */
export const BarEvent = Type.Object({
  type: Type.Literal('bar'),
  ts: Type.Number({ description: 'bar start' }),
  symbol: Symbol,
  interval: BarInterval,
  open: Type.Number(),
  high: Type.Number(),
  low: Type.Number(),
  close: Type.Number(),
  volume: Type.Number({ minimum: 0 }),
  value: Type.Optional(Type.Number({ minimum: 0 })),
  trades: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type BarEvent = Static<typeof BarEvent>;

/** Reference data arrives as an event too, so a tape is self-contained. */
export const ReferenceEvent = Type.Object({
  type: Type.Literal('reference'),
  ts: Type.Number(),
  ref: SymbolRef,
});
export type ReferenceEvent = Static<typeof ReferenceEvent>;

export const MarketEvent = Type.Union([
  TradeEvent,
  QuoteEvent,
  ForeignEvent,
  IndexEvent,
  StatusEvent,
  BarEvent,
  ReferenceEvent,
]);
export type MarketEvent = Static<typeof MarketEvent>;
export type MarketEventType = MarketEvent['type'];
export const MARKET_EVENT_TYPES: readonly MarketEventType[] = ['trade', 'quote', 'foreign', 'index', 'status', 'bar', 'reference'];
