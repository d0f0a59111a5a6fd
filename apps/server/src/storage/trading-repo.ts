/**
 * Storage for paper trading (migration 0006). Every method that serves a
 * request takes the caller's userId and filters by it in SQL: another user's
 * account, order, fill or strategy behaves exactly as a missing one (no IDOR).
 * The few unfiltered methods (`*All`, `pending`, `persist`) are for the one
 * process that runs the trading core (docs/trading.md).
 *
 * Exactly-once: `persist` writes, in one transaction, the orders and fills an
 * account's core produced, the core snapshot that contains them and the
 * commands whose effect they are. Fills are keyed by the core's deterministic
 * fill id (INSERT … ON CONFLICT DO NOTHING), so writing a batch twice — a
 * retried write, a new leader reproducing what the old one stored — adds
 * nothing; and a batch of an account reset meanwhile (generation moved on) is
 * dropped rather than resurrecting removed rows.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '@stock-tracker/protocol';
import type { Db } from './db.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { Page } from './repositories.ts';

export type CommandKind = 'submit' | 'cancel' | 'replace' | 'reset' | 'risk_reset';
export type CommandStatus = 'pending' | 'applied' | 'rejected';

export interface TradingAccountRecord {
  id: string;
  userId: string;
  name: string;
  market: string;
  startingCash: number;
  riskLimits: Record<string, unknown>;
  fees: string;
  /** 'paper' (the core's fill model) or 'alpaca' (the Alpaca Trading API; migration 0007). */
  broker: string;
  generation: number;
  createdAt: number;
  updatedAt: number;
}

export interface CommandRecord {
  seq: number;
  id: string;
  userId: string;
  accountId: string;
  kind: CommandKind;
  clientKey: string | null;
  payload: Record<string, unknown>;
  status: CommandStatus;
  result: Record<string, unknown> | null;
  createdAt: number;
}

export interface OrderRecord {
  id: string;
  userId: string;
  accountId: string;
  clientOrderId: string;
  commandId: string | null;
  strategyId: string | null;
  symbol: string;
  side: string;
  type: string;
  status: string;
  open: boolean;
  qty: number;
  filledQty: number;
  ts: number;
  updatedTs: number;
  /** The order as the core reports it (wire form). */
  data: Record<string, unknown>;
}

export interface FillRecord {
  id: string;
  userId: string;
  accountId: string;
  orderId: string;
  symbol: string;
  side: string;
  qty: number;
  price: number;
  fee: number;
  tax: number;
  ts: number;
  data: Record<string, unknown>;
}

export interface SnapshotRecord {
  accountId: string;
  userId: string;
  generation: number;
  ts: number;
  fills: number;
  core: unknown;
  portfolio: Record<string, unknown>;
}

export interface EquityPoint {
  ts: number;
  equity: number;
  cash: number;
}

export type StrategyState = 'running' | 'stopped';

export interface StrategyRecord {
  id: string;
  userId: string;
  accountId: string;
  name: string;
  params: Record<string, unknown>;
  symbols: string[];
  state: StrategyState;
  createdAt: number;
  updatedAt: number;
}

export interface StrategyRunRecord {
  id: string;
  strategyId: string;
  accountId: string;
  startedAt: number;
  stoppedAt: number | null;
  reason: string | null;
}

export type BacktestStatus = 'running' | 'done' | 'failed';

export interface BacktestRecord {
  id: string;
  userId: string;
  status: BacktestStatus;
  request: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** What one account's core produced since its last write (see the header). */
export interface PersistBatch {
  accountId: string;
  userId: string;
  generation: number;
  orders: OrderRecord[];
  fills: FillRecord[];
  /** `fills` is ignored: the stored count is the fills table's. */
  snapshot: Omit<SnapshotRecord, 'accountId' | 'userId' | 'generation'>;
  equity: EquityPoint[];
  commands: { id: string; status: CommandStatus; result: Record<string, unknown> }[];
}

export interface AccountCreate {
  name: string;
  market: string;
  startingCash: number;
  riskLimits?: Record<string, unknown>;
  fees?: string;
  /** Default 'paper'. */
  broker?: string;
}

export interface StrategyCreate {
  accountId: string;
  name: string;
  params: Record<string, unknown>;
  symbols: string[];
}

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;
const MAX_ROWS = 1_000;
const clamp = (n: number) => Math.min(MAX_ROWS, Math.max(1, Number.isFinite(n) ? Math.floor(n) : 1));
const UNIQUE_VIOLATION = '23505';
const isUnique = (err: unknown) => (err as { code?: string })?.code === UNIQUE_VIOLATION;

/** jsonb comes back parsed from pg and PGlite alike; a text column holding JSON would not. */
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : ((v ?? {}) as Record<string, unknown>));
const num = (v: unknown) => Number(v);

