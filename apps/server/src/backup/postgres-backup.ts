/**
 * `pg_dump --format=custom` of a PostgreSQL database, with a manifest whose
 * row counts describe exactly what the dump holds: the counts are taken in a
 * REPEATABLE READ transaction whose snapshot is exported and handed to
 * pg_dump (`--snapshot`), so writes that land during the backup are in
 * neither the counts nor the dump.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { databaseNameOf, libpqTarget, scrubSecret } from './connection.ts';
import { BackupError, messageOf } from './errors.ts';
import { commitFile, sha256File, tempPathFor, writeFileAtomic } from './files.ts';
import { ARCHIVE_EXT, backupStem, MANIFEST_FORMAT, type BackupManifest } from './manifest.ts';
import { pgToolVersion, runPgTool } from './pg-tools.ts';
import { applyRetention, type RetentionResult } from './retention.ts';
import { countTables, schemaVersion } from './table-counts.ts';

export interface BackupOptions {
  outDir: string;
  /** Newest complete backups of this database kept in outDir (older ones deleted). */
  keep: number;
  /** Clock for the file name and created_at (tests). */
  now?: () => Date;
  /** Progress lines for the operator. */
  log?: (line: string) => void;
}

export interface PostgresBackupOptions extends BackupOptions {
  databaseUrl: string;
  /** Environment for the client tools (PG_BIN_DIR, PG* variables). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface BackupResult {
  archivePath: string;
  manifestPath: string;
  manifest: BackupManifest;
  retention: RetentionResult;
}

/** Connects a single client, turning any failure into an 'unreachable' BackupError that names the target without its password. */
export async function connectClient(url: string, display: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'stock-tracker-backup' });
  // A connection dropped while idle emits 'error'; without a listener Node would crash.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new BackupError(`cannot reach the database ${display}: ${messageOf(err)}`, 'unreachable', { cause: err });
  }
  return client;
}

export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new BackupError(`cannot create the backup directory ${dir}: ${messageOf(err)}`, 'failed', { cause: err });
  }
}

export async function backupPostgres(opts: PostgresBackupOptions): Promise<BackupResult> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const target = libpqTarget(opts.databaseUrl);
  const database = databaseNameOf(opts.databaseUrl);
  const outDir = resolve(opts.outDir);
  const at = (opts.now ?? (() => new Date()))();

  // The tool first: a missing pg_dump should not cost a database round trip.
  const tool = await pgToolVersion('pg_dump', env);
  ensureDir(outDir);

  const client = await connectClient(opts.databaseUrl, target.display);
  const stem = backupStem(database, at);
  const archivePath = join(outDir, stem + ARCHIVE_EXT.postgres);
  const manifestPath = join(outDir, `${stem}.json`);
  const tmp = tempPathFor(archivePath);
  let archiveCommitted = false;
  let manifest: BackupManifest;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // The first statement fixes the transaction's snapshot; exporting it lets pg_dump share it.
    const { rows } = await client.query<{ snapshot: string; version: string; num: number }>(
      `SELECT pg_export_snapshot() AS snapshot, current_setting('server_version') AS version, current_setting('server_version_num')::int AS num`,
    );
    const { snapshot, version, num } = rows[0]!;
    const serverMajor = Math.floor(Number(num) / 10_000);
    if (tool.major < serverMajor) {
      throw new BackupError(
        `${tool.text} cannot dump a PostgreSQL ${serverMajor} server: install postgresql-client-${serverMajor} (or newer) and/or set PG_BIN_DIR to its bin directory`,
      );
    }
    const tables = await countTables(client);
    const migrationVersion = await schemaVersion(client);
    const ts = await client.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`);
    log(`dumping ${target.display} (${Object.keys(tables).length} tables, schema version ${migrationVersion}, snapshot ${snapshot})`);

    try {
      await runPgTool(
        'pg_dump',
        // --no-password: a job must fail, not wait for a prompt. --lock-wait-timeout: fail
        // clearly rather than hang behind a long DDL lock (a migration).
        ['--format=custom', '--no-password', `--snapshot=${snapshot}`, '--lock-wait-timeout=60000', `--file=${tmp}`, `--dbname=${target.dbname}`],
        { env: target.env, baseEnv: env },
      );
    } catch (err) {
      throw new BackupError(scrubSecret(messageOf(err), opts.databaseUrl), 'failed', { cause: err });
    }
    await client.query('COMMIT');

    const { sha256, size } = await sha256File(tmp);
    await commitFile(tmp, archivePath);
    archiveCommitted = true;
    manifest = {
      format: MANIFEST_FORMAT,
      engine: 'postgres',
      file: stem + ARCHIVE_EXT.postgres,
      database,
      created_at: at.toISOString(),
      sha256,
      size,
      migration_version: migrationVersion,
      tables,
      server_version: version,
      tool_version: tool.text,
      timescaledb: ts.rows[0]?.v ?? null,
    };
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  } catch (err) {
    await rm(tmp, { force: true });
    // An archive without its manifest cannot be restored with verification: do not leave one behind.
    if (archiveCommitted) await rm(archivePath, { force: true });
    if (err instanceof BackupError) throw err;
    // Disk errors (ENOSPC, EACCES, EIO) and database errors mid-way.
    throw new BackupError(`backup of ${target.display} failed: ${scrubSecret(messageOf(err), opts.databaseUrl)}`, 'failed', { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
  return { archivePath, manifestPath, manifest, retention: retain(outDir, database, opts.keep, archivePath) };
}

/** Retention after a successful backup; a failure here does not undo the backup, but is reported. */
export function retain(outDir: string, database: string, keep: number, archivePath: string): RetentionResult {
  try {
    return applyRetention(outDir, database, keep);
  } catch (err) {
    throw new BackupError(`backup written to ${archivePath}, but removing old backups failed: ${messageOf(err)}`, 'failed', { cause: err });
  }
}
