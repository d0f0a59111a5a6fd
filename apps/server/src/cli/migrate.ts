/**
 * `stock-tracker migrate`: applies the schema migrations and exits. Uses
 * DATABASE_URL when set, else embedded PGlite under DATA_DIR (default ./data).
 * Idempotent: at head it applies nothing and exits 0, so it can run before
 * every deployment (the `migrate` job gates the API).
 *
 * Exit codes: 0 at head; 1 a migration failed (nothing applied); 2 usage;
 * 3 the database is unreachable. `--status` only reports: 0 at head, 1 behind.
 */
import { resolve } from 'node:path';
import { DatabaseUnreachableError, openDatabase, redactUrl, type Db } from '../storage/db.ts';
import { migrate, migrationStatus, MigrationError } from '../storage/migrate.ts';
import type { Logger } from '../storage/logger.ts';
import { readStorageEnv } from '../config.ts';

const USAGE = `usage: stock-tracker migrate [--status]

Applies database migrations and exits (idempotent).
  DATABASE_URL  PostgreSQL URL; when unset, embedded PGlite under DATA_DIR
  DATA_DIR      data directory for PGlite (default ./data)

  --status      print the schema version and exit 0 when at head, 1 when behind
`;

export async function run(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const err = (s: string) => process.stderr.write(`stock-tracker migrate: ${s}\n`);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--status');
  if (unknown.length) {
    err(`unknown option ${unknown[0]}`);
    process.stderr.write(USAGE);
    return 2;
  }
  const { databaseUrl, dataDir } = readStorageEnv();
  const target = databaseUrl ? `PostgreSQL ${redactUrl(databaseUrl)}` : `PGlite ${resolve(dataDir, 'pglite')}`;

  let db: Db;
  try {
    // No statement timeout: a migration on a large table may legitimately take long.
    db = await openDatabase({ databaseUrl, dataDir, poolSize: 1, queryTimeoutMs: 0 });
  } catch (e) {
    if (e instanceof DatabaseUnreachableError) {
      err(`cannot reach the database (${target}): ${e.reason}`);
      return 3;
    }
    err(`cannot open the database (${target}): ${(e as Error).message}`);
    return 3;
  }
  try {
    if (argv.includes('--status')) {
      const s = await migrationStatus(db);
      out(`${target}: schema version ${s.current}, expected ${s.expected}${s.current >= s.expected ? ' (at head)' : ' (behind: run stock-tracker migrate)'}`);
      return s.current >= s.expected ? 0 : 1;
    }
    const log: Logger = {
      info: (o, msg) => {
        if (msg === 'applying migration' && typeof o === 'object') {
          const m = o as { version: number; name: string };
          out(`applying ${String(m.version).padStart(4, '0')}_${m.name}`);
        }
      },
      warn: () => {},
      error: () => {},
      debug: () => {},
    };
    const r = await migrate(db, log);
    if (r.applied.length === 0) out(`${target}: already at version ${r.version}; nothing to apply`);
    else out(`${target}: applied ${r.applied.length} migration(s), now at version ${r.version}`);
    out(`timescaledb: ${r.timescale ? 'enabled (hypertables, compression, retention)' : 'not available (plain tables)'}`);
    return 0;
  } catch (e) {
    err(e instanceof MigrationError ? e.message : `migration failed, nothing applied: ${(e as Error).message}`);
    return 1;
  } finally {
    await db.close().catch(() => {});
  }
}