const ACCOUNT_COLS = `id, user_id, name, market, starting_cash, risk_limits, fees, broker, generation, ${ms('created_at')} AS created_at, ${ms('updated_at')} AS updated_at`;
type Row = Record<string, unknown>;
const toAccount = (r: Row): TradingAccountRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  name: r.name as string,
  market: r.market as string,
  startingCash: num(r.starting_cash),
  riskLimits: obj(r.risk_limits),
  fees: r.fees as string,
  broker: (r.broker as string | undefined) ?? 'paper',
  generation: num(r.generation),
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
});

const COMMAND_COLS = `seq::float8 AS seq, id, user_id, account_id, kind, client_key, payload, status, result, ${ms('created_at')} AS created_at`;
const toCommand = (r: Row): CommandRecord => ({
  seq: num(r.seq),
  id: r.id as string,
  userId: r.user_id as string,
  accountId: r.account_id as string,
  kind: r.kind as CommandKind,
  clientKey: (r.client_key as string | null) ?? null,
  payload: obj(r.payload),
  status: r.status as CommandStatus,
  result: r.result == null ? null : obj(r.result),
  createdAt: num(r.created_at),
});

const ORDER_COLS = `id, user_id, account_id, client_order_id, command_id, strategy_id, symbol, side, type, status, open, qty, filled_qty, event_ts::float8 AS ts, updated_ts::float8 AS updated_ts, data`;
const toOrder = (r: Row): OrderRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  accountId: r.account_id as string,
  clientOrderId: r.client_order_id as string,
  commandId: (r.command_id as string | null) ?? null,
  strategyId: (r.strategy_id as string | null) ?? null,
  symbol: r.symbol as string,
  side: r.side as string,
  type: r.type as string,
  status: r.status as string,
  open: r.open === true,
  qty: num(r.qty),
  filledQty: num(r.filled_qty),
  ts: num(r.ts),
  updatedTs: num(r.updated_ts),
  data: obj(r.data),
});

const FILL_COLS = `id, user_id, account_id, order_id, symbol, side, qty, price, fee, tax, event_ts::float8 AS ts, data`;
const toFill = (r: Row): FillRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  accountId: r.account_id as string,
  orderId: r.order_id as string,
  symbol: r.symbol as string,
  side: r.side as string,
  qty: num(r.qty),
  price: num(r.price),
  fee: num(r.fee),
  tax: num(r.tax),
  ts: num(r.ts),
  data: obj(r.data),
});

const SNAPSHOT_COLS = `account_id, user_id, generation, event_ts::float8 AS ts, fills, core, portfolio`;
const toSnapshot = (r: Row): SnapshotRecord => ({
  accountId: r.account_id as string,
  userId: r.user_id as string,
  generation: num(r.generation),
  ts: num(r.ts),
  fills: num(r.fills),
  core: typeof r.core === 'string' ? JSON.parse(r.core) : r.core,
  portfolio: obj(r.portfolio),
});

const STRATEGY_COLS = `id, user_id, account_id, name, params, symbols, state, ${ms('created_at')} AS created_at, ${ms('updated_at')} AS updated_at`;
const toStrategy = (r: Row): StrategyRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  accountId: r.account_id as string,
  name: r.name as string,
  params: obj(r.params),
  symbols: (r.symbols as string[]) ?? [],
  state: r.state as StrategyState,
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
});

const BACKTEST_COLS = `id, user_id, status, request, result, error, ${ms('created_at')} AS created_at, ${ms('finished_at')} AS finished_at`;
const toBacktest = (r: Row): BacktestRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  status: r.status as BacktestStatus,
  request: obj(r.request),
  result: r.result == null ? null : obj(r.result),
  error: (r.error as string | null) ?? null,
  createdAt: num(r.created_at),
  finishedAt: r.finished_at == null ? null : num(r.finished_at),
});

