/**
 * Backup building blocks without a database: file names, manifests and their
 * checksum, how the client tools receive credentials, retention, and the
 * comparison printed after a restore.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { databaseNameOf, libpqTarget, scrubSecret, withDatabase } from '../src/backup/connection.ts';
import { BackupError } from '../src/backup/errors.ts';
import { backupStem, fileTimestamp, manifestPathFor, MANIFEST_FORMAT, parseBackupName, parseManifest, verifyBackupFile, type BackupManifest } from '../src/backup/manifest.ts';
import { applyRetention } from '../src/backup/retention.ts';
import { formatVerification, verifyRestore } from '../src/backup/verify.ts';
import { tempDir, type TempDir } from '../../../test/helpers/database.ts';

describe('backup file names', () => {
  it('round-trip: the stem of any database name and instant parses back to the same instant, and sorts like time', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2199-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2199-12-31T23:59:59Z'), noInvalidDate: true }),
        (db, a, b) => {
          const sa = backupStem(db, a);
          const pa = parseBackupName(`${sa}.dump`)!;
          expect(pa).not.toBeNull();
          expect(pa.ts).toBe(a.getTime());
          expect(pa.kind).toBe('archive');
          expect(parseBackupName(`${sa}.json`)!.kind).toBe('manifest');
          expect(pa.label).toBe(parseBackupName(`${backupStem(db, b)}.tar.gz`)!.label);
          // Text order of the timestamps is time order (what an operator sees in `ls`).
          const ta = fileTimestamp(a);
          const tb = fileTimestamp(b);
          expect(Math.sign(ta < tb ? -1 : ta > tb ? 1 : 0)).toBe(Math.sign(a.getTime() - b.getTime()));
        },
      ),
    );
  });

  it('names carry no path separators or spaces whatever the database is called', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (db) => {
        expect(backupStem(db, new Date(0))).toMatch(/^stock-tracker-[A-Za-z0-9_.-]+-19700101T000000\.000Z$/);
      }),
    );
  });

  it('ignores files that are not backups, including in-progress temp files', () => {
    for (const n of ['notes.txt', 'stock-tracker-db-20240101T000000.000Z.dump.partial-12', '.stock-tracker-db-20240101T000000.000Z.dump.partial-1', 'stock-tracker-db-2024.dump', 'stock-tracker-db-20241301T000000.000Z.dump']) {
      expect(parseBackupName(n)).toBeNull();
    }
  });

  it('finds the manifest of an archive', () => {
    expect(manifestPathFor('/b/stock-tracker-x-20240101T000000.000Z.dump')).toBe('/b/stock-tracker-x-20240101T000000.000Z.json');
    expect(manifestPathFor('/b/stock-tracker-pglite-20240101T000000.000Z.tar.gz')).toBe('/b/stock-tracker-pglite-20240101T000000.000Z.json');
    expect(manifestPathFor('m.json')).toBe('m.json');
    expect(() => manifestPathFor('/b/backup.sql')).toThrow(BackupError);
  });
});

describe('client tool credentials', () => {
  it('the password leaves the URL for PGPASSWORD, decoded, wherever it was written', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes('\0')), (password) => {
        const url = `postgres://app:${encodeURIComponent(password)}@db.internal:5433/stock?sslmode=require`;
        const t = libpqTarget(url);
        expect(t.env).toEqual({ PGPASSWORD: password });
        expect(t.dbname).toBe('postgres://app@db.internal:5433/stock?sslmode=require');
        expect(t.display).toBe('postgres://app:***@db.internal:5433/stock?sslmode=require');
        const q = libpqTarget(`postgresql://app@db/stock?password=${encodeURIComponent(password)}&application_name=x`);
        expect(q.env).toEqual({ PGPASSWORD: password });
        expect(q.dbname).toBe('postgresql://app@db/stock?application_name=x');
      }),
    );
  });

  it('other query parameters reach libpq byte for byte', () => {
    const t = libpqTarget('postgres://app@db/stock?options=-c%20search_path%3Dx&password=a+b&sslmode=verify-full');
    expect(t.env).toEqual({ PGPASSWORD: 'a+b' }); // libpq does not read '+' as a space
    expect(t.dbname).toBe('postgres://app@db/stock?options=-c%20search_path%3Dx&sslmode=verify-full');
    expect(libpqTarget('postgres://app:pw@db/stock?options=-c%20a%3Db').dbname).toBe('postgres://app@db/stock?options=-c%20a%3Db');
  });

  it('no password: nothing added, so PGPASSWORD or ~/.pgpass from the environment still apply', () => {
    expect(libpqTarget('postgres://app@db/stock').env).toEqual({});
  });

  it('database names: read from the path, swapped for another, libpq default when absent', () => {
    expect(databaseNameOf('postgres://u:p@h:5432/stock')).toBe('stock');
    expect(databaseNameOf('postgres://u@h/my%20db')).toBe('my db');
    expect(databaseNameOf('postgres://reader@h')).toBe('reader');
    expect(withDatabase('postgres://u:p%40ss@h:5432/stock?sslmode=disable', 'stock_restored')).toBe('postgres://u:p%40ss@h:5432/stock_restored?sslmode=disable');
    expect(() => libpqTarget('mysql://u@h/db')).toThrow(/not a PostgreSQL URL/);
  });

  it('scrubs the password from tool output', () => {
    expect(scrubSecret('could not connect with s3cr:et', 'postgres://u:s3cr%3Aet@h/db')).toBe('could not connect with ***');
    expect(scrubSecret('as is', 'postgres://u@h/db')).toBe('as is');
  });
});

function manifestFor(file: string, content: Buffer, over: Partial<BackupManifest> = {}): BackupManifest {
  return {
    format: MANIFEST_FORMAT,
    engine: 'postgres',
    file,
    database: 'stock',
    created_at: '2024-07-02T01:00:00.000Z',
    sha256: createHash('sha256').update(content).digest('hex'),
    size: content.length,
    migration_version: 5,
    tables: { trades: 3, users: 1 },
    server_version: '15.20',
    tool_version: 'pg_dump (PostgreSQL) 15.20',
    timescaledb: null,
    ...over,
  };
}

describe('manifest and checksum', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir('st-backup-unit-');
  });
  afterEach(() => dir.remove());

  const write = (content: Buffer, over: Partial<BackupManifest> = {}) => {
    const stem = backupStem('stock', new Date('2024-07-02T01:00:00Z'));
    writeFileSync(join(dir.path, `${stem}.dump`), content);
    writeFileSync(join(dir.path, `${stem}.json`), JSON.stringify(manifestFor(`${stem}.dump`, content, over)));
    return join(dir.path, `${stem}.dump`);
  };

  it('accepts the archive it describes, by archive or by manifest path', async () => {
    const archive = write(Buffer.from('PGDMP pretend archive'));
    expect((await verifyBackupFile(archive)).manifest.tables).toEqual({ trades: 3, users: 1 });
    expect((await verifyBackupFile(manifestPathFor(archive))).archivePath).toBe(archive);
  });

  it('refuses any single flipped bit, a truncated file and a missing manifest', async () => {
    const content = Buffer.from('PGDMP pretend archive with some body to flip');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: content.length * 8 - 1 }), async (bit) => {
        const archive = write(content);
        const bad = Buffer.from(content);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        writeFileSync(archive, bad);
        await expect(verifyBackupFile(archive)).rejects.toMatchObject({ kind: 'refused', message: expect.stringContaining('does not match its manifest') });
      }),
      { numRuns: 30 },
    );
    const archive = write(content);
    writeFileSync(archive, content.subarray(0, 10));
    await expect(verifyBackupFile(archive)).rejects.toMatchObject({ kind: 'refused' });
    await expect(verifyBackupFile(join(dir.path, 'stock-tracker-stock-20240101T000000.000Z.dump'))).rejects.toMatchObject({
      kind: 'refused',
      message: expect.stringContaining('cannot read the manifest'),
    });
  });

  it('refuses malformed manifests with the field at fault', () => {
    const ok = manifestFor('a.dump', Buffer.from('x'));
    expect(parseManifest(JSON.stringify(ok), 'm').file).toBe('a.dump');
    expect(() => parseManifest('{', 'm')).toThrow(/not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ ...ok, format: 'other/9' }), 'm')).toThrow(/format/);
    expect(() => parseManifest(JSON.stringify({ ...ok, file: '../etc/passwd' }), 'm')).toThrow(/file/);
    expect(() => parseManifest(JSON.stringify({ ...ok, sha256: 'abc' }), 'm')).toThrow(/sha256/);
    expect(() => parseManifest(JSON.stringify({ ...ok, tables: { trades: -1 } }), 'm')).toThrow(/tables/);
    expect(() => parseManifest(JSON.stringify({ ...ok, migration_version: 1.5 }), 'm')).toThrow(/migration_version/);
  });
});

describe('retention', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir('st-backup-ret-');
  });
  afterEach(() => dir.remove());

  const touch = (name: string) => writeFileSync(join(dir.path, name), 'x');

  it('keeps exactly the newest N complete backups of the database and nothing else of it', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 0, maxLength: 12 }),
        fc.integer({ min: 1, max: 6 }),
        (offsets, keep) => {
          const sub = join(dir.path, `case-${Math.random().toString(36).slice(2)}`);
          mkdirSync(sub);
          const base = Date.UTC(2024, 0, 1);
          const stems = offsets.map((o) => backupStem('stock', new Date(base + o * 1000)));
          for (const s of stems) {
            writeFileSync(join(sub, `${s}.dump`), 'x');
            writeFileSync(join(sub, `${s}.json`), '{}');
          }
          // Another database's backups and unrelated files share the directory.
          const other = backupStem('other', new Date(base));
          writeFileSync(join(sub, `${other}.dump`), 'x');
          writeFileSync(join(sub, `${other}.json`), '{}');
          writeFileSync(join(sub, 'README'), 'x');
          const r = applyRetention(sub, 'stock', keep);
          const newest = [...offsets].sort((a, b) => b - a).slice(0, keep).map((o) => backupStem('stock', new Date(base + o * 1000)));
          expect(r.kept).toEqual(newest);
          const left = readdirSync(sub).sort();
          expect(left).toEqual([...newest.flatMap((s) => [`${s}.dump`, `${s}.json`]), `${other}.dump`, `${other}.json`, 'README'].sort());
          expect(r.deleted.length).toBe(2 * Math.max(0, offsets.length - keep));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('an incomplete backup counts for nothing: deleted when older than the kept ones, left alone when newer (maybe still being written)', () => {
    const at = (h: number) => backupStem('stock', new Date(Date.UTC(2024, 0, 1, h)));
    for (const h of [1, 3, 4]) {
      touch(`${at(h)}.dump`);
      touch(`${at(h)}.json`);
    }
    touch(`${at(0)}.dump`); // older, archive without manifest
    touch(`${at(2)}.json`); // between kept ones, manifest without archive
    touch(`${at(5)}.dump`); // newest, not finished
    touch(`.${at(6)}.dump.partial-99`);
    const r = applyRetention(dir.path, 'stock', 2);
    expect(r.kept).toEqual([at(4), at(3)]);
    expect(r.deleted.sort()).toEqual([`${at(0)}.dump`, `${at(1)}.dump`, `${at(1)}.json`, `${at(2)}.json`].sort());
    expect(existsSync(join(dir.path, `${at(5)}.dump`))).toBe(true);
    expect(existsSync(join(dir.path, `.${at(6)}.dump.partial-99`))).toBe(true);
  });

  it('refuses to keep fewer than one', () => {
    expect(() => applyRetention(dir.path, 'stock', 0)).toThrow(/at least 1/);
  });
});

describe('restore verification', () => {
  it('ok only when every table and the schema version match; names what is off', () => {
    const ok = verifyRestore({ tables: { a: 1, b: 0 }, migration_version: 5 }, { tables: { a: 1, b: 0 }, migrationVersion: 5 });
    expect(ok.ok).toBe(true);
    const bad = verifyRestore({ tables: { a: 1, b: 2, c: 3 }, migration_version: 5 }, { tables: { a: 1, b: 1, d: 0 }, migrationVersion: 4 });
    expect(bad.ok).toBe(false);
    expect(bad.tables.map((t) => [t.table, t.ok])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
      ['d', false],
    ]);
    const text = formatVerification(bad);
    expect(text.split('\n')[0]).toMatch(/^table\s+expected\s+actual$/);
    expect(text).toMatch(/^b\s+2\s+1\s+MISMATCH$/m);
    expect(text).toMatch(/^c\s+3\s+-\s+MISSING$/m);
    expect(text).toMatch(/^d\s+-\s+0\s+UNEXPECTED$/m);
    expect(text).toMatch(/^\(schema version\)\s+5\s+4\s+MISMATCH$/m);
    expect(verifyRestore({ tables: { a: 1 }, migration_version: 5 }, { tables: { a: 1 }, migrationVersion: 6 }).ok).toBe(false);
  });
});
