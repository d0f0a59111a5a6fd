/**
 * `stock-tracker restore FILE --target-database NAME [--create] [--force]`:
 * checks the archive against its manifest's sha256, restores it with
 * pg_restore into a database that is neither the live one nor holding data
 * (unless --force), then proves the result: schema version and the row count
 * of every table must equal the manifest's. PGlite backups restore into a
 * data directory instead (`--target-data-dir DIR`).
 *
 * Exit codes: 0 restored and verified; 1 restore failed or the restored data
 * does not match; 2 usage; 3 the database is unreachable; 4 refused before
 * anything was changed (checksum mismatch, unsafe or non-empty target).
 */
import { parseArgs } from 'node:util';
import { formatVerification, restorePglite, restorePostgres, type RestoreReport } from '../backup/index.ts';
import { EXIT, exitCodeOf, messageOf } from '../backup/errors.ts';
import { planOrExit } from './job-args.ts';
import { readStorageEnv } from '../config.ts';

const USAGE = `usage: stock-tracker restore FILE --target-database NAME [--database-url URL] [--create] [--force] [--jobs N]
       stock-tracker restore FILE --target-data-dir DIR [--force]

FILE is a backup archive (.dump, .tar.gz) or its .json manifest. The archive's
sha256 must match the manifest. After the restore, the schema version and the
row count of every table are compared with the manifest; any difference is
an error.

PostgreSQL backups (.dump):
  --target-database NAME  database to restore into
  --database-url URL      server to restore on (default DATABASE_URL); any
                          database on it that you may connect to
  --create                create the target database when it does not exist
  --force                 allow the source's or the connected database's name,
                          and drop and recreate a non-empty target
  --jobs N                parallel pg_restore jobs (default min(4, CPUs))

PGlite backups (.tar.gz):
  --target-data-dir DIR   DATA_DIR to restore into (the database goes to DIR/pglite)
  --force                 move an existing DIR/pglite aside (never deleted)

environment: DATABASE_URL, PG_BIN_DIR (directory of pg_restore when not on PATH)
`;

class UsageError extends Error {}

type Plan =
  | { kind: 'postgres'; file: string; target: string; databaseUrl: string; create: boolean; force: boolean; jobs: number | undefined }
  | { kind: 'pglite'; file: string; dataDir: string; force: boolean };

function plan(argv: string[]): Plan | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        'target-database': { type: 'string' },
        'target-data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        create: { type: 'boolean' },
        force: { type: 'boolean' },
        jobs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError(positionals.length ? `one FILE expected, got ${positionals.length}` : 'FILE is required');
  const file = positionals[0]!;
  const force = values.force === true;
  if (values['target-data-dir'] !== undefined) {
    if (values['target-database'] !== undefined) throw new UsageError('give --target-database (PostgreSQL) or --target-data-dir (PGlite), not both');
    for (const opt of ['database-url', 'create', 'jobs'] as const) {
      if (values[opt] !== undefined) throw new UsageError(`--${opt} applies to PostgreSQL restores only`);
    }
    const dataDir = values['target-data-dir'].trim();
    if (!dataDir) throw new UsageError('--target-data-dir must not be empty');
    return { kind: 'pglite', file, dataDir, force };
  }
  const target = values['target-database'];
  if (target === undefined || !target.trim()) throw new UsageError('--target-database NAME is required (or --target-data-dir DIR for a PGlite backup)');
  const databaseUrl = values['database-url']?.trim() ?? readStorageEnv().databaseUrl ?? '';
  if (!databaseUrl) throw new UsageError('no server to restore on: set DATABASE_URL or pass --database-url');
  let jobs: number | undefined;
  if (values.jobs !== undefined) {
    jobs = Number(values.jobs);
    if (!/^\d+$/.test(values.jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs must be a whole number from 1 to 64 (got ${JSON.stringify(values.jobs)})`);
  }
  return { kind: 'postgres', file, target: target.trim(), databaseUrl, create: values.create === true, force, jobs };
}

export async function run(argv: string[]): Promise<number> {
  const info = (s: string) => process.stderr.write(`${s}\n`);
  const fail = (s: string) => process.stderr.write(`stock-tracker restore: ${s}\n`);
  const parsed = planOrExit('restore', USAGE, argv, plan);
  if ('exit' in parsed) return parsed.exit;
  const p = parsed.plan;
  let report: RestoreReport;
  try {
    report =
      p.kind === 'postgres'
        ? await restorePostgres({ file: p.file, databaseUrl: p.databaseUrl, targetDatabase: p.target, create: p.create, force: p.force, jobs: p.jobs, log: info })
        : await restorePglite({ file: p.file, targetDataDir: p.dataDir, force: p.force, log: info });
  } catch (err) {
    fail(messageOf(err));
    return exitCodeOf(err);
  }
  process.stdout.write(`${formatVerification(report.verification)}\n`);
  if (!report.verification.ok) {
    fail(`the restored database ${report.target} does NOT match the backup (see the table above); do not switch over to it`);
    return EXIT.mismatch;
  }
  info(`restored ${report.manifest.file} into ${report.target}: schema version ${report.verification.migration.actual}, ${report.verification.tables.length} tables verified`);
  return EXIT.ok;
}
