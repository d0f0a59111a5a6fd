/**
 * The storage API the REST layer and the collector use. Every method that
 * takes a userId filters by it: another user's row behaves as not found.
 *
 * Time windows (bars, foreign, indices) are inclusive on the item start time
 * and return oldest first. With only `from`, the first `limit` items from
 * `from`; otherwise the latest `limit` items up to `to` (or now).
 */
import { randomUUID } from 'node:crypto';
import {
  AppError,
  BAR_INTERVAL_MS,
  SESSION_PHASES,
  type AlertEvent,
  type AlertRule,
  type AlertRuleCreate,
  type AlertRuleUpdate,
  type Bar,
  type BarInterval,
  type ClassifiedTrade,
  type ForeignState,
  type SessionSummary,
  type SymbolRef,
  type Watchlist,
  type WatchlistCreate,
  type WatchlistUpdate,
} from '@stock-tracker/protocol';
import { rulesFor } from '@stock-tracker/rules';
import type { Db } from './db.ts';
import { dailyBarsRange } from './bars-import.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { iso, writeSymbolRefs } from './tables.ts';

export interface Page<T> {
  items: T[];
  /** Opaque cursor of the next (older) page; null when there is none. */
  next: string | null;
}

export interface TimeWindow {
  from?: number;
  to?: number;
  limit: number;
}

export interface SessionRecord {
  tradingDate: string;
  day: SessionSummary;
  phases: SessionSummary[];
}

export interface UserRecord {
  id: string;
  username: string;
}

export interface Repositories {
  symbols: { upsert(refs: SymbolRef[]): Promise<void>; list(): Promise<SymbolRef[]>; get(symbol: string): Promise<SymbolRef | undefined> };
  trades: { recent(symbol: string, limit: number, before?: string): Promise<Page<ClassifiedTrade>>; count(): Promise<number> };
  /** Oldest first; 5m/15m/1h/1d aggregated from 1m rows in SQL (1d = the exchange's local day). */
  bars: { range(symbol: string, interval: BarInterval, opts: TimeWindow): Promise<Bar[]> };
  /** The latest stored trading date when tradingDate is omitted. */
  sessions: { get(symbol: string, tradingDate?: string): Promise<SessionRecord | undefined> };
  foreign: { history(symbol: string, opts: TimeWindow): Promise<ForeignState[]> };
  indices: { history(id: string, opts: TimeWindow): Promise<{ ts: number; value: number }[]> };
  alertRules: {
    listAll(): Promise<AlertRule[]>;
    list(userId: string): Promise<AlertRule[]>;
    /** Oldest first, `limit` rules after the cursor `after` (a `next` of an earlier page). */
    page(userId: string, opts: { limit: number; after?: string }): Promise<Page<AlertRule>>;
    get(userId: string, id: string): Promise<AlertRule | undefined>;
    /** With `quota`, refuses (409 QUOTA_EXCEEDED) when the user's rules, or their rules on this symbol, are full. */
    create(userId: string, input: AlertRuleCreate, quota?: AlertRuleQuota): Promise<AlertRule>;
    /** With `quota`, a move to another symbol respects that symbol's cap. */
    update(userId: string, id: string, patch: AlertRuleUpdate, quota?: AlertRuleQuota): Promise<AlertRule | undefined>;
    remove(userId: string, id: string): Promise<boolean>;
  };
  /** Newest first. */
  alertEvents: { list(userId: string, opts: { limit: number; before?: string; symbol?: string }): Promise<Page<AlertEvent>> };
  watchlists: {
    list(userId: string): Promise<Watchlist[]>;
    get(userId: string, id: string): Promise<Watchlist | undefined>;
    /** With `quota`, refuses (409 QUOTA_EXCEEDED) when the user already holds `quota.perUser` watchlists. */
    create(userId: string, input: WatchlistCreate, quota?: { perUser: number }): Promise<Watchlist>;
    update(userId: string, id: string, patch: WatchlistUpdate): Promise<Watchlist | undefined>;
    remove(userId: string, id: string): Promise<boolean>;
  };
  users: {
    /** The local default user ('local') until accounts arrive. */
    ensureDefault(): Promise<UserRecord>;
    create(input: { username: string; passwordHash?: string | null }): Promise<UserRecord>;
    get(id: string): Promise<UserRecord | undefined>;
    findByUsername(username: string): Promise<(UserRecord & { passwordHash: string | null }) | undefined>;
  };
}

