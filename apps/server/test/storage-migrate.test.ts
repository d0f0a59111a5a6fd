/**
 * Migrations on both engines (each run on an empty database of its own):
 * order, bookkeeping, idempotence, checksum protection, atomicity, and the
 * advisory lock that serializes concurrent migrators.
 */
import pg from 'pg';
import { openDatabase, type Db } from '../src/storage/db.ts';
import { checksumOf, loadMigrations, migrate, migrationStatus, MIGRATION_LOCK_KEY, MigrationError, type Migration } from '../src/storage/migrate.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { openTestStorage, seedPgliteDataDir, STORAGE_KINDS, type TestStorage } from '../../../test/helpers/storage.ts';
import { createIsolatedDatabase, tempDir } from '../../../test/helpers/database.ts';

const FILES = loadMigrations();

describe('migration files', () => {
  it('are numbered, ordered and unique', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(3);
    const versions = FILES.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('checksums ignore CRLF line endings but nothing else', () => {
    const sql = 'CREATE TABLE a (x int);\nCREATE TABLE b (y int);\n';
    expect(checksumOf(sql.replace(/\n/g, '\r\n'))).toBe(checksumOf(sql));
    expect(checksumOf(sql.replace('y int', 'y bigint'))).not.toBe(checksumOf(sql));
  });
});

describe.each(STORAGE_KINDS)('migrate on %s', (kind) => {
  let st: TestStorage;
  beforeAll(async () => {
    st = await openTestStorage(kind, { isolated: true, migrate: false });
  });
  afterAll(async () => {
    await st?.cleanup();
  });

  it('applies every migration in order on an empty database and records it', async () => {
    expect(await migrationStatus(st.db)).toEqual({ current: 0, expected: FILES.at(-1)!.version });
    const r = await migrate(st.db);
    expect(r.applied).toEqual(FILES.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`));
    expect(r.version).toBe(FILES.at(-1)!.version);
    expect(r.timescale).toBe(false); // not installed on this machine
    const { rows } = await st.db.query<{ version: number; name: string; checksum: string; has_time: boolean }>(
      'SELECT version, name, checksum, applied_at IS NOT NULL AS has_time FROM schema_migrations ORDER BY version',
    );
    expect(rows).toEqual(FILES.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, has_time: true })));
    expect(await migrationStatus(st.db)).toEqual({ current: r.version, expected: r.version });
  });

  it('is idempotent: a second run applies nothing', async () => {
    const r = await migrate(st.db);
    expect(r.applied).toEqual([]);
    const { rows } = await st.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]!.n).toBe(FILES.length);
  });

  it('creates the tables with timestamptz time columns and the default local user', async () => {
    const { rows } = await st.db.query<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = current_schema() AND column_name IN ('ts', 'created_at', 'updated_at', 'applied_at')`,
    );
    const tables = new Set(rows.map((r) => r.table_name));
    for (const t of ['trades', 'bars_1m', 'foreign_flows', 'index_values', 'alert_events', 'alert_rules', 'watchlists', 'users']) expect(tables).toContain(t);
    expect(rows.every((r) => r.data_type === 'timestamp with time zone')).toBe(true);
    expect(await createRepositories(st.db).users.get('local')).toEqual({ id: 'local', username: 'local' });
  });

  it('makes storing the same trade twice impossible, even bypassing the writer', async () => {
    const insert = `INSERT INTO trades (symbol, ts, id, price, volume, side, side_source, phase) VALUES ('VNM', '2024-07-02T02:15:00Z', 'T1', 70000, 100, 'buy', 'quote', 'continuous')`;
    await st.db.exec(insert);
    await expect(st.db.exec(insert)).rejects.toMatchObject({ code: '23505' });
    await st.db.exec('DELETE FROM trades');
  });

  it('refuses a migration edited after it was applied', async () => {
    const edited: Migration[] = FILES.map((m, i) => (i === 1 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: checksumOf(`${m.sql}\n-- edited`) } : m));
    const err = await migrate(st.db, undefined, { migrations: edited }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(new RegExp(`migration ${FILES[1]!.version} .*changed after it was applied`));
  });

  it('refuses to run against a database migrated by a newer version', async () => {
    await expect(migrate(st.db, undefined, { migrations: FILES.slice(0, -1) })).rejects.toThrow(/newer version/);
  });

  it('applies a failing migration atomically: nothing of it remains', async () => {
    const bad: Migration = { version: 9000, name: 'broken', sql: 'CREATE TABLE st_half_done (x int); SELECT * FROM no_such_table;', checksum: 'x' };
    await expect(migrate(st.db, undefined, { migrations: [...FILES, bad] })).rejects.toThrow(/no_such_table/);
    const { rows } = await st.db.query<{ t: string | null }>(`SELECT to_regclass('st_half_done')::text AS t`);
    expect(rows[0]!.t).toBeNull();
    expect((await migrationStatus(st.db)).current).toBe(FILES.at(-1)!.version);
  });

  it('applies only the new migration when one is added', async () => {
    const extra: Migration = { version: 9001, name: 'extra', sql: 'CREATE TABLE st_extra (x int);', checksum: checksumOf('CREATE TABLE st_extra (x int);') };
    const list = [...FILES, extra];
    expect(await migrationStatus(st.db, list)).toEqual({ current: FILES.at(-1)!.version, expected: 9001 });
    expect((await migrate(st.db, undefined, { migrations: list })).applied).toEqual(['9001_extra']);
    expect(await migrationStatus(st.db, list)).toEqual({ current: 9001, expected: 9001 });
    expect((await migrate(st.db, undefined, { migrations: list })).applied).toEqual([]);
  });
});

describe('concurrent migrators', () => {
  it('PostgreSQL: two processes migrating at once apply each migration once', async () => {
    const iso = await createIsolatedDatabase();
    const dir = tempDir();
    const dbs: Db[] = [];
    try {
      for (let i = 0; i < 3; i++) dbs.push(await openDatabase({ databaseUrl: iso.url, dataDir: dir.path, poolSize: 2 }));
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      const counts = results.map((r) => r.applied.length).sort();
      expect(counts).toEqual([0, 0, FILES.length]);
      const { rows } = await dbs[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]!.n).toBe(FILES.length);
    } finally {
      for (const db of dbs) await db.close();
      await iso.drop();
      dir.remove();
    }
  });

  it('PostgreSQL: migrate waits while another session holds the migration lock', async () => {
    const iso = await createIsolatedDatabase();
    const dir = tempDir();
    const holder = new pg.Client(iso.url);
    await holder.connect();
    const db = await openDatabase({ databaseUrl: iso.url, dataDir: dir.path, poolSize: 2 });
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      let finished = false;
      const running = migrate(db).then((r) => {
        finished = true;
        return r;
      });
      // Wait until the migrator is observably queued on the lock.
      await vi.waitFor(
        async () => {
          const { rows } = await holder.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1`, [MIGRATION_LOCK_KEY]);
          expect(rows[0].n).toBe(1);
        },
        { timeout: 10_000, interval: 20 },
      );
      expect(finished).toBe(false);
      const { rows } = await holder.query(`SELECT to_regclass('schema_migrations')::text AS t`);
      expect(rows[0].t).toBeNull(); // nothing happened while the lock was held
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      expect((await running).applied).toHaveLength(FILES.length);
    } finally {
      await holder.end();
      await db.close();
      await iso.drop();
      dir.remove();
    }
  });

  it('PGlite: concurrent migrate calls on one handle apply each migration once', async () => {
    const st = await openTestStorage('pglite', { migrate: false });
    try {
      const results = await Promise.all([migrate(st.db), migrate(st.db), migrate(st.db)]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, FILES.length]);
    } finally {
      await st.cleanup();
    }
  });

  it('PGlite: a data directory cannot be opened twice at once', async () => {
    const dir = tempDir();
    await seedPgliteDataDir(dir.path);
    const db = await openDatabase({ dataDir: dir.path });
    try {
      await expect(openDatabase({ dataDir: dir.path })).rejects.toThrow(/already open/);
    } finally {
      await db.close();
    }
    const again = await openDatabase({ dataDir: dir.path }); // released on close
    await again.close();
    dir.remove();
  });
});
