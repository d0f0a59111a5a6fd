/**
 * Restoring a `backup` archive into a PostgreSQL database, defensively: the
 * archive must match its manifest's sha256; the target must not be the live
 * database nor hold data unless the operator says --force; after pg_restore
 * the schema version and every table's row count must equal the manifest's.
 */
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { databaseNameOf, libpqTarget, quoteIdent, scrubSecret, withDatabase } from './connection.ts';
import { BackupError, messageOf } from './errors.ts';
import { verifyBackupFile, type BackupManifest } from './manifest.ts';
import { pgToolVersion, runPgTool } from './pg-tools.ts';
import { connectClient } from './postgres-backup.ts';
import { countTables, schemaVersion, userRelationCount } from './table-counts.ts';
import { verifyRestore, type RestoreVerification } from './verify.ts';

export interface PostgresRestoreOptions {
  /** The archive (.dump) or its manifest (.json). */
  file: string;
  /** Any database on the target server that this user can connect to (for CREATE/DROP DATABASE). */
  databaseUrl: string;
  targetDatabase: string;
  /** Create the target database when it does not exist. */
  create?: boolean;
  /** Allow the source's name as target, and replace a non-empty target (dropped and created again). */
  force?: boolean;
  /** pg_restore --jobs; default min(4, CPUs). TimescaleDB archives always restore with 1. */
  jobs?: number;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface RestoreReport {
  manifest: BackupManifest;
  /** Where the data went: a database name or a data directory. */
  target: string;
  created: boolean;
  /** The target held data and was replaced (--force). */
  replaced: boolean;
  verification: RestoreVerification;
}

// PostgreSQL identifiers are at most 63 bytes; NUL cannot be represented.
export function checkDatabaseName(name: string): void {
  if (!name || Buffer.byteLength(name) > 63 || name.includes('\0')) {
    throw new BackupError(`invalid target database name ${JSON.stringify(name)} (1 to 63 bytes)`, 'refused');
  }
}

async function databaseExists(admin: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

export async function restorePostgres(opts: PostgresRestoreOptions): Promise<RestoreReport> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const target = opts.targetDatabase;
  checkDatabaseName(target);

  // 1. The archive is the one that was written, before anything is touched.
  const { archivePath, manifest } = await verifyBackupFile(opts.file);
  if (manifest.engine !== 'postgres') {
    throw new BackupError(`${archivePath} is a ${manifest.engine} backup: restore it with --target-data-dir`, 'refused');
  }
  log(`sha256 ok: ${archivePath} (${manifest.database}, ${manifest.created_at}, schema version ${manifest.migration_version})`);

  // 2. Never into the live database by accident.
  const connected = databaseNameOf(opts.databaseUrl);
  if (!opts.force && (target === manifest.database || target === connected)) {
    throw new BackupError(
      `refusing to restore into ${JSON.stringify(target)}: it is the ${target === manifest.database ? "backup's source" : 'connected (live)'} database; ` +
        'restore into a new database and switch over, or pass --force to replace it',
      'refused',
    );
  }
  await pgToolVersion('pg_restore', env);

  // 3. A target that exists and is empty, or one we create. A database cannot be
  // dropped from a connection to itself: then administer from `postgres`.
  const adminUrl = target === connected ? withDatabase(opts.databaseUrl, 'postgres') : opts.databaseUrl;
  const admin = await connectClient(adminUrl, libpqTarget(adminUrl).display);
  const targetUrl = withDatabase(opts.databaseUrl, target);
  let created = false;
  let replaced = false;
  try {
    if (!(await databaseExists(admin, target))) {
      if (!opts.create) throw new BackupError(`database ${JSON.stringify(target)} does not exist; pass --create to create it`, 'refused');
      // template0: an empty database, free of anything added to template1.
      await admin.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE template0`);
      created = true;
      log(`created database ${target}`);
    } else {
      const probe = await connectClient(targetUrl, libpqTarget(targetUrl).display);
      let relations: number;
      try {
        relations = await userRelationCount(probe);
      } finally {
        await probe.end().catch(() => {});
      }
      if (relations > 0) {
        if (!opts.force) {
          throw new BackupError(`database ${JSON.stringify(target)} is not empty (${relations} relations); pass --force to drop and recreate it, or choose a new name`, 'refused');
        }
        // A clean slate is the only way the restored counts can match: pg_restore --clean
        // leaves objects the archive does not know about and trips over dependencies.
        await admin.query(`DROP DATABASE ${quoteIdent(target)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE template0`);
        replaced = true;
        log(`dropped and recreated database ${target} (--force)`);
      }
    }
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`cannot prepare database ${JSON.stringify(target)}: ${messageOf(err)}`, 'failed', { cause: err });
  } finally {
    await admin.end().catch(() => {});
  }

  // 4. pg_restore.
  const lib = libpqTarget(targetUrl);
  const timescale = manifest.timescaledb !== null && manifest.timescaledb !== undefined;
  const jobs = timescale ? 1 : Math.max(1, Math.floor(opts.jobs ?? Math.min(4, availableParallelism())));
  const tsClient = timescale ? await connectClient(targetUrl, lib.display) : null;
  try {
    if (tsClient) {
      // TimescaleDB's documented procedure: its catalog must not react while the archive is loaded.
      await tsClient.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      await tsClient.query('SELECT timescaledb_pre_restore()');
    }
    log(`pg_restore --jobs=${jobs} into ${target}`);
    await runPgTool('pg_restore', pgRestoreArgs(jobs, lib.dbname, archivePath), {
      env: lib.env,
      baseEnv: env,
    });
    if (tsClient) await tsClient.query('SELECT timescaledb_post_restore()');
  } catch (err) {
    throw new BackupError(
      `restore into ${JSON.stringify(target)} failed, the database is incomplete (drop it, or run again with --force): ${scrubSecret(messageOf(err), opts.databaseUrl)}`,
      'failed',
      { cause: err },
    );
  } finally {
    await tsClient?.end().catch(() => {});
  }

  // 5. What was restored is what was backed up.
  const check = await connectClient(targetUrl, lib.display);
  try {
    const verification = verifyRestore(manifest, { tables: await countTables(check), migrationVersion: await schemaVersion(check) });
    return { manifest, target, created, replaced, verification };
  } finally {
    await check.end().catch(() => {});
  }
}

/**
 * pg_restore's command line. `--` ends the options: an archive path that
 * starts with `-` (a relative name like `-l.dump`, or `--version`) is then a
 * file name, never an option pg_restore would act on.
 */
export function pgRestoreArgs(jobs: number, dbname: string, archivePath: string): string[] {
  return ['--no-owner', '--exit-on-error', '--no-password', `--jobs=${jobs}`, `--dbname=${dbname}`, '--', archivePath];
}
