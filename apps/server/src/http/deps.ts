/**
 * What the HTTP layer needs, injected by the role that builds it. Live data
 * comes from a `LiveMarket` (the engine in the `all` role; the shared state in
 * Redis in the `api` role), history from the storage repositories.
 */
import type { Registry } from 'prom-client';
import type {
  AlertRule,
  Bar,
  ForeignState,
  ForeignTop,
  IndexState,
  QuoteState,
  SessionSummary,
  SymbolRef,
} from '@stock-tracker/protocol';
import type { Repositories } from '../storage/repositories.ts';
import type { Logger } from '../observability/logger.ts';
import type { EventLoopMonitor } from '../observability/event-loop.ts';
import type { ReadinessCheck } from './readiness.ts';
import type { AuthService } from '../auth/auth-service.ts';
import type { TradingRouteDeps } from './routes/trading.ts';

/** A value, or a promise of it: the engine answers from memory, the api role's view from Redis. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The read side of the market engine (MarketEngine satisfies it as is). The
 * `api` role implements it over Redis (market-view/), hence the promises.
 */
export interface LiveMarket {
  now(): MaybePromise<number>;
  quote(symbol: string): MaybePromise<QuoteState | undefined>;
  quotes(): MaybePromise<QuoteState[]>;
  reference(symbol: string): MaybePromise<SymbolRef | undefined>;
  references(): MaybePromise<SymbolRef[]>;
  summary(symbol: string): MaybePromise<{ day: SessionSummary; phases: SessionSummary[] } | undefined>;
  /** Closed 1m bars, oldest first, plus the open one last. */
  bars(symbol: string): MaybePromise<Bar[]>;
  foreign(symbol: string): MaybePromise<ForeignState | undefined>;
  foreignTop(n?: number): MaybePromise<ForeignTop>;
  indices(): MaybePromise<IndexState[]>;
}

/** Where alert rule changes go besides storage, so rules take effect at once. */
export interface AlertRuleSink {
  upsert(rule: AlertRule): void;
  remove(ruleId: string): unknown;
}

export interface FeedInfo {
  name: string;
  connected: boolean;
  lastEventTs: number | null;
}

export interface HttpSettings {
  appEnv: 'development' | 'production' | 'test';
  corsOrigins: string[];
  trustProxy: boolean | number | string[];
  /**
   * Per window of `windowMs`: `max` requests per address on /api; `authMax` per address on
   * POST /api/auth/*; `writeMax` per address on other writes; `alertRuleMax` rule creations per
   * user. 0 or absent disables that limit.
   */
  rateLimit: { max: number; windowMs: number; authMax?: number; writeMax?: number; alertRuleMax?: number };
  /** Per-user quotas on alert rules and watchlists (enforced in SQL); absent: the defaults (QUOTA_DEFAULTS). */
  quotas?: { alertRulesPerUser: number; alertRulesPerSymbol: number; watchlistsPerUser: number };
  /** Accounts (docs/security.md). Absent: AUTH_MODE=none, every request acts for the local default user. */
  auth?: { mode: 'none' | 'accounts'; registrationEnabled: boolean; publicMarketData: boolean };
  /** Memo of full-board reads (quotes, symbols, market status, foreign top); default 250 ms, 0 off (board-memo.ts). */
  boardMemo?: { ttlMs: number; now?: () => number };
  /** Serve the SPA from this directory when it holds a build. */
  webDist?: string | null;
  /** Browser security headers (embedded mode; the edge sets them in production). */
  securityHeaders?: boolean;
  bodyLimit?: number;
}

export interface AppDeps {
  settings: HttpSettings;
  log: Logger;
  market: LiveMarket;
  alertSink: AlertRuleSink;
  repos: Repositories;
  feedStatus: () => MaybePromise<FeedInfo>;
  readiness: ReadinessCheck[];
  registry: Registry;
  eventLoop?: EventLoopMonitor;
  /** Required with `settings.auth.mode === 'accounts'`. */
  auth?: AuthService;
  /** Paper trading (/api/trading); absent when TRADING_ENABLED=false. */
  trading?: TradingRouteDeps;
}
