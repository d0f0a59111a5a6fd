/**
 * Issue 12 §8: the start-up log line must not carry a URL password, whatever
 * its form: the empty-user Redis form the compose files use, percent-encoded
 * `/`, an `@` inside the password, and through the real start-up log of the CLI.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadConfig, redactConfig } from '../src/config.ts';
import { redactUrlPassword } from '../src/auth/secrets.ts';
import { CLI_BIN as BIN } from './cli-runner.ts';


describe('redactConfig masks every URL password', () => {
  it.each([
    ['redis empty user', 'REDIS_URL', 'redis://:Sup3rSecretRedis@redis:6379', 'Sup3rSecretRedis'],
    ['rediss with user', 'REDIS_URL', 'rediss://default:An0therSecret@cache.example.com:6380/0', 'An0therSecret'],
    ['encoded slash', 'DATABASE_URL', 'postgres://st:pa%2Fss%2Fw0rd@db:5432/st', 'pa%2Fss%2Fw0rd'],
    ['at sign in password', 'DATABASE_URL', 'postgres://st:p@ssw0rdX@db:5432/st', 'ssw0rdX'],
  ])('%s', (_name, variable, url, secret) => {
    const c = loadConfig({ [variable]: url });
    const text = JSON.stringify(redactConfig(c));
    expect(text).not.toContain(secret);
    expect(text).toContain('***');
    // Still useful for operators: the host stays visible.
    expect(text).toContain(new URL(url).host);
  });

  it('masks unparseable text that still looks like credentials, and leaves ordinary strings alone', () => {
    expect(redactUrlPassword('redis://:pa/ss@redis:6379')).not.toContain('pa/ss');
    expect(redactUrlPassword('postgres://u@db/st')).toBe('postgres://u@db/st');
    expect(redactUrlPassword('/var/lib/data')).toBe('/var/lib/data');
  });

  it('the real start-up log line carries no Redis password', () => {
    // ROLE=api validation fails later (no reachable Redis/PostgreSQL): the config line is logged first.
    const r = spawnSync(process.execPath, [BIN, 'all'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', DATA_DIR: '/nonexistent-never-created/x', REDIS_URL: 'redis://:Sup3rSecretRedis@127.0.0.1:1', DATABASE_URL: 'postgres://st:pa%2Fss%2Fw0rd@127.0.0.1:1/st' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(out, out.slice(0, 2000)).toContain('starting');
    expect(out).not.toContain('Sup3rSecretRedis');
    expect(out).not.toContain('pa%2Fss');
  });
});
