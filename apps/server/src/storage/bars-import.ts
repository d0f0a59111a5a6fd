/**
 * Storage for `stock-tracker backfill`: vendor bars and per-symbol
 * checkpoints, written together in one transaction per page so that a run
 * interrupted at any point resumes exactly after the last stored page.
 *
 * Minute bars go to bars_1m through the writer's column mapping (barsSpec)
 * but with ON CONFLICT DO NOTHING: a minute the live collector already
 * stored keeps its buy/sell split, which vendor history does not have.
 * Daily bars go to bars_1d and are upserted (only the backfill writes them).
 * Either way a second run over the same range adds no rows.
 */
import type { Bar, BarEvent, Market } from '@stock-tracker/protocol';
import { tradingDateOf, US } from '@stock-tracker/rules';
import type { BackfillCheckpoint, BackfillInterval, BackfillStore } from '@stock-tracker/feeds';
import type { Db } from './db.ts';
import { unnestInsert, type TableSpec } from './sql-batch.ts';
import { barsSpec, iso } from './tables.ts';

const F8 = 'double precision';

export const dailyBarsSpec: TableSpec<BarEvent> = {
  table: 'bars_1d',
  columns: [
    { name: 'symbol', type: 'text', value: (b) => b.symbol },
    { name: 'ts', type: 'timestamptz', value: (b) => iso(b.ts) },
    { name: 'open', type: F8, value: (b) => b.open },
    { name: 'high', type: F8, value: (b) => b.high },
    { name: 'low', type: F8, value: (b) => b.low },
    { name: 'close', type: F8, value: (b) => b.close },
    { name: 'volume', type: F8, value: (b) => b.volume },
    { name: 'value', type: F8, value: (b) => b.value ?? null },
    { name: 'trades', type: 'integer', value: (b) => b.trades ?? null },
  ],
  key: (b) => `${b.symbol}\u0000${b.ts}`,
  onConflict: `ON CONFLICT (symbol, ts) DO UPDATE SET ${['open', 'high', 'low', 'close', 'volume', 'value', 'trades'].map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`,
};

/** barsSpec's mapping, but an existing minute wins (see above). */
export const importedMinuteBarsSpec: TableSpec<Bar> = { ...barsSpec, onConflict: 'ON CONFLICT (symbol, ts) DO NOTHING' };

/**
 * A vendor minute bar as a stored Bar. History has no aggressor split, so the
 * whole volume is unknown; without a traded value from the vendor the value
 * is estimated from the typical price (h+l+c)/3 and no VWAP is claimed.
 */
export function minuteBarFromVendor(b: BarEvent): Bar {
  const value = b.value ?? ((b.high + b.low + b.close) / 3) * b.volume;
  return {
    symbol: b.symbol,
    interval: '1m',
    ts: b.ts,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
    value,
    vwap: b.value !== undefined && b.volume > 0 ? b.value / b.volume : null,
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: b.volume,
    trades: b.trades ?? 0,
    closed: true,
  };
}

/** Inserts and returns how many rows were new (xmax = 0 marks a freshly inserted row version). */
async function insertCounting<R>(db: Db, spec: TableSpec<R>, rows: readonly R[]): Promise<number> {
  if (rows.length === 0) return 0;
  const byKey = new Map<string, R>();
  for (const r of rows) byKey.set(spec.key(r), r);
  const { sql, params } = unnestInsert(spec, [...byKey.values()]);
  const res = await db.query<{ inserted: boolean }>(`${sql} RETURNING (xmax = 0) AS inserted`, params);
  return res.rows.filter((r) => r.inserted).length;
}

export interface BackfillStoreOptions {
  /** US symbols without reference data get a placeholder `symbols` row, so the API buckets their days in New York time. */
  market: Market;
}

export function createBackfillStore(db: Db, opts: BackfillStoreOptions): BackfillStore {
  return {
    async checkpoint(job, symbol): Promise<BackfillCheckpoint | undefined> {
      const { rows } = await db.query<{ cursor: string | null; rows: string | number; done: boolean }>(
        'SELECT cursor, rows, done FROM backfill_checkpoints WHERE job = $1 AND symbol = $2',
        [job, symbol],
      );
      const r = rows[0];
      return r && { cursor: r.cursor, rows: Number(r.rows), done: r.done };
    },

    async savePage(job, symbol, interval: BackfillInterval, bars, next) {
      return db.transaction(async (tx) => {
        const added = interval === '1d' ? await insertCounting(tx, dailyBarsSpec, bars) : await insertCounting(tx, importedMinuteBarsSpec, bars.map(minuteBarFromVendor));
        await tx.query(
          `INSERT INTO backfill_checkpoints (job, symbol, cursor, rows, done, updated_at) VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (job, symbol) DO UPDATE SET cursor = EXCLUDED.cursor, rows = backfill_checkpoints.rows + EXCLUDED.rows,
             done = EXCLUDED.done, updated_at = now()`,
          [job, symbol, next, bars.length, next === null],
        );
        const last = bars.at(-1);
        if (opts.market === 'US' && last) await ensureUsSymbol(tx, symbol, last);
        return added;
      });
    },

    async reset(job) {
      await db.query('DELETE FROM backfill_checkpoints WHERE job = $1', [job]);
    },
  };
}

/**
 * A placeholder reference for a US symbol nobody listed yet: the last close
 * as reference on that bar's New York trading date, no limits, lot 1. Live
 * reference data (a later trading date) replaces it; an existing row is never touched.
 */
async function ensureUsSymbol(db: Db, symbol: string, last: BarEvent): Promise<void> {
  await db.query(
    `INSERT INTO symbols (symbol, exchange, market, lot_size, trading_date, reference, ceiling, floor)
     VALUES ($1, $2, 'US', $3, $4::date, $5, NULL, NULL) ON CONFLICT (symbol) DO NOTHING`,
    [symbol, US.exchange, US.lotSize, tradingDateOf(last.ts, US.timeZone), last.close],
  );
}

/**
 * Imported daily bars of a symbol, oldest first, between two instants
 * (inclusive on the day start). For the bars API: days without minute data
 * can be served from here.
 */
export async function dailyBarsRange(db: Db, symbol: string, from: number, to: number): Promise<Bar[]> {
  const { rows } = await db.query<{ ts: number; open: number; high: number; low: number; close: number; volume: number; value: number | null; trades: number | null }>(
    `SELECT (extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume, value, trades
     FROM bars_1d WHERE symbol = $1 AND ts >= $2::timestamptz AND ts <= $3::timestamptz ORDER BY ts`,
    [symbol, iso(from), iso(to)],
  );
  return rows.map((r) => ({
    symbol,
    interval: '1d',
    ts: r.ts,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
    value: r.value ?? ((r.high + r.low + r.close) / 3) * r.volume,
    vwap: r.value !== null && r.volume > 0 ? r.value / r.volume : null,
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: r.volume,
    trades: r.trades ?? 0,
    closed: true,
  }));
}
