/**
 * Kill -9 of the leading collector with a hot standby (real processes): the
 * standby takes over within the lease, the bus continues in the same epoch
 * with contiguous seqs (clients resume nothing: their streams simply go on),
 * the new leader's catch-up publishes no trade twice, and storage holds every
 * trade produced exactly once — the dead leader's unflushed rows included.
 */
import { redisBusKeys } from '../src/bus/index.ts';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { deletePrefix, redisClient, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { simDayMsForContinuousSession } from '../../../test/helpers/server.ts';
import { describeClients, freePort, killAll, mostTraded, roleEnv, runMigrate, sleep, startReady, trackedClient, until, type RoleProcess, type TrackedClient } from './role-processes.ts';
import { producedTrades, storedTrades } from './trade-ledger.ts';

const SEED = 42;
const INTENSITY = 200;
let db: IsolatedDatabase;
let prefix: string;
let procs: RoleProcess[] = [];
let clients: TrackedClient[] = [];

afterAll(async () => {
  for (const c of clients) c.client.close();
  await killAll(procs);
  if (prefix) await deletePrefix(testRedisUrl(), prefix);
  await db?.drop();
}, 60_000);

async function heads(): Promise<{ epoch: string | null; market: Record<string, string> }> {
  const r = redisClient(testRedisUrl());
  try {
    const k = redisBusKeys(prefix);
    return { epoch: await r.get(k.epoch), market: await r.hgetall(k.head('market')) };
  } finally {
    r.disconnect();
  }
}
const seqOf = (head: string | undefined) => Number(head?.split('|')[0] ?? 0);

describe('collector failover', () => {
  it('kill -9, then SIGTERM, of the leader: a standby continues the streams; every trade is published and stored once', async () => {
    db = await createIsolatedDatabase('st_failover');
    prefix = uniquePrefix('failover');
    const dayMs = simDayMsForContinuousSession(Date.now(), 0, 240_000);
    const loopStart = Math.floor(Date.now() / dayMs) * dayMs;
    const env = roleEnv({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, SIM_DAY_MS: String(dayMs), SIM_SEED: String(SEED), SIM_INTENSITY: String(INTENSITY) });
    await runMigrate(env);
    const port = await freePort();
    const [a, api] = await Promise.all([startReady('collector', 'collector-a', env), startReady('api', 'api', { ...env, WEB_CONCURRENCY: '1', LOG_LEVEL: 'warn' }, { port })]);
    procs.push(a, api);
    await a.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'a leading');
    const b = await startReady('collector', 'collector-b', env);
    procs.push(b);
    await b.waitForLog((l) => l.msg === 'collector started; campaigning for leadership', 'b campaigning');

    const url = `http://127.0.0.1:${port}`;
    const traded = await mostTraded(url, 5);
    clients = Array.from({ length: 30 }, (_, i) => trackedClient(i, 'market', () => [url], 0, { symbols: '*', tradesFor: traded }));
    await until(() => clients.every((c) => c.client.state === 'live'), 'clients live', 60_000, 100, () => describeClients(clients));
    await sleep(2_000);
    expect(b.logs().some((l) => l.msg === 'collector: leading; pipeline started')).toBe(false); // a hot standby, not a second leader

    const before = await heads();
    const killedAt = Date.now();
    await a.kill('SIGKILL');
    await b.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'b leading', 30_000);
    const takeoverMs = Date.now() - killedAt;
    // Lease (3 s) + one standby retry (1 s) + the pipeline's start, with room for a loaded machine.
    expect(takeoverMs).toBeLessThan(20_000);
    await sleep(3_000);

    // Same epoch, every stream moved on from where the dead leader left it.
    const after = await heads();
    expect(after.epoch).toBe(before.epoch);
    for (const [key, head] of Object.entries(before.market)) expect(seqOf(after.market[key]), key).toBeGreaterThanOrEqual(seqOf(head));
    expect(traded.some((s) => seqOf(after.market[`${s}:trades`]) > seqOf(before.market[`${s}:trades`]))).toBe(true);

    // The clients never noticed: no reset, no gap, no trade seen twice.
    expect(clients.every((c) => c.client.state === 'live')).toBe(true);
    expect(clients.flatMap((c) => c.resets)).toEqual([]);
    expect(clients.reduce((n, c) => n + c.gaps, 0)).toBe(0);
    expect(clients.flatMap((c) => c.violations)).toEqual([]);
    for (const c of clients) for (const [key, ids] of c.events) expect(new Set(ids).size, `${key} at client ${c.id}`).toBe(ids.length);
    const guard = b.logs().find((l) => l.msg === 'collector: leading; pipeline started')!.guard as { skippedEvents: number };
    expect(guard.skippedEvents).toBeGreaterThan(0); // the catch-up replayed trades a already published

    // SIGTERM of the leader hands over at once: it releases the lock after flushing, a new standby takes over.
    const c = await startReady('collector', 'collector-c', env);
    procs.push(c);
    await c.waitForLog((l) => l.msg === 'collector started; campaigning for leadership', 'c campaigning');
    const stoppedAt = Date.now();
    expect(await b.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(b.logs().find((l) => l.msg === 'collector stopped')).toBeDefined();
    await c.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'c leading', 30_000);
    const handoverMs = Date.now() - stoppedAt;
    await sleep(2_000);
    expect(clients.reduce((n, x) => n + x.gaps, 0)).toBe(0);
    expect(clients.flatMap((x) => x.violations)).toEqual([]);
    expect(clients.flatMap((x) => x.resets)).toEqual([]);
    for (const x of clients) for (const [key, ids] of x.events) expect(new Set(ids).size, `${key} at client ${x.id}`).toBe(ids.length);

    // Storage: everything produced since the loop started, exactly once.
    expect(await c.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    const stopped = c.logs().find((l) => l.msg === 'collector stopped')!;
    const produced = producedTrades({ seed: SEED, dayMs, intensity: INTENSITY, startTs: loopStart, untilTs: stopped.lastEventTs as number });
    const stored = await storedTrades(db.url);
    expect(stored.distinct).toBe(stored.count);
    expect(stored.count).toBe(produced.count);
    expect(stored.md5).toBe(produced.md5);
    expect(stopped.trades).toBe(produced.count);
    console.info(`collector failover: takeover after kill -9 in ${takeoverMs} ms, after SIGTERM in ${handoverMs} ms; ${produced.count} trades stored once; ${guard.skippedEvents} catch-up events not republished`);
  }, 240_000);
});