/** Newest-first page over (ts, id) with LIMIT n + 1 (the extra row only says there is more). */
function page<T extends { ts: number; id: string }>(rows: Row[], n: number, map: (r: Row) => T): Page<T> {
  const items = rows.slice(0, n).map(map);
  const last = items[items.length - 1];
  return { items, next: rows.length > n && last ? encodeCursor({ ts: last.ts, id: last.id }) : null };
}

function beforeClause(cursor: string | undefined, params: unknown[], tsCol = 'event_ts'): string {
  if (cursor === undefined) return '';
  const pos = decodeCursor(cursor);
  params.push(pos.ts, pos.id);
  return ` AND (${tsCol}, id) < ($${params.length - 1}::bigint, $${params.length}::text)`;
}

export interface TradingRepo {
  accounts: {
    /** With `max`, refuses (409 QUOTA_EXCEEDED) when the user already holds `max` accounts (checked under the user's row lock). */
    create(userId: string, input: AccountCreate, max?: number): Promise<TradingAccountRecord>;
    list(userId: string): Promise<TradingAccountRecord[]>;
    get(userId: string, id: string): Promise<TradingAccountRecord | undefined>;
    count(userId: string): Promise<number>;
    setRiskLimits(userId: string, id: string, limits: Record<string, unknown>): Promise<TradingAccountRecord | undefined>;
    remove(userId: string, id: string): Promise<boolean>;
    /** Runner: every account (to restore its core). */
    listAll(): Promise<TradingAccountRecord[]>;
    getById(id: string): Promise<TradingAccountRecord | undefined>;
    /** Runner, applying a `reset` command: a new generation with nothing in it (in `tx`). */
    resetInTx(tx: Db, id: string): Promise<number | undefined>;
  };
  commands: {
    /**
     * Stores a command. With a clientKey (a submit's idempotency key) an existing
     * command with that key on the account is returned instead, `created: false`.
     */
    enqueue(userId: string, accountId: string, kind: CommandKind, payload: Record<string, unknown>, clientKey?: string, maxOpenOrders?: number): Promise<{ command: CommandRecord; created: boolean }>;
    get(userId: string, id: string): Promise<CommandRecord | undefined>;
    byClientKey(userId: string, accountId: string, clientKey: string): Promise<CommandRecord | undefined>;
    /** Runner: pending commands in the order they were accepted (one account, or all). */
    pending(accountId?: string, limit?: number): Promise<CommandRecord[]>;
    /** Runner: marks a command that could not be applied at all (its account is gone). */
    settle(id: string, status: CommandStatus, result: Record<string, unknown>): Promise<void>;
  };
  orders: {
    list(userId: string, accountId: string, opts: { limit: number; before?: string; open?: boolean; symbol?: string }): Promise<Page<OrderRecord>>;
    get(userId: string, accountId: string, id: string): Promise<OrderRecord | undefined>;
    byClientOrderId(userId: string, accountId: string, clientOrderId: string): Promise<OrderRecord | undefined>;
    /** Open orders plus submits not yet applied, over all of the user's accounts (the quota). */
    countOpen(userId: string): Promise<number>;
  };
  fills: {
    list(userId: string, accountId: string, opts: { limit: number; before?: string; symbol?: string }): Promise<Page<FillRecord>>;
    /** Every fill of an account, oldest first (tests, reconciliation). */
    all(userId: string, accountId: string): Promise<FillRecord[]>;
  };
  snapshots: {
    get(userId: string, accountId: string): Promise<SnapshotRecord | undefined>;
    /** Runner: the stored core of an account (any user). */
    getById(accountId: string): Promise<SnapshotRecord | undefined>;
  };
  equity: { list(userId: string, accountId: string, opts: { from?: number; to?: number; limit: number }): Promise<EquityPoint[]> };
  strategies: {
    /** With `max`, refuses (409 QUOTA_EXCEEDED) when the user already holds `max` strategies. */
    create(userId: string, input: StrategyCreate, max?: number): Promise<StrategyRecord>;
    list(userId: string, accountId?: string): Promise<StrategyRecord[]>;
    get(userId: string, id: string): Promise<StrategyRecord | undefined>;
    count(userId: string): Promise<number>;
    /** Sets the wanted state; opens or closes a run row. */
    setState(userId: string, id: string, state: StrategyState, reason?: string): Promise<StrategyRecord | undefined>;
    remove(userId: string, id: string): Promise<boolean>;
    runs(userId: string, id: string): Promise<StrategyRunRecord[]>;
    /** Runner: every running strategy (of one account, or all). */
    running(accountId?: string): Promise<StrategyRecord[]>;
  };
  backtests: {
    /** Inserts a running backtest; CONFLICT while the user has one running (any replica). Stale running rows (older than staleMs) are failed first. */
    start(userId: string, request: Record<string, unknown>, staleMs: number): Promise<BacktestRecord>;
    finish(id: string, outcome: { result: Record<string, unknown> } | { error: string }): Promise<void>;
    list(userId: string, opts: { limit: number; before?: string }): Promise<Page<BacktestRecord>>;
    get(userId: string, id: string): Promise<BacktestRecord | undefined>;
  };
  /** Runner: one account's batch in one transaction (see the header). false when dropped (account reset or removed). */
  persist(batch: PersistBatch): Promise<boolean>;
  /** Runner: runs fn in one transaction (a reset and its command). */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
}

