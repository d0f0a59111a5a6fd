/**
 * The TimescaleDB path. The extension is not installed here, so the SQL it
 * would run is checked as data, against the real migrated schema (every
 * unique index of a hypertable must contain its time column), and migrate()
 * is driven through a database that reports the extension as usable.
 */
import type { Db } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { detectTimescale, HYPERTABLES, timescaleStatements } from '../src/storage/timescale.ts';
import { openTestStorage, type TestStorage } from '../../../test/helpers/storage.ts';

describe('timescaleStatements', () => {
  it('creates the extension, then a hypertable with compression for every time table', () => {
    const sql = timescaleStatements();
    expect(sql[0]).toBe('CREATE EXTENSION IF NOT EXISTS timescaledb');
    for (const p of HYPERTABLES) {
      const mine = sql.filter((s) => s.includes(`'${p.table}'`) || s.startsWith(`ALTER TABLE ${p.table} `));
      expect(mine[0]).toMatch(new RegExp(`^SELECT create_hypertable\\('${p.table}', '${p.timeColumn}', chunk_time_interval => INTERVAL '${p.chunkInterval}', if_not_exists => TRUE, migrate_data => TRUE\\)$`));
      expect(mine[1]).toContain(`timescaledb.compress_segmentby = '${p.segmentBy}'`);
      expect(mine[2]).toBe(`SELECT add_compression_policy('${p.table}', INTERVAL '${p.compressAfter}', if_not_exists => TRUE)`);
      expect(mine.some((s) => s.includes('add_retention_policy'))).toBe(p.dropAfter !== null);
    }
  });

  it('keeps raw trades and foreign snapshots bounded, bars and index values forever', () => {
    const retained = timescaleStatements().filter((s) => s.includes('add_retention_policy'));
    expect(retained.map((s) => /'(\w+)'/.exec(s)![1]).sort()).toEqual(['foreign_flows', 'trades']);
  });

  it('skips tables that already are hypertables (idempotent re-runs)', () => {
    const sql = timescaleStatements(new Set(['trades', 'bars_1m']));
    expect(sql.some((s) => s.includes("'trades'") || s.includes("'bars_1m'"))).toBe(false);
    expect(sql.filter((s) => s.includes('create_hypertable'))).toHaveLength(HYPERTABLES.length - 2);
  });
});

/** Reports the extension as available/preloaded and records (does not run) TimescaleDB statements. */
class FakeTimescaleDb implements Db {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly inner: Db,
    private readonly env: { preload: string | Error; installed: boolean; hypertables: string[]; ran: string[] },
  ) {}
  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    if (sql.includes('pg_available_extensions')) {
      return { rows: [{ available: true, installed: this.env.installed }] as T[] };
    }
    if (sql.includes('shared_preload_libraries')) {
      if (this.env.preload instanceof Error) throw this.env.preload;
      return { rows: [{ preload: this.env.preload }] as T[] };
    }
    if (sql.includes('timescaledb_information.hypertables')) return { rows: this.env.hypertables.map((name) => ({ name })) as T[] };
    return this.inner.query<T>(sql, params);
  }
  async exec(sql: string): Promise<void> {
    if (/timescaledb|create_hypertable|_policy\(/.test(sql)) this.env.ran.push(sql);
    else await this.inner.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.inner.transaction((tx) => fn(new FakeTimescaleDb(tx, this.env)));
  }
  close() {
    return this.inner.close();
  }
  ping() {
    return this.inner.ping();
  }
}

describe('migrate with TimescaleDB', () => {
  let st: TestStorage;
  beforeAll(async () => {
    st = await openTestStorage('pglite', { migrate: false });
  });
  afterAll(async () => {
    await st?.cleanup();
  });

  it('every unique index of a planned hypertable contains its time column (create_hypertable requires it)', async () => {
    await migrate(st.db);
    for (const p of HYPERTABLES) {
      const { rows } = await st.db.query<{ index: string; cols: string[] }>(
        `SELECT i.indexrelid::regclass::text AS index,
                array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) AS cols
         FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique`,
        [p.table],
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r.cols, `${r.index}`).toContain(p.timeColumn);
      // the segment-by column exists too
      const cols = await st.db.query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1`, [p.table]);
      expect(cols.rows.map((c) => c.c)).toContain(p.segmentBy);
    }
  });

  it('runs the hypertable statements inside migrate when the extension is usable', async () => {
    const env = { preload: 'pg_stat_statements,timescaledb', installed: false, hypertables: [], ran: [] as string[] };
    const r = await migrate(new FakeTimescaleDb(st.db, env));
    expect(r.timescale).toBe(true);
    expect(env.ran).toEqual(timescaleStatements());
  });

  it('only completes missing hypertables when the extension is already installed', async () => {
    const env = { preload: 'timescaledb', installed: true, hypertables: ['trades', 'bars_1m', 'foreign_flows'], ran: [] as string[] };
    const r = await migrate(new FakeTimescaleDb(st.db, env));
    expect(r.timescale).toBe(true);
    expect(env.ran).toEqual(timescaleStatements(new Set(['trades', 'bars_1m', 'foreign_flows'])));
    expect(env.ran.some((s) => s.includes("'index_values'"))).toBe(true);
  });

  it('leaves plain tables when the extension is available but not preloaded', async () => {
    const env = { preload: 'pg_stat_statements', installed: false, hypertables: [], ran: [] as string[] };
    const fake = new FakeTimescaleDb(st.db, env);
    expect(await detectTimescale(fake)).toMatchObject({ usable: false, reason: expect.stringContaining('shared_preload_libraries') });
    expect((await migrate(fake)).timescale).toBe(false);
    expect(env.ran).toEqual([]);
  });

  it('treats an unreadable shared_preload_libraries (unprivileged role, PG 15+) as not usable instead of failing migrate', async () => {
    const env = { preload: new Error('permission denied to examine "shared_preload_libraries"'), installed: false, hypertables: [], ran: [] as string[] };
    const fake = new FakeTimescaleDb(st.db, env);
    expect(await detectTimescale(fake)).toMatchObject({ usable: false, reason: expect.stringContaining('not readable') });
    expect((await migrate(fake)).timescale).toBe(false);
    expect(env.ran).toEqual([]);
  });

  it('detects the real server: not available on this machine', async () => {
    expect(await detectTimescale(st.db)).toMatchObject({ usable: false, installed: false });
  });
});
