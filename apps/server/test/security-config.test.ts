/**
 * Secrets and start-up refusals: in production the server refuses to start,
 * naming the variable and exiting non-zero (78), when JWT_SECRET is missing,
 * a published default, shorter than 32 random bytes or of too little variety;
 * when the database or Redis URL carries a default password; and when CORS is
 * a wildcard. Messages never repeat the secret. Also: the auth settings'
 * defaults per environment, and the `stock-tracker user` command.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../src/config.ts';
import { secretProblem, urlPasswordProblem } from '../src/auth/secrets.ts';
import { run as userCli } from '../src/cli/user.ts';
import { openDatabase } from '../src/storage/db.ts';
import { createAuthRepository } from '../src/storage/auth-repo.ts';
import { PasswordHasher } from '../src/auth/passwords.ts';
import { seedPgliteDataDir } from '../../../test/helpers/storage.ts';
import { tempDir } from '../../../test/helpers/database.ts';
import { CLI_BIN as BIN } from './cli-runner.ts';

const GOOD = randomBytes(48).toString('base64');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
}

describe('JWT secret strength', () => {
  it('accepts what `openssl rand` produces: base64 of 32 or 48 bytes, hex of 32 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.constantFrom<BufferEncoding>('base64', 'base64url', 'hex'), (bytes, encoding) => {
        expect(secretProblem(Buffer.from(bytes).toString(encoding))).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('refuses secrets drawn from a handful of characters, however long', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', '1', '2', '-', 'X'), minLength: 43, maxLength: 200 }), (s) => {
        expect(secretProblem(s)).toMatch(/^is too weak/);
      }),
      { numRuns: 200 },
    );
  });

  it('names the problem: missing, default, short, low variety, sequential, repeated', () => {
    expect(secretProblem(undefined)).toMatch(/^is required/);
    expect(secretProblem('changeme')).toMatch(/^is a published default/);
    expect(secretProblem('replace-me-with-a-long-random-string')).toMatch(/^is a published default/);
    expect(secretProblem(randomBytes(31).toString('base64url').slice(0, 42))).toMatch(/^is too short \(42 characters; at least 43/);
    expect(secretProblem('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')).toMatch(/^is too weak/);
    expect(secretProblem('correcthorsebatterystaplecorrecthorsebatterystaple')).toMatch(/^is too weak/);
    expect(secretProblem('Tr0ub4dor&3'.repeat(5))).toMatch(/^is too weak/);
  });

  it('flags default passwords in connection URLs without echoing them', () => {
    expect(urlPasswordProblem('postgres://postgres:postgres@db:5432/st')).toMatch(/default password/);
    expect(urlPasswordProblem('postgres://st:changeme@db/st')).toMatch(/default password/);
    expect(urlPasswordProblem('postgres://admin:admin@db/st')).toMatch(/default password/); // password = user name
    expect(urlPasswordProblem('redis://:password@cache:6379')).toMatch(/default password/);
    expect(urlPasswordProblem('postgres://st@db/st')).toBeNull(); // peer/cert/.pgpass: nothing to judge
    expect(urlPasswordProblem(`postgres://st:${encodeURIComponent(GOOD)}@db/st`)).toBeNull();
  });
});

describe('production configuration', () => {
  const prod = { APP_ENV: 'production', JWT_SECRET: GOOD };

  it('a strong secret and a private database password pass; accounts are on by default', () => {
    const c = loadConfig({ ...prod, DATABASE_URL: `postgres://st:${encodeURIComponent(GOOD)}@db/st` });
    // Registration is off by default in production (issue 12): accounts are created with `stock-tracker user create`.
    expect(c.auth).toMatchObject({ mode: 'accounts', registrationEnabled: false, publicMarketData: true, accessTokenTtlSeconds: 900 });
    expect(loadConfig({}).auth.mode).toBe('none'); // development: the embedded single-user mode
  });

  it('lists every weak secret at once, each naming its variable, never its value', () => {
    const p = problems({
      ...prod,
      JWT_SECRET: 'z'.repeat(50),
      JWT_SECRET_PREVIOUS: 'short',
      DATABASE_URL: 'postgres://postgres:postgres@db:5432/st',
      REDIS_URL: 'redis://:password@cache:6379',
      POSTGRES_PASSWORD: 'changeme',
      CORS_ORIGINS: '*',
    });
    expect(p.map((x) => x.split(':')[0])).toEqual(['JWT_SECRET', 'JWT_SECRET_PREVIOUS', 'DATABASE_URL', 'REDIS_URL', 'POSTGRES_PASSWORD', 'CORS_ORIGINS']);
    const text = p.join('\n');
    for (const secret of ['z'.repeat(50), 'postgres:postgres', ':password@', 'changeme@']) expect(text).not.toContain(secret);
  });

  it('the same values pass outside production; PUBLIC_MARKET_DATA=false needs accounts anywhere', () => {
    expect(problems({ JWT_SECRET: 'short', DATABASE_URL: 'postgres://postgres:postgres@db/st' })).toEqual([]);
    expect(problems({ PUBLIC_MARKET_DATA: 'false' })[0]).toMatch(/^PUBLIC_MARKET_DATA: false needs AUTH_MODE=accounts/);
    expect(problems({ AUTH_MODE: 'accounts', PUBLIC_MARKET_DATA: 'false', JWT_SECRET: 'a dev secret' })).toEqual([]);
    expect(problems({ AUTH_MODE: 'ldap' })[0]).toMatch(/^AUTH_MODE: must be one of none, accounts/);
  });
});

describe('production refusals at start (real CLI)', () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, [BIN, 'all'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', APP_ENV: 'production', PORT: '0', DATA_DIR: '/nonexistent-never-created', LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });

  it.each([
    ['a long secret with little variety', 'JWT_SECRET', { JWT_SECRET: 'ab'.repeat(32) }, 'ab'.repeat(32)],
    ['a 42-character secret', 'JWT_SECRET', { JWT_SECRET: 'Zq3'.repeat(14) }, 'Zq3'.repeat(14)],
    ['a default database password', 'DATABASE_URL', { JWT_SECRET: GOOD, DATABASE_URL: 'postgres://st:postgres@127.0.0.1:1/st' }, 'st:postgres'],
  ])('%s → exit 78 naming %s, without printing the secret', (_name, variable, env, secret) => {
    const r = start(env as Record<string, string>);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('refusing to start');
    expect(r.stderr).toMatch(new RegExp(`^stock-tracker:\\s+${variable}: `, 'm'));
    expect(r.stderr).not.toContain(secret);
    expect(r.stdout).not.toContain('listening on');
  });
});

describe('stock-tracker user', () => {
  let dir: ReturnType<typeof tempDir>;
  let saved: string | undefined;
  beforeAll(async () => {
    dir = tempDir('st-user-cli-');
    await seedPgliteDataDir(dir.path);
    saved = process.env.DATA_DIR;
    process.env.DATA_DIR = dir.path;
    delete process.env.DATABASE_URL;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DATA_DIR;
    else process.env.DATA_DIR = saved;
    dir.remove();
  });

  async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
    const input = new PassThrough();
    input.end(stdin);
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
    const code = await userCli(argv, { stdin: input as unknown as NodeJS.ReadStream, stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) });
    return { code, out, err };
  }

  it('creates the first user from a piped password (argon2id), refuses duplicates and weak passwords, lists, resets', async () => {
    const made = await cli(['create', '--username', 'Admin'], 'a strong first password\n');
    expect(made, made.err).toMatchObject({ code: 0 });
    expect(made.out).toMatch(/^created user admin \(/);
    expect(await cli(['create', '--username', 'admin'], 'another password!\n')).toMatchObject({ code: 1, err: expect.stringContaining('taken') });
    expect(await cli(['create', '--username', 'bob'], 'short\n')).toMatchObject({ code: 1, err: expect.stringContaining('at least 12') });
    expect(await cli(['create'], 'x\n')).toMatchObject({ code: 2 });
    expect(await cli(['delete', '--username', 'x'])).toMatchObject({ code: 2 });
    const list = await cli(['list']);
    expect(list.out).toMatch(/^admin\t/m);
    expect(list.out).toMatch(/^local\t.*cannot log in/m);
    expect(await cli(['set-password', '--username', 'ghost'], 'whatever it is!\n')).toMatchObject({ code: 1 });
    expect(await cli(['set-password', '--username', 'admin'], 'the second password\n')).toMatchObject({ code: 0, out: expect.stringContaining('0 session(s) ended') });

    const db = await openDatabase({ dataDir: dir.path });
    try {
      const account = await createAuthRepository(db).findAccount('ADMIN');
      expect(account?.passwordHash).toMatch(/^\$argon2id\$/);
      const hasher = new PasswordHasher();
      expect(await hasher.verify(account!.passwordHash, 'the second password')).toBe(true);
      expect(await hasher.verify(account!.passwordHash, 'a strong first password')).toBe(false);
    } finally {
      await db.close();
    }
  });

  it('reads the password from stdin through the real binary (never from argv)', () => {
    const r = spawnSync(process.execPath, [BIN, 'user', 'create', '--username', 'piped'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATA_DIR: dir.path },
      input: 'piped password 123\n',
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('created user piped');
  });
});
