/**
 * Redis restarts mid-stream and comes back empty (a private redis-server
 * without persistence), under a leader collector with a hot standby, an api
 * replica of two workers and 30 WebSocket clients. No process crashes; the
 * api's /readyz answers 503 naming Redis, then 200; clients stay connected
 * and go on in a new epoch (continuing at seq 1, or an explicit reset) — never
 * a silent gap — and end with exactly the board /api/quotes serves.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { startPrivateRedis, type PrivateRedis } from '../../../test/helpers/redis.ts';
import { simDayMsForContinuousSession } from '../../../test/helpers/server.ts';
import { boardDiff, describeClients, freePort, killAll, mostTraded, roleEnv, runMigrate, sleep, startReady, trackedClient, until, waitForStatus, type RoleProcess, type TrackedClient } from './role-processes.ts';

let db: IsolatedDatabase;
let redis: PrivateRedis | undefined;
let procs: RoleProcess[] = [];
let clients: TrackedClient[] = [];

afterAll(async () => {
  for (const c of clients) c.client.close();
  await killAll(procs);
  await redis?.kill();
  await db?.drop();
}, 60_000);

describe('Redis restart without persistence', () => {
  it('no process crashes, readiness reports it, and every client ends consistent', async () => {
    db = await createIsolatedDatabase('st_redisfault');
    redis = await startPrivateRedis();
    const env = roleEnv({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: 'st:', SIM_DAY_MS: String(simDayMsForContinuousSession(Date.now(), 0, 240_000)) });
    await runMigrate(env);
    const port = await freePort();
    const [a, api] = await Promise.all([startReady('collector', 'collector-a', env), startReady('api', 'api', { ...env, WEB_CONCURRENCY: '2', LOG_LEVEL: 'info' }, { port })]);
    procs.push(a, api);
    await a.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'a leading');
    const b = await startReady('collector', 'collector-b', env);
    procs.push(b);
    const url = `http://127.0.0.1:${port}`;
    const traded = await mostTraded(url, 3);
    clients = Array.from({ length: 30 }, (_, i) => trackedClient(i, 'market', () => [url], 0, { symbols: '*', tradesFor: traded }));
    await until(() => clients.every((c) => c.client.state === 'live'), 'clients live', 60_000, 100, () => describeClients(clients));
    await sleep(1_500);
    const epochBefore = clients[0]!.positions.get(traded[0]!)!.epoch;

    await redis.kill();
    await waitForStatus(`${url}/readyz`, 'api unready without Redis', { status: 503, timeoutMs: 20_000 });
    const body = (await (await fetch(`${url}/readyz`)).json()) as { code: string; details: Array<{ path: string; issue: string }> };
    expect(body.code).toBe('SERVICE_UNAVAILABLE');
    expect(body.details.map((d) => d.path)).toContain('redis');
    // Live reads fail cleanly too (503, not 500) while Redis is gone.
    expect((await fetch(`${url}/api/quotes`)).status).toBe(503);
    await sleep(2_000);
    await redis.start();

    await waitForStatus(`${url}/readyz`, 'api ready again', { timeoutMs: 60_000 });
    // A leader publishes again (the old one re-elected, or the standby taking over) and writes the live view.
    await until(async () => {
      const s = (await (await fetch(`${url}/api/market/status`)).json()) as { feed: { connected: boolean } };
      return s.feed.connected;
    }, 'a collector leading again', 60_000, 250);
    await until(() => clients.every((c) => c.positions.get(traded[0]!)?.epoch !== epochBefore), 'clients in the new epoch', 60_000, 100, () => describeClients(clients));
    await sleep(1_500);

    for (const p of procs) expect(p.running(), `${p.name} still running`).toBe(true);
    // Clients stayed connected through the outage and followed the new epoch.
    expect(clients.flatMap((c) => c.closeCodes)).toEqual([]);
    expect(clients.reduce((n, c) => n + c.gaps, 0)).toBe(0);
    expect(clients.flatMap((c) => c.violations)).toEqual([]);
    expect(clients.flatMap((c) => c.resets).filter((r) => r.reason !== 'epoch_changed')).toEqual([]);

    // Quiesce: the board every client holds is the one the api serves.
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
    expect(a.running() || b.running()).toBe(false);
    const final = ((await (await fetch(`${url}/api/quotes`)).json()) as { items: QuoteState[] }).items;
    expect(final.length).toBeGreaterThan(20);
    await until(() => clients.every((c) => boardDiff(c, final).length === 0), 'boards equal to /api/quotes', 30_000, 200, () => {
      const bad = clients.filter((c) => boardDiff(c, final).length > 0);
      return `${bad.length} differ, e.g. ${bad[0] ? boardDiff(bad[0], final).slice(0, 5).join(',') : ''}; ${describeClients(clients)}`;
    });
    expect(api.running()).toBe(true);
  }, 240_000);
});
