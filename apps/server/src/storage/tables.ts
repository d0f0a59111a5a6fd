/**
 * How each stored shared type maps onto its table, and the idempotent batch
 * writes: inserting the same rows again never creates a second copy (trades,
 * alert events) and upserts converge to the latest state (bars, sessions,
 * reference data, samples). This is what makes writer retries safe.
 */
import type { AlertEvent, Bar, ClassifiedTrade, ForeignState, IndexState, SessionSummary, SymbolRef } from '@stock-tracker/protocol';
import type { Db } from './db.ts';
import { copyRows, dedupeLast, unnestInsert, valuesInserts, type TableSpec } from './sql-batch.ts';

export const iso = (ms: number) => new Date(ms).toISOString();

const col = <R>(name: string, type: string, value: (r: R) => unknown) => ({ name, type, value });
const F8 = 'double precision';

export const tradesSpec: TableSpec<ClassifiedTrade> = {
  table: 'trades',
  columns: [
    col('symbol', 'text', (t) => t.symbol),
    col('ts', 'timestamptz', (t) => iso(t.ts)),
    col('id', 'text', (t) => t.id),
    col('price', F8, (t) => t.price),
    col('volume', F8, (t) => t.volume),
    col('side', 'text', (t) => t.side),
    col('side_source', 'text', (t) => t.sideSource),
    col('phase', 'text', (t) => t.phase),
  ],
  key: (t) => `${t.symbol}\u0000${t.ts}\u0000${t.id}`,
  onConflict: 'ON CONFLICT (symbol, ts, id) DO NOTHING',
};

const excludedAll = (cols: readonly string[]) => cols.map((c) => `${c} = EXCLUDED.${c}`).join(', ');

/**
 * Stored aggregates only grow (issue 12 §6): a bar or session row is replaced
 * only by one covering at least as many trades (and, at equal count, at least
 * as much volume). An engine that restarted the day from nothing — a
 * collector leader that took over without its predecessor's state, a replay
 * of part of a day — can then never overwrite a complete row with a partial
 * one; a late trade's correction (one trade more) still goes through.
 */
const coversAtLeast = (table: string) =>
  `(${table}.trades < EXCLUDED.trades OR (${table}.trades = EXCLUDED.trades AND ${table}.volume <= EXCLUDED.volume))`;

const BAR_VALUES = ['open', 'high', 'low', 'close', 'volume', 'value', 'vwap', 'buy_volume', 'sell_volume', 'unknown_volume', 'trades'];
export const barsSpec: TableSpec<Bar> = {
  table: 'bars_1m',
  columns: [
    col('symbol', 'text', (b) => b.symbol),
    col('ts', 'timestamptz', (b) => iso(b.ts)),
    col('open', F8, (b) => b.open),
    col('high', F8, (b) => b.high),
    col('low', F8, (b) => b.low),
    col('close', F8, (b) => b.close),
    col('volume', F8, (b) => b.volume),
    col('value', F8, (b) => b.value),
    col('vwap', F8, (b) => b.vwap),
    col('buy_volume', F8, (b) => b.buyVolume),
    col('sell_volume', F8, (b) => b.sellVolume),
    col('unknown_volume', F8, (b) => b.unknownVolume),
    col('trades', 'integer', (b) => b.trades),
  ],
  key: (b) => `${b.symbol}\u0000${b.ts}`,
  onConflict: `ON CONFLICT (symbol, ts) DO UPDATE SET ${excludedAll(BAR_VALUES)} WHERE ${coversAtLeast('bars_1m')}`,
};

export const sessionsSpec: TableSpec<SessionSummary> = {
  table: 'session_summaries',
  columns: [
    col('symbol', 'text', (s) => s.symbol),
    col('trading_date', 'date', (s) => s.tradingDate),
    col('phase', 'text', (s) => s.phase),
    col('open', F8, (s) => s.open),
    col('high', F8, (s) => s.high),
    col('low', F8, (s) => s.low),
    col('close', F8, (s) => s.close),
    col('volume', F8, (s) => s.volume),
    col('value', F8, (s) => s.value),
    col('vwap', F8, (s) => s.vwap),
    col('buy_volume', F8, (s) => s.buyVolume),
    col('sell_volume', F8, (s) => s.sellVolume),
    col('unknown_volume', F8, (s) => s.unknownVolume),
    col('trades', 'integer', (s) => s.trades),
  ],
  key: (s) => `${s.symbol}\u0000${s.tradingDate}\u0000${s.phase}`,
  onConflict: `ON CONFLICT (symbol, trading_date, phase) DO UPDATE SET ${excludedAll(BAR_VALUES)}, updated_at = now() WHERE ${coversAtLeast('session_summaries')}`,
};

