/**
 * `stock-tracker backup` / `restore` against the real PostgreSQL: market data
 * produced by simulator → engine → StorageWriter is backed up, restored into
 * a fresh database and compared table by table (counts read independently of
 * the code under test, plus fingerprints of the content); the safety refusals
 * and failure exits; retention. Every database created here is dropped.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run as backupCmd } from '../src/cli/backup.ts';
import { run as restoreCmd } from '../src/cli/restore.ts';
import { manifestPathFor, parseManifest, type BackupManifest } from '../src/backup/manifest.ts';
import { openDatabase, type Db } from '../src/storage/db.ts';
import { loadMigrations, migrate } from '../src/storage/migrate.ts';
import {
  createDatabase,
  createIsolatedDatabase,
  databaseUrlFor,
  dropDatabase,
  pgAdminUrl,
  tempDir,
  uniqueDbName,
  type IsolatedDatabase,
  type TempDir,
} from '../../../test/helpers/database.ts';
import { freePort } from '../../../test/helpers/private-postgres.ts';
import { contentFingerprint, databaseExists, produceMarketData, publicTableCounts, runCli, withClient } from './backup-fixture.ts';
import { spawnCli } from './cli-runner.ts';

const HEAD = loadMigrations().at(-1)!.version;

const readManifest = (archive: string): BackupManifest => parseManifest(readFileSync(manifestPathFor(archive), 'utf8'), archive);

describe('backup and restore on PostgreSQL', () => {
  let src: IsolatedDatabase;
  let db: Db;
  let work: TempDir;
  let produced: { trades: number; alerts: number };
  const admin = () => pgAdminUrl();
  const made: string[] = [];
  /** A database name nobody uses yet; dropped in afterAll whatever happens. */
  const freshName = () => {
    const n = uniqueDbName('st_iso');
    made.push(n);
    return n;
  };
  let dirs = 0;
  const outDir = () => join(work.path, `out-${++dirs}`);
  const backup = (out: string, extra: string[] = [], env: Record<string, string | undefined> = {}) =>
    runCli(backupCmd, ['--out', out, '--database-url', src.url, ...extra], { DATABASE_URL: undefined, BACKUP_DIR: undefined, BACKUP_KEEP: undefined, ...env });
  const restore = (file: string, target: string, extra: string[] = []) =>
    runCli(restoreCmd, [file, '--target-database', target, '--database-url', admin(), ...extra], { DATABASE_URL: undefined });

  let first: { archive: string; manifest: BackupManifest };

  beforeAll(async () => {
    work = tempDir('st-backup-pg-');
    src = await createIsolatedDatabase();
    db = await openDatabase({ databaseUrl: src.url, dataDir: work.path, poolSize: 4 });
    await migrate(db);
    produced = await produceMarketData(db);
    const r = await backup(outDir());
    expect(r.err).not.toContain('stock-tracker backup:');
    expect(r.code).toBe(0);
    const archive = r.out.trim();
    first = { archive, manifest: readManifest(archive) };
  });
  afterAll(async () => {
    await db?.close().catch(() => {});
    for (const n of made) await dropDatabase(admin(), n).catch(() => {});
    await src?.drop();
    work?.remove();
  });

  it('the backup: one custom-format archive named after the database and UTC time, and a manifest that matches the source', async () => {
    const { archive, manifest } = first;
    expect(basename(archive)).toMatch(new RegExp(`^stock-tracker-${src.name}-\\d{8}T\\d{6}\\.\\d{3}Z\\.dump$`));
    expect(readFileSync(archive).subarray(0, 5).toString()).toBe('PGDMP'); // pg_dump custom format magic
    expect(readdirSync(join(archive, '..')).sort()).toEqual([basename(archive), basename(manifestPathFor(archive))].sort());
    expect(manifest).toMatchObject({ engine: 'postgres', database: src.name, file: basename(archive), migration_version: HEAD, size: readFileSync(archive).length, timescaledb: null });
    expect(manifest.server_version).toMatch(/^\d+/);
    expect(manifest.tool_version).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(Math.abs(Date.parse(manifest.created_at) - Date.now())).toBeLessThan(10 * 60_000);
    // Quiescent source: the manifest's counts are its counts, table for table.
    expect(manifest.tables).toEqual(await publicTableCounts(src.url));
    expect(manifest.tables.trades).toBe(produced.trades);
    expect(produced.trades).toBeGreaterThan(1_000);
    for (const t of ['symbols', 'bars_1m', 'session_summaries', 'foreign_flows', 'users', 'alert_rules', 'alert_events', 'watchlists']) {
      expect(manifest.tables[t], t).toBeGreaterThan(0);
    }
  });

  it('restores into a fresh database: same tables, row counts, schema version, trade ids and user data', async () => {
    const target = freshName();
    const r = await restore(first.archive, target, ['--create']);
    expect(r.err).not.toContain('stock-tracker restore:');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`created database ${target}`);
    // The printed table: a line per table with expected and actual counts.
    expect(r.out).toMatch(new RegExp(`^trades\\s+${produced.trades}\\s+${produced.trades}\\s+ok$`, 'm'));
    expect(r.out).toMatch(new RegExp(`^\\(schema version\\)\\s+${HEAD}\\s+${HEAD}\\s+ok$`, 'm'));
    const restoredUrl = databaseUrlFor(admin(), target);
    expect(await publicTableCounts(restoredUrl)).toEqual(await publicTableCounts(src.url));
    const [a, b] = await Promise.all([contentFingerprint(src.url), contentFingerprint(restoredUrl)]);
    expect(b).toEqual(a);
    expect(b.version).toBe(HEAD);
  });

  it('counts come from the same snapshot as the dump: writes during the backup are in neither', async () => {
    let inserted = 0;
    let stop = false;
    let startedAt = -1;
    const writer = withClient(src.url, async (c) => {
      while (!stop) {
        await c.query(
          `INSERT INTO trades (symbol, ts, id, price, volume, side, side_source, phase)
           SELECT 'ZZZ', now(), 'w' || $1::text || '-' || g, 10000, 100, 'buy', 'quote', 'continuous' FROM generate_series(1, 20) g`,
          [inserted],
        );
        inserted++;
      }
    });
    try {
      // Writes are flowing before the backup starts and keep flowing through it.
      await vi.waitFor(() => expect(inserted).toBeGreaterThan(5));
      startedAt = inserted;
      const r = await backup(outDir());
      expect(r.code).toBe(0);
      const during = inserted - startedAt;
      stop = true;
      await writer;
      expect(during).toBeGreaterThan(0);
      const manifest = readManifest(r.out.trim());
      const sourceNow = (await publicTableCounts(src.url)).trades!;
      expect(manifest.tables.trades).toBeGreaterThan(produced.trades);
      expect(manifest.tables.trades).toBeLessThan(sourceNow);

      const target = freshName();
      const rr = await restore(r.out.trim(), target, ['--create']);
      expect(rr.code).toBe(0);
      expect((await publicTableCounts(databaseUrlFor(admin(), target))).trades).toBe(manifest.tables.trades);
    } finally {
      stop = true;
      await writer.catch(() => {});
      await withClient(src.url, (c) => c.query(`DELETE FROM trades WHERE symbol = 'ZZZ'`));
    }
  });

  it('a corrupted archive (one flipped byte) is refused before any database is created', async () => {
    const dir = outDir();
    const r0 = await backup(dir);
    const archive = r0.out.trim();
    const bytes = readFileSync(archive);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(archive, bytes);
    const target = freshName();
    const r = await restore(archive, target, ['--create']);
    expect(r.code).toBe(4);
    expect(r.err).toContain('does not match its manifest');
    expect(r.err).toContain('sha256');
    expect(await databaseExists(admin(), target)).toBe(false);
  });

  it('the restored data is checked against the manifest: a count that differs fails with the table named (exit 1)', async () => {
    const dir = outDir();
    const archive = join(dir, basename(first.archive));
    mkdirSync(dir);
    copyFileSync(first.archive, archive);
    // The checksum covers the archive, not the manifest: a manifest expecting one trade
    // more than the archive holds stands in for an archive that lost a row.
    writeFileSync(manifestPathFor(archive), JSON.stringify({ ...first.manifest, tables: { ...first.manifest.tables, trades: first.manifest.tables.trades! + 1 } }));
    const target = freshName();
    const r = await restore(archive, target, ['--create']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^trades\\s+${produced.trades + 1}\\s+${produced.trades}\\s+MISMATCH$`, 'm'));
    expect(r.err).toContain('does NOT match the backup');
  });

  it('retention: --keep N leaves exactly the newest N backups (archive + manifest)', async () => {
    const dir = outDir();
    const printed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await backup(dir, ['--keep', '2']);
      expect(r.code).toBe(0);
      printed.push(r.out.trim());
      expect(readdirSync(dir).filter((f) => f.endsWith('.dump')).length).toBe(Math.min(i + 1, 2));
    }
    const newest = printed.slice(-2);
    expect(readdirSync(dir).sort()).toEqual(newest.flatMap((p) => [basename(p), basename(manifestPathFor(p))]).sort());
    // BACKUP_KEEP is the default when --keep is absent.
    const r = await backup(dir, [], { BACKUP_KEEP: '1' });
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([basename(r.out.trim()), basename(manifestPathFor(r.out.trim()))].sort());
  });

  it('refuses the source database, a missing database without --create, and a non-empty one without --force', async () => {
    const bySource = await restore(first.archive, src.name);
    expect(bySource.code).toBe(4);
    expect(bySource.err).toContain("it is the backup's source database");

    const missing = freshName();
    const noCreate = await restore(first.archive, missing);
    expect(noCreate.code).toBe(4);
    expect(noCreate.err).toContain('does not exist; pass --create');
    expect(await databaseExists(admin(), missing)).toBe(false);

    const busy = freshName();
    const busyUrl = await createDatabase(admin(), busy);
    await withClient(busyUrl, (c) => c.query(`CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (42)`));
    for (const extra of [[], ['--create']]) {
      const r = await restore(first.archive, busy, extra);
      expect(r.code).toBe(4);
      expect(r.err).toContain('is not empty');
      expect(await withClient(busyUrl, async (c) => (await c.query('SELECT x FROM keep_me')).rows)).toEqual([{ x: 42 }]);
    }
    // --force: dropped and recreated, then exactly the backup's content.
    const forced = await restore(first.archive, busy, ['--force']);
    expect(forced.code).toBe(0);
    expect(forced.err).toContain('dropped and recreated');
    const counts = await publicTableCounts(busyUrl);
    expect(counts.keep_me).toBeUndefined();
    expect(counts).toEqual(first.manifest.tables);

    // Disaster recovery in place: DATABASE_URL names the target itself (as in docker compose).
    await withClient(busyUrl, (c) => c.query(`DELETE FROM trades WHERE id IN (SELECT id FROM trades LIMIT 10)`));
    const inPlace = await runCli(restoreCmd, [first.archive, '--target-database', busy, '--force'], { DATABASE_URL: busyUrl });
    expect(inPlace.err).not.toContain('stock-tracker restore:');
    expect(inPlace.code).toBe(0);
    expect(await publicTableCounts(busyUrl)).toEqual(first.manifest.tables);
  });

  it('the connected database counts as live too: refused unless --force', async () => {
    const r = await runCli(restoreCmd, [first.archive, '--target-database', 'postgres', '--database-url', admin()], { DATABASE_URL: undefined });
    expect(r.code).toBe(4);
    expect(r.err).toContain('connected (live) database');
  });

  it('fails clearly: unreachable database (3, password hidden), pg_dump missing (1), unusable output directory (1)', async () => {
    const port = await freePort();
    const down = await runCli(backupCmd, ['--out', outDir()], { DATABASE_URL: `postgres://app:s3cret@127.0.0.1:${port}/stock` });
    expect(down.code).toBe(3);
    expect(down.err).toContain(`cannot reach the database postgres://app:***@127.0.0.1:${port}/stock`);
    expect(down.err).toMatch(/ECONNREFUSED/);
    expect(down.err + down.out).not.toContain('s3cret');

    const empty = tempDir('st-no-pg-bin-');
    try {
      const noTool = await backup(outDir(), [], { PG_BIN_DIR: empty.path });
      expect(noTool.code).toBe(1);
      expect(noTool.err).toContain('pg_dump not found');
      expect(noTool.err).toContain('PG_BIN_DIR');
    } finally {
      empty.remove();
    }

    const file = join(work.path, 'not-a-dir');
    writeFileSync(file, 'x');
    const badOut = await backup(join(file, 'sub'));
    expect(badOut.code).toBe(1);
    expect(badOut.err).toContain(`cannot create the backup directory ${join(file, 'sub')}`);
  });

  it('pg_dump failing mid-way (disk full): exit 1 with its message, no partial file, older backups untouched', async () => {
    const dir = outDir();
    const ok = await backup(dir);
    expect(ok.code).toBe(0);
    const before = readdirSync(dir).sort();
    const bin = tempDir('st-fake-pg-dump-');
    try {
      const real = execFileSync('sh', ['-c', 'command -v pg_dump'], { encoding: 'utf8' }).trim();
      // Writes part of an archive, then fails the way a full disk makes pg_dump fail.
      writeFileSync(
        join(bin.path, 'pg_dump'),
        `#!/bin/sh
case "$1" in --version) exec ${real} --version;; esac
for a in "$@"; do case "$a" in --file=*) printf 'PGDMP-partial' > "\${a#--file=}";; esac; done
echo 'pg_dump: error: could not write to output file: No space left on device' >&2
exit 1
`,
      );
      chmodSync(join(bin.path, 'pg_dump'), 0o755);
      const r = await backup(dir, ['--keep', '1'], { PG_BIN_DIR: bin.path });
      expect(r.code).toBe(1);
      expect(r.err).toContain('pg_dump exited with code 1: pg_dump: error: could not write to output file: No space left on device');
      expect(r.out).toBe('');
      expect(readdirSync(dir).sort()).toEqual(before);
    } finally {
      bin.remove();
    }
  });

  it('usage errors exit 2', async () => {
    expect((await runCli(backupCmd, ['--keep', '0'])).code).toBe(2);
    expect((await runCli(backupCmd, ['--keep', 'x'])).err).toContain('--keep must be a whole number');
    expect((await runCli(backupCmd, ['--bogus'])).code).toBe(2);
    expect((await runCli(restoreCmd, [])).err).toContain('FILE is required');
    expect((await runCli(restoreCmd, ['f.dump'], { DATABASE_URL: undefined })).err).toContain('--target-database NAME is required');
    expect((await runCli(restoreCmd, ['f.dump', '--target-database', 'x'], { DATABASE_URL: undefined })).err).toContain('set DATABASE_URL or pass --database-url');
    expect((await runCli(restoreCmd, ['f.dump', '--target-database', 'x', '--target-data-dir', 'd'])).code).toBe(2);
  });

  it('the executable: backup prints the archive path on stdout and exits 0; restore from DATABASE_URL exits 0', { timeout: 60_000 }, async () => {
    const dir = outDir();
    const env = { ...process.env, DATABASE_URL: src.url, BACKUP_DIR: dir, BACKUP_KEEP: '3' };
    const b = await spawnCli(['backup'], env);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/^\/.*\.dump\n$/);
    expect(existsSync(b.out.trim())).toBe(true);
    expect(b.out.trim().startsWith(dir)).toBe(true);
    const target = freshName();
    const r = await spawnCli(['restore', b.out.trim(), '--target-database', target, '--create'], env);
    expect(r.err).not.toContain('stock-tracker restore:');
    expect(r.code).toBe(0);
    expect(await publicTableCounts(databaseUrlFor(admin(), target))).toEqual(await publicTableCounts(src.url));
  });
});

