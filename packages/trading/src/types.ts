/**
 * Public types of the trading core that do not cross the wire (the wire types
 * live in @stock-tracker/protocol's trading.ts): options, the strategy
 * interface, the broker interface and the snapshot format.
 */
import type {
  AccountState,
  Bar,
  ClassifiedTrade,
  FeeSchedule,
  FillModelOptions,
  ForeignState,
  Fill,
  Order,
  OrderEvent,
  OrderReplace,
  OrderRequest,
  Position,
  QuoteState,
  RiskLimits,
  StrategyParams,
  SymbolRef,
  TradingEvent,
} from '@stock-tracker/protocol';

/** When the cash from a sale can buy again. */
export type SaleProceeds = 'immediate' | 'settlement';

export interface TradingCoreOptions {
  /** Stable account id; every order/fill id derives from it. */
  accountId: string;
  /** Starting cash (currency of the traded market). */
  cash: number;
  /** Fee schedule per market; defaults: FEE_PRESETS.vn for VN, FEE_PRESETS.us for US. */
  fees?: { VN?: FeeSchedule; US?: FeeSchedule };
  riskLimits?: RiskLimits;
  fillModel?: FillModelOptions;
  /**
   * Share settlement in trading days (shares bought on D are sellable from D+n).
   * Defaults: VN 2, US 0 (no hold). Weekends are skipped; holidays are not modelled.
   */
  settlementDays?: { VN?: number; US?: number };
  /** Default 'immediate' (see docs/trading.md, "Settlement"). */
  saleProceeds?: SaleProceeds;
  /**
   * 'simulated' (default): the core's own fill model fills orders (paper trading, backtests).
   * 'external': orders go to a Broker; fills come back through applyBrokerUpdate.
   */
  execution?: 'simulated' | 'external';
  /** Per-minute equity points kept in memory (oldest dropped). Default 100,000. */
  equityCurveMax?: number;
  /** Reserve for market buys where the market has no ceiling (US): last/ask price × (1 + this). Default 0.05. */
  marketBuyReserve?: number;
}

/** Read-only view of the account a strategy decides on. */
export interface AccountView {
  readonly accountId: string;
  /** Cash that can buy now (cash − reservations of open buys). */
  buyingPower(): number;
  cash(): number;
  equity(): number;
  position(symbol: string): Position | undefined;
  /** Shares of `symbol` that can be sold now (settled, not reserved by open sells). */
  sellableQty(symbol: string): number;
  /** Number of symbols with a position. */
  positionCount(): number;
  openOrders(symbol?: string): readonly Order[];
  /** Open orders, counted without building a list (hot path for strategies). */
  openOrderCount(symbol?: string): number;
  /** Shares held of `symbol` (0 when none). */
  sharesHeld(symbol: string): number;
  /** Entries are blocked (kill switch or cooldown). */
  entriesBlocked(): boolean;
}

/** What a strategy sees besides the event. */
export interface StrategyContext {
  /** Event time (bar end for bars). */
  readonly ts: number;
  readonly account: AccountView;
  reference(symbol: string): SymbolRef | undefined;
  quote(symbol: string): QuoteState | undefined;
  foreign(symbol: string): ForeignState | undefined;
  /** Last trade price. */
  lastPrice(symbol: string): number | undefined;
}

/**
 * A strategy's output: a signal (always emitted as an event) and optionally
 * the order it wants. `clientOrderId` is filled in by the core when absent
 * (`<strategyId>:<symbol>:<ts>:<action>`), so ids are derived from inputs.
 */
export interface StrategyDecision {
  symbol: string;
  action: 'enter' | 'exit' | 'hold';
  reason: string;
  values?: Record<string, number | null>;
  order?: OrderRequest;
  cancel?: string[];
}

/**
 * The strategy interface: state in, decisions out. Every hook is optional and
 * synchronous; it must be deterministic (no clock, no randomness unless seeded
 * from its params). `onBar` gets each 1-minute bar once, when it closes, in
 * time order (late corrections are not replayed).
 */
export interface Strategy {
  readonly id: string;
  /** Built-in name or a user-chosen one. */
  readonly name: string;
  /** Symbols it trades; null = every symbol. */
  readonly symbols: ReadonlySet<string> | null;
  onBar?(bar: Bar, ctx: StrategyContext): StrategyDecision[] | void;
  onTrade?(trade: ClassifiedTrade, ctx: StrategyContext): StrategyDecision[] | void;
  onQuote?(quote: QuoteState, ctx: StrategyContext): StrategyDecision[] | void;
  onForeign?(state: ForeignState, ctx: StrategyContext): StrategyDecision[] | void;
  /** JSON-serialisable state for persistence; restore() takes it back. */
  snapshot?(): unknown;
  restore?(state: unknown): void;
}

/** What a broker reports back. */
export type BrokerUpdate = { type: 'order'; event: OrderEvent } | { type: 'fill'; fill: Fill };

/**
 * A broker: the paper broker (the core's own fill model, see PaperBroker) or a
 * real one (Alpaca Trading API adapter). Orders carry the core's
 * clientOrderId, which brokers use as their idempotency key.
 */
export interface Broker {
  readonly name: string;
  submit(order: Order): Promise<Order>;
  cancel(orderId: string): Promise<void>;
  replace(orderId: string, changes: OrderReplace): Promise<Order>;
  /** Order updates and fills, in the order the broker reports them; returns an unsubscribe. */
  onUpdate(listener: (u: BrokerUpdate) => void): () => void;
  account?(): Promise<AccountState>;
  positions?(): Promise<Position[]>;
}

/** Result of submit/cancel/replace: the events it produced; `order` is the order (also when rejected). */
export interface OrderResult {
  ok: boolean;
  order: Order | undefined;
  /** Catalogue code when refused. */
  code: string | null;
  reason: string;
  events: TradingEvent[];
}

export type { TradingEvent, StrategyParams };
