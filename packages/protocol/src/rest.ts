/**
 * REST payloads under /api: request query/params/body schemas and response
 * schemas. The server registers these with Fastify (validation + OpenAPI); the
 * web app and tests use the static types.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { BarInterval, SessionPhase, Symbol, SymbolRef } from './events.ts';
import {
  AlertEvent,
  AlertKind,
  AlertRule,
  Bar,
  ClassifiedTrade,
  ForeignState,
  ForeignTop,
  IndexState,
  IndicatorName,
  IndicatorPoint,
  QuoteState,
  SessionSummary,
} from './state.ts';

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

const Items = <T extends TSchema>(t: T) =>
  Type.Object({
    items: Type.Array(t),
    /** Opaque cursor for the next (older) page; null when there is none. */
    next: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  });

/** A list of symbols, comma separated: `VNM,FPT,HPG`. */
export const SymbolList = Type.String({ pattern: '^[A-Za-z0-9._\\-]{1,20}(,[A-Za-z0-9._\\-]{1,20}){0,499}$' });
export const Limit = Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE });
/** Epoch ms or ISO 8601 date/time. */
export const TimeParam = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ format: 'date-time' }), Type.String({ format: 'date' })]);

export const SymbolParams = Type.Object({ symbol: Symbol });
export type SymbolParams = Static<typeof SymbolParams>;
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_\\-:.]+$' }) });
export type IdParams = Static<typeof IdParams>;

// --- symbols & quotes
export const SymbolsQuery = Type.Object({
  exchange: Type.Optional(Type.String({ maxLength: 16 })),
  index: Type.Optional(Type.String({ maxLength: 20 })),
  q: Type.Optional(Type.String({ maxLength: 40, description: 'prefix search on symbol or name' })),
});
export type SymbolsQuery = Static<typeof SymbolsQuery>;
export const SymbolsResponse = Items(SymbolRef);
export type SymbolsResponse = Static<typeof SymbolsResponse>;

export const QuotesQuery = Type.Object({ symbols: Type.Optional(SymbolList), exchange: Type.Optional(Type.String({ maxLength: 16 })) });
export type QuotesQuery = Static<typeof QuotesQuery>;
export const QuotesResponse = Type.Object({ ts: Type.Number(), items: Type.Array(QuoteState) });
export type QuotesResponse = Static<typeof QuotesResponse>;

// --- trades & bars
export const TradesQuery = Type.Object({
  limit: Type.Optional(Limit),
  before: Type.Optional(Type.String({ maxLength: 100, description: 'cursor from a previous page' })),
});
export type TradesQuery = Static<typeof TradesQuery>;
export const TradesResponse = Items(ClassifiedTrade);
export type TradesResponse = Static<typeof TradesResponse>;

export const BarsQuery = Type.Object({
  interval: Type.Optional(BarInterval),
  from: Type.Optional(TimeParam),
  to: Type.Optional(TimeParam),
  limit: Type.Optional(Limit),
});
export type BarsQuery = Static<typeof BarsQuery>;
export const BarsResponse = Items(Bar);
export type BarsResponse = Static<typeof BarsResponse>;

// --- session summary
export const SessionQuery = Type.Object({ date: Type.Optional(Type.String({ format: 'date' })) });
export type SessionQuery = Static<typeof SessionQuery>;
export const SessionResponse = Type.Object({
  symbol: Symbol,
  tradingDate: Type.String(),
  day: SessionSummary,
  phases: Type.Array(SessionSummary),
});
export type SessionResponse = Static<typeof SessionResponse>;

// --- foreign flows
export const ForeignTopQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) });
export type ForeignTopQuery = Static<typeof ForeignTopQuery>;
export const ForeignTopResponse = ForeignTop;
export const ForeignHistoryQuery = Type.Object({ from: Type.Optional(TimeParam), to: Type.Optional(TimeParam), limit: Type.Optional(Limit) });
export type ForeignHistoryQuery = Static<typeof ForeignHistoryQuery>;
export const ForeignHistoryResponse = Items(ForeignState);
export type ForeignHistoryResponse = Static<typeof ForeignHistoryResponse>;

