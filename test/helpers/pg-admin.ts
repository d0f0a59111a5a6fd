/**
 * CREATE/DROP DATABASE on the test server. No Vitest import: the global setup
 * (main process) uses it too.
 */
import pg from 'pg';

/** Keeps names valid identifiers without quoting. */
export function uniqueDbName(prefix = 'st_test'): string {
  return `${prefix}_${Date.now()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
}

/** The URL of `name` on the server of `baseUrl`. */
export function databaseUrlFor(baseUrl: string, name: string): string {
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  return databaseUrlFor(adminUrl, name);
}

/** Terminates the database's connections, then drops it. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withAdmin(adminUrl, async (c) => {
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await c.query(`DROP DATABASE IF EXISTS ${name}`);
  });
}

/**
 * Drops test databases left behind by runs that crashed before teardown.
 * Their names carry the creation time; only ones older than maxAgeMs go, so
 * a suite running in parallel keeps its own.
 */
export async function dropStaleTestDatabases(adminUrl: string, maxAgeMs = 6 * 3_600_000, prefixes = ['st_test', 'st_iso']): Promise<string[]> {
  const { rows } = await withAdmin(adminUrl, (c) => c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'st\\_%'`));
  const stale = rows
    .map((r) => r.datname)
    .filter((name) => {
      const m = /^([a-z_]+?)_(\d{13})_\d+_[a-z0-9]+$/.exec(name);
      return !!m && prefixes.includes(m[1]!) && Date.now() - Number(m[2]) > maxAgeMs;
    });
  for (const name of stale) await dropDatabase(adminUrl, name);
  return stale;
}
