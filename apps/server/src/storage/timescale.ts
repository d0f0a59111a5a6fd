/**
 * Optional TimescaleDB layer. When the extension can be created (available
 * AND preloaded), the time tables become hypertables with compression and,
 * for raw high-volume data, retention. Without it the same tables work as
 * plain tables with their time indexes: nothing else depends on TimescaleDB.
 */
import type { Db } from './db.ts';

export interface HypertablePlan {
  table: string;
  timeColumn: string;
  chunkInterval: string;
  segmentBy: string;
  orderBy: string;
  compressAfter: string;
  /** null = keep forever. */
  dropAfter: string | null;
}

// Raw trades and foreign snapshots are the bulk; bars and index values are
// small and kept forever, since charts read them for years back.
export const HYPERTABLES: readonly HypertablePlan[] = [
  { table: 'trades', timeColumn: 'ts', chunkInterval: '1 day', segmentBy: 'symbol', orderBy: 'ts DESC, id DESC', compressAfter: '7 days', dropAfter: '730 days' },
  { table: 'bars_1m', timeColumn: 'ts', chunkInterval: '7 days', segmentBy: 'symbol', orderBy: 'ts DESC', compressAfter: '30 days', dropAfter: null },
  { table: 'foreign_flows', timeColumn: 'ts', chunkInterval: '7 days', segmentBy: 'symbol', orderBy: 'ts DESC', compressAfter: '30 days', dropAfter: '730 days' },
  { table: 'index_values', timeColumn: 'ts', chunkInterval: '7 days', segmentBy: 'index_id', orderBy: 'ts DESC', compressAfter: '30 days', dropAfter: null },
];

export interface TimescaleSupport {
  /** The extension is installed, or can be (listed in pg_available_extensions and preloaded). */
  usable: boolean;
  installed: boolean;
  reason: string;
}

export async function detectTimescale(db: Db): Promise<TimescaleSupport> {
  const { rows } = await db.query<{ available: boolean; installed: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS installed`,
  );
  const r = rows[0]!;
  if (r.installed) return { usable: true, installed: true, reason: 'timescaledb installed' };
  if (!r.available) return { usable: false, installed: false, reason: 'timescaledb not available' };
  // CREATE EXTENSION fails unless the library is preloaded; treat that as absent, not as an error.
  // Reading the setting needs pg_read_all_settings on PostgreSQL 15+: an unprivileged
  // role cannot create the extension either, so "cannot read" also means "not usable".
  let preload: string | null;
  try {
    preload = (await db.query<{ preload: string | null }>(`SELECT current_setting('shared_preload_libraries', true) AS preload`)).rows[0]?.preload ?? null;
  } catch {
    return { usable: false, installed: false, reason: 'timescaledb available but shared_preload_libraries is not readable by this role' };
  }
  if (!(preload ?? '').split(',').some((s) => s.trim() === 'timescaledb')) {
    return { usable: false, installed: false, reason: 'timescaledb available but not in shared_preload_libraries' };
  }
  return { usable: true, installed: false, reason: 'timescaledb available' };
}

/** The statements that convert the plans' tables not yet in `existing` into hypertables. Idempotent by construction. */
export function timescaleStatements(existing: ReadonlySet<string> = new Set(), plans: readonly HypertablePlan[] = HYPERTABLES): string[] {
  const out = ['CREATE EXTENSION IF NOT EXISTS timescaledb'];
  for (const p of plans) {
    if (existing.has(p.table)) continue;
    out.push(
      // The classic signature works on every TimescaleDB 2.x (by_range() needs 2.13+).
      `SELECT create_hypertable('${p.table}', '${p.timeColumn}', chunk_time_interval => INTERVAL '${p.chunkInterval}', if_not_exists => TRUE, migrate_data => TRUE)`,
      `ALTER TABLE ${p.table} SET (timescaledb.compress, timescaledb.compress_segmentby = '${p.segmentBy}', timescaledb.compress_orderby = '${p.orderBy}')`,
      `SELECT add_compression_policy('${p.table}', INTERVAL '${p.compressAfter}', if_not_exists => TRUE)`,
    );
    if (p.dropAfter) out.push(`SELECT add_retention_policy('${p.table}', INTERVAL '${p.dropAfter}', if_not_exists => TRUE)`);
  }
  return out;
}

/** Applies the TimescaleDB layer when usable; returns whether the database runs with it. */
export async function applyTimescale(db: Db): Promise<{ enabled: boolean; statements: string[]; reason: string }> {
  const support = await detectTimescale(db);
  if (!support.usable) return { enabled: false, statements: [], reason: support.reason };
  let existing = new Set<string>();
  if (support.installed) {
    const { rows } = await db.query<{ name: string }>(`SELECT hypertable_name AS name FROM timescaledb_information.hypertables`);
    existing = new Set(rows.map((r) => r.name));
  }
  const statements = timescaleStatements(existing);
  for (const s of statements) await db.exec(s);
  return { enabled: true, statements, reason: support.reason };
}
