/**
 * Versioned SQL migrations (`migrations/NNNN_name.sql`), applied in order and
 * recorded in `schema_migrations`. One set for PGlite and PostgreSQL.
 *
 * Everything runs in one transaction that first takes a transaction-scoped
 * advisory lock: two processes migrating at once serialize, the second finds
 * nothing left to do, and a failing migration leaves the schema untouched.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Db } from './db.ts';
import { silentLogger, type Logger } from './logger.ts';
import { applyTimescale } from './timescale.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Arbitrary constant shared by every stock-tracker process ('STKT'). */
export const MIGRATION_LOCK_KEY = 0x53544b54;

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

// Line endings are normalized so a checkout with CRLF does not look like an edited migration.
export const checksumOf = (sql: string) => createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');

const FILE_RE = /^(\d+)_([A-Za-z0-9_\-]+)\.sql$/;

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const m = FILE_RE.exec(file);
    if (!m) continue;
    const sql = readFileSync(join(dir, file), 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, sql, checksum: checksumOf(sql) });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) throw new MigrationError(`two migrations share version ${out[i]!.version}`);
  }
  return out;
}

export interface MigrateOptions {
  migrations?: Migration[];
  /** 'auto' (default) applies the TimescaleDB layer when the extension is usable. */
  timescale?: 'auto' | 'off';
}

export interface MigrateResult {
  applied: string[];
  version: number;
  timescale: boolean;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export async function migrate(db: Db, log: Logger = silentLogger, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = opts.migrations ?? loadMigrations();
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(CREATE_TABLE);
    const { rows } = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const known = new Map(migrations.map((m) => [m.version, m]));
    const done = new Set<number>();
    for (const r of rows) {
      const m = known.get(r.version);
      if (!m) {
        throw new MigrationError(
          `the database has migration ${r.version} (${r.name}) applied, which this program does not know: it was migrated by a newer version`,
        );
      }
      if (m.checksum !== r.checksum) {
        throw new MigrationError(
          `migration ${m.version} (${m.name}) was changed after it was applied (checksum ${r.checksum.slice(0, 12)}… in the database, ${m.checksum.slice(0, 12)}… on disk); add a new migration instead of editing an applied one`,
        );
      }
      done.add(r.version);
    }
    const maxDone = rows.length ? rows[rows.length - 1]!.version : 0;
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      if (m.version < maxDone) {
        throw new MigrationError(`migration ${m.version} (${m.name}) is missing from the database but later ones are applied`);
      }
      log.info({ version: m.version, name: m.name }, 'applying migration');
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(`${String(m.version).padStart(4, '0')}_${m.name}`);
    }
    let timescale = false;
    if (opts.timescale !== 'off' && tx.kind === 'postgres') {
      const ts = await applyTimescale(tx);
      timescale = ts.enabled;
      if (ts.statements.length > 1) log.info({ statements: ts.statements.length }, 'timescaledb hypertables configured');
      else log.debug({ reason: ts.reason }, 'timescaledb layer');
    }
    const version = Math.max(maxDone, ...migrations.map((m) => m.version), 0);
    return { applied, version, timescale };
  });
}

/** Schema version in the database (0 before any migration) against the newest migration this program ships. */
export async function migrationStatus(db: Db, migrations: Migration[] = loadMigrations()): Promise<{ current: number; expected: number }> {
  const expected = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  const { rows } = await db.query<{ exists: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`);
  if (!rows[0]?.exists) return { current: 0, expected };
  const r = await db.query<{ v: number }>('SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations');
  return { current: r.rows[0]!.v, expected };
}
