/**
 * The test-service helpers other suites rely on: the per-run database, the
 * isolated databases, stale-database cleanup and the private PostgreSQL.
 */
import pg from 'pg';
import { createIsolatedDatabase, pgAdminUrl, testDatabaseUrl, withAdmin } from '../../../test/helpers/database.ts';
import { createDatabase, dropStaleTestDatabases } from '../../../test/helpers/pg-admin.ts';
import { freePort, startPrivatePostgres } from '../../../test/helpers/private-postgres.ts';
import { probeTcp } from '../../../test/helpers/services.ts';

const exists = (name: string) =>
  withAdmin(pgAdminUrl(), async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rows.length === 1);

describe('test services', () => {
  it('provides a per-run database that answers', async () => {
    const url = testDatabaseUrl();
    expect(new URL(url).pathname).toMatch(/^\/st_test_\d{13}_\d+_[a-z0-9]+$/);
    const c = new pg.Client(url);
    await c.connect();
    try {
      expect((await c.query('SELECT current_database() AS d')).rows[0].d).toBe(new URL(url).pathname.slice(1));
    } finally {
      await c.end();
    }
  });

  it('creates and drops isolated databases, even with open connections', async () => {
    const iso = await createIsolatedDatabase();
    const c = new pg.Client(iso.url);
    await c.connect();
    c.on('error', () => {}); // terminated by drop()
    expect(await exists(iso.name)).toBe(true);
    await iso.drop();
    expect(await exists(iso.name)).toBe(false);
    await c.end().catch(() => {});
  });

  it('drops only stale test databases', async () => {
    const old = `st_iso_${Date.now() - 7 * 3_600_000}_1_stale`;
    const fresh = `st_iso_${Date.now()}_1_fresh`;
    await createDatabase(pgAdminUrl(), old);
    await createDatabase(pgAdminUrl(), fresh);
    try {
      const dropped = await dropStaleTestDatabases(pgAdminUrl());
      expect(dropped).toContain(old);
      expect(dropped).not.toContain(fresh);
      expect(await exists(old)).toBe(false);
      expect(await exists(fresh)).toBe(true);
    } finally {
      await withAdmin(pgAdminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${fresh}`));
      await withAdmin(pgAdminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${old}`));
    }
  });

  it('probes TCP ports', async () => {
    expect(await probeTcp('127.0.0.1', 5432)).toBe(true);
    expect(await probeTcp('127.0.0.1', await freePort())).toBe(false);
  });

  it('runs a private PostgreSQL that can be killed and restarted with its data', { timeout: 120_000 }, async () => {
    const pgi = await startPrivatePostgres();
    try {
      const q = async (sql: string) => {
        const c = new pg.Client(pgi.url);
        await c.connect();
        try {
          return (await c.query(sql)).rows;
        } finally {
          await c.end();
        }
      };
      await q('CREATE TABLE t (x int); INSERT INTO t VALUES (42);');
      await pgi.stop('immediate');
      expect(pgi.running).toBe(false);
      expect(await probeTcp('127.0.0.1', pgi.port)).toBe(false);
      await pgi.start();
      expect(await q('SELECT x FROM t')).toEqual([{ x: 42 }]);
    } finally {
      await pgi.destroy();
    }
    expect(await probeTcp('127.0.0.1', pgi.port)).toBe(false);
  });
});
