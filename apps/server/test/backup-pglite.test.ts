/**
 * Embedded mode: `stock-tracker backup` without DATABASE_URL archives the
 * PGlite cluster under DATA_DIR (server stopped), `restore --target-data-dir`
 * brings it back into another DATA_DIR where the server opens it with every
 * row in place. A running server (live lock) is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run as backupCmd } from '../src/cli/backup.ts';
import { run as restoreCmd } from '../src/cli/restore.ts';
import { manifestPathFor, parseManifest } from '../src/backup/manifest.ts';
import { openDatabase, type Db } from '../src/storage/db.ts';
import { loadMigrations, migrate, migrationStatus } from '../src/storage/migrate.ts';
import { tempDir, type TempDir } from '../../../test/helpers/database.ts';
import { seedPgliteDataDir } from '../../../test/helpers/storage.ts';
import { produceMarketData, runCli } from './backup-fixture.ts';

const HEAD = loadMigrations().at(-1)!.version;

/** Counts through information_schema plus a trade-id fingerprint: independent of the code under test. */
async function snapshotOf(db: Db): Promise<{ counts: Record<string, number>; trades: string }> {
  const { rows } = await db.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
  const counts: Record<string, number> = {};
  for (const { t } of rows) counts[t] = Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM public."${t}"`)).rows[0]!.n);
  const fp = await db.query<{ v: string }>(`SELECT md5(string_agg(symbol || ':' || id, ',' ORDER BY symbol COLLATE "C", id COLLATE "C")) AS v FROM trades`);
  return { counts, trades: fp.rows[0]!.v };
}

describe('backup and restore of the embedded PGlite database', () => {
  let work: TempDir;
  let dataDir: string;
  let source: { counts: Record<string, number>; trades: string };
  let archive: string;
  const env = () => ({ DATABASE_URL: undefined, DATA_DIR: dataDir, BACKUP_DIR: undefined, BACKUP_KEEP: undefined });

  beforeAll(async () => {
    work = tempDir('st-backup-pglite-');
    dataDir = join(work.path, 'data');
    await seedPgliteDataDir(dataDir);
    const db = await openDatabase({ dataDir });
    try {
      await migrate(db);
      await produceMarketData(db, { steps: 100, symbols: 10 });
      source = await snapshotOf(db);
    } finally {
      await db.close(); // the server is stopped for an embedded backup
    }
    const r = await runCli(backupCmd, ['--out', join(work.path, 'backups')], env());
    expect(r.err).not.toContain('stock-tracker backup:');
    expect(r.code).toBe(0);
    archive = r.out.trim();
  });
  afterAll(() => work?.remove());

  it('writes a .tar.gz and a manifest whose counts are the database’s', () => {
    expect(archive).toMatch(/\/stock-tracker-pglite-\d{8}T\d{6}\.\d{3}Z\.tar\.gz$/);
    expect(readFileSync(archive).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip magic
    const m = parseManifest(readFileSync(manifestPathFor(archive), 'utf8'), archive);
    expect(m).toMatchObject({ engine: 'pglite', database: 'pglite', migration_version: HEAD, timescaledb: null });
    expect(m.tool_version).toMatch(/^@electric-sql\/pglite \d+\./);
    expect(m.tables).toEqual(source.counts);
    expect(source.counts.trades).toBeGreaterThan(500);
    // The source is left as it was: no lock file of ours behind.
    expect(existsSync(join(dataDir, 'pglite', 'stock-tracker.lock'))).toBe(false);
  });

  it('restores into a new DATA_DIR that the server opens with every row and the schema version', async () => {
    const target = join(work.path, 'restored');
    const r = await runCli(restoreCmd, [archive, '--target-data-dir', target]);
    expect(r.err).not.toContain('stock-tracker restore:');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^trades\\s+${source.counts.trades}\\s+${source.counts.trades}\\s+ok$`, 'm'));
    expect(existsSync(join(target, 'pglite', 'stock-tracker.lock'))).toBe(false);
    const db = await openDatabase({ dataDir: target });
    try {
      expect(await snapshotOf(db)).toEqual(source);
      expect(await migrationStatus(db)).toEqual({ current: HEAD, expected: HEAD });
    } finally {
      await db.close();
    }
  });

  it('an existing database is kept: refused without --force, moved aside (not deleted) with it', async () => {
    const target = join(work.path, 'occupied');
    expect((await runCli(restoreCmd, [archive, '--target-data-dir', target])).code).toBe(0);
    const again = await runCli(restoreCmd, [archive, '--target-data-dir', target]);
    expect(again.code).toBe(4);
    expect(again.err).toContain('already holds a database; pass --force');
    const forced = await runCli(restoreCmd, [archive, '--target-data-dir', target, '--force']);
    expect(forced.code).toBe(0);
    const aside = readdirSync(target).filter((f) => f.startsWith('pglite.replaced-'));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(target, aside[0]!, 'PG_VERSION'))).toBe(true);
  });

  describe('while a server holds the data directory', () => {
    let holder: ChildProcess;
    const lock = () => join(dataDir, 'pglite', 'stock-tracker.lock');
    beforeAll(() => {
      // Any live process other than ours owning the lock file stands for a running server.
      holder = spawn('sleep', ['60'], { stdio: 'ignore' });
      writeFileSync(lock(), String(holder.pid));
    });
    afterAll(() => {
      holder.kill();
      writeFileSync(lock(), '');
    });

    it('backup refuses (exit 1) and says to stop the server', async () => {
      const r = await runCli(backupCmd, ['--out', join(work.path, 'backups-busy')], env());
      expect(r.code).toBe(1);
      expect(r.err).toContain(`in use by process ${holder.pid}: stop the server first`);
      expect(existsSync(join(work.path, 'backups-busy')) ? readdirSync(join(work.path, 'backups-busy')) : []).toEqual([]);
    });

    it('restore --force over it refuses too (exit 4)', async () => {
      const r = await runCli(restoreCmd, [archive, '--target-data-dir', dataDir, '--force']);
      expect(r.code).toBe(4);
      expect(r.err).toContain(`in use by process ${holder.pid}`);
    });
  });

  it('refuses a corrupted archive and the wrong kind of restore', async () => {
    const copyDir = join(work.path, 'corrupt');
    mkdirSync(copyDir);
    const bad = join(copyDir, archive.split('/').at(-1)!);
    copyFileSync(archive, bad);
    copyFileSync(manifestPathFor(archive), manifestPathFor(bad));
    const bytes = readFileSync(bad);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(bad, bytes);
    const r = await runCli(restoreCmd, [bad, '--target-data-dir', join(work.path, 'never')]);
    expect(r.code).toBe(4);
    expect(r.err).toContain('does not match its manifest');
    expect(existsSync(join(work.path, 'never'))).toBe(false);

    const wrong = await runCli(restoreCmd, [archive, '--target-database', 'x', '--database-url', 'postgres://u@127.0.0.1:1/db']);
    expect(wrong.code).toBe(4);
    expect(wrong.err).toContain('is a pglite backup: restore it with --target-data-dir');
  });

  it('no embedded database under DATA_DIR: exit 1 with where it looked', async () => {
    const empty = join(work.path, 'empty-data');
    const r = await runCli(backupCmd, ['--out', join(work.path, 'b2')], { ...env(), DATA_DIR: empty });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no embedded database at ${join(empty, 'pglite')}`);
  });
});