export const DEFAULT_USER_ID = 'local';

export interface AlertRuleQuota {
  /** Rules per user. */
  perUser: number;
  /** Rules per user on one symbol. */
  perSymbol: number;
}

const quotaExceeded = (message: string, path: string, issue: string) => new AppError('QUOTA_EXCEEDED', message, [{ path, issue }]);

/**
 * Takes the user's row lock for the rest of the transaction: every quota check
 * and insert of one user runs one at a time, so two concurrent creations can
 * never both see room for the last slot (a count alone would, under READ
 * COMMITTED). Other users are not held up.
 */
async function lockUser(tx: Db, userId: string): Promise<void> {
  await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
}

/** Epoch milliseconds of a timestamptz column, as a JS number on both engines. */
const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;
/**
 * Limits are clamped to 1..MAX_ROWS. REST enforces its own page size (MAX_PAGE);
 * internal readers such as indicator warm-up may ask for more bars than that.
 */
export const MAX_ROWS = 10_000;
const clampLimit = (n: number) => Math.min(MAX_ROWS, Math.max(1, Number.isFinite(n) ? Math.floor(n) : 1));
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const isValidDate = (d: string) => DATE_RE.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d);

/** WHERE/ORDER for a time window over `col`; params are appended to `params`. */
function windowClause(col: string, w: TimeWindow, params: unknown[]): { where: string; order: 'ASC' | 'DESC'; limit: string } {
  const parts: string[] = [];
  if (w.from !== undefined) {
    params.push(iso(w.from));
    parts.push(`${col} >= $${params.length}::timestamptz`);
  }
  if (w.to !== undefined) {
    params.push(iso(w.to));
    parts.push(`${col} <= $${params.length}::timestamptz`);
  }
  params.push(clampLimit(w.limit));
  return {
    where: parts.length ? ` AND ${parts.join(' AND ')}` : '',
    order: w.from !== undefined && w.to === undefined ? 'ASC' : 'DESC',
    limit: `$${params.length}`,
  };
}

const oldestFirst = <T>(rows: T[], order: 'ASC' | 'DESC') => (order === 'DESC' ? rows.reverse() : rows);

// --- row mappers ------------------------------------------------------------

interface SymbolRow {
  symbol: string;
  exchange: string;
  market: 'VN' | 'US';
  name: string | null;
  lot_size: number;
  indices: string[];
  shares_outstanding: number;
  foreign_limit: number | null;
  trading_date: string;
  reference: number;
  ceiling: number | null;
  floor: number | null;
}
const SYMBOL_COLS = `symbol, exchange, market, name, lot_size, indices, shares_outstanding, foreign_limit,
  to_char(trading_date, 'YYYY-MM-DD') AS trading_date, reference, ceiling, floor`;
function toSymbolRef(r: SymbolRow): SymbolRef {
  const ref: SymbolRef = {
    symbol: r.symbol,
    exchange: r.exchange,
    market: r.market,
    tradingDate: r.trading_date,
    reference: r.reference,
    ceiling: r.ceiling,
    floor: r.floor,
    lotSize: r.lot_size,
    indices: r.indices ?? [],
    sharesOutstanding: r.shares_outstanding,
  };
  if (r.name !== null) ref.name = r.name;
  if (r.foreign_limit !== null) ref.foreignLimit = r.foreign_limit;
  return ref;
}

