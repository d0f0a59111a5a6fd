import { describe, expect, it } from 'vitest';
import { DEFAULT_DATA_DIR, loadConfig, readStorageEnv } from '../src/config.ts';
import path from 'node:path';

describe('readStorageEnv (the jobs\' reader of DATABASE_URL / DATA_DIR)', () => {
  it('defaults to embedded PGlite under the same DATA_DIR as the server', () => {
    expect(readStorageEnv({})).toEqual({ databaseUrl: undefined, dataDir: DEFAULT_DATA_DIR });
    expect(path.resolve(readStorageEnv({}).dataDir)).toBe(loadConfig({}).dataDir);
    expect(readStorageEnv({ DATA_DIR: '  ', DATABASE_URL: ' ' })).toEqual({ databaseUrl: undefined, dataDir: DEFAULT_DATA_DIR });
  });
  it('takes DATABASE_URL and DATA_DIR trimmed', () => {
    expect(readStorageEnv({ DATABASE_URL: ' postgres://h/db ', DATA_DIR: ' /srv/st ' })).toEqual({ databaseUrl: 'postgres://h/db', dataDir: '/srv/st' });
  });
});
