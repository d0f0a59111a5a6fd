/**
 * `stock-tracker backup [--out DIR] [--keep N] [--database-url URL]`: one
 * consistent backup (archive + manifest) into BACKUP_DIR, then retention.
 * PostgreSQL when a database URL is given (pg_dump custom format), else the
 * embedded PGlite under DATA_DIR (server stopped).
 *
 * Prints the archive path on stdout (progress on stderr). Exit codes: 0 done;
 * 1 failed (pg_dump missing or failing, disk error, PGlite in use); 2 usage;
 * 3 the database is unreachable.
 */
import { parseArgs } from 'node:util';
import { backupPglite, backupPostgres, type BackupResult } from '../backup/index.ts';
import { EXIT, exitCodeOf, messageOf } from '../backup/errors.ts';
import { planOrExit } from './job-args.ts';
import { readStorageEnv } from '../config.ts';

const USAGE = `usage: stock-tracker backup [--out DIR] [--keep N] [--database-url URL]

Writes stock-tracker-<db>-<UTC time>.dump (PostgreSQL, pg_dump custom format)
or stock-tracker-pglite-<UTC time>.tar.gz (embedded PGlite), plus a .json
manifest (sha256, schema version, row counts), then deletes all but the
newest N backups of that database. Prints the archive path.

  --out DIR            backup directory (default BACKUP_DIR or ./backups)
  --keep N             backups to keep, N >= 1 (default BACKUP_KEEP or 7)
  --database-url URL   PostgreSQL to back up (default DATABASE_URL); when
                       neither is set, the PGlite database under DATA_DIR
                       (default ./data), which requires the server stopped

environment: DATABASE_URL, DATA_DIR, BACKUP_DIR, BACKUP_KEEP,
             PG_BIN_DIR (directory of pg_dump when not on PATH)
`;

class UsageError extends Error {}

interface Plan {
  outDir: string;
  keep: number;
  databaseUrl: string | undefined;
  dataDir: string;
}

function plan(argv: string[]): Plan | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { out: { type: 'string' }, keep: { type: 'string' }, 'database-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const keepText = (values.keep ?? process.env.BACKUP_KEEP ?? '7').trim();
  const keep = Number(keepText);
  if (!/^\d+$/.test(keepText) || !Number.isSafeInteger(keep) || keep < 1) {
    throw new UsageError(`${values.keep !== undefined ? '--keep' : 'BACKUP_KEEP'} must be a whole number >= 1 (got ${JSON.stringify(keepText)})`);
  }
  const outDir = (values.out ?? process.env.BACKUP_DIR ?? '').trim() || './backups';
  const storage = readStorageEnv();
  const databaseUrl = values['database-url'] !== undefined ? values['database-url'].trim() || undefined : storage.databaseUrl;
  return { outDir, keep, databaseUrl, dataDir: storage.dataDir };
}

const human = (bytes: number) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

export async function run(argv: string[]): Promise<number> {
  const info = (s: string) => process.stderr.write(`${s}\n`);
  const fail = (s: string) => process.stderr.write(`stock-tracker backup: ${s}\n`);
  const parsed = planOrExit('backup', USAGE, argv, plan);
  if ('exit' in parsed) return parsed.exit;
  const p = parsed.plan;
  try {
    const r: BackupResult = p.databaseUrl
      ? await backupPostgres({ databaseUrl: p.databaseUrl, outDir: p.outDir, keep: p.keep, log: info })
      : await backupPglite({ dataDir: p.dataDir, outDir: p.outDir, keep: p.keep, log: info });
    const rows = Object.values(r.manifest.tables).reduce((a, b) => a + b, 0);
    info(`wrote ${r.archivePath} (${human(r.manifest.size)}, ${Object.keys(r.manifest.tables).length} tables, ${rows} rows, schema version ${r.manifest.migration_version})`);
    info(`manifest ${r.manifestPath} (sha256 ${r.manifest.sha256})`);
    info(`retention: kept ${r.retention.kept.length} of at most ${p.keep}, deleted ${r.retention.deleted.length} file(s)${r.retention.deleted.length ? `: ${r.retention.deleted.join(', ')}` : ''}`);
    process.stdout.write(`${r.archivePath}\n`);
    return EXIT.ok;
  } catch (err) {
    fail(messageOf(err));
    return exitCodeOf(err);
  }
}