const OPEN_ORDERS_SQL = `SELECT (SELECT count(*) FROM trading_orders o JOIN trading_accounts a ON a.id = o.account_id WHERE a.user_id = $1 AND o.open)
                             + (SELECT count(*) FROM trading_commands WHERE user_id = $1 AND kind = 'submit' AND status = 'pending') AS n`;

export function createTradingRepo(db: Db): TradingRepo {
  const one = async (sql: string, params: unknown[], on: Db = db): Promise<Row | undefined> => (await on.query<Row>(sql, params)).rows[0];
  const all = async (sql: string, params: unknown[] = []): Promise<Row[]> => (await db.query<Row>(sql, params)).rows;
  /**
   * Runs `insert` in a transaction holding the user's row lock after checking `countSql` < max, so concurrent
   * creations of one user serialise and never overshoot the quota (the alert-rule scheme).
   */
  const withinQuota = <T>(userId: string, max: number | undefined, countSql: string, what: string, insert: (tx: Db) => Promise<T>): Promise<T> => {
    if (max === undefined) return insert(db);
    return db.transaction(async (tx) => {
      await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
      if (num((await one(countSql, [userId], tx))!.n) >= max) throw new AppError('QUOTA_EXCEEDED', `You have reached the limit of ${max} ${what}.`, [{ path: 'body', issue: `at most ${max} ${what} per user` }]);
      return insert(tx);
    });
  };

  return {
    accounts: {
      async create(userId, input, max) {
        return withinQuota(userId, max, 'SELECT count(*)::int AS n FROM trading_accounts WHERE user_id = $1', 'trading accounts', async (tx) => {
          const r = await one(
            `INSERT INTO trading_accounts (id, user_id, name, market, starting_cash, risk_limits, fees, broker) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) RETURNING ${ACCOUNT_COLS}`,
            [randomUUID(), userId, input.name, input.market, input.startingCash, JSON.stringify(input.riskLimits ?? {}), input.fees ?? 'default', input.broker ?? 'paper'],
            tx,
          );
          return toAccount(r!);
        });
      },
      list: async (userId) => (await all(`SELECT ${ACCOUNT_COLS} FROM trading_accounts WHERE user_id = $1 ORDER BY created_at, id`, [userId])).map(toAccount),
      async get(userId, id) {
        const r = await one(`SELECT ${ACCOUNT_COLS} FROM trading_accounts WHERE user_id = $1 AND id = $2`, [userId, id]);
        return r && toAccount(r);
      },
      count: async (userId) => num((await one('SELECT count(*)::int AS n FROM trading_accounts WHERE user_id = $1', [userId]))!.n),
      async setRiskLimits(userId, id, limits) {
        const r = await one(`UPDATE trading_accounts SET risk_limits = $3::jsonb, updated_at = now() WHERE user_id = $1 AND id = $2 RETURNING ${ACCOUNT_COLS}`, [userId, id, JSON.stringify(limits)]);
        return r && toAccount(r);
      },
      async remove(userId, id) {
        return (await all('DELETE FROM trading_accounts WHERE user_id = $1 AND id = $2 RETURNING id', [userId, id])).length > 0;
      },
      listAll: async () => (await all(`SELECT ${ACCOUNT_COLS} FROM trading_accounts ORDER BY created_at, id`)).map(toAccount),
      async getById(id) {
        const r = await one(`SELECT ${ACCOUNT_COLS} FROM trading_accounts WHERE id = $1`, [id]);
        return r && toAccount(r);
      },
      async resetInTx(tx, id) {
        const r = await one(`UPDATE trading_accounts SET generation = generation + 1, updated_at = now() WHERE id = $1 RETURNING generation`, [id], tx);
        if (!r) return undefined;
        for (const table of ['trading_orders', 'trading_fills', 'trading_snapshots', 'trading_equity']) await tx.query(`DELETE FROM ${table} WHERE account_id = $1`, [id]);
        return num(r.generation);
      },
    },

    commands: {
      async enqueue(userId, accountId, kind, payload, clientKey, maxOpenOrders) {
        const id = randomUUID();
        try {
          const r = await withinQuota(userId, maxOpenOrders, OPEN_ORDERS_SQL, 'open orders', (tx) =>
            one(
              `INSERT INTO trading_commands (id, user_id, account_id, kind, client_key, payload) SELECT $1, $2, $3, $4, $5, $6::jsonb
               WHERE EXISTS (SELECT 1 FROM trading_accounts WHERE id = $3 AND user_id = $2) RETURNING ${COMMAND_COLS}`,
              [id, userId, accountId, kind, clientKey ?? null, JSON.stringify(payload)],
              tx,
            ),
          );
          if (!r) throw new AppError('NOT_FOUND', `No trading account '${accountId}'.`, [{ path: 'params.accountId', issue: 'no such account' }]);
          return { command: toCommand(r), created: true };
        } catch (err) {
          if (!isUnique(err) || clientKey === undefined) throw err;
          const existing = await one(`SELECT ${COMMAND_COLS} FROM trading_commands WHERE user_id = $1 AND account_id = $2 AND client_key = $3`, [userId, accountId, clientKey]);
          if (!existing) throw err;
          return { command: toCommand(existing), created: false };
        }
      },
      async get(userId, id) {
        const r = await one(`SELECT ${COMMAND_COLS} FROM trading_commands WHERE user_id = $1 AND id = $2`, [userId, id]);
        return r && toCommand(r);
      },
      async byClientKey(userId, accountId, clientKey) {
        const r = await one(`SELECT ${COMMAND_COLS} FROM trading_commands WHERE user_id = $1 AND account_id = $2 AND client_key = $3`, [userId, accountId, clientKey]);
        return r && toCommand(r);
      },
      async pending(accountId, limit = 1_000) {
        const rows =
          accountId === undefined
            ? await all(`SELECT ${COMMAND_COLS} FROM trading_commands WHERE status = 'pending' ORDER BY seq LIMIT $1`, [limit])
            : await all(`SELECT ${COMMAND_COLS} FROM trading_commands WHERE status = 'pending' AND account_id = $1 ORDER BY seq LIMIT $2`, [accountId, limit]);
        return rows.map(toCommand);
      },
      async settle(id, status, result) {
        await db.query(`UPDATE trading_commands SET status = $2, result = $3::jsonb, applied_at = now() WHERE id = $1 AND status = 'pending'`, [id, status, JSON.stringify(result)]);
      },
    },

    orders: {
      async list(userId, accountId, opts) {
        const n = clamp(opts.limit);
        const params: unknown[] = [userId, accountId, n + 1];
        let where = '';
        if (opts.open !== undefined) {
          params.push(opts.open);
          where += ` AND open = $${params.length}`;
        }
        if (opts.symbol !== undefined) {
          params.push(opts.symbol);
          where += ` AND symbol = $${params.length}`;
        }
        where += beforeClause(opts.before, params);
        const rows = await all(`SELECT ${ORDER_COLS} FROM trading_orders WHERE user_id = $1 AND account_id = $2${where} ORDER BY event_ts DESC, id DESC LIMIT $3`, params);
        return page(rows, n, toOrder);
      },
      async get(userId, accountId, id) {
        const r = await one(`SELECT ${ORDER_COLS} FROM trading_orders WHERE user_id = $1 AND account_id = $2 AND id = $3`, [userId, accountId, id]);
        return r && toOrder(r);
      },
      async byClientOrderId(userId, accountId, clientOrderId) {
        const r = await one(`SELECT ${ORDER_COLS} FROM trading_orders WHERE user_id = $1 AND account_id = $2 AND client_order_id = $3`, [userId, accountId, clientOrderId]);
        return r && toOrder(r);
      },
      async countOpen(userId) {
        return num((await one(OPEN_ORDERS_SQL, [userId]))!.n);
      },
    },

    fills: {
      async list(userId, accountId, opts) {
        const n = clamp(opts.limit);
        const params: unknown[] = [userId, accountId, n + 1];
        let where = '';
        if (opts.symbol !== undefined) {
          params.push(opts.symbol);
          where += ` AND symbol = $${params.length}`;
        }
        where += beforeClause(opts.before, params);
        const rows = await all(`SELECT ${FILL_COLS} FROM trading_fills WHERE user_id = $1 AND account_id = $2${where} ORDER BY event_ts DESC, id DESC LIMIT $3`, params);
        return page(rows, n, toFill);
      },
      all: async (userId, accountId) => (await all(`SELECT ${FILL_COLS} FROM trading_fills WHERE user_id = $1 AND account_id = $2 ORDER BY event_ts, id`, [userId, accountId])).map(toFill),
    },

    snapshots: {
      async get(userId, accountId) {
        const r = await one(`SELECT ${SNAPSHOT_COLS} FROM trading_snapshots WHERE user_id = $1 AND account_id = $2`, [userId, accountId]);
        return r && toSnapshot(r);
      },
      async getById(accountId) {
        const r = await one(`SELECT ${SNAPSHOT_COLS} FROM trading_snapshots WHERE account_id = $1`, [accountId]);
        return r && toSnapshot(r);
      },
    },

    equity: {
      async list(userId, accountId, opts) {
        const params: unknown[] = [userId, accountId, clamp(opts.limit)];
        let where = '';
        if (opts.from !== undefined) {
          params.push(opts.from);
          where += ` AND event_ts >= $${params.length}`;
        }
        if (opts.to !== undefined) {
          params.push(opts.to);
          where += ` AND event_ts <= $${params.length}`;
        }
        // Same window convention as bars: from-only reads forward, otherwise the latest N; oldest first either way.
        const order = opts.from !== undefined && opts.to === undefined ? 'ASC' : 'DESC';
        const rows = await all(`SELECT event_ts::float8 AS ts, equity, cash FROM trading_equity WHERE user_id = $1 AND account_id = $2${where} ORDER BY event_ts ${order} LIMIT $3`, params);
        const points = rows.map((r) => ({ ts: num(r.ts), equity: num(r.equity), cash: num(r.cash) }));
        return order === 'DESC' ? points.reverse() : points;
      },
    },

    strategies: {
      async create(userId, input, max) {
        // The account must be the caller's: checked in the same statement.
        const r = await withinQuota(userId, max, 'SELECT count(*)::int AS n FROM trading_strategies WHERE user_id = $1', 'strategies', (tx) =>
          one(
            `INSERT INTO trading_strategies (id, user_id, account_id, name, params, symbols) SELECT $1, $2, $3, $4, $5::jsonb, $6::text[]
             WHERE EXISTS (SELECT 1 FROM trading_accounts WHERE id = $3 AND user_id = $2) RETURNING ${STRATEGY_COLS}`,
            [randomUUID(), userId, input.accountId, input.name, JSON.stringify(input.params), input.symbols],
            tx,
          ),
        );
        if (!r) throw new AppError('NOT_FOUND', `No trading account '${input.accountId}'.`, [{ path: 'body.accountId', issue: 'no such account' }]);
        return toStrategy(r);
      },
      async list(userId, accountId) {
        const rows =
          accountId === undefined
            ? await all(`SELECT ${STRATEGY_COLS} FROM trading_strategies WHERE user_id = $1 ORDER BY created_at, id`, [userId])
            : await all(`SELECT ${STRATEGY_COLS} FROM trading_strategies WHERE user_id = $1 AND account_id = $2 ORDER BY created_at, id`, [userId, accountId]);
        return rows.map(toStrategy);
      },
      async get(userId, id) {
        const r = await one(`SELECT ${STRATEGY_COLS} FROM trading_strategies WHERE user_id = $1 AND id = $2`, [userId, id]);
        return r && toStrategy(r);
      },
      count: async (userId) => num((await one('SELECT count(*)::int AS n FROM trading_strategies WHERE user_id = $1', [userId]))!.n),
      async setState(userId, id, state, reason) {
        return db.transaction(async (tx) => {
          const before = await one(`SELECT state, account_id FROM trading_strategies WHERE user_id = $1 AND id = $2 FOR UPDATE`, [userId, id], tx);
          if (!before) return undefined;
          const r = await one(`UPDATE trading_strategies SET state = $3, updated_at = now() WHERE user_id = $1 AND id = $2 RETURNING ${STRATEGY_COLS}`, [userId, id, state], tx);
          if (before.state !== state) {
            if (state === 'running') {
              await tx.query(`INSERT INTO trading_strategy_runs (id, user_id, strategy_id, account_id) VALUES ($1, $2, $3, $4)`, [randomUUID(), userId, id, before.account_id]);
            } else {
              await tx.query(`UPDATE trading_strategy_runs SET stopped_at = now(), reason = $3 WHERE user_id = $1 AND strategy_id = $2 AND stopped_at IS NULL`, [userId, id, reason ?? 'stopped']);
            }
          }
          return toStrategy(r!);
        });
      },
      async remove(userId, id) {
        return (await all('DELETE FROM trading_strategies WHERE user_id = $1 AND id = $2 RETURNING id', [userId, id])).length > 0;
      },
      async runs(userId, id) {
        const rows = await all(
          `SELECT id, strategy_id, account_id, ${ms('started_at')} AS started_at, ${ms('stopped_at')} AS stopped_at, reason
           FROM trading_strategy_runs WHERE user_id = $1 AND strategy_id = $2 ORDER BY started_at DESC, id LIMIT 100`,
          [userId, id],
        );
        return rows.map((r) => ({
          id: r.id as string,
          strategyId: r.strategy_id as string,
          accountId: r.account_id as string,
          startedAt: num(r.started_at),
          stoppedAt: r.stopped_at == null ? null : num(r.stopped_at),
          reason: (r.reason as string | null) ?? null,
        }));
      },
      async running(accountId) {
        const rows =
          accountId === undefined
            ? await all(`SELECT ${STRATEGY_COLS} FROM trading_strategies WHERE state = 'running' ORDER BY created_at, id`)
            : await all(`SELECT ${STRATEGY_COLS} FROM trading_strategies WHERE state = 'running' AND account_id = $1 ORDER BY created_at, id`, [accountId]);
        return rows.map(toStrategy);
      },
    },

    backtests: {
      async start(userId, request, staleMs) {
        // A replica that died mid-run leaves a 'running' row: after staleMs it no longer blocks the user.
        await db.query(
          `UPDATE trading_backtests SET status = 'failed', error = 'abandoned (the server running it stopped)', finished_at = now()
           WHERE user_id = $1 AND status = 'running' AND created_at < now() - make_interval(secs => $2::float8 / 1000)`,
          [userId, staleMs],
        );
        try {
          const r = await one(`INSERT INTO trading_backtests (id, user_id, status, request) VALUES ($1, $2, 'running', $3::jsonb) RETURNING ${BACKTEST_COLS}`, [
            randomUUID(),
            userId,
            JSON.stringify(request),
          ]);
          return toBacktest(r!);
        } catch (err) {
          if (isUnique(err)) throw new AppError('CONFLICT', 'A backtest of yours is already running; wait for it to finish.', [{ path: 'body', issue: 'one backtest at a time per user' }]);
          throw err;
        }
      },
      async finish(id, outcome) {
        if ('result' in outcome) {
          await db.query(`UPDATE trading_backtests SET status = 'done', result = $2::jsonb, finished_at = now() WHERE id = $1`, [id, JSON.stringify(outcome.result)]);
        } else {
          await db.query(`UPDATE trading_backtests SET status = 'failed', error = $2, finished_at = now() WHERE id = $1`, [id, outcome.error.slice(0, 2_000)]);
        }
      },
      async list(userId, opts) {
        const n = clamp(opts.limit);
        const params: unknown[] = [userId, n + 1];
        let where = '';
        if (opts.before !== undefined) {
          const pos = decodeCursor(opts.before);
          params.push(new Date(pos.ts).toISOString(), pos.id);
          where = ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::text)`;
        }
        // Listed without their (possibly large) result.
        const rows = await all(
          `SELECT id, user_id, status, request, NULL AS result, error, ${ms('created_at')} AS created_at, ${ms('finished_at')} AS finished_at
           FROM trading_backtests WHERE user_id = $1${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
          params,
        );
        const items = rows.slice(0, n).map(toBacktest);
        const last = items[items.length - 1];
        return { items, next: rows.length > n && last ? encodeCursor({ ts: last.createdAt, id: last.id }) : null };
      },
      async get(userId, id) {
        const r = await one(`SELECT ${BACKTEST_COLS} FROM trading_backtests WHERE user_id = $1 AND id = $2`, [userId, id]);
        return r && toBacktest(r);
      },
    },

    async persist(b) {
      return db.transaction(async (tx) => {
        const acc = await one('SELECT generation FROM trading_accounts WHERE id = $1 FOR UPDATE', [b.accountId], tx);
        if (!acc || num(acc.generation) !== b.generation) {
          // Reset or removed meanwhile: the batch belongs to a core that no longer exists. Its commands still settle.
          for (const c of b.commands) {
            await tx.query(`UPDATE trading_commands SET status = $2, result = $3::jsonb, applied_at = now() WHERE id = $1 AND status = 'pending'`, [c.id, 'rejected', JSON.stringify({ reason: 'account reset' })]);
          }
          return false;
        }
        for (const o of b.orders) {
          await tx.query(
            `INSERT INTO trading_orders (id, user_id, account_id, client_order_id, command_id, strategy_id, symbol, side, type, status, open, qty, filled_qty, event_ts, updated_ts, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb)
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, open = EXCLUDED.open, qty = EXCLUDED.qty, filled_qty = EXCLUDED.filled_qty,
               updated_ts = EXCLUDED.updated_ts, data = EXCLUDED.data`,
            [o.id, b.userId, b.accountId, o.clientOrderId, o.commandId, o.strategyId, o.symbol, o.side, o.type, o.status, o.open, o.qty, o.filledQty, o.ts, o.updatedTs, JSON.stringify(o.data)],
          );
        }
        for (const f of b.fills) {
          await tx.query(
            `INSERT INTO trading_fills (id, user_id, account_id, order_id, symbol, side, qty, price, fee, tax, event_ts, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) ON CONFLICT (id) DO NOTHING`,
            [f.id, b.userId, b.accountId, f.orderId, f.symbol, f.side, f.qty, f.price, f.fee, f.tax, f.ts, JSON.stringify(f.data)],
          );
        }
        for (const e of b.equity) {
          await tx.query(
            `INSERT INTO trading_equity (account_id, user_id, event_ts, equity, cash) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, event_ts) DO UPDATE SET equity = EXCLUDED.equity, cash = EXCLUDED.cash`,
            [b.accountId, b.userId, e.ts, e.equity, e.cash],
          );
        }
        const s = b.snapshot;
        await tx.query(
          `INSERT INTO trading_snapshots (account_id, user_id, generation, event_ts, fills, core, portfolio)
           VALUES ($1, $2, $3, $4, (SELECT count(*)::int FROM trading_fills WHERE account_id = $1) + $5, $6::jsonb, $7::jsonb)
           ON CONFLICT (account_id) DO UPDATE SET generation = EXCLUDED.generation, event_ts = EXCLUDED.event_ts, fills = EXCLUDED.fills, core = EXCLUDED.core,
             portfolio = EXCLUDED.portfolio, updated_at = now()
           WHERE trading_snapshots.generation < EXCLUDED.generation OR trading_snapshots.event_ts <= EXCLUDED.event_ts`,
          [b.accountId, b.userId, b.generation, s.ts, 0, JSON.stringify(s.core), JSON.stringify(s.portfolio)],
        );
        for (const c of b.commands) {
          await tx.query(`UPDATE trading_commands SET status = $2, result = $3::jsonb, applied_at = now() WHERE id = $1 AND status = 'pending'`, [c.id, c.status, JSON.stringify(c.result)]);
        }
        return true;
      });
    },

    transaction: (fn) => db.transaction(fn),
  };
}
