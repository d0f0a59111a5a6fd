/**
 * Issue 12 §11: accounts never run on the published development key
 * (AUTH_MODE=accounts without JWT_SECRET is refused outside APP_ENV=test,
 * through the real CLI too), registration is off by default in production and
 * refused with private market data, and `npm start`'s defaults (development,
 * AUTH_MODE=none) still start without any secret.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config.ts';
import { CLI_BIN as BIN } from './cli-runner.ts';

const SECRET = 'Zq3v8K1pR7mW2xN5tB9cL4hJ6fD0sG8aY1uE3iO7wQ5rT2yP9';
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('JWT_SECRET with accounts', () => {
  it('development + accounts without a secret is refused, naming the variable; test and none are not', () => {
    expect(problems({ AUTH_MODE: 'accounts' })[0]).toMatch(/^JWT_SECRET: is required with AUTH_MODE=accounts/);
    expect(problems({ AUTH_MODE: 'accounts', APP_ENV: 'test' })).toEqual([]);
    expect(problems({ AUTH_MODE: 'accounts', JWT_SECRET: 'any dev secret' })).toEqual([]);
    // npm start's defaults: development, no accounts, no secret needed.
    const c = loadConfig({});
    expect(c.auth.mode).toBe('none');
    expect(c.appEnv).toBe('development');
  });

  it('the real CLI refuses to start (exit 78) and names JWT_SECRET', () => {
    const r = spawnSync(process.execPath, [BIN, 'all'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', AUTH_MODE: 'accounts', PORT: '0', DATA_DIR: '/nonexistent-never-created', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status, r.stderr).toBe(78);
    expect(r.stderr).toContain('JWT_SECRET');
  });
});

describe('registration defaults', () => {
  it('off in production, on in development; explicit true still opens it', () => {
    const prod = { APP_ENV: 'production', JWT_SECRET: SECRET };
    expect(loadConfig(prod).auth.registrationEnabled).toBe(false);
    expect(loadConfig({ ...prod, REGISTRATION_ENABLED: 'true' }).auth.registrationEnabled).toBe(true);
    expect(loadConfig({}).auth.registrationEnabled).toBe(true);
  });

  it('off with PUBLIC_MARKET_DATA=false, and an explicit true is refused there (anyone could read the private data)', () => {
    const priv = { AUTH_MODE: 'accounts', JWT_SECRET: 'dev secret', PUBLIC_MARKET_DATA: 'false' };
    expect(loadConfig(priv).auth.registrationEnabled).toBe(false);
    expect(problems({ ...priv, REGISTRATION_ENABLED: 'true' })[0]).toMatch(/^REGISTRATION_ENABLED: true contradicts PUBLIC_MARKET_DATA=false/);
    expect(problems({ ...priv, REGISTRATION_ENABLED: 'false' })).toEqual([]);
  });
});

describe('each role validates only the secrets it holds (compose gives each role its own)', () => {
  const prodDb = { APP_ENV: 'production', DATABASE_URL: 'postgres://st:Vq8ZK3wLr2pN7xTb@db/st', REDIS_URL: 'redis://:Vq8ZK3wLr2pN7xTb@redis:6379' };
  it('the collector starts without JWT_SECRET in production (it never signs or verifies tokens); the api does not', () => {
    expect(problems({ ...prodDb, ROLE: 'collector' })).toEqual([]);
    expect(problems({ ...prodDb, ROLE: 'api' })[0]).toMatch(/^JWT_SECRET: is required/);
    expect(problems({ ...prodDb, ROLE: 'collector', JWT_SECRET: 'short' })[0]).toMatch(/^JWT_SECRET: is too short/);
  });

  it('vendor credentials are required where the feed runs (collector, all), not on api replicas', () => {
    expect(problems({ ...prodDb, ROLE: 'api', JWT_SECRET: SECRET, FEED: 'ssi' })).toEqual([]);
    expect(problems({ ...prodDb, ROLE: 'collector', FEED: 'ssi' }).map((p) => p.split(':')[0])).toEqual(['SSI_CONSUMER_ID', 'SSI_CONSUMER_SECRET']);
    expect(problems({ FEED: 'alpaca', ALPACA_SYMBOLS: 'AAPL' }).map((p) => p.split(':')[0])).toEqual(['ALPACA_KEY_ID', 'ALPACA_SECRET_KEY']);
  });
});