interface TradeRow {
  symbol: string;
  id: string;
  ts: number;
  price: number;
  volume: number;
  side: ClassifiedTrade['side'];
  side_source: ClassifiedTrade['sideSource'];
  phase: ClassifiedTrade['phase'];
}
const toTrade = (r: TradeRow): ClassifiedTrade => ({
  id: r.id,
  symbol: r.symbol,
  ts: r.ts,
  price: r.price,
  volume: r.volume,
  side: r.side,
  sideSource: r.side_source,
  phase: r.phase,
});

interface BarRow {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  value: number;
  vwap: number | null;
  buy_volume: number;
  sell_volume: number;
  unknown_volume: number;
  trades: number;
  closed: boolean;
}
/** The volume and value columns bars and session summaries share. */
type FlowRow = Pick<BarRow, 'volume' | 'value' | 'vwap' | 'buy_volume' | 'sell_volume' | 'unknown_volume' | 'trades'>;
const toFlow = (r: FlowRow) => ({
  volume: r.volume,
  value: r.value,
  vwap: r.vwap,
  buyVolume: r.buy_volume,
  sellVolume: r.sell_volume,
  unknownVolume: r.unknown_volume,
  trades: r.trades,
});
const toBar = (symbol: string, interval: BarInterval, r: BarRow): Bar => ({
  symbol,
  interval,
  ts: r.ts,
  open: r.open,
  high: r.high,
  low: r.low,
  close: r.close,
  ...toFlow(r),
  closed: r.closed,
});

interface SessionRow extends Omit<BarRow, 'ts' | 'closed' | 'open' | 'high' | 'low' | 'close'> {
  symbol: string;
  trading_date: string;
  phase: SessionSummary['phase'];
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
}
const toSession = (r: SessionRow): SessionSummary => ({
  symbol: r.symbol,
  tradingDate: r.trading_date,
  phase: r.phase,
  open: r.open,
  high: r.high,
  low: r.low,
  close: r.close,
  ...toFlow(r),
});

/** The whole day from its phases, for days whose `day` row was never written (e.g. the collector stopped before close). */
function dayFromPhases(symbol: string, tradingDate: string, phases: SessionSummary[]): SessionSummary {
  const withPrices = phases.filter((p) => p.open !== null);
  const sum = (k: 'volume' | 'value' | 'buyVolume' | 'sellVolume' | 'unknownVolume' | 'trades') => phases.reduce((a, p) => a + p[k], 0);
  const volume = sum('volume');
  const value = sum('value');
  return {
    symbol,
    tradingDate,
    phase: 'day',
    open: withPrices[0]?.open ?? null,
    high: withPrices.length ? Math.max(...withPrices.map((p) => p.high!)) : null,
    low: withPrices.length ? Math.min(...withPrices.map((p) => p.low!)) : null,
    close: withPrices.at(-1)?.close ?? null,
    volume,
    value,
    vwap: volume > 0 ? value / volume : null,
    buyVolume: sum('buyVolume'),
    sellVolume: sum('sellVolume'),
    unknownVolume: sum('unknownVolume'),
    trades: sum('trades'),
  };
}

interface ForeignRow {
  symbol: string;
  ts: number;
  buy_volume: number;
  sell_volume: number;
  buy_value: number;
  sell_value: number;
  net_volume: number;
  net_value: number;
  total_room: number;
  current_room: number;
  room_usage_pct: number | null;
}
const toForeign = (r: ForeignRow): ForeignState => ({
  symbol: r.symbol,
  ts: r.ts,
  buyVolume: r.buy_volume,
  sellVolume: r.sell_volume,
  buyValue: r.buy_value,
  sellValue: r.sell_value,
  netVolume: r.net_volume,
  netValue: r.net_value,
  totalRoom: r.total_room,
  currentRoom: r.current_room,
  roomUsagePct: r.room_usage_pct,
});

