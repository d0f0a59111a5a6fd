/**
 * Opens the product's storage for a test on either engine, migrated:
 * `pglite` in a temp DATA_DIR, `postgres` on the per-run database (shared by
 * every test file: use unique keys) or, with `isolated`, a database of its own.
 */
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

export async function openTestStorage(kind: StorageKind, opts: { isolated?: boolean; migrate?: boolean } = {}): Promise<TestStorage> {
  const dir = tempDir(`st-${kind}-`);
  if (kind === 'pglite') {
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
