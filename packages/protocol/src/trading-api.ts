/**
 * REST payloads of paper trading under /api/trading (docs/trading.md, "Paper
 * trading: REST, WebSocket and where it runs"). Request and response schemas
 * only; the objects they carry (Order, Fill, Position, AccountState, RiskLimits,
 * StrategyInfo, BacktestReport …) are the wire types of trading.ts. Kept in a
 * file of its own so the server side and the core side of trading edit
 * different files.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Symbol } from './events.ts';
import { Limit } from './rest.ts';
import {
  AccountState,
  BacktestSummary,
  EquityPoint,
  FeePreset,
  Fill,
  KillSwitchState,
  Order,
  OrderReplace,
  OrderRequest,
  Position,
  RiskLimits,
  StrategyInfo,
  StrategyParams,
} from './trading.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Page = <T extends TSchema>(t: T) => Type.Object({ items: Type.Array(t), next: Nullable(Type.String()) });
const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_\\-:.]+$' });

export const TRADING_MARKETS = ['VN', 'US'] as const;
export const TradingMarket = Type.Union([Type.Literal('VN'), Type.Literal('US')]);

export const TRADING_BROKERS = ['paper', 'alpaca'] as const;
export const TradingBroker = Type.Union([Type.Literal('paper'), Type.Literal('alpaca')]);
export type TradingBroker = Static<typeof TradingBroker>;

export const TradingAccountCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 60 }),
    /** Which market's rules and fee preset apply. Default VN. */
    market: Type.Optional(TradingMarket),
    /** Default: the server's TRADING_STARTING_CASH (VN) or TRADING_STARTING_CASH_US. */
    startingCash: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e13 })),
    riskLimits: Type.Optional(RiskLimits),
    /**
     * Who fills the orders: 'paper' (default, the trading core's fill model on the live feed) or 'alpaca'
     * (the Alpaca Trading API, paper endpoint unless the server is configured live; US market only;
     * refused with BROKER_NOT_CONFIGURED when the server has no ALPACA_TRADING_* keys).
     */
    broker: Type.Optional(TradingBroker),
  },
  { additionalProperties: false },
);
export type TradingAccountCreate = Static<typeof TradingAccountCreate>;

export const TradingAccount = Type.Object({
  id: Type.String(),
  name: Type.String(),
  market: TradingMarket,
  startingCash: Type.Number(),
  riskLimits: RiskLimits,
  /** 'paper' or 'alpaca' (absent from servers older than the Alpaca broker: paper). */
  broker: Type.Optional(TradingBroker),
  /** Goes up with each reset. */
  generation: Type.Integer(),
  createdAt: Type.Number(),
  /** The account as of its last stored event; null before the core first ran. */
  state: Nullable(AccountState),
});
export type TradingAccount = Static<typeof TradingAccount>;
export const TradingAccountsResponse = Page(TradingAccount);
export type TradingAccountsResponse = Static<typeof TradingAccountsResponse>;

export const AccountParams = Type.Object({ accountId: IdString });
export type AccountParams = Static<typeof AccountParams>;
export const AccountOrderParams = Type.Object({ accountId: IdString, orderId: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_\\-:.]+$' }) });
export type AccountOrderParams = Static<typeof AccountOrderParams>;

/**
 * A command the server accepted but the trading core has not applied yet
 * (production: the collector leader is busy or failing over). Poll the order
 * by its clientOrderId, or watch /ws/trading.
 */
export const TradingCommandAccepted = Type.Object({
  commandId: Type.String(),
  status: Type.Literal('pending'),
  clientOrderId: Nullable(Type.String()),
});
export type TradingCommandAccepted = Static<typeof TradingCommandAccepted>;

export const TradingOrderSubmit = OrderRequest;
export type TradingOrderSubmit = Static<typeof TradingOrderSubmit>;
export const TradingOrderReplace = OrderReplace;

export const TradingOrdersQuery = Type.Object({
  limit: Type.Optional(Limit),
  before: Type.Optional(Type.String({ maxLength: 200 })),
  /** `open`: only orders still working. Default all. */
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('all')])),
  symbol: Type.Optional(Symbol),
});
export type TradingOrdersQuery = Static<typeof TradingOrdersQuery>;
export const TradingOrdersResponse = Page(Order);
export type TradingOrdersResponse = Static<typeof TradingOrdersResponse>;

export const TradingFillsQuery = Type.Object({
  limit: Type.Optional(Limit),
  before: Type.Optional(Type.String({ maxLength: 200 })),
  symbol: Type.Optional(Symbol),
});
export type TradingFillsQuery = Static<typeof TradingFillsQuery>;
export const TradingFillsResponse = Page(Fill);
export type TradingFillsResponse = Static<typeof TradingFillsResponse>;

export const TradingPositionsResponse = Type.Object({ accountId: Type.String(), ts: Nullable(Type.Number()), items: Type.Array(Position) });
export type TradingPositionsResponse = Static<typeof TradingPositionsResponse>;

export const TradingPnlQuery = Type.Object({
  from: Type.Optional(Type.Integer({ minimum: 0 })),
  to: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Limit),
});
export type TradingPnlQuery = Static<typeof TradingPnlQuery>;
export const TradingPnlResponse = Type.Object({
  accountId: Type.String(),
  /** The account as of its last stored event (cash, equity, realised/unrealised P&L …); null before the core first ran. */
  account: Nullable(AccountState),
  /** Per-minute equity, oldest first (window convention of /api/bars). */
  equity: Type.Array(EquityPoint),
});
export type TradingPnlResponse = Static<typeof TradingPnlResponse>;

