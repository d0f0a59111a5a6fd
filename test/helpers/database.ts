/**
 * Test databases on the shared PostgreSQL: the per-run database made by the
 * global setup (shared by all test files: use unique keys), and isolated
 * databases for tests that need an empty schema of their own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createDatabase, dropDatabase, uniqueDbName } from './pg-admin.ts';
import './context.ts';

export { uniqueDbName, databaseUrlFor, withAdmin, createDatabase, dropDatabase } from './pg-admin.ts';

function injected<K extends 'databaseUrl' | 'pgAdminUrl' | 'redisUrl'>(key: K, env: string): string {
  let v: string | undefined;
  try {
    v = inject(key);
  } catch {
    // outside a Vitest worker
  }
  v ??= process.env[env];
  if (!v) throw new Error(`${key} is not set: run under Vitest (test/global-setup.ts) or set ${env}`);
  return v;
}

/** The per-run database (created by test/global-setup.ts, dropped at the end of the run). Shared: use unique keys. */
export const testDatabaseUrl = () => injected('databaseUrl', 'TEST_DATABASE_URL');
/** Admin URL (database `postgres`) of the test server, for CREATE/DROP DATABASE. */
export const pgAdminUrl = () => injected('pgAdminUrl', 'TEST_PG_ADMIN_URL');
export const testRedisUrl = () => injected('redisUrl', 'TEST_REDIS_URL');

export interface IsolatedDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh empty database of its own; call drop() in afterAll. */
export async function createIsolatedDatabase(prefix = 'st_iso'): Promise<IsolatedDatabase> {
  const admin = pgAdminUrl();
  const name = uniqueDbName(prefix);
  const url = await createDatabase(admin, name);
  return { name, url, drop: () => dropDatabase(admin, name) };
}

export interface TempDir {
  path: string;
  remove(): void;
}

/** A temporary directory (e.g. a PGlite DATA_DIR). */
export function tempDir(prefix = 'st-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
