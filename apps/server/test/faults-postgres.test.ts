/**
 * PostgreSQL crashes and comes back during ingest (a private server, stopped
 * with `immediate`): the collector buffers and retries, the api keeps serving
 * live data from Redis and answers history with 503 SERVICE_UNAVAILABLE in
 * the error contract (never 500), and afterwards the trades table holds
 * exactly the trades produced — count and md5 of the keys.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { startPrivatePostgres, type PrivatePostgres } from '../../../test/helpers/private-postgres.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { simDayMsForContinuousSession } from '../../../test/helpers/server.ts';
import { freePort, killAll, roleEnv, runMigrate, sleep, startReady, until, waitForStatus, type RoleProcess } from './role-processes.ts';
import { producedTrades, storedTrades } from './trade-ledger.ts';

const SEED = 7;
const INTENSITY = 200;
let pgServer: PrivatePostgres | undefined;
let prefix: string;
let procs: RoleProcess[] = [];

afterAll(async () => {
  await killAll(procs);
  if (prefix) await deletePrefix(testRedisUrl(), prefix);
  await pgServer?.destroy();
}, 60_000);

const getJson = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, requestId: r.headers.get('x-request-id') };
};

describe('PostgreSQL restart during ingest', () => {
  it('loses no trade and stores none twice; the api degrades to live data with 503 for history', async () => {
    pgServer = await startPrivatePostgres();
    prefix = uniquePrefix('pgfault');
    const dayMs = simDayMsForContinuousSession(Date.now(), 0, 240_000);
    const loopStart = Math.floor(Date.now() / dayMs) * dayMs;
    const env = roleEnv({ DATABASE_URL: pgServer.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, SIM_DAY_MS: String(dayMs), SIM_SEED: String(SEED), SIM_INTENSITY: String(INTENSITY) });
    await runMigrate(env);
    const port = await freePort();
    const [collector, api] = await Promise.all([startReady('collector', 'collector', env), startReady('api', 'api', { ...env, WEB_CONCURRENCY: '1', LOG_LEVEL: 'warn' }, { port })]);
    procs.push(collector, api);
    await collector.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'leadership');
    const url = `http://127.0.0.1:${port}`;
    await until(async () => (await storedTrades(pgServer!.url)).count > 0, 'first trades stored', 30_000, 250);
    const symbol = ((await getJson(`${url}/api/quotes`)).body.items as QuoteState[])[0]!.symbol;

    await pgServer.stop('immediate');
    // Live endpoints keep answering from Redis; history answers 503 in the error contract.
    const quotes = await getJson(`${url}/api/quotes`);
    expect(quotes.status).toBe(200);
    expect((quotes.body.items as unknown[]).length).toBeGreaterThan(20);
    expect((await getJson(`${url}/api/quotes/${symbol}`)).status).toBe(200);
    const history = await getJson(`${url}/api/trades/${symbol}?limit=5`);
    expect(history.status).toBe(503);
    expect(history.body).toMatchObject({ code: 'SERVICE_UNAVAILABLE', request_id: history.requestId });
    expect(typeof history.body.message).toBe('string');
    const bars = await getJson(`${url}/api/bars/${symbol}`);
    expect(bars.status).toBe(503);
    expect(bars.body.code).toBe('SERVICE_UNAVAILABLE');
    // The replica stays in rotation (live data works) and says what is degraded.
    const ready = await getJson(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.degraded).toContain('database');
    // The collector is not ready while its writes fail (it keeps ingesting into its buffer).
    await waitForStatus(`${collector.url}/readyz`, 'collector unready', { status: 503, timeoutMs: 20_000 });
    await sleep(3_000);

    await pgServer.start();
    await waitForStatus(`${collector.url}/readyz`, 'collector ready again', { timeoutMs: 60_000 });
    expect((await getJson(`${url}/api/trades/${symbol}?limit=5`)).status).toBe(200);
    expect((await getJson(`${url}/readyz`)).body.degraded).toBeUndefined();
    await sleep(1_000);

    expect(await collector.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    const stopped = collector.logs().find((l) => l.msg === 'collector stopped')!;
    const produced = producedTrades({ seed: SEED, dayMs, intensity: INTENSITY, startTs: loopStart, untilTs: stopped.lastEventTs as number });
    const stored = await storedTrades(pgServer.url);
    expect(stored.distinct).toBe(stored.count);
    expect(stored.count).toBe(produced.count);
    expect(stored.md5).toBe(produced.md5);
    expect(stopped.trades).toBe(produced.count);
    // The outage was seen and ridden out by the writer, not avoided.
    expect(collector.logs().some((l) => l.msg === 'storage write failed; retrying with backoff')).toBe(true);
    expect(collector.logs().some((l) => l.msg === 'storage writes recovered')).toBe(true);
    expect(api.running()).toBe(true);
  }, 240_000);
});