const FOREIGN_VALUES = ['buy_volume', 'sell_volume', 'buy_value', 'sell_value', 'net_volume', 'net_value', 'total_room', 'current_room', 'room_usage_pct'];
export const foreignSpec: TableSpec<ForeignState> = {
  table: 'foreign_flows',
  columns: [
    col('symbol', 'text', (f) => f.symbol),
    col('ts', 'timestamptz', (f) => iso(f.ts)),
    col('buy_volume', F8, (f) => f.buyVolume),
    col('sell_volume', F8, (f) => f.sellVolume),
    col('buy_value', F8, (f) => f.buyValue),
    col('sell_value', F8, (f) => f.sellValue),
    col('net_volume', F8, (f) => f.netVolume),
    col('net_value', F8, (f) => f.netValue),
    col('total_room', F8, (f) => f.totalRoom),
    col('current_room', F8, (f) => f.currentRoom),
    col('room_usage_pct', F8, (f) => f.roomUsagePct),
  ],
  key: (f) => `${f.symbol}\u0000${f.ts}`,
  onConflict: `ON CONFLICT (symbol, ts) DO UPDATE SET ${excludedAll(FOREIGN_VALUES)}`,
};

const INDEX_VALUES = ['name', 'value', 'prev_close', 'change', 'change_pct', 'volume', 'value_traded', 'advances', 'declines', 'unchanged', 'ceilings', 'floors', 'computed'];
export const indexSpec: TableSpec<IndexState> = {
  table: 'index_values',
  columns: [
    col('index_id', 'text', (i) => i.id),
    col('ts', 'timestamptz', (i) => iso(i.ts)),
    col('name', 'text', (i) => i.name),
    col('value', F8, (i) => i.value),
    col('prev_close', F8, (i) => i.prevClose),
    col('change', F8, (i) => i.change),
    col('change_pct', F8, (i) => i.changePct),
    col('volume', F8, (i) => i.volume),
    col('value_traded', F8, (i) => i.valueTraded),
    col('advances', 'integer', (i) => i.breadth.advances),
    col('declines', 'integer', (i) => i.breadth.declines),
    col('unchanged', 'integer', (i) => i.breadth.unchanged),
    col('ceilings', 'integer', (i) => i.breadth.ceilings),
    col('floors', 'integer', (i) => i.breadth.floors),
    col('computed', 'boolean', (i) => i.computed),
  ],
  key: (i) => `${i.id}\u0000${i.ts}`,
  onConflict: `ON CONFLICT (index_id, ts) DO UPDATE SET ${excludedAll(INDEX_VALUES)}`,
};

export const alertEventsSpec: TableSpec<AlertEvent> = {
  table: 'alert_events',
  columns: [
    col('id', 'text', (a) => a.id),
    col('rule_id', 'text', (a) => a.ruleId),
    col('user_id', 'text', (a) => a.userId),
    col('symbol', 'text', (a) => a.symbol),
    col('kind', 'text', (a) => a.kind),
    col('ts', 'timestamptz', (a) => iso(a.ts)),
    col('value', F8, (a) => a.value),
    col('threshold', F8, (a) => a.threshold),
    col('message', 'text', (a) => a.message),
  ],
  key: (a) => a.id,
  onConflict: 'ON CONFLICT (id) DO NOTHING',
};

const SYMBOL_VALUES = ['exchange', 'market', 'name', 'lot_size', 'indices', 'shares_outstanding', 'foreign_limit', 'trading_date', 'reference', 'ceiling', 'floor'];
export const symbolsSpec: TableSpec<SymbolRef> = {
  table: 'symbols',
  columns: [
    col('symbol', 'text', (s) => s.symbol),
    col('exchange', 'text', (s) => s.exchange),
    col('market', 'text', (s) => s.market),
    col('name', 'text', (s) => s.name ?? null),
    col('lot_size', 'integer', (s) => s.lotSize),
    col('indices', 'text[]', (s) => s.indices),
    col('shares_outstanding', F8, (s) => s.sharesOutstanding),
    col('foreign_limit', F8, (s) => s.foreignLimit ?? null),
    col('trading_date', 'date', (s) => s.tradingDate),
    col('reference', F8, (s) => s.reference),
    col('ceiling', F8, (s) => s.ceiling),
    col('floor', F8, (s) => s.floor),
  ],
  key: (s) => s.symbol,
  // An older day's reference arriving late must not overwrite the current one.
  onConflict: `ON CONFLICT (symbol) DO UPDATE SET ${excludedAll(SYMBOL_VALUES)}, updated_at = now() WHERE symbols.trading_date <= EXCLUDED.trading_date`,
};

