/**
 * Test services: make sure PostgreSQL and Redis answer on 127.0.0.1 before the
 * suite runs. Probe first; when silent, start the installed cluster/server;
 * when not installed, install them with apt-get (root only) and start them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import pg from 'pg';

export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
export const REDIS_PORT = 6379;
const DEFAULT_ADMIN_URL = `postgres://postgres@${PG_HOST}:${PG_PORT}/postgres`;
// Password given to the `postgres` role when a fresh install only allows password logins over TCP.
const FALLBACK_PASSWORD = 'postgres';

type Log = (msg: string) => void;
const defaultLog: Log = (msg) => process.stderr.write(`[test-services] ${msg}\n`);

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** true when something accepts TCP connections on host:port within timeoutMs. */
export function probeTcp(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/** Installed PostgreSQL major versions (Debian layout), newest first. */
export function installedPostgresVersions(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => existsSync(`${root}/${v}/bin/postgres`))
    .sort((a, b) => Number(b) - Number(a));
}

export function postgresBinDir(version = installedPostgresVersions()[0]): string {
  if (!version) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/<version>/bin)');
  return `/usr/lib/postgresql/${version}/bin`;
}

let aptUpdated = false;
function aptInstall(packages: string[], log: Log): void {
  if (!isRoot()) throw new Error(`${packages.join(', ')} not installed and not running as root: install them (apt-get install -y ${packages.join(' ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log('apt-get update');
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    aptUpdated = true;
  }
  log(`apt-get install -y ${packages.join(' ')}`);
  execFileSync('apt-get', ['install', '-y', ...packages], { stdio: 'inherit', env });
}

async function canQuery(url: string): Promise<{ ok: boolean; code?: string; message?: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code, message: (err as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Starts PostgreSQL if needed; returns an admin URL (database `postgres`) that works. */
export async function ensurePostgres(log: Log = defaultLog): Promise<string> {
  const configured = process.env.TEST_PG_ADMIN_URL;
  if (configured) {
    const r = await canQuery(configured);
    if (!r.ok) throw new Error(`TEST_PG_ADMIN_URL does not answer: ${r.message}`);
    return configured;
  }
  if (!(await probeTcp(PG_HOST, PG_PORT))) {
    let versions = installedPostgresVersions();
    if (versions.length === 0) {
      aptInstall(['postgresql'], log);
      versions = installedPostgresVersions();
    }
    const v = versions[0]!;
    log(`starting PostgreSQL ${v} (pg_ctlcluster)`);
    const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'start'], { encoding: 'utf8' });
    // pg_ctlcluster says "already running" on stdout (a cluster whose port did not answer the probe yet, e.g. still starting).
    if (r.status !== 0 && !/already running/i.test(`${r.stderr ?? ''}${r.stdout ?? ''}`)) {
      throw new Error(`pg_ctlcluster ${v} main start failed: ${r.stderr || r.stdout}`);
    }
    await waitFor(() => probeTcp(PG_HOST, PG_PORT), 30_000, 'PostgreSQL');
  }
  const withPassword = `postgres://postgres:${FALLBACK_PASSWORD}@${PG_HOST}:${PG_PORT}/postgres`;
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = await canQuery(DEFAULT_ADMIN_URL);
    if (r.ok) return DEFAULT_ADMIN_URL;
    if (r.code === '28P01' || r.code === '28000') {
      // A stock Debian cluster wants a password over TCP: use (or set) one.
      if ((await canQuery(withPassword)).ok) return withPassword;
      if (!isRoot()) throw new Error(`cannot log in to PostgreSQL as postgres (${r.message}); set TEST_PG_ADMIN_URL`);
      log('setting a password for the postgres role (local test cluster)');
      execFileSync('runuser', ['-u', 'postgres', '--', 'psql', '-q', '-c', `ALTER ROLE postgres PASSWORD '${FALLBACK_PASSWORD}'`]);
      if ((await canQuery(withPassword)).ok) return withPassword;
      throw new Error('PostgreSQL refuses the postgres role even with a password; set TEST_PG_ADMIN_URL');
    }
    // 57P03: still starting up.
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error('PostgreSQL accepts connections but does not answer queries');
}

/** Starts Redis if needed; returns its URL. */
export async function ensureRedis(log: Log = defaultLog): Promise<string> {
  const configured = process.env.TEST_REDIS_URL;
  if (configured) return configured;
  const url = `redis://${PG_HOST}:${REDIS_PORT}`;
  if (await probeTcp(PG_HOST, REDIS_PORT)) return url;
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) aptInstall(['redis-server'], log);
  log('starting redis-server');
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no']);
  await waitFor(() => probeTcp(PG_HOST, REDIS_PORT), 15_000, 'Redis');
  return url;
}
