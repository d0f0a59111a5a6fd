/**
 * The `api` replica as a process tree (node:cluster): WEB_CONCURRENCY workers
 * sharing one port, a crashed worker restarted by the primary, /metrics for
 * the whole replica from any worker, SIGTERM on the primary closing
 * WebSockets with 1012 and exiting 0 — and refusals at start that do not
 * turn into a crash loop.
 */
import WebSocket from 'ws';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { freePort, killAll, roleEnv, runMigrate, sleep, spawnRole, startReady, until, type RoleProcess } from './role-processes.ts';

let db: IsolatedDatabase;
let prefix: string;
let env: Record<string, string>;
const procs: RoleProcess[] = [];

beforeAll(async () => {
  db = await createIsolatedDatabase('st_cluster');
  prefix = uniquePrefix('cluster');
  env = roleEnv({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix });
  await runMigrate(env);
}, 120_000);

afterAll(async () => {
  await killAll(procs);
  if (prefix) await deletePrefix(testRedisUrl(), prefix);
  await db?.drop();
}, 60_000);

const listening = (p: RoleProcess) => p.logs().filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('Server listening')).length;

describe('api replica with pre-forked workers', () => {
  it('shares the port, restarts a crashed worker, aggregates /metrics, and stops gracefully with 1012', async () => {
    const port = await freePort();
    const api = await startReady('api', 'api', { ...env, WEB_CONCURRENCY: '2' }, { port });
    procs.push(api);
    const started = await api.waitForLog((l) => l.msg === 'api workers listening', 'workers listening');
    const pids = started.pids as number[];
    expect(pids).toHaveLength(2);
    expect(listening(api)).toBe(2);

    // Both workers answer on the one port; /metrics from either covers the whole replica.
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 20; i++) expect((await fetch(`${url}/api/symbols`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const counted = [...metrics.matchAll(/^http_request_duration_seconds_count\{[^}]*route="\/api\/symbols"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(counted).toBe(20);

    // A worker dies: the primary forks a new one; the replica keeps answering meanwhile.
    process.kill(pids[0]!, 'SIGKILL');
    await api.waitForLog((l) => l.msg === 'api worker died; restarting', 'restart', 10_000);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await until(() => listening(api) === 3, 'a third worker listening', 60_000, 100);
    expect(api.running()).toBe(true);

    // SIGTERM on the primary: every WebSocket is closed with 1012, then the replica exits 0.
    const codes: number[] = [];
    const sockets = await Promise.all(
      Array.from({ length: 6 }, () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/market`);
        ws.on('close', (code) => codes.push(code));
        return new Promise<WebSocket>((resolve, reject) => {
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        });
      }),
    );
    expect(sockets).toHaveLength(6);
    expect(await api.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    await until(() => codes.length === 6, 'every socket closed', 10_000);
    expect(codes).toEqual(Array(6).fill(1012));
  }, 180_000);

  it('a worker that cannot start stops the replica with its exit code instead of crash-looping', async () => {
    const deadDb = `postgres://postgres@127.0.0.1:${await freePort()}/nothing`;
    const api = await spawnRole('api', 'api-nodb', { ...env, DATABASE_URL: deadDb, WEB_CONCURRENCY: '2' });
    procs.push(api);
    const r = await api.exited;
    expect(r.code).toBe(69);
    expect(api.output()).toContain('DATABASE_URL');
    expect(api.logs().filter((l) => l.msg === 'api worker died; restarting')).toEqual([]);
  }, 90_000);

  it('collector and api refuse to start without Redis, naming the variable', async () => {
    const { REDIS_URL: _, ...noRedis } = env;
    for (const role of ['collector', 'api'] as const) {
      const p = await spawnRole(role, `${role}-noredis`, noRedis);
      procs.push(p);
      const r = await p.exited;
      expect(r.code).toBe(78);
      expect(p.output()).toMatch(/REDIS_URL: is required for ROLE=/);
    }
    await sleep(0);
  }, 90_000);
});