export const dailyRefsSpec: TableSpec<SymbolRef> = {
  table: 'symbol_daily_refs',
  columns: [
    col('symbol', 'text', (s) => s.symbol),
    col('trading_date', 'date', (s) => s.tradingDate),
    col('reference', F8, (s) => s.reference),
    col('ceiling', F8, (s) => s.ceiling),
    col('floor', F8, (s) => s.floor),
  ],
  key: (s) => `${s.symbol}\u0000${s.tradingDate}`,
  onConflict: 'ON CONFLICT (symbol, trading_date) DO UPDATE SET reference = EXCLUDED.reference, ceiling = EXCLUDED.ceiling, floor = EXCLUDED.floor',
};

/**
 * How rows are inserted. Measured with bench/storage.bench.ts (docs/storage.md):
 * `unnest` beats multi-row VALUES 2–3x on both engines. On PostgreSQL, COPY
 * straight into the table is fastest by far but cannot skip conflicts, so
 * `copy` tries it under a savepoint and, only when the batch holds a row that
 * is already stored (a retry, a replay), falls back to COPY into a staging
 * table + INSERT … SELECT … ON CONFLICT (`copy_staged`). `auto` uses `copy`
 * from COPY_MIN_ROWS rows when the database supports it, else `unnest`.
 */
export type InsertMode = 'values' | 'unnest' | 'copy' | 'copy_staged' | 'auto';
export const COPY_MIN_ROWS = 1_000;

/** Inserts rows idempotently; returns the number of distinct rows sent. The COPY modes need a PostgreSQL transaction. */
export async function writeRows<R>(db: Db, spec: TableSpec<R>, input: readonly R[], mode: InsertMode = 'auto'): Promise<number> {
  if (input.length === 0) return 0;
  const rows = dedupeLast(input, spec.key);
  if (mode === 'auto') mode = db.copyFrom && rows.length >= COPY_MIN_ROWS ? 'copy' : 'unnest';
  if ((mode === 'copy' || mode === 'copy_staged') && !db.copyFrom) mode = 'unnest';
  const cols = spec.columns.map((c) => c.name).join(', ');
  if (mode === 'copy') {
    await db.exec('SAVEPOINT st_copy');
    try {
      await db.copyFrom!(`COPY ${spec.table} (${cols}) FROM STDIN`, copyRows(spec, rows));
      await db.exec('RELEASE SAVEPOINT st_copy');
      return rows.length;
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      // Some rows are already stored: undo the attempt and let ON CONFLICT sort them out.
      await db.exec('ROLLBACK TO SAVEPOINT st_copy');
      mode = 'copy_staged';
    }
  }
  if (mode === 'copy_staged') {
    const stage = `${spec.table}_stage`;
    await db.exec(`CREATE TEMP TABLE IF NOT EXISTS ${stage} (LIKE ${spec.table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    await db.copyFrom!(`COPY ${stage} (${cols}) FROM STDIN`, copyRows(spec, rows));
    await db.query(`INSERT INTO ${spec.table} (${cols}) SELECT ${cols} FROM ${stage} ${spec.onConflict}`);
  } else if (mode === 'unnest') {
    const { sql, params } = unnestInsert(spec, rows);
    await db.query(sql, params);
  } else {
    for (const { sql, params } of valuesInserts(spec, rows)) await db.query(sql, params);
  }
  return rows.length;
}

/** Reference data: the latest per symbol plus one row per trading day. */
export async function writeSymbolRefs(db: Db, refs: readonly SymbolRef[]): Promise<number> {
  if (refs.length === 0) return 0;
  // Per symbol keep the newest trading day (the last one on ties).
  const latest = new Map<string, SymbolRef>();
  for (const r of refs) {
    const cur = latest.get(r.symbol);
    if (!cur || cur.tradingDate <= r.tradingDate) latest.set(r.symbol, r);
  }
  // symbols has an array column, which unnest would flatten: VALUES it is.
  await writeRows(db, symbolsSpec, [...latest.values()], 'values');
  return writeRows(db, dailyRefsSpec, refs);
}
