/**
 * `stock-tracker migrate`: in-process through run() for the cases, and
 * through the real executable for exit codes end to end.
 */
import { run } from '../src/cli/migrate.ts';
import { loadMigrations } from '../src/storage/migrate.ts';
import { createIsolatedDatabase, tempDir, type IsolatedDatabase, type TempDir } from '../../../test/helpers/database.ts';
import { freePort } from '../../../test/helpers/private-postgres.ts';
import { seedPgliteDataDir } from '../../../test/helpers/storage.ts';
import { runCli, spawnCli } from './cli-runner.ts';

const HEAD = loadMigrations().at(-1)!.version;
const NAMES = loadMigrations().map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);

/** Runs the command in-process with the given environment, capturing its output. */
const runWith = (env: Record<string, string | undefined>, argv: string[] = []) => runCli(run, argv, env);

/** `stock-tracker migrate` in a child process, without the DATABASE_URL/DATA_DIR of the test process. */
function spawnBin(env: Record<string, string>, argv: string[], cwd?: string) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.DATA_DIR;
  return spawnCli(['migrate', ...argv], { ...base, ...env }, { cwd });
}


describe('stock-tracker migrate', () => {
  let dir: TempDir;
  let iso: IsolatedDatabase;
  beforeAll(async () => {
    dir = tempDir();
    await seedPgliteDataDir(dir.path);
    iso = await createIsolatedDatabase();
  });
  afterAll(async () => {
    dir?.remove();
    await iso?.drop();
  });

  it('PGlite under DATA_DIR: prints what it applied, then that there is nothing left, exit 0 both times', async () => {
    const first = await runWith({ DATABASE_URL: undefined, DATA_DIR: dir.path });
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    for (const n of NAMES) expect(first.out).toContain(`applying ${n}`);
    expect(first.out).toContain(`applied ${NAMES.length} migration(s), now at version ${HEAD}`);
    expect(first.out).toContain('PGlite');
    const second = await runWith({ DATABASE_URL: undefined, DATA_DIR: dir.path });
    expect(second.code).toBe(0);
    expect(second.out).toContain(`already at version ${HEAD}; nothing to apply`);
    expect(second.out).not.toContain('applying');
    const status = await runWith({ DATABASE_URL: undefined, DATA_DIR: dir.path }, ['--status']);
    expect(status).toMatchObject({ code: 0, out: expect.stringContaining(`schema version ${HEAD}, expected ${HEAD} (at head)`) });
  });

  it('PostgreSQL from DATABASE_URL: --status says behind (exit 1), migrate brings it to head', async () => {
    const before = await runWith({ DATABASE_URL: iso.url, DATA_DIR: dir.path }, ['--status']);
    expect(before.code).toBe(1);
    expect(before.out).toContain(`schema version 0, expected ${HEAD} (behind`);
    const r = await runWith({ DATABASE_URL: iso.url, DATA_DIR: dir.path });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`PostgreSQL ${iso.url}`);
    expect(r.out).toContain(`now at version ${HEAD}`);
    expect(r.out).toContain('timescaledb: not available');
    expect((await runWith({ DATABASE_URL: iso.url }, ['--status'])).code).toBe(0);
  });

  it('an unreachable database: exit 3 with a clear message that hides the password', async () => {
    const port = await freePort();
    const r = await runWith({ DATABASE_URL: `postgres://app:s3cret@127.0.0.1:${port}/stock` });
    expect(r.code).toBe(3);
    expect(r.err).toContain('cannot reach the database');
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(r.err).toMatch(/ECONNREFUSED/);
    expect(r.err).not.toContain('s3cret');
  });

  it('rejects unknown options with usage (exit 2)', async () => {
    const r = await runWith({}, ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown option --bogus');
    expect(r.err).toContain('usage: stock-tracker migrate');
  });

  it('the executable: default ./data, exit 0 at head; exit 3 when unreachable', { timeout: 60_000 }, async () => {
    const cwd = tempDir();
    try {
      await seedPgliteDataDir(`${cwd.path}/data`);
      const ok = await spawnBin({}, [], cwd.path);
      expect(ok.err).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.out).toContain(`${cwd.path}/data/pglite`);
      expect(ok.out).toContain(`now at version ${HEAD}`);
      const port = await freePort();
      const down = await spawnBin({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x` }, [], cwd.path);
      expect(down.code).toBe(3);
      expect(down.err).toContain('stock-tracker migrate: cannot reach the database');
    } finally {
      cwd.remove();
    }
  });
});
