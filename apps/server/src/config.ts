/**
 * Configuration: environment variables only (ARCHITECTURE §7), validated once at
 * start. Every problem is collected so that one run reports all of them, each
 * message naming its variable. Production-only refusals (weak secret, wildcard
 * CORS) live here too; the database reachability refusal happens where the
 * database is opened (roles), because it needs I/O.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNOWN_DEFAULT_SECRETS, MIN_SECRET_CHARS, redactUrlPassword, secretProblem, urlPasswordProblem } from './auth/secrets.ts';

export const APP_ENVS = ['development', 'production', 'test'] as const;
export type AppEnv = (typeof APP_ENVS)[number];
export const FEEDS = ['simulator', 'replay', 'ssi', 'alpaca'] as const;
export type FeedKind = (typeof FEEDS)[number];
export const ROLES = ['all', 'collector', 'api'] as const;
/** SIM_START_PHASE: the session phase the simulator's first day is in at start, or `aligned` (docs/feeds.md, "Simulator"). */
export const SIM_START_PHASES = ['pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed', 'aligned'] as const;
export type SimStartPhaseSetting = (typeof SIM_START_PHASES)[number];
export type Role = (typeof ROLES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const AUTH_MODES = ['none', 'accounts'] as const;
export type AuthModeSetting = (typeof AUTH_MODES)[number];

/** Fastify's trustProxy forms: off/on, a hop count, or a list of addresses/CIDRs. */
export type TrustProxy = boolean | number | string[];

export interface Config {
  appEnv: AppEnv;
  role: Role;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** The storage writer of the collector (roles all, collector): docs/storage.md#spill. */
  storage: {
    /** Rows held in memory before new ones go to the spill (STORAGE_BUFFER_ROWS). */
    bufferRows: number;
    /** Directory of the durable spill (SPILL_DIR; default $DATA_DIR/spill). */
    spillDir: string;
    /** Byte cap of the spill; 0 turns it off (SPILL_MAX_BYTES). */
    spillMaxBytes: number;
  };
  feed: {
    kind: FeedKind;
    file: string | undefined;
    speed: number | 'max';
    simSeed: number;
    simDayMs: number;
    /** Simulator: mean events per second while the market trades continuously. */
    simIntensity: number;
    /** Simulator: phase of the first day at start (SIM_START_PHASE); optional so hand-built test configs need not name it (then `aligned`). */
    simStartPhase?: SimStartPhaseSetting;
    /** Simulator: wall length of the lunch break, other breaks in proportion (SIM_BREAK_MS); absent = 1% of the day. */
    simBreakMs?: number;
    ssi: { consumerId: string; consumerSecret: string } | undefined;
    alpaca: { keyId: string; secretKey: string } | undefined;
    /** No market data for this long while a market trades raises the stale-feed alert; 0 turns the watchdog off. */
    staleAfterMs: number;
  };
  /** Alpaca Trading API broker (docs/trading.md, "Alpaca broker"); absent without ALPACA_TRADING_KEY_ID (optional so hand-built test configs need not name it). */
  alpacaTrading?: AlpacaTradingSettings;
  jwtSecret: string;
  /** The signing secret before a rotation, accepted for verification only until its tokens expire. */
  jwtSecretPrevious: string | undefined;
  auth: {
    /** `none`: every request acts for the local default user (embedded default); `accounts`: tokens required (production default). */
    mode: AuthModeSetting;
    registrationEnabled: boolean;
    /** Market data REST and WS without a token (accounts mode). */
    publicMarketData: boolean;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    /** A refresh token re-presented this soon after its rotation (successor unused) is a lost response, not reuse (REFRESH_REUSE_GRACE_SECONDS); optional for hand-built test configs. */
    refreshReuseGraceSeconds?: number;
    jwtIssuer: string;
    jwtAudience: string;
  };
  /** Allowed cross-origin callers (REST CORS and the WS origin check); `*` only outside production. */
  corsOrigins: string[];
  trustProxy: TrustProxy;
  /** Worker processes of the `api` role (node:cluster); 1 = no fork. */
  webConcurrency: number;
  /** The collector and api roles (docs/scaling.md). */
  scale: ScaleSettings;
  ws: {
    maxConnectionsPerIp: number;
    maxFrameBytes: number;
    maxSubscriptions: number;
    pingIntervalMs: number;
    queueBytesCap: number;
    maxQueuedSnapshots: number;
    stallTimeoutMs: number;
  };
  /** Per window: `max` per address on /api, `authMax` per address on /api/auth, `writeMax` per address on writes, `alertRuleMax` per user on rule creation; 0 disables one. */
  rateLimit: { max: number; windowMs: number; authMax: number; writeMax: number; alertRuleMax: number };
  /** Per-user quotas, enforced in SQL (docs/security.md); optional so hand-built test configs need not name them (defaults then). */
  quotas?: QuotaSettings;
  log: { level: LogLevel; pretty: boolean };
  webDist: string;
  shutdownTimeoutMs: number;
  /** Paper trading (docs/trading.md); optional so hand-built test configs need not name it (defaults then). */
  trading?: TradingSettings;
}

export interface TradingSettings {
  /** Runs the trading core (all: in-process; collector: on the leader) and serves /api/trading. */
  enabled: boolean;
  /** Starting cash of a new paper account when the request names none: VN accounts in VND, US accounts in USD. */
  startingCashVn: number;
  startingCashUs: number;
  /** Per-user quotas. */
  maxAccounts: number;
  maxStrategies: number;
  maxOpenOrders: number;
  /** Directory of tapes a backtest may name (by file name only); null: no tape backtests. */
  tapesDir: string | null;
  /** A backtest stops with an error past this wall time or this many events (bounded CPU). */
  backtestMaxMs: number;
  backtestMaxEvents: number;
  /** How long an order request waits for the core's answer before answering 202 (pending). */
  commandWaitMs: number;
  /** Full reload of pending commands, strategies and risk limits by the core's process (changes also arrive at once). */
  reloadMs: number;
  /**
   * Whether this deployment offers Alpaca accounts (TRADING_ALPACA_ACCOUNTS). Api replicas do not hold the
   * Alpaca keys (only the collector, where the cores run, does), so they learn it from this non-secret flag;
   * unset, it is true exactly when this process has the keys.
   */
  alpacaAccounts: boolean;
}

export const TRADING_DEFAULTS: TradingSettings = {
  enabled: true,
  startingCashVn: 1_000_000_000,
  startingCashUs: 100_000,
  maxAccounts: 5,
  maxStrategies: 20,
  maxOpenOrders: 200,
  tapesDir: null,
  backtestMaxMs: 60_000,
  backtestMaxEvents: 5_000_000,
  commandWaitMs: 2_000,
  reloadMs: 5_000,
  alpacaAccounts: false,
};

function parseTrading(r: Reader): TradingSettings {
  const d = TRADING_DEFAULTS;
  const tapes = r.raw('TRADING_TAPES_DIR');
  return {
    enabled: r.bool('TRADING_ENABLED', d.enabled),
    startingCashVn: r.int('TRADING_STARTING_CASH', d.startingCashVn, 1, 1e13),
    startingCashUs: r.int('TRADING_STARTING_CASH_US', d.startingCashUs, 1, 1e13),
    maxAccounts: r.int('TRADING_MAX_ACCOUNTS', d.maxAccounts, 1, 1_000),
    maxStrategies: r.int('TRADING_MAX_STRATEGIES', d.maxStrategies, 1, 10_000),
    maxOpenOrders: r.int('TRADING_MAX_OPEN_ORDERS', d.maxOpenOrders, 1, 100_000),
    tapesDir: tapes ? path.resolve(tapes) : null,
    backtestMaxMs: r.int('BACKTEST_MAX_MS', d.backtestMaxMs, 100, 3_600_000),
    backtestMaxEvents: r.int('BACKTEST_MAX_EVENTS', d.backtestMaxEvents, 1, 1e9),
    commandWaitMs: r.int('TRADING_COMMAND_WAIT_MS', d.commandWaitMs, 0, 60_000),
    reloadMs: r.int('TRADING_RELOAD_MS', d.reloadMs, 100, 86_400_000),
    alpacaAccounts: r.bool('TRADING_ALPACA_ACCOUNTS', r.raw('ALPACA_TRADING_KEY_ID') !== undefined),
  };
}

export interface QuotaSettings {
  /** Alert rules one user may hold (ALERT_RULES_PER_USER). */
  alertRulesPerUser: number;
  /** Alert rules one user may hold on one symbol (ALERT_RULES_PER_SYMBOL): the engine checks every rule of a symbol on each of its quotes. */
  alertRulesPerSymbol: number;
  /** Watchlists one user may hold (WATCHLISTS_PER_USER). */
  watchlistsPerUser: number;
}

export const QUOTA_DEFAULTS: QuotaSettings = { alertRulesPerUser: 500, alertRulesPerSymbol: 50, watchlistsPerUser: 50 };

export interface ScaleSettings {
  /** Key prefix of everything the deployment keeps in Redis (bus, leader lock, live view). */
  redisPrefix: string;
  /** Resume window of the Redis bus: messages kept per state / event stream. */
  busHistoryState: number;
  busHistoryEvents: number;
  /** Bus entries older than this are trimmed (latest states stay); 0 keeps them until the count limit. */
  busMaxAgeMs: number;
  /** Collector leader lease, and how often the leader renews it (standbys retry at the same period). */
  leaderTtlMs: number;
  leaderRenewMs: number;
  /** How often the collector writes session summaries, open bars and its status for the api replicas. */
  liveViewIntervalMs: number;
  /** Full alert rule reload period of the collector (changes also arrive at once over Redis). */
  alertRulesReloadMs: number;
  /** Upper bound of the restart backoff of a crashed api worker. */
  workerRestartMaxDelayMs: number;
}

/** Workers when WEB_CONCURRENCY is unset: one per CPU, at most 4 (each holds its own connections and Redis reader). */
export const DEFAULT_MAX_WORKERS = 4;
export const defaultWebConcurrency = (): number => Math.max(1, Math.min(os.availableParallelism(), DEFAULT_MAX_WORKERS));

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export { KNOWN_DEFAULT_SECRETS };
export const MIN_SECRET_LENGTH = MIN_SECRET_CHARS;
const DEV_JWT_SECRET = 'dev-insecure-jwt-secret-do-not-use-in-production';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_WEB_DIST = path.join(REPO_ROOT, 'apps/web/dist');

type Env = Record<string, string | undefined>;

/** DATA_DIR when unset: the one default of the server and every job. */
export const DEFAULT_DATA_DIR = './data';

/**
 * Where a job (migrate, user, backup, backfill, restore) finds its database:
 * DATABASE_URL when set, else embedded PGlite under DATA_DIR. Jobs read only
 * these two, not the whole configuration, so that a migration does not need
 * the server's secrets; this is their one reader of them.
 */
export function readStorageEnv(env: Env = process.env): { databaseUrl: string | undefined; dataDir: string } {
  return { databaseUrl: env.DATABASE_URL?.trim() || undefined, dataDir: env.DATA_DIR?.trim() || DEFAULT_DATA_DIR };
}

/** Collects problems while reading variables; each reader returns a usable fallback so parsing continues. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  problem(name: string, issue: string): void {
    this.problems.push(`${name}: ${issue}`);
  }

  str(name: string, def: string): string {
    return this.raw(name) ?? def;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], def: T): T {
    const v = this.raw(name);
    if (v === undefined) return def;
    const lower = v.toLowerCase() as T;
    if (allowed.includes(lower)) return lower;
    this.problem(name, `must be one of ${allowed.join(', ')} (got '${v}')`);
    return def;
  }

  int(name: string, def: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!/^-?\d+$/.test(v)) {
      this.problem(name, `must be an integer (got '${v}')`);
      return def;
    }
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.problem(name, `must be between ${min} and ${max} (got ${v})`);
      return def;
    }
    return n;
  }

  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return def;
    const l = v.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(l)) return true;
    if (['0', 'false', 'no', 'off'].includes(l)) return false;
    this.problem(name, `must be true or false (got '${v}')`);
    return def;
  }

  url(name: string, protocols: string[]): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      this.problem(name, `must be a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
      return undefined;
    }
    if (!protocols.includes(u.protocol)) {
      this.problem(name, `must use ${protocols.join(' or ')} (got ${u.protocol})`);
      return undefined;
    }
    return v;
  }
}

function parseTrustProxy(r: Reader): TrustProxy {
  const v = r.raw('TRUST_PROXY');
  if (v === undefined) return false;
  const l = v.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(l)) return true;
  if (['0', 'false', 'no', 'off'].includes(l)) return false;
  if (/^hops:\d{1,2}$/.test(l)) return Number(l.slice(5));
  const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
  // Addresses or CIDRs only: anything else would silently trust nothing (or everything).
  const bad = parts.filter((p) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(p) && !['loopback', 'linklocal', 'uniquelocal'].includes(p));
  if (parts.length === 0 || bad.length > 0) {
    r.problem('TRUST_PROXY', `must be true, false, hops:N or a comma-separated list of proxy addresses/CIDRs (bad: ${bad.join(', ') || v})`);
    return false;
  }
  return parts;
}

function parseOrigins(r: Reader): string[] {
  const v = r.raw('CORS_ORIGINS');
  if (v === undefined) return [];
  const out: string[] = [];
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part === '*') {
      out.push('*');
      continue;
    }
    let u: URL | undefined;
    try {
      u = new URL(part);
    } catch {
      u = undefined;
    }
    // An origin is scheme://host[:port] and nothing else; a path would never match the Origin header.
    if (!u || !['http:', 'https:'].includes(u.protocol) || u.origin !== part.replace(/\/$/, '')) {
      r.problem('CORS_ORIGINS', `'${part}' is not an origin (expected scheme://host[:port])`);
      continue;
    }
    out.push(u.origin);
  }
  return out;
}

function parseSpeed(r: Reader): number | 'max' {
  const v = r.raw('FEED_SPEED');
  if (v === undefined) return 1;
  if (v.toLowerCase() === 'max') return 'max';
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 100_000) {
    r.problem('FEED_SPEED', `must be a positive number up to 100000 or 'max' (got '${v}')`);
    return 1;
  }
  return n;
}

function parseStaleAfter(r: Reader): number {
  const ms = r.int('FEED_STALE_AFTER_MS', 30_000, 0, 86_400_000);
  // Below a second every pause between two vendor messages would count as an outage.
  if (ms > 0 && ms < 1_000) {
    r.problem('FEED_STALE_AFTER_MS', `must be 0 (watchdog off) or at least 1000 ms (got ${ms})`);
    return 30_000;
  }
  return ms;
}

/** SIM_BREAK_MS: at most 30% of SIM_DAY_MS, so the three breaks (5/3 of a lunch break) leave half of the day to trading. */
function simBreakMs(r: Reader): number | undefined {
  if (r.raw('SIM_BREAK_MS') === undefined) return undefined;
  // SIM_DAY_MS itself is validated (and reported) where it is read.
  const dayMs = Number(r.raw('SIM_DAY_MS') ?? 600_000);
  const ms = r.int('SIM_BREAK_MS', 0, 0, 86_400_000);
  if (Number.isFinite(dayMs) && ms > dayMs * 0.3) r.problem('SIM_BREAK_MS', `must be at most 30% of SIM_DAY_MS (${Math.floor(dayMs * 0.3)} ms for SIM_DAY_MS=${dayMs}) so breaks leave half of the day to trading (got ${ms})`);
  return ms;
}

function parseScale(r: Reader, role: Role): ScaleSettings {
  if (role !== 'all') {
    // Both scaled-out roles share state through Redis and PostgreSQL; neither works embedded.
    if (!r.raw('REDIS_URL')) r.problem('REDIS_URL', `is required for ROLE=${role} (the bus between collector and api replicas)`);
    if (!r.raw('DATABASE_URL')) r.problem('DATABASE_URL', `is required for ROLE=${role} (PostgreSQL shared by collector and api replicas; embedded PGlite is for ROLE=all)`);
  }
  const redisPrefix = r.str('REDIS_PREFIX', 'st:');
  if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(redisPrefix)) r.problem('REDIS_PREFIX', `must be 1-64 characters of A-Z a-z 0-9 _ : . - (got '${redisPrefix}')`);
  const leaderTtlMs = r.int('LEADER_TTL_MS', 5_000, 500, 600_000);
  const leaderRenewMs = r.int('LEADER_RENEW_MS', Math.floor(leaderTtlMs / 3), 50, 600_000);
  if (leaderRenewMs * 2 > leaderTtlMs) r.problem('LEADER_RENEW_MS', `must be at most half of LEADER_TTL_MS (${leaderTtlMs}), so one lost renewal does not cost the lease (got ${leaderRenewMs})`);
  return {
    redisPrefix,
    busHistoryState: r.int('BUS_HISTORY_STATE', 200, 1, 1_000_000),
    busHistoryEvents: r.int('BUS_HISTORY_EVENTS', 1_000, 1, 1_000_000),
    busMaxAgeMs: r.int('BUS_MAX_AGE_MS', 15 * 60_000, 0, 7 * 86_400_000),
    leaderTtlMs,
    leaderRenewMs,
    liveViewIntervalMs: r.int('LIVE_VIEW_INTERVAL_MS', 1_000, 50, 60_000),
    alertRulesReloadMs: r.int('ALERT_RULES_RELOAD_MS', 60_000, 1_000, 86_400_000),
    workerRestartMaxDelayMs: r.int('WORKER_RESTART_MAX_DELAY_MS', 10_000, 100, 600_000),
  };
}

