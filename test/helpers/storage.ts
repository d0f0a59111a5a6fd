/**
 * Opens the product's storage for a test on either engine, migrated:
 * `pglite` in a temp DATA_DIR, `postgres` on the per-run database (shared by
 * every test file: use unique keys) or, with `isolated`, a database of its own.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase, type Db } from '../../apps/server/src/storage/db.ts';
import { migrate } from '../../apps/server/src/storage/migrate.ts';
import { createIsolatedDatabase, tempDir, testDatabaseUrl } from './database.ts';

export type StorageKind = 'pglite' | 'postgres';
export const STORAGE_KINDS: readonly StorageKind[] = ['pglite', 'postgres'];

export interface TestStorage {
  kind: StorageKind;
  db: Db;
  /** DATA_DIR (pglite) — for code that opens storage itself. */
  dataDir: string;
  /** DATABASE_URL (postgres) — for code that opens storage itself. */
  databaseUrl?: string;
  /** Closes the handle and removes the temp dir / isolated database. */
  cleanup(): Promise<void>;
}

/**
 * A freshly initialized PGlite cluster, built once per PGlite version and
 * machine: initdb in WebAssembly takes seconds, copying the result far less.
 */
async function pgliteTemplate(): Promise<string> {
  const pkg = JSON.parse(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string };
  const dir = join(tmpdir(), `st-pglite-template-${pkg.version}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const building = mkdtempSync(join(tmpdir(), 'st-pglite-build-'));
  const lite = await PGlite.create({ dataDir: building });
  await lite.close();
  try {
    renameSync(building, dir); // atomic: concurrent builders race, one wins
  } catch {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

/** Pre-fills `<dataDir>/pglite` with an initialized empty cluster so openDatabase() starts fast. */
export async function seedPgliteDataDir(dataDir: string): Promise<void> {
  const target = join(dataDir, 'pglite');
  if (existsSync(join(target, 'PG_VERSION'))) return;
  cpSync(await pgliteTemplate(), target, { recursive: true });
}

export async function openTestStorage(kind: StorageKind, opts: { isolated?: boolean; migrate?: boolean } = {}): Promise<TestStorage> {
  const dir = tempDir(`st-${kind}-`);
  if (kind === 'pglite') {
    await seedPgliteDataDir(dir.path);
    const db = await openDatabase({ dataDir: dir.path });
    if (opts.migrate !== false) await migrate(db);
    return {
      kind,
      db,
      dataDir: dir.path,
      async cleanup() {
        await db.close();
        dir.remove();
      },
    };
  }
  const iso = opts.isolated ? await createIsolatedDatabase() : undefined;
  const databaseUrl = iso?.url ?? testDatabaseUrl();
  const db = await openDatabase({ databaseUrl, dataDir: dir.path, poolSize: 4 });
  if (opts.migrate !== false) await migrate(db);
  return {
    kind,
    db,
    dataDir: dir.path,
    databaseUrl,
    async cleanup() {
      await db.close();
      await iso?.drop();
      dir.remove();
    },
  };
}