interface RuleRow {
  id: string;
  user_id: string;
  symbol: string;
  kind: AlertRule['kind'];
  threshold: number;
  period: number | null;
  cooldown_ms: number;
  enabled: boolean;
  note: string | null;
  created_at: number;
}
const RULE_COLS = `id, user_id, symbol, kind, threshold, period, cooldown_ms, enabled, note, ${ms('created_at')} AS created_at`;
const RULE_PATCH = { symbol: 'symbol', kind: 'kind', threshold: 'threshold', period: 'period', cooldownMs: 'cooldown_ms', enabled: 'enabled', note: 'note' };
function toRule(r: RuleRow): AlertRule {
  const rule: AlertRule = {
    id: r.id,
    userId: r.user_id,
    symbol: r.symbol,
    kind: r.kind,
    threshold: r.threshold,
    cooldownMs: r.cooldown_ms,
    enabled: r.enabled,
    createdAt: r.created_at,
  };
  if (r.period !== null) rule.period = r.period;
  if (r.note !== null) rule.note = r.note;
  return rule;
}

interface AlertEventRow {
  id: string;
  rule_id: string;
  user_id: string;
  symbol: string;
  kind: AlertEvent['kind'];
  ts: number;
  value: number;
  threshold: number;
  message: string;
}
const toAlertEvent = (r: AlertEventRow): AlertEvent => ({
  id: r.id,
  ruleId: r.rule_id,
  userId: r.user_id,
  symbol: r.symbol,
  kind: r.kind,
  ts: r.ts,
  value: r.value,
  threshold: r.threshold,
  message: r.message,
});

interface WatchlistRow {
  id: string;
  name: string;
  symbols: string[];
  created_at: number;
  updated_at: number;
}
const WATCHLIST_COLS = `id, name, symbols, ${ms('created_at')} AS created_at, ${ms('updated_at')} AS updated_at`;
const toWatchlist = (r: WatchlistRow): Watchlist => ({ id: r.id, name: r.name, symbols: r.symbols ?? [], createdAt: r.created_at, updatedAt: r.updated_at });

/** `SET a = $n, …` for the defined keys of a patch, mapped to columns. */
function setClause(patch: Record<string, unknown>, columns: Record<string, string>, params: unknown[]): string[] {
  const sets: string[] = [];
  for (const [key, column] of Object.entries(columns)) {
    if (patch[key] === undefined) continue;
    params.push(patch[key]);
    sets.push(`${column} = $${params.length}`);
  }
  return sets;
}

/** Rows of `table` for one `keyColumn` value in a time window over `ts`, oldest first. */
async function windowRows<Row>(db: Db, select: string, table: string, keyColumn: string, key: string, w: TimeWindow): Promise<Row[]> {
  const params: unknown[] = [key];
  const c = windowClause('ts', w, params);
  const { rows } = await db.query<Row>(`SELECT ${select} FROM ${table} WHERE ${keyColumn} = $1${c.where} ORDER BY ts ${c.order} LIMIT ${c.limit}`, params);
  return oldestFirst(rows, c.order);
}

/** `(ts, id) < cursor` for a newest-first page; params are appended to `params`. */
function beforeCursor(cursor: string, params: unknown[]): string {
  const pos = decodeCursor(cursor);
  params.push(iso(pos.ts), pos.id);
  return `(ts, id) < ($${params.length - 1}::timestamptz, $${params.length}::text)`;
}

/** A page from rows read with LIMIT n + 1: the extra row only says that there is a next page. */
function pageOf<Row, T extends { ts: number; id: string }>(rows: Row[], n: number, map: (r: Row) => T): Page<T> {
  const items = rows.slice(0, n).map(map);
  const last = items[items.length - 1];
  return { items, next: rows.length > n && last ? encodeCursor(last) : null };
}

/**
 * list/get/update/remove for a table of rows each owned by one user (`user_id`, `id`,
 * `created_at`, `updated_at`): another user's row behaves as not found.
 */
