import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, DEFAULT_WEB_DIST, loadConfig, redactConfig } from '../src/config.ts';
import { CLI_BIN as BIN } from './cli-runner.ts';

// 48 random bytes as base64 (`openssl rand -base64 48`): what production now requires (≥ 43 characters, varied).
const GOOD_SECRET = 'K/Q9PTWnee/v5eisQD8Ao5qyX6LKZJtD/fR3CMRraiNvggjNUrEst11XCxC0R9cM';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('loadConfig', () => {
  it('has working defaults for a development machine', () => {
    const c = loadConfig({});
    expect(c.appEnv).toBe('development');
    expect(c.role).toBe('all');
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.databaseUrl).toBeUndefined();
    expect(c.feed.kind).toBe('simulator');
    expect(c.trustProxy).toBe(false);
    expect(c.corsOrigins).toEqual([]);
    expect(c.webDist).toBe(DEFAULT_WEB_DIST);
    expect(DEFAULT_WEB_DIST.endsWith(path.join('apps', 'web', 'dist'))).toBe(true);
  });

  it('parses every kind of value', () => {
    const c = loadConfig({
      APP_ENV: 'test',
      PORT: '0',
      HOST: '0.0.0.0',
      DATA_DIR: '/tmp/x',
      DATABASE_URL: 'postgres://u:p@db:5432/st',
      REDIS_URL: 'redis://cache:6379',
      FEED: 'replay',
      FEED_FILE: 'tapes/day.jsonl',
      FEED_SPEED: 'max',
      SIM_SEED: '7',
      SIM_DAY_MS: '60000',
      CORS_ORIGINS: 'https://a.example.com, http://localhost:5173/',
      TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
      WEB_CONCURRENCY: '4',
      WS_MAX_CONNECTIONS_PER_IP: '5',
      WS_MAX_FRAME_BYTES: '4096',
      WS_MAX_SUBSCRIPTIONS: '10',
      WS_PING_INTERVAL_MS: '1000',
      WS_QUEUE_BYTES_CAP: '65536',
      WS_MAX_QUEUED_SNAPSHOTS: '8',
      WS_STALL_TIMEOUT_MS: '5000',
      RATE_LIMIT_MAX: '0',
      RATE_LIMIT_WINDOW_MS: '1000',
      LOG_LEVEL: 'WARN',
      LOG_PRETTY: 'yes',
      WEB_DIST: 'somewhere/dist',
      ROLE: 'all',
    });
    expect(c.port).toBe(0);
    expect(c.host).toBe('0.0.0.0');
    expect(c.databaseUrl).toBe('postgres://u:p@db:5432/st');
    expect(c.redisUrl).toBe('redis://cache:6379');
    expect(c.feed).toMatchObject({ kind: 'replay', file: path.resolve('tapes/day.jsonl'), speed: 'max', simSeed: 7, simDayMs: 60_000 });
    expect(c.corsOrigins).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(c.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(c.ws).toEqual({ maxConnectionsPerIp: 5, maxFrameBytes: 4096, maxSubscriptions: 10, pingIntervalMs: 1000, queueBytesCap: 65_536, maxQueuedSnapshots: 8, stallTimeoutMs: 5_000 });
    expect(c.rateLimit).toMatchObject({ max: 0, windowMs: 1000 });
    expect(c.log).toEqual({ level: 'warn', pretty: true });
    expect(c.webDist).toBe(path.resolve('somewhere/dist'));
    expect(loadConfig({ TRUST_PROXY: 'hops:2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ FEED_SPEED: '2.5' }).feed.speed).toBe(2.5);
  });

  it('reports every problem at once, each naming its variable', () => {
    const problems = problemsOf({
      PORT: '80a',
      APP_ENV: 'staging',
      FEED: 'bloomberg',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'not a url',
      WS_MAX_FRAME_BYTES: '-1',
      LOG_LEVEL: 'loud',
      LOG_PRETTY: 'maybe',
      TRUST_PROXY: 'everyone',
      CORS_ORIGINS: 'https://ok.example.com,https://bad.example.com/path',
    });
    const vars = problems.map((p) => p.split(':')[0]);
    expect(vars.sort()).toEqual(
      ['APP_ENV', 'CORS_ORIGINS', 'DATABASE_URL', 'FEED', 'LOG_LEVEL', 'LOG_PRETTY', 'PORT', 'REDIS_URL', 'TRUST_PROXY', 'WS_MAX_FRAME_BYTES'].sort(),
    );
    expect(problems.find((p) => p.startsWith('PORT'))).toContain("'80a'");
  });

  it('asks for vendor credentials only for the chosen feed', () => {
    expect(problemsOf({ FEED: 'simulator' })).toEqual([]);
    expect(problemsOf({ FEED: 'ssi' }).map((p) => p.split(':')[0])).toEqual(['SSI_CONSUMER_ID', 'SSI_CONSUMER_SECRET']);
    expect(problemsOf({ FEED: 'alpaca', ALPACA_KEY_ID: 'k' }).map((p) => p.split(':')[0])).toEqual(['ALPACA_SECRET_KEY', 'ALPACA_SYMBOLS']);
    expect(problemsOf({ FEED: 'alpaca', ALPACA_KEY_ID: 'k', ALPACA_SECRET_KEY: 's', ALPACA_FEED: 'test' })).toEqual([]);
    expect(problemsOf({ FEED: 'alpaca', ALPACA_KEY_ID: 'k', ALPACA_SECRET_KEY: 's', ALPACA_FEED: 'nasdaq', ALPACA_SYMBOLS: 'AAPL' })[0]).toMatch(/^ALPACA_FEED: must be/);
    expect(problemsOf({ FEED: 'replay' }).map((p) => p.split(':')[0])).toEqual(['FEED_FILE']);
    expect(loadConfig({ FEED: 'ssi', SSI_CONSUMER_ID: 'id', SSI_CONSUMER_SECRET: 's' }).feed.ssi).toEqual({ consumerId: 'id', consumerSecret: 's' });
  });

  it('refuses weak production settings but not the same in development', () => {
    const base = { APP_ENV: 'production', JWT_SECRET: GOOD_SECRET };
    expect(problemsOf(base)).toEqual([]);
    expect(problemsOf({ APP_ENV: 'production' })[0]).toMatch(/^JWT_SECRET: is required/);
    expect(problemsOf({ ...base, JWT_SECRET: 'short-secret' })[0]).toMatch(/^JWT_SECRET: is too short/);
    expect(problemsOf({ ...base, JWT_SECRET: 'changeme' })[0]).toMatch(/^JWT_SECRET: is a published default/);
    expect(problemsOf({ ...base, JWT_SECRET: 'a'.repeat(64) })[0]).toMatch(/^JWT_SECRET: is too weak/);
    expect(problemsOf({ ...base, CORS_ORIGINS: 'https://a.example.com,*' })[0]).toMatch(/^CORS_ORIGINS: must not contain the wildcard/);
    expect(problemsOf({ CORS_ORIGINS: '*', JWT_SECRET: 'short' })).toEqual([]);
  });

  it('masks secrets when the configuration is logged', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://user:hunter2@db/st', JWT_SECRET: GOOD_SECRET, FEED: 'alpaca', ALPACA_KEY_ID: 'AK', ALPACA_SECRET_KEY: 'sekret', ALPACA_SYMBOLS: 'AAPL' });
    const text = JSON.stringify(redactConfig(c));
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(GOOD_SECRET);
    expect(text).not.toContain('sekret');
    expect(text).toContain('AK');
  });

  it('offers Alpaca accounts where the keys are, and on key-less api replicas only when told (TRADING_ALPACA_ACCOUNTS)', () => {
    const keys = { ALPACA_TRADING_KEY_ID: 'PK123', ALPACA_TRADING_SECRET_KEY: 'secret' };
    expect(loadConfig({}).trading?.alpacaAccounts).toBe(false);
    expect(loadConfig(keys).trading?.alpacaAccounts).toBe(true);
    expect(loadConfig({ TRADING_ALPACA_ACCOUNTS: 'true' }).trading?.alpacaAccounts).toBe(true);
    expect(loadConfig({ ...keys, TRADING_ALPACA_ACCOUNTS: 'false' }).trading?.alpacaAccounts).toBe(false);
  });
});

describe('production refusals at start (real CLI)', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [BIN, 'all'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', APP_ENV: 'production', PORT: '0', DATA_DIR: '/nonexistent-never-created', LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });

  it.each([
    ['missing JWT_SECRET', 'JWT_SECRET', {}],
    ['short JWT_SECRET', 'JWT_SECRET', { JWT_SECRET: 'tooshort' }],
    ['default JWT_SECRET', 'JWT_SECRET', { JWT_SECRET: 'changeme' }],
    ['the .env.example JWT_SECRET', 'JWT_SECRET', { JWT_SECRET: 'replace-me-with-a-long-random-string' }],
    ['wildcard CORS', 'CORS_ORIGINS', { JWT_SECRET: GOOD_SECRET, CORS_ORIGINS: '*' }],
    ['unreachable database', 'DATABASE_URL', { JWT_SECRET: GOOD_SECRET, DATABASE_URL: 'postgres://st:pw@127.0.0.1:1/st' }],
  ])('%s → non-zero exit naming %s', (_name, variable, env) => {
    const r = run(env as Record<string, string>);
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull();
    expect(r.stderr).toContain('refusing to start');
    expect(r.stderr).toContain(variable);
    expect(r.stdout).not.toContain('listening on');
    expect(r.stderr).not.toContain('pw@'); // the password never reaches the terminal
  });
});