export interface AlpacaTradingSettings {
  keyId: string;
  secretKey: string;
  /** REST base: https://paper-api.alpaca.markets unless live. */
  baseUrl: string;
  /** trade_updates stream: the REST host's /stream unless set. */
  streamUrl: string;
  /** Real money: only with ALPACA_TRADING_LIVE=true and the live endpoint. */
  live: boolean;
}

export const ALPACA_TRADING_PAPER_URL = 'https://paper-api.alpaca.markets';
const ALPACA_TRADING_LIVE_HOST = 'api.alpaca.markets';

/**
 * ALPACA_TRADING_*: paper by default. The live endpoint needs
 * ALPACA_TRADING_LIVE=true and ALPACA_TRADING_LIVE=true needs the live
 * endpoint (REST and stream): either alone is refused, in every environment,
 * so a copied URL or a stray flag cannot start real-money trading. Production
 * also refuses unencrypted endpoints (the keys travel in headers).
 */
function parseAlpacaTrading(r: Reader, prod: boolean): AlpacaTradingSettings | undefined {
  const keyId = r.raw('ALPACA_TRADING_KEY_ID');
  const secretKey = r.raw('ALPACA_TRADING_SECRET_KEY');
  const live = r.bool('ALPACA_TRADING_LIVE', false);
  const baseUrl = r.url('ALPACA_TRADING_URL', ['https:', 'http:']) ?? ALPACA_TRADING_PAPER_URL;
  let streamUrl = r.url('ALPACA_TRADING_STREAM_URL', ['wss:', 'ws:']);
  if (streamUrl === undefined) {
    const u = new URL(baseUrl);
    u.protocol = u.protocol === 'http:' ? 'ws:' : 'wss:';
    u.pathname = '/stream';
    u.search = '';
    streamUrl = u.toString();
  }
  if (keyId && !secretKey) r.problem('ALPACA_TRADING_SECRET_KEY', 'is required with ALPACA_TRADING_KEY_ID');
  if (secretKey && !keyId) r.problem('ALPACA_TRADING_KEY_ID', 'is required with ALPACA_TRADING_SECRET_KEY');
  const isLive = (u: string) => new URL(u).hostname.toLowerCase() === ALPACA_TRADING_LIVE_HOST;
  if (live) {
    if (!keyId) r.problem('ALPACA_TRADING_LIVE', 'true needs ALPACA_TRADING_KEY_ID and ALPACA_TRADING_SECRET_KEY (the live account keys)');
    if (!isLive(baseUrl)) r.problem('ALPACA_TRADING_LIVE', `true needs ALPACA_TRADING_URL=https://${ALPACA_TRADING_LIVE_HOST} (got ${baseUrl}); remove ALPACA_TRADING_LIVE to paper trade`);
    else if (!isLive(streamUrl)) r.problem('ALPACA_TRADING_STREAM_URL', `live trading needs wss://${ALPACA_TRADING_LIVE_HOST}/stream (got ${streamUrl})`);
  } else if (isLive(baseUrl) || isLive(streamUrl)) {
    const name = isLive(baseUrl) ? 'ALPACA_TRADING_URL' : 'ALPACA_TRADING_STREAM_URL';
    r.problem(name, `${isLive(baseUrl) ? baseUrl : streamUrl} is Alpaca's live (real money) endpoint: set ALPACA_TRADING_LIVE=true to trade real money, or use ${ALPACA_TRADING_PAPER_URL}`);
  }
  if (prod && keyId) {
    if (new URL(baseUrl).protocol !== 'https:') r.problem('ALPACA_TRADING_URL', `must use https: in production (the keys travel in headers; got ${baseUrl})`);
    if (new URL(streamUrl).protocol !== 'wss:') r.problem('ALPACA_TRADING_STREAM_URL', `must use wss: in production (got ${streamUrl})`);
  }
  return keyId && secretKey ? { keyId, secretKey, baseUrl, streamUrl, live } : undefined;
}

