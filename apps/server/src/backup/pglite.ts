/**
 * Backup and restore of the embedded engine. PGlite runs inside the server
 * process and its data directory can only be open in one process at a time,
 * so a PGlite backup needs the server stopped (a running server is detected
 * through its lock file and refused). The archive is PGlite's own
 * `dumpDataDir()` tarball of the whole cluster, with the same manifest,
 * checksum, retention and restore-time verification as PostgreSQL backups.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { BackupError, messageOf } from './errors.ts';
import { writeFileAtomic } from './files.ts';
import { ARCHIVE_EXT, backupStem, fileTimestamp, MANIFEST_FORMAT, verifyBackupFile, type BackupManifest } from './manifest.ts';
import { ensureDir, retain, type BackupOptions, type BackupResult } from './postgres-backup.ts';
import type { RestoreReport } from './postgres-restore.ts';
import { countTables, schemaVersion } from './table-counts.ts';
import { verifyRestore } from './verify.ts';

/** The label PGlite backups carry in their file names and manifests. */
export const PGLITE_LABEL = 'pglite';

/** `<DATA_DIR>/pglite`, where openDatabase() keeps the embedded cluster. */
export const pgliteDir = (dataDir: string) => resolve(dataDir, 'pglite');

// Same lock file and rule as storage/db.ts: a pid that is alive and not ours owns the directory.
const LOCK_FILE = 'stock-tracker.lock';

function lockOwner(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim());
    if (!pid || pid === process.pid) return null;
    try {
      process.kill(pid, 0);
      return pid;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
    }
  } catch {
    return null;
  }
}

function lockDir(dir: string): () => void {
  const owner = lockOwner(dir);
  if (owner !== null) {
    throw new BackupError(`the embedded database ${dir} is in use by process ${owner}: stop the server first (a PGlite database can only be open in one process)`);
  }
  writeFileSync(join(dir, LOCK_FILE), String(process.pid));
  return () => rmSync(join(dir, LOCK_FILE), { force: true });
}

function pgliteVersion(): string {
  try {
    for (let d = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))); d !== dirname(d); d = dirname(d)) {
      const p = join(d, 'package.json');
      if (!existsSync(p)) continue;
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@electric-sql/pglite') return `@electric-sql/pglite ${pkg.version}`;
    }
  } catch {
    // fall through
  }
  return '@electric-sql/pglite';
}

async function serverVersion(lite: PGlite): Promise<string> {
  const { rows } = await lite.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
  return rows[0]!.v;
}

export interface PgliteBackupOptions extends BackupOptions {
  dataDir: string;
}

export async function backupPglite(opts: PgliteBackupOptions): Promise<BackupResult> {
  const log = opts.log ?? (() => {});
  const dir = pgliteDir(opts.dataDir);
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    throw new BackupError(`no embedded database at ${dir} (set DATA_DIR, or DATABASE_URL for PostgreSQL)`);
  }
  const outDir = resolve(opts.outDir);
  const at = (opts.now ?? (() => new Date()))();
  ensureDir(outDir);
  const unlock = lockDir(dir);
  const stem = backupStem(PGLITE_LABEL, at);
  const archivePath = join(outDir, stem + ARCHIVE_EXT.pglite);
  const manifestPath = join(outDir, `${stem}.json`);
  let manifest: BackupManifest;
  try {
    let lite: PGlite;
    try {
      lite = await PGlite.create({ dataDir: dir });
    } catch (err) {
      throw new BackupError(`cannot open the embedded database ${dir}: ${messageOf(err)}`, 'failed', { cause: err });
    }
    let archive: Buffer;
    let tables: Record<string, number>;
    let migrationVersion: number;
    let version: string;
    try {
      // Nothing else can write while we hold the directory, so counts and tarball agree.
      tables = await countTables(lite);
      migrationVersion = await schemaVersion(lite);
      version = await serverVersion(lite);
      log(`dumping ${dir} (${Object.keys(tables).length} tables, schema version ${migrationVersion})`);
      archive = Buffer.from(await (await lite.dumpDataDir('gzip')).arrayBuffer());
    } finally {
      await lite.close();
    }
    await writeFileAtomic(archivePath, archive);
    manifest = {
      format: MANIFEST_FORMAT,
      engine: 'pglite',
      file: stem + ARCHIVE_EXT.pglite,
      database: PGLITE_LABEL,
      created_at: at.toISOString(),
      sha256: createHash('sha256').update(archive).digest('hex'),
      size: archive.length,
      migration_version: migrationVersion,
      tables,
      server_version: version,
      tool_version: pgliteVersion(),
      timescaledb: null,
    };
    try {
      await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    } catch (err) {
      rmSync(archivePath, { force: true });
      throw err;
    }
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`backup of ${dir} failed: ${messageOf(err)}`, 'failed', { cause: err });
  } finally {
    unlock();
  }
  return { archivePath, manifestPath, manifest, retention: retain(outDir, PGLITE_LABEL, opts.keep, archivePath) };
}

export interface PgliteRestoreOptions {
  file: string;
  /** DATA_DIR to restore into; the cluster goes to `<dir>/pglite`. */
  targetDataDir: string;
  /** Replace an existing cluster there (moved aside to `pglite.replaced-<time>`, never deleted). */
  force?: boolean;
  now?: () => Date;
  log?: (line: string) => void;
}

export async function restorePglite(opts: PgliteRestoreOptions): Promise<RestoreReport & { movedAside: string | null }> {
  const log = opts.log ?? (() => {});
  const { archivePath, manifest } = await verifyBackupFile(opts.file);
  if (manifest.engine !== 'pglite') {
    throw new BackupError(`${archivePath} is a PostgreSQL backup: restore it with --target-database`, 'refused');
  }
  log(`sha256 ok: ${archivePath} (${manifest.created_at}, schema version ${manifest.migration_version})`);
  const dir = pgliteDir(opts.targetDataDir);
  let movedAside: string | null = null;
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    const owner = lockOwner(dir);
    if (owner !== null) throw new BackupError(`${dir} is in use by process ${owner}: stop the server first`, 'refused');
    if (!opts.force) throw new BackupError(`${dir} already holds a database; pass --force to move it aside and restore, or choose another directory`, 'refused');
    movedAside = `${dir}.replaced-${fileTimestamp((opts.now ?? (() => new Date()))())}`;
    renameSync(dir, movedAside);
    log(`moved the existing database aside to ${movedAside}`);
  }
  ensureDir(dirname(dir));
  let lite: PGlite | undefined;
  try {
    lite = await PGlite.create({ dataDir: dir, loadDataDir: new Blob([await readFile(archivePath)]) });
    // The tarball carries the source's lock file; its pid means nothing here.
    rmSync(join(dir, LOCK_FILE), { force: true });
    const verification = verifyRestore(manifest, { tables: await countTables(lite), migrationVersion: await schemaVersion(lite) });
    return { manifest, target: dir, created: true, replaced: movedAside !== null, verification, movedAside };
  } catch (err) {
    await lite?.close().catch(() => {});
    lite = undefined;
    rmSync(dir, { recursive: true, force: true }); // ours: a half-loaded cluster is worse than none
    throw new BackupError(`restore into ${dir} failed${movedAside ? ` (the previous database is at ${movedAside})` : ''}: ${messageOf(err)}`, 'failed', { cause: err });
  } finally {
    await lite?.close().catch(() => {});
  }
}
