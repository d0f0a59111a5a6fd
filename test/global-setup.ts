/**
 * Vitest global setup: PostgreSQL and Redis must answer on 127.0.0.1 (started,
 * or installed and started, when they do not), and one database is created per
 * test run. Tests read the URLs with `inject('databaseUrl' | 'pgAdminUrl' |
 * 'redisUrl')` (see test/helpers/database.ts) or from the TEST_* environment
 * variables; the database is dropped at teardown. The web app is built when
 * apps/web/dist is missing or older than its sources, so the tests that serve
 * the SPA (the CSP test in apps/server/test/security-http.test.ts) always have
 * it and are never skipped: a web app that does not build fails the run.
 */
import type { TestProject } from 'vitest/node';
import { createDatabase, dropDatabase, dropStaleTestDatabases, uniqueDbName } from './helpers/pg-admin.ts';
import { ensurePostgres, ensureRedis } from './helpers/services.ts';
import { ensureWebBuild } from './helpers/web-build.ts';
import './helpers/context.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [adminUrl, redisUrl] = await Promise.all([ensurePostgres(), ensureRedis(), ensureWebBuild((m) => console.log(`[global-setup] ${m}`))]);
  await dropStaleTestDatabases(adminUrl).catch(() => {}); // hygiene only
  const name = uniqueDbName('st_test');
  const databaseUrl = await createDatabase(adminUrl, name);
  project.provide('databaseUrl', databaseUrl);
  project.provide('pgAdminUrl', adminUrl);
  project.provide('redisUrl', redisUrl);
  // Also for code that runs outside inject() (child processes, helpers).
  process.env.TEST_DATABASE_URL = databaseUrl;
  process.env.TEST_PG_ADMIN_URL = adminUrl;
  process.env.TEST_REDIS_URL = redisUrl;
  return async () => {
    await dropDatabase(adminUrl, name);
  };
}