// --- indices
export const IndicesResponse = Type.Object({ items: Type.Array(IndexState) });
export type IndicesResponse = Static<typeof IndicesResponse>;
export const IndexPoint = Type.Object({ ts: Type.Number(), value: Type.Number() });
export const IndexHistoryResponse = Items(IndexPoint);
export type IndexHistoryResponse = Static<typeof IndexHistoryResponse>;

// --- indicators
export const IndicatorsQuery = Type.Object({
  name: IndicatorName,
  interval: Type.Optional(BarInterval),
  period: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  limit: Type.Optional(Limit),
});
export type IndicatorsQuery = Static<typeof IndicatorsQuery>;
export const IndicatorsResponse = Type.Object({ symbol: Symbol, name: IndicatorName, interval: BarInterval, items: Type.Array(IndicatorPoint) });
export type IndicatorsResponse = Static<typeof IndicatorsResponse>;

// --- market status
export const MarketStatusResponse = Type.Object({
  ts: Type.Number(),
  exchanges: Type.Array(
    Type.Object({
      exchange: Type.String(),
      phase: SessionPhase,
      halted: Type.Boolean(),
      /** The next scheduled phase and when it starts (epoch ms on the feed's clock: the simulator's is exchange time); null when the schedule has none. */
      next: Type.Optional(Type.Union([Type.Object({ phase: SessionPhase, at: Type.Number() }), Type.Null()])),
    }),
  ),
  feed: Type.Object({ name: Type.String(), connected: Type.Boolean(), lastEventTs: Type.Union([Type.Number(), Type.Null()]) }),
});
export type MarketStatusResponse = Static<typeof MarketStatusResponse>;

// --- alert rules & events (owned by the calling user)
export const AlertRuleCreate = Type.Object(
  {
    symbol: Symbol,
    kind: AlertKind,
    threshold: Type.Number(),
    period: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cooldownMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, default: 60_000 })),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    note: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type AlertRuleCreate = Static<typeof AlertRuleCreate>;
export const AlertRuleUpdate = Type.Partial(AlertRuleCreate, { additionalProperties: false, minProperties: 1 });
export type AlertRuleUpdate = Static<typeof AlertRuleUpdate>;
export const AlertRulesResponse = Items(AlertRule);
export type AlertRulesResponse = Static<typeof AlertRulesResponse>;
/** Rules oldest first; `after` is the `next` of the previous page. Without `limit`, a page of MAX_PAGE (all rules under the default quota). */
export const AlertRulesQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
  after: Type.Optional(Type.String({ maxLength: 100 })),
});
export type AlertRulesQuery = Static<typeof AlertRulesQuery>;
export const AlertEventsQuery = Type.Object({
  limit: Type.Optional(Limit),
  before: Type.Optional(Type.String({ maxLength: 100 })),
  symbol: Type.Optional(Symbol),
});
export type AlertEventsQuery = Static<typeof AlertEventsQuery>;
export const AlertEventsResponse = Items(AlertEvent);
export type AlertEventsResponse = Static<typeof AlertEventsResponse>;

// --- watchlists (owned by the calling user)
export const Watchlist = Type.Object({
  id: Type.String(),
  name: Type.String({ minLength: 1, maxLength: 60 }),
  symbols: Type.Array(Symbol, { maxItems: 200 }),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
});
export type Watchlist = Static<typeof Watchlist>;
export const WatchlistCreate = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 60 }), symbols: Type.Optional(Type.Array(Symbol, { maxItems: 200 })) },
  { additionalProperties: false },
);
export type WatchlistCreate = Static<typeof WatchlistCreate>;
export const WatchlistUpdate = Type.Partial(WatchlistCreate, { additionalProperties: false, minProperties: 1 });
export type WatchlistUpdate = Static<typeof WatchlistUpdate>;
export const WatchlistsResponse = Items(Watchlist);
export type WatchlistsResponse = Static<typeof WatchlistsResponse>;