/**
 * Reads and validates the configuration. Throws ConfigError listing every
 * problem. `env` defaults to process.env; tests pass their own.
 */
export function loadConfig(env: Env = process.env): Config {
  const r = new Reader(env);
  const appEnv = r.oneOf('APP_ENV', APP_ENVS, 'development');
  const prod = appEnv === 'production';
  const role = r.oneOf('ROLE', ROLES, 'all');

  const feedKind = r.oneOf('FEED', FEEDS, 'simulator');
  const feedFile = r.raw('FEED_FILE');
  if (feedKind === 'replay' && !feedFile) r.problem('FEED_FILE', 'is required when FEED=replay (path to a tape file)');
  let ssi: Config['feed']['ssi'];
  // Vendor credentials matter only where the feed runs: the api role never talks to the vendor,
  // and compose gives it none (least privilege).
  const runsFeed = role !== 'api';
  if (feedKind === 'ssi') {
    const id = r.raw('SSI_CONSUMER_ID');
    const secret = r.raw('SSI_CONSUMER_SECRET');
    if (!id && runsFeed) r.problem('SSI_CONSUMER_ID', 'is required when FEED=ssi');
    if (!secret && runsFeed) r.problem('SSI_CONSUMER_SECRET', 'is required when FEED=ssi');
    if (id && secret) ssi = { consumerId: id, consumerSecret: secret };
  }
  let alpaca: Config['feed']['alpaca'];
  if (feedKind === 'alpaca') {
    const id = r.raw('ALPACA_KEY_ID');
    const secret = r.raw('ALPACA_SECRET_KEY');
    if (!id && runsFeed) r.problem('ALPACA_KEY_ID', 'is required when FEED=alpaca');
    if (!secret && runsFeed) r.problem('ALPACA_SECRET_KEY', 'is required when FEED=alpaca');
    const tier = r.raw('ALPACA_FEED') ?? 'iex';
    if (!['iex', 'sip', 'delayed_sip', 'test'].includes(tier)) r.problem('ALPACA_FEED', `must be iex, sip, delayed_sip or test (got '${tier}')`);
    // The test feed streams FAKEPACA by itself; real feeds need to know what to subscribe.
    if (tier !== 'test' && !r.raw('ALPACA_SYMBOLS')) r.problem('ALPACA_SYMBOLS', 'is required when FEED=alpaca (comma-separated symbols, e.g. AAPL,MSFT)');
    if (id && secret) alpaca = { keyId: id, secretKey: secret };
  }

  const alpacaTrading = parseAlpacaTrading(r, prod);

  let jwtSecret = r.raw('JWT_SECRET');
  const jwtSecretPrevious = r.raw('JWT_SECRET_PREVIOUS');
  if (prod) {
    // The collector neither signs nor verifies tokens, and compose gives it no key: judged only when set.
    const problem = role === 'collector' && jwtSecret === undefined ? null : secretProblem(jwtSecret);
    if (problem) r.problem('JWT_SECRET', problem);
    const prevProblem = jwtSecretPrevious !== undefined ? secretProblem(jwtSecretPrevious) : null;
    if (prevProblem) r.problem('JWT_SECRET_PREVIOUS', prevProblem);
    for (const name of ['DATABASE_URL', 'REDIS_URL']) {
      const p = urlPasswordProblem(r.raw(name));
      if (p) r.problem(name, p);
    }
    // The compose files pass the database password separately too.
    const pgPassword = r.raw('POSTGRES_PASSWORD');
    if (pgPassword !== undefined && urlPasswordProblem(`postgres://x:${encodeURIComponent(pgPassword)}@h/d`)) {
      r.problem('POSTGRES_PASSWORD', 'is a well-known default password; set a strong one (e.g. `openssl rand -base64 24`)');
    }
  }
  const jwtSecretSet = jwtSecret !== undefined;
  jwtSecret ??= DEV_JWT_SECRET;

  const corsOrigins = parseOrigins(r);
  if (prod && corsOrigins.includes('*')) r.problem('CORS_ORIGINS', "must not contain the wildcard '*' in production (credentials would be exposed to every site); list the allowed origins");

  const authMode = r.oneOf('AUTH_MODE', AUTH_MODES, prod ? 'accounts' : 'none');
  const publicMarketData = r.bool('PUBLIC_MARKET_DATA', true);
  // Accounts sign tokens with JWT_SECRET: the published development fallback would let anyone who reads
  // this file mint tokens. Only APP_ENV=test (throwaway processes) may run accounts on it. Production
  // already refuses a missing or weak secret above.
  if (authMode === 'accounts' && !jwtSecretSet && appEnv === 'development') {
    r.problem('JWT_SECRET', 'is required with AUTH_MODE=accounts (tokens would be signed with a published development key); set one (`openssl rand -base64 48`), or use AUTH_MODE=none');
  }
  // Open sign-up is a choice, not a default where anyone may reach the server (production), and it
  // contradicts private market data: whoever registers would read it.
  const registrationRaw = r.raw('REGISTRATION_ENABLED');
  const registrationEnabled = r.bool('REGISTRATION_ENABLED', !prod && publicMarketData);
  if (registrationRaw !== undefined && registrationEnabled && !publicMarketData) {
    r.problem('REGISTRATION_ENABLED', 'true contradicts PUBLIC_MARKET_DATA=false (anyone could sign up and read the private market data); create users with `stock-tracker user create`');
  }
  if (authMode === 'none' && !publicMarketData) r.problem('PUBLIC_MARKET_DATA', 'false needs AUTH_MODE=accounts (without accounts nobody could get a token)');

  const config: Config = {
    appEnv,
    role,
    port: r.int('PORT', 8080, 0, 65_535),
    host: r.str('HOST', '127.0.0.1'),
    dataDir: path.resolve(r.str('DATA_DIR', DEFAULT_DATA_DIR)),
    databaseUrl: r.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: r.url('REDIS_URL', ['redis:', 'rediss:']),
    storage: {
      bufferRows: r.int('STORAGE_BUFFER_ROWS', 100_000, 100, 10_000_000),
      spillDir: path.resolve(r.raw('SPILL_DIR') ?? path.join(r.str('DATA_DIR', DEFAULT_DATA_DIR), 'spill')),
      spillMaxBytes: r.int('SPILL_MAX_BYTES', 1024 ** 3, 0, 2 ** 50),
    },
    feed: {
      kind: feedKind,
      file: feedFile ? path.resolve(feedFile) : undefined,
      speed: parseSpeed(r),
      simSeed: r.int('SIM_SEED', 42, 0, 2 ** 32 - 1),
      simDayMs: r.int('SIM_DAY_MS', 600_000, 10_000, 86_400_000),
      simIntensity: r.int('SIM_INTENSITY', 200, 1, 100_000),
      // Collectors keep the epoch-aligned day: a standby taking over must regenerate the day the leader published.
      simStartPhase: r.oneOf('SIM_START_PHASE', SIM_START_PHASES, role === 'collector' ? 'aligned' : 'continuous'),
      simBreakMs: simBreakMs(r),
      ssi,
      alpaca,
      staleAfterMs: parseStaleAfter(r),
    },
    alpacaTrading,
    jwtSecret,
    jwtSecretPrevious,
    auth: {
      mode: authMode,
      registrationEnabled,
      publicMarketData,
      accessTokenTtlSeconds: r.int('ACCESS_TOKEN_TTL_SECONDS', 900, 30, 3_600),
      refreshTokenTtlSeconds: r.int('REFRESH_TOKEN_TTL_SECONDS', 14 * 86_400, 300, 90 * 86_400),
      refreshReuseGraceSeconds: r.int('REFRESH_REUSE_GRACE_SECONDS', 10, 0, 300),
      jwtIssuer: r.str('JWT_ISSUER', 'stock-tracker'),
      jwtAudience: r.str('JWT_AUDIENCE', 'stock-tracker-api'),
    },
    corsOrigins,
    trustProxy: parseTrustProxy(r),
    webConcurrency: r.int('WEB_CONCURRENCY', defaultWebConcurrency(), 1, 64),
    scale: parseScale(r, role),
    ws: {
      maxConnectionsPerIp: r.int('WS_MAX_CONNECTIONS_PER_IP', 50, 1, 100_000),
      maxFrameBytes: r.int('WS_MAX_FRAME_BYTES', 65_536, 256, 16 * 1024 * 1024),
      maxSubscriptions: r.int('WS_MAX_SUBSCRIPTIONS', 2_000, 1, 100_000),
      pingIntervalMs: r.int('WS_PING_INTERVAL_MS', 25_000, 100, 600_000),
      queueBytesCap: r.int('WS_QUEUE_BYTES_CAP', 1_048_576, 1_024, 1024 * 1024 * 1024),
      maxQueuedSnapshots: r.int('WS_MAX_QUEUED_SNAPSHOTS', 64, 1, 100_000),
      stallTimeoutMs: r.int('WS_STALL_TIMEOUT_MS', 30_000, 0, 600_000),
    },
    rateLimit: {
      max: r.int('RATE_LIMIT_MAX', 1_200, 0, 10_000_000),
      windowMs: r.int('RATE_LIMIT_WINDOW_MS', 60_000, 1_000, 86_400_000),
      authMax: r.int('AUTH_RATE_LIMIT_MAX', 30, 0, 10_000_000),
      writeMax: r.int('WRITE_RATE_LIMIT_MAX', 300, 0, 10_000_000),
      alertRuleMax: r.int('ALERT_RULE_RATE_LIMIT_MAX', 30, 0, 10_000_000),
    },
    quotas: {
      alertRulesPerUser: r.int('ALERT_RULES_PER_USER', QUOTA_DEFAULTS.alertRulesPerUser, 1, 1_000_000),
      alertRulesPerSymbol: r.int('ALERT_RULES_PER_SYMBOL', QUOTA_DEFAULTS.alertRulesPerSymbol, 1, 1_000_000),
      watchlistsPerUser: r.int('WATCHLISTS_PER_USER', QUOTA_DEFAULTS.watchlistsPerUser, 1, 1_000_000),
    },
    log: { level: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'), pretty: r.bool('LOG_PRETTY', false) },
    webDist: path.resolve(r.str('WEB_DIST', DEFAULT_WEB_DIST)),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    trading: parseTrading(r),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** Every string in `v` with URL passwords masked (any setting may be or hold a URL: DATABASE_URL, REDIS_URL, feed URLs …). */
function maskUrls(v: unknown): unknown {
  if (typeof v === 'string') return redactUrlPassword(v);
  if (Array.isArray(v)) return v.map(maskUrls);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskUrls(x)]));
  return v;
}

/** Config with secrets masked, for the start-up log line. */
export function redactConfig(c: Config): Record<string, unknown> {
  const masked = maskUrls(c) as Config;
  return {
    ...masked,
    jwtSecret: '***',
    jwtSecretPrevious: c.jwtSecretPrevious ? '***' : undefined,
    alpacaTrading: c.alpacaTrading ? { ...c.alpacaTrading, secretKey: '***' } : undefined,
    feed: { ...masked.feed, ssi: c.feed.ssi ? { consumerId: c.feed.ssi.consumerId, consumerSecret: '***' } : undefined, alpaca: c.feed.alpaca ? { keyId: c.feed.alpaca.keyId, secretKey: '***' } : undefined },
  };
}