function ownedRows<Row, T, Patch extends Record<string, unknown>>(db: Db, table: string, cols: string, map: (r: Row) => T, patchColumns: Record<string, string>) {
  const one = async (sql: string, params: unknown[]): Promise<Row | undefined> => (await db.query<Row>(sql, params)).rows[0];
  return {
    async list(userId: string): Promise<T[]> {
      const { rows } = await db.query<Row>(`SELECT ${cols} FROM ${table} WHERE user_id = $1 ORDER BY created_at, id`, [userId]);
      return rows.map(map);
    },
    async get(userId: string, id: string): Promise<T | undefined> {
      const r = await one(`SELECT ${cols} FROM ${table} WHERE user_id = $1 AND id = $2`, [userId, id]);
      return r && map(r);
    },
    async update(userId: string, id: string, patch: Patch): Promise<T | undefined> {
      const params: unknown[] = [userId, id];
      const sets = setClause(patch, patchColumns, params);
      const r = await one(`UPDATE ${table} SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE user_id = $1 AND id = $2 RETURNING ${cols}`, params);
      return r && map(r);
    },
    async remove(userId: string, id: string): Promise<boolean> {
      const r = await db.query(`DELETE FROM ${table} WHERE user_id = $1 AND id = $2 RETURNING id`, [userId, id]);
      return r.rows.length > 0;
    },
  };
}

// --- bars ---------------------------------------------------------------------

async function barsRange(db: Db, symbol: string, interval: BarInterval, w: TimeWindow): Promise<Bar[]> {
  if (interval === '1m') {
    const select = `${ms('ts')} AS ts, open, high, low, close, volume, value, vwap, buy_volume, sell_volume, unknown_volume, trades, true AS closed`;
    return (await windowRows<BarRow>(db, select, 'bars_1m', 'symbol', symbol, w)).map((r) => toBar(symbol, interval, r));
  }
  const params: unknown[] = [symbol];
  let bucket: string;
  let bucketEnd: string;
  if (interval === '1d') {
    // A day is the exchange's local calendar day, not a UTC one.
    const sym = await db.query<{ exchange: string; market: 'VN' | 'US' }>('SELECT exchange, market FROM symbols WHERE symbol = $1', [symbol]);
    const tz = rulesFor(sym.rows[0]?.exchange ?? 'HOSE', sym.rows[0]?.market ?? 'VN').timeZone;
    params.push(tz);
    const tzp = `$${params.length}::text`;
    bucket = `(date_trunc('day', ts AT TIME ZONE ${tzp}) AT TIME ZONE ${tzp})`;
    bucketEnd = `((date_trunc('day', ts AT TIME ZONE ${tzp}) + interval '1 day') AT TIME ZONE ${tzp})`;
  } else {
    const secs = BAR_INTERVAL_MS[interval] / 1000;
    bucket = `to_timestamp(floor(extract(epoch from ts) / ${secs}) * ${secs})`;
    bucketEnd = `to_timestamp((floor(extract(epoch from ts) / ${secs}) + 1) * ${secs})`;
  }
  // Raw rows: a bucket starting at or after `from` holds only rows at or after
  // it; one starting at or before `to` may hold rows up to one bucket later.
  const raw: string[] = [];
  if (w.from !== undefined) {
    params.push(iso(w.from));
    raw.push(`ts >= $${params.length}::timestamptz`);
  }
  const outer = windowClause('bucket', w, params);
  if (w.to !== undefined) raw.push(`ts < $${params.length - 1}::timestamptz + interval '${interval === '1d' ? '2 days' : `${BAR_INTERVAL_MS[interval] / 1000} seconds`}'`);
  const { rows } = await db.query<BarRow>(
    `WITH b AS (
       SELECT ${bucket} AS bucket, ${bucketEnd} AS bucket_end, ts, open, high, low, close, volume, value,
              buy_volume, sell_volume, unknown_volume, trades
       FROM bars_1m WHERE symbol = $1${raw.length ? ` AND ${raw.join(' AND ')}` : ''}
     ), g AS (
       SELECT bucket, min(bucket_end) AS bucket_end,
              (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high, min(low) AS low,
              (array_agg(close ORDER BY ts DESC))[1] AS close,
              sum(volume) AS volume, sum(value) AS value, sum(buy_volume) AS buy_volume,
              sum(sell_volume) AS sell_volume, sum(unknown_volume) AS unknown_volume, sum(trades)::int AS trades
       FROM b GROUP BY bucket
     )
     SELECT ${ms('bucket')} AS ts, open, high, low, close, volume, value,
            CASE WHEN volume > 0 THEN value / volume END AS vwap,
            buy_volume, sell_volume, unknown_volume, trades, bucket_end <= now() AS closed
     FROM g WHERE true${outer.where} ORDER BY bucket ${outer.order} LIMIT ${outer.limit}`,
    params,
  );
  return oldestFirst(rows, outer.order).map((r) => toBar(symbol, interval, r));
}

