/**
 * Credentials: on a private PostgreSQL that demands passwords (scram-sha-256),
 * an unprivileged role (CREATEDB only) backs up and restores with the password
 * taken from its URL. The client tools are wrapped (PG_BIN_DIR) to record
 * their command lines: the password is never on one, and never printed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run as backupCmd } from '../src/cli/backup.ts';
import { run as restoreCmd } from '../src/cli/restore.ts';
import { openDatabase } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { tempDir, type TempDir } from '../../../test/helpers/database.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../../../test/helpers/private-postgres.ts';
import { produceMarketData, publicTableCounts, runCli, withClient } from './backup-fixture.ts';

const PASSWORD = 'p@ss w:rd/%x';

describe('backup and restore with a password-protected role', () => {
  let pgi: PrivatePostgres;
  let work: TempDir;
  let url: (db: string, password?: string) => string;
  let shimLog: string;

  beforeAll(async () => {
    work = tempDir('st-backup-auth-');
    pgi = await startPrivatePostgres();
    await withClient(pgi.url, async (c) => {
      await c.query(`CREATE ROLE bk LOGIN CREATEDB PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
      await c.query('CREATE DATABASE stock OWNER bk');
    });
    // From now on TCP logins other than the test's own superuser need a password.
    const hba = join(pgi.dir, 'data', 'pg_hba.conf');
    writeFileSync(hba, 'local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n');
    await withClient(pgi.url, (c) => c.query('SELECT pg_reload_conf()'));
    url = (db, password = PASSWORD) => `postgres://bk:${encodeURIComponent(password)}@127.0.0.1:${pgi.port}/${db}`;

    const db = await openDatabase({ databaseUrl: url('stock'), dataDir: work.path, poolSize: 2 });
    try {
      // timescale 'off': detecting it reads shared_preload_libraries, which an unprivileged role may not.
      await migrate(db, undefined, { timescale: 'off' });
      await produceMarketData(db, { steps: 40, symbols: 10 });
    } finally {
      await db.close();
    }

    // Wrappers that log every argument, and whether PGPASSWORD reached them, then run the real tool.
    shimLog = join(work.path, 'shim.log');
    for (const tool of ['pg_dump', 'pg_restore']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      const shim = join(work.path, tool);
      writeFileSync(shim, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "${tool} $a" >> "$SHIM_LOG"; done\necho "${tool} PGPASSWORD=\${PGPASSWORD:+set}" >> "$SHIM_LOG"\nexec ${real} "$@"\n`);
      chmodSync(shim, 0o755);
    }
  });
  afterAll(async () => {
    await pgi?.destroy();
    work?.remove();
  });

  it('the password is refused when wrong (exit 3) and never shown', async () => {
    await expect(withClient(url('stock', 'wrong'), async () => {})).rejects.toThrow(/password authentication failed/);
    const r = await runCli(backupCmd, ['--out', join(work.path, 'out-wrong')], { DATABASE_URL: url('stock', 'wrong-secret-123') });
    expect(r.code).toBe(3);
    expect(r.err).toContain('password authentication failed');
    expect(r.err + r.out).not.toContain('wrong-secret-123');
  });

  it('backs up and restores through PGPASSWORD: no password on any command line or in any output', async () => {
    const env = { DATABASE_URL: url('stock'), PG_BIN_DIR: work.path, SHIM_LOG: shimLog };
    const b = await runCli(backupCmd, ['--out', join(work.path, 'out')], env);
    expect(b.err).not.toContain('stock-tracker backup:');
    expect(b.code).toBe(0);
    const r = await runCli(restoreCmd, [b.out.trim(), '--target-database', 'stock_copy', '--create'], env);
    expect(r.err).not.toContain('stock-tracker restore:');
    expect(r.code).toBe(0);

    const log = readFileSync(shimLog, 'utf8');
    expect(log).toContain('pg_dump PGPASSWORD=set');
    expect(log).toContain('pg_restore PGPASSWORD=set');
    expect(log).toContain(`pg_dump --dbname=postgres://bk@127.0.0.1:${pgi.port}/stock`);
    expect(log).toContain(`pg_restore --dbname=postgres://bk@127.0.0.1:${pgi.port}/stock_copy`);
    for (const text of [log, b.out, b.err, r.out, r.err]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
    }
    // The unprivileged role owns what it restored (--no-owner) and the data is all there.
    const copy = `postgres://postgres@127.0.0.1:${pgi.port}/stock_copy`;
    expect(await publicTableCounts(copy)).toEqual(await publicTableCounts(`postgres://postgres@127.0.0.1:${pgi.port}/stock`));
    const owners = await withClient(copy, async (c) => (await c.query<{ o: string }>(`SELECT DISTINCT tableowner AS o FROM pg_tables WHERE schemaname = 'public'`)).rows);
    expect(owners).toEqual([{ o: 'bk' }]);
  });
});
