/**
 * A backup is two files side by side: the archive
 * (`stock-tracker-<db>-<UTC timestamp>.dump`, or `.tar.gz` for PGlite) and its
 * manifest (`<same>.json`) that says what a faithful restore must contain.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BackupError } from './errors.ts';
import { sha256File } from './files.ts';

export const MANIFEST_FORMAT = 'stock-tracker-backup/1';

export type BackupEngine = 'postgres' | 'pglite';

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  engine: BackupEngine;
  /** Archive file name (same directory as the manifest). */
  file: string;
  /** Source database name (`pglite` for the embedded engine). */
  database: string;
  /** ISO time the snapshot was taken. */
  created_at: string;
  sha256: string;
  size: number;
  /** Highest applied migration (schema_migrations), 0 when none. */
  migration_version: number;
  /** Row count per table, taken in the snapshot the archive was dumped from. */
  tables: Record<string, number>;
  server_version: string;
  /** pg_dump --version, or the PGlite package version. */
  tool_version: string;
  /** TimescaleDB extension version in the source, null when not installed. */
  timescaledb: string | null;
}

export const ARCHIVE_EXT: Record<BackupEngine, string> = { postgres: '.dump', pglite: '.tar.gz' };

/** `20240702T010203.456Z`: sortable as text, safe in file names; milliseconds keep back-to-back runs apart. */
export function fileTimestamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

const safeLabel = (database: string) => database.replace(/[^A-Za-z0-9_.-]/g, '_') || '_';

/** File name without extension. */
export function backupStem(database: string, at: Date): string {
  return `stock-tracker-${safeLabel(database)}-${fileTimestamp(at)}`;
}

export interface ParsedBackupName {
  label: string;
  /** Epoch ms of the timestamp in the name. */
  ts: number;
  stem: string;
  kind: 'archive' | 'manifest';
}

const NAME_RE = /^(stock-tracker-(.+)-(\d{8}T\d{6}\.\d{3}Z))(\.dump|\.tar\.gz|\.json)$/;

export function parseBackupName(name: string): ParsedBackupName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const t = m[3]!;
  const ts = Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13)}`);
  if (!Number.isFinite(ts)) return null;
  return { stem: m[1]!, label: m[2]!, ts, kind: m[4] === '.json' ? 'manifest' : 'archive' };
}

export const labelOf = safeLabel;

/** The manifest that belongs to an archive (or the path itself when it is the manifest). */
export function manifestPathFor(path: string): string {
  if (path.endsWith('.json')) return path;
  const name = basename(path);
  const ext = name.endsWith('.tar.gz') ? '.tar.gz' : name.endsWith('.dump') ? '.dump' : null;
  if (!ext) throw new BackupError(`${path}: not a stock-tracker backup (expected a .dump, .tar.gz or .json file)`, 'refused');
  return join(dirname(path), `${name.slice(0, -ext.length)}.json`);
}

function isCountMap(v: unknown): v is Record<string, number> {
  return !!v && typeof v === 'object' && Object.values(v).every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
}

export function parseManifest(text: string, where: string): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch (err) {
    throw new BackupError(`${where}: the manifest is not valid JSON (${(err as Error).message})`, 'refused');
  }
  const problems: string[] = [];
  if (m.format !== MANIFEST_FORMAT) problems.push(`format is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`);
  if (m.engine !== 'postgres' && m.engine !== 'pglite') problems.push('engine');
  if (typeof m.file !== 'string' || !m.file || basename(m.file) !== m.file) problems.push('file');
  if (typeof m.database !== 'string' || !m.database) problems.push('database');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) problems.push('sha256');
  if (!Number.isSafeInteger(m.size) || m.size! < 0) problems.push('size');
  if (!Number.isSafeInteger(m.migration_version) || m.migration_version! < 0) problems.push('migration_version');
  if (!isCountMap(m.tables)) problems.push('tables');
  if (problems.length) throw new BackupError(`${where}: invalid manifest (${problems.join(', ')})`, 'refused');
  return m as BackupManifest;
}

export interface VerifiedBackup {
  archivePath: string;
  manifestPath: string;
  manifest: BackupManifest;
}

/**
 * Reads the manifest next to `path` (an archive or a manifest) and checks the
 * archive's size and sha256 against it. Anything off is a refusal: nothing
 * should be restored from an archive that is not byte-for-byte the one written.
 */
export async function verifyBackupFile(path: string): Promise<VerifiedBackup> {
  const manifestPath = manifestPathFor(path);
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (err) {
    throw new BackupError(`cannot read the manifest ${manifestPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); a backup is restored only with its manifest`, 'refused');
  }
  const manifest = parseManifest(text, manifestPath);
  const archivePath = join(dirname(manifestPath), manifest.file);
  if (!path.endsWith('.json') && basename(path) !== manifest.file) {
    throw new BackupError(`${manifestPath} describes ${manifest.file}, not ${basename(path)}`, 'refused');
  }
  let actual: { sha256: string; size: number };
  try {
    actual = await sha256File(archivePath);
  } catch (err) {
    throw new BackupError(`cannot read the archive ${archivePath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'refused');
  }
  if (actual.size !== manifest.size || actual.sha256 !== manifest.sha256) {
    throw new BackupError(
      `${archivePath} does not match its manifest: sha256 ${actual.sha256} (${actual.size} bytes), expected ${manifest.sha256} (${manifest.size} bytes); the file is corrupted or incomplete, refusing to restore`,
      'refused',
    );
  }
  return { archivePath, manifestPath, manifest };
}