const FAR_FUTURE = Date.UTC(2100, 0, 1);

/**
 * Daily bars from vendor history (bars_1d, written by backfill) fill the days
 * that have no minute data; a day built from stored minutes wins, since only it
 * has the active buy/sell split. The window's limit applies to the merged list.
 */
export function withBackfilledDays(built: Bar[], daily: Bar[], w: TimeWindow): Bar[] {
  if (daily.length === 0) return built;
  const have = new Set(built.map((b) => b.ts));
  const merged = built.concat(daily.filter((d) => !have.has(d.ts))).sort((a, b) => a.ts - b.ts);
  const limit = clampLimit(w.limit);
  // Same convention as the SQL windows: from-only reads forward, otherwise the latest N.
  return w.from !== undefined && w.to === undefined ? merged.slice(0, limit) : merged.slice(-limit);
}

// --- factory ------------------------------------------------------------------

export function createRepositories(db: Db): Repositories {
  const one = async <T>(sql: string, params: unknown[]): Promise<T | undefined> => (await db.query<T>(sql, params)).rows[0];
  const rules = ownedRows<RuleRow, AlertRule, AlertRuleUpdate>(db, 'alert_rules', RULE_COLS, toRule, RULE_PATCH);

  return {
    symbols: {
      async upsert(refs) {
        if (refs.length) await db.transaction((tx) => writeSymbolRefs(tx, refs));
      },
      async list() {
        const { rows } = await db.query<SymbolRow>(`SELECT ${SYMBOL_COLS} FROM symbols ORDER BY symbol`);
        return rows.map(toSymbolRef);
      },
      async get(symbol) {
        const r = await one<SymbolRow>(`SELECT ${SYMBOL_COLS} FROM symbols WHERE symbol = $1`, [symbol]);
        return r && toSymbolRef(r);
      },
    },

    trades: {
      async recent(symbol, limit, before) {
        const n = clampLimit(limit);
        const params: unknown[] = [symbol, n + 1];
        const cond = before !== undefined ? ` AND ${beforeCursor(before, params)}` : '';
        const { rows } = await db.query<TradeRow>(
          `SELECT symbol, id, ${ms('ts')} AS ts, price, volume, side, side_source, phase
           FROM trades WHERE symbol = $1${cond} ORDER BY ts DESC, id DESC LIMIT $2`,
          params,
        );
        return pageOf(rows, n, toTrade);
      },
      async count() {
        const r = await one<{ n: number }>('SELECT count(*)::float8 AS n FROM trades', []);
        return r?.n ?? 0;
      },
    },

    bars: {
      range: async (symbol, interval, opts) => {
        const built = await barsRange(db, symbol, interval, opts);
        return interval === '1d' ? withBackfilledDays(built, await dailyBarsRange(db, symbol, opts.from ?? 0, opts.to ?? FAR_FUTURE), opts) : built;
      },
    },

    sessions: {
      async get(symbol, tradingDate) {
        if (tradingDate !== undefined && !isValidDate(tradingDate)) return undefined;
        const { rows } = await db.query<SessionRow>(
          `SELECT symbol, to_char(trading_date, 'YYYY-MM-DD') AS trading_date, phase, open, high, low, close, volume, value, vwap,
                  buy_volume, sell_volume, unknown_volume, trades
           FROM session_summaries
           WHERE symbol = $1 AND trading_date = coalesce($2::date, (SELECT max(trading_date) FROM session_summaries WHERE symbol = $1))`,
          [symbol, tradingDate ?? null],
        );
        if (rows.length === 0) return undefined;
        const all = rows.map(toSession);
        const order = (p: SessionSummary['phase']) => SESSION_PHASES.indexOf(p as (typeof SESSION_PHASES)[number]);
        const phases = all.filter((s) => s.phase !== 'day').sort((a, b) => order(a.phase) - order(b.phase));
        const date = all[0]!.tradingDate;
        const day = all.find((s) => s.phase === 'day') ?? dayFromPhases(symbol, date, phases);
        return { tradingDate: date, day, phases };
      },
    },

    foreign: {
      async history(symbol, opts) {
        const select = `symbol, ${ms('ts')} AS ts, buy_volume, sell_volume, buy_value, sell_value, net_volume, net_value,
                  total_room, current_room, room_usage_pct`;
        return (await windowRows<ForeignRow>(db, select, 'foreign_flows', 'symbol', symbol, opts)).map(toForeign);
      },
    },

    indices: {
      history: (id, opts) => windowRows<{ ts: number; value: number }>(db, `${ms('ts')} AS ts, value`, 'index_values', 'index_id', id, opts),
    },

    alertRules: {
      ...rules,
      async page(userId, opts) {
        const n = clampLimit(opts.limit);
        const params: unknown[] = [userId, n + 1];
        let cond = '';
        if (opts.after !== undefined) {
          const pos = decodeCursor(opts.after, 'query.after');
          params.push(pos.ts, pos.id);
          // The same expression the rows are ordered by (epoch ms as float8), so no rule is skipped or repeated.
          cond = ` AND (${ms('created_at')}, id) > ($3::float8, $4::text)`;
        }
        const { rows } = await db.query<RuleRow>(`SELECT ${RULE_COLS} FROM alert_rules WHERE user_id = $1${cond} ORDER BY ${ms('created_at')}, id LIMIT $2`, params);
        const items = rows.slice(0, n).map(toRule);
        const last = items[items.length - 1];
        return { items, next: rows.length > n && last ? encodeCursor({ ts: last.createdAt!, id: last.id }) : null };
      },
      async update(userId, id, patch, quota) {
        if (!quota || patch.symbol === undefined) return rules.update(userId, id, patch);
        return db.transaction(async (tx) => {
          await lockUser(tx, userId);
          const c = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM alert_rules WHERE user_id = $1 AND symbol = $2 AND id <> $3', [userId, patch.symbol, id]);
          if (c.rows[0]!.n >= quota.perSymbol) {
            throw quotaExceeded(`You have ${quota.perSymbol} alert rules on ${patch.symbol} already (the limit per symbol); delete one first.`, 'body.symbol', `at most ${quota.perSymbol} rules per symbol`);
          }
          return ownedRows<RuleRow, AlertRule, AlertRuleUpdate>(tx, 'alert_rules', RULE_COLS, toRule, RULE_PATCH).update(userId, id, patch);
        });
      },
      async listAll() {
        const { rows } = await db.query<RuleRow>(`SELECT ${RULE_COLS} FROM alert_rules ORDER BY created_at, id`);
        return rows.map(toRule);
      },
      async create(userId, input, quota) {
        const insert = async (q: Db) => {
          const { rows } = await q.query<RuleRow>(
            `INSERT INTO alert_rules (id, user_id, symbol, kind, threshold, period, cooldown_ms, enabled, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${RULE_COLS}`,
            [randomUUID(), userId, input.symbol, input.kind, input.threshold, input.period ?? null, input.cooldownMs ?? 60_000, input.enabled ?? true, input.note ?? null],
          );
          return toRule(rows[0]!);
        };
        if (!quota) return insert(db);
        return db.transaction(async (tx) => {
          await lockUser(tx, userId);
          const c = (
            await tx.query<{ total: number; same: number }>(
              'SELECT count(*)::int AS total, (count(*) FILTER (WHERE symbol = $2))::int AS same FROM alert_rules WHERE user_id = $1',
              [userId, input.symbol],
            )
          ).rows[0]!;
          if (c.total >= quota.perUser) throw quotaExceeded(`You have ${quota.perUser} alert rules already (the limit); delete one first.`, 'body', `at most ${quota.perUser} alert rules per user`);
          if (c.same >= quota.perSymbol) {
            throw quotaExceeded(`You have ${quota.perSymbol} alert rules on ${input.symbol} already (the limit per symbol); delete one first.`, 'body.symbol', `at most ${quota.perSymbol} rules per symbol`);
          }
          return insert(tx);
        });
      },
    },

    alertEvents: {
      async list(userId, opts) {
        const n = clampLimit(opts.limit);
        const params: unknown[] = [userId, n + 1];
        const conds: string[] = [];
        if (opts.symbol !== undefined) {
          params.push(opts.symbol);
          conds.push(`symbol = $${params.length}`);
        }
        if (opts.before !== undefined) conds.push(beforeCursor(opts.before, params));
        const { rows } = await db.query<AlertEventRow>(
          `SELECT id, rule_id, user_id, symbol, kind, ${ms('ts')} AS ts, value, threshold, message
           FROM alert_events WHERE user_id = $1${conds.map((c) => ` AND ${c}`).join('')} ORDER BY ts DESC, id DESC LIMIT $2`,
          params,
        );
        return pageOf(rows, n, toAlertEvent);
      },
    },

    watchlists: {
      ...ownedRows<WatchlistRow, Watchlist, WatchlistUpdate>(db, 'watchlists', WATCHLIST_COLS, toWatchlist, { name: 'name', symbols: 'symbols' }),
      async create(userId, input, quota) {
        const insert = async (q: Db) => {
          const { rows } = await q.query<WatchlistRow>(
            `INSERT INTO watchlists (id, user_id, name, symbols) VALUES ($1, $2, $3, $4::text[]) RETURNING ${WATCHLIST_COLS}`,
            [randomUUID(), userId, input.name, input.symbols ?? []],
          );
          return toWatchlist(rows[0]!);
        };
        if (!quota) return insert(db);
        return db.transaction(async (tx) => {
          await lockUser(tx, userId);
          const c = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM watchlists WHERE user_id = $1', [userId]);
          if (c.rows[0]!.n >= quota.perUser) throw quotaExceeded(`You have ${quota.perUser} watchlists already (the limit); delete one first.`, 'body', `at most ${quota.perUser} watchlists per user`);
          return insert(tx);
        });
      },
    },

    users: {
      async ensureDefault() {
        await db.query(`INSERT INTO users (id, username) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [DEFAULT_USER_ID]);
        const r = await one<UserRecord>('SELECT id, username FROM users WHERE id = $1', [DEFAULT_USER_ID]);
        return r!;
      },
      async create(input) {
        try {
          const r = await one<UserRecord>('INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3) RETURNING id, username', [
            randomUUID(),
            input.username,
            input.passwordHash ?? null,
          ]);
          return r!;
        } catch (err) {
          if ((err as { code?: string }).code === '23505') throw new AppError('CONFLICT', 'This user name is taken.', [{ path: 'body.username', issue: 'already taken' }]);
          throw err;
        }
      },
      get: (id) => one<UserRecord>('SELECT id, username FROM users WHERE id = $1', [id]),
      findByUsername: (username) =>
        one<UserRecord & { passwordHash: string | null }>('SELECT id, username, password_hash AS "passwordHash" FROM users WHERE username = $1', [username]),
    },
  };
}