export const TradingRiskResponse = Type.Object({ accountId: Type.String(), limits: RiskLimits, killSwitch: Nullable(KillSwitchState) });
export type TradingRiskResponse = Static<typeof TradingRiskResponse>;

export const TradingStrategyCreate = Type.Object(
  {
    accountId: IdString,
    /** A built-in strategy name (GET /api/trading/strategies/builtin). */
    strategy: Type.String({ minLength: 1, maxLength: 64 }),
    params: Type.Optional(StrategyParams),
    /** Symbols it trades (at least one, at most 50). */
    symbols: Type.Array(Symbol, { minItems: 1, maxItems: 50 }),
  },
  { additionalProperties: false },
);
export type TradingStrategyCreate = Static<typeof TradingStrategyCreate>;

export const TradingStrategy = Type.Object({
  id: Type.String(),
  accountId: Type.String(),
  strategy: Type.String(),
  params: StrategyParams,
  symbols: Type.Array(Symbol),
  state: Type.Union([Type.Literal('running'), Type.Literal('stopped')]),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
});
export type TradingStrategy = Static<typeof TradingStrategy>;
export const TradingStrategiesQuery = Type.Object({ accountId: Type.Optional(IdString) });
export type TradingStrategiesQuery = Static<typeof TradingStrategiesQuery>;
export const TradingStrategiesResponse = Page(TradingStrategy);
export type TradingStrategiesResponse = Static<typeof TradingStrategiesResponse>;
export const TradingBuiltinStrategiesResponse = Type.Object({ items: Type.Array(StrategyInfo) });
export type TradingBuiltinStrategiesResponse = Static<typeof TradingBuiltinStrategiesResponse>;

export const TradingBacktestCreate = Type.Object(
  {
    /** A tape the server offers (GET /api/trading/tapes): a name, never a path. */
    tape: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-]*$' }),
    strategy: Type.String({ minLength: 1, maxLength: 64 }),
    params: Type.Optional(StrategyParams),
    symbols: Type.Optional(Type.Array(Symbol, { maxItems: 50 })),
    cash: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e13 })),
    fees: Type.Optional(FeePreset),
  },
  { additionalProperties: false },
);
export type TradingBacktestCreate = Static<typeof TradingBacktestCreate>;

export const TradingBacktest = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  request: TradingBacktestCreate,
  summary: Nullable(BacktestSummary),
  error: Nullable(Type.String()),
  createdAt: Type.Number(),
  finishedAt: Nullable(Type.Number()),
  /** The full report (fills, equity curve) on GET of one backtest; null in lists and while running. */
  report: Type.Optional(Nullable(Type.Unknown())),
});
export type TradingBacktest = Static<typeof TradingBacktest>;
export const TradingBacktestsQuery = Type.Object({ limit: Type.Optional(Limit), before: Type.Optional(Type.String({ maxLength: 200 })) });
export type TradingBacktestsQuery = Static<typeof TradingBacktestsQuery>;
export const TradingBacktestsResponse = Page(TradingBacktest);
export type TradingBacktestsResponse = Static<typeof TradingBacktestsResponse>;
export const TradingTapesResponse = Type.Object({ items: Type.Array(Type.Object({ name: Type.String(), bytes: Type.Integer() })) });
export type TradingTapesResponse = Static<typeof TradingTapesResponse>;

/** Paths relative to /api, like ENDPOINTS (kept apart: the generic REST fuzzer walks ENDPOINTS only). */
export const TRADING_ENDPOINTS = {
  tradingAccounts: 'GET /trading/accounts',
  tradingAccountCreate: 'POST /trading/accounts',
  tradingAccount: 'GET /trading/accounts/:accountId',
  tradingAccountDelete: 'DELETE /trading/accounts/:accountId',
  tradingAccountReset: 'POST /trading/accounts/:accountId/reset',
  tradingOrders: 'GET /trading/accounts/:accountId/orders',
  tradingOrderSubmit: 'POST /trading/accounts/:accountId/orders',
  tradingOrder: 'GET /trading/accounts/:accountId/orders/:orderId',
  tradingOrderCancel: 'DELETE /trading/accounts/:accountId/orders/:orderId',
  tradingOrderReplace: 'PATCH /trading/accounts/:accountId/orders/:orderId',
  tradingFills: 'GET /trading/accounts/:accountId/fills',
  tradingPositions: 'GET /trading/accounts/:accountId/positions',
  tradingPnl: 'GET /trading/accounts/:accountId/pnl',
  tradingRisk: 'GET /trading/accounts/:accountId/risk',
  tradingRiskUpdate: 'PUT /trading/accounts/:accountId/risk',
  tradingRiskReset: 'POST /trading/accounts/:accountId/risk/reset',
  tradingStrategies: 'GET /trading/strategies',
  tradingStrategiesBuiltin: 'GET /trading/strategies/builtin',
  tradingStrategyCreate: 'POST /trading/strategies',
  tradingStrategy: 'GET /trading/strategies/:id',
  tradingStrategyStart: 'POST /trading/strategies/:id/start',
  tradingStrategyStop: 'POST /trading/strategies/:id/stop',
  tradingStrategyDelete: 'DELETE /trading/strategies/:id',
  tradingTapes: 'GET /trading/tapes',
  tradingBacktests: 'GET /trading/backtests',
  tradingBacktestCreate: 'POST /trading/backtests',
  tradingBacktest: 'GET /trading/backtests/:id',
} as const;

/** /ws/trading keys: the user's event stream and the state stream of the user's accounts (docs/websocket.md). */
export const tradingUserKey = (userId: string) => `user:${userId}`;
export const tradingPortfolioKey = (userId: string) => `portfolio:${userId}`;