// --- accounts (AUTH_MODE=accounts; see docs/security.md)
/** Lower-cased by the server before use: user names are case-insensitive. */
export const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9._\\-]+$' });
export const NewPassword = Type.String({ minLength: 12, maxLength: 256, description: 'at least 12 characters, not the user name, not a breached or common password' });
export const AuthRegister = Type.Object({ username: Username, password: NewPassword }, { additionalProperties: false });
export type AuthRegister = Static<typeof AuthRegister>;
export const AuthLogin = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type AuthLogin = Static<typeof AuthLogin>;
export const AuthPasswordChange = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: NewPassword },
  { additionalProperties: false },
);
export type AuthPasswordChange = Static<typeof AuthPasswordChange>;
/** `createdAt` (epoch ms) is absent for the local default user of AUTH_MODE=none. */
export const AuthUser = Type.Object({ id: Type.String(), username: Type.String(), createdAt: Type.Optional(Type.Number()) });
export type AuthUser = Static<typeof AuthUser>;
/** Login, register and refresh answer with a short-lived access token; the refresh token travels only as an HttpOnly cookie. */
export const AuthTokens = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  /** Lifetime of the access token in seconds. */
  expiresIn: Type.Integer({ minimum: 1 }),
  /** Expiry of the access token, epoch ms. */
  expiresAt: Type.Number(),
  user: AuthUser,
});
export type AuthTokens = Static<typeof AuthTokens>;
export const AuthMode = Type.Union([Type.Literal('none'), Type.Literal('accounts')]);
export type AuthMode = Static<typeof AuthMode>;
/** `GET /auth/me`: the server's mode, and the caller (null when no token was sent). */
export const Me = Type.Object({
  mode: AuthMode,
  user: Type.Union([AuthUser, Type.Null()]),
  registrationEnabled: Type.Boolean(),
  publicMarketData: Type.Boolean(),
  /** The request carried a refresh cookie, so `POST /auth/refresh` may sign in silently (the cookie itself is unreadable to scripts). */
  refreshCookie: Type.Boolean(),
});
export type Me = Static<typeof Me>;

// --- error body (the contract of ARCHITECTURE §6), as a schema for OpenAPI
export const ErrorResponse = Type.Object({
  code: Type.String(),
  message: Type.String(),
  request_id: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), issue: Type.String() }))),
});

/**
 * The endpoint list: the server registers exactly these, the web app calls
 * them. Paths are relative to /api.
 */
export const ENDPOINTS = {
  symbols: 'GET /symbols',
  symbol: 'GET /symbols/:symbol',
  quotes: 'GET /quotes',
  quote: 'GET /quotes/:symbol',
  trades: 'GET /trades/:symbol',
  bars: 'GET /bars/:symbol',
  session: 'GET /session/:symbol',
  foreignTop: 'GET /foreign/top',
  foreign: 'GET /foreign/:symbol',
  foreignHistory: 'GET /foreign/:symbol/history',
  indices: 'GET /indices',
  index: 'GET /indices/:id',
  indexHistory: 'GET /indices/:id/history',
  indicators: 'GET /indicators/:symbol',
  marketStatus: 'GET /market/status',
  alertRules: 'GET /alerts/rules',
  alertRuleCreate: 'POST /alerts/rules',
  alertRule: 'GET /alerts/rules/:id',
  alertRuleUpdate: 'PATCH /alerts/rules/:id',
  alertRuleDelete: 'DELETE /alerts/rules/:id',
  alertEvents: 'GET /alerts/events',
  watchlists: 'GET /watchlists',
  watchlistCreate: 'POST /watchlists',
  watchlist: 'GET /watchlists/:id',
  watchlistUpdate: 'PATCH /watchlists/:id',
  watchlistDelete: 'DELETE /watchlists/:id',
  authRegister: 'POST /auth/register',
  authLogin: 'POST /auth/login',
  authRefresh: 'POST /auth/refresh',
  authLogout: 'POST /auth/logout',
  authPassword: 'POST /auth/password',
  authMe: 'GET /auth/me',
} as const;
