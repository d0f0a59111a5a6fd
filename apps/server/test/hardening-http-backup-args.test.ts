/**
 * Issue 12 §11: pg_restore gets `--` before the archive path, so a path that
 * looks like an option is a file name. Checked against the real pg_restore
 * binary: `--version` as the archive must be a missing file, not a version print.
 */
import { runPgTool } from '../src/backup/pg-tools.ts';
import { pgRestoreArgs } from '../src/backup/postgres-restore.ts';

describe('pg_restore command line', () => {
  it('ends options with -- right before the archive path', () => {
    const args = pgRestoreArgs(2, 'postgres://u@h/db', '-l.dump');
    expect(args.slice(-2)).toEqual(['--', '-l.dump']);
  });

  it('the real pg_restore treats an option-like archive path as a file', async () => {
    await expect(runPgTool('pg_restore', pgRestoreArgs(1, 'postgres://nobody@127.0.0.1:1/none', '--version'))).rejects.toThrow(/could not open input file/);
    // The control: without `--` the same path is an option (the bug this guards against).
    const plain = await runPgTool('pg_restore', ['--version']);
    expect(plain.stdout).toMatch(/pg_restore \(PostgreSQL\)/);
  });
});
