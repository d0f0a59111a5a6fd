/**
 * The scaled-out topology with real processes: one collector, two api
 * replicas of two workers each (`stock-tracker collector|api`), PostgreSQL
 * and Redis, and 200 WebSocket clients (StreamClient over `ws`) spread over
 * both replicas — subscribed to every symbol's quotes and a few symbols'
 * trades, each with a tiny round robin over the two replica URLs.
 *
 * Every client checks every stream's seq on its own (independently of the
 * client library's gap detection): after a replica is killed (-9) or stopped
 * (SIGTERM, close 1012) its clients reconnect to the other one and resume
 * without a gap, a duplicate or a reset. At the end, with the collector
 * stopped, every client's board equals the api's /api/quotes.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { simDayMsForContinuousSession } from '../../../test/helpers/server.ts';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.ts';
import { boardDiff, describeClients, freePort, mostTraded, killAll, roleEnv, runMigrate, sleep, startReady, trackedClient, until, type RoleProcess, type TrackedClient } from './role-processes.ts';

const CLIENTS = 200;

let db: IsolatedDatabase;
let prefix: string;
let env: Record<string, string>;
let dbProxy: FaultProxy;
let collector: RoleProcess;
let replicas: [RoleProcess, RoleProcess];
let ports: [number, number];
let clients: TrackedClient[] = [];
let tradedSymbols: string[] = [];
let alertsClient: TrackedClient | undefined;

const urls = () => ports.map((p) => `http://127.0.0.1:${p}`);
const settledState = (c: TrackedClient) => c.client.state === 'live' || c.client.state === 'resumed' || c.client.state === 'reset';

function expectCleanStreams(cs: TrackedClient[]): void {
  expect(cs.reduce((n, c) => n + c.gaps, 0)).toBe(0);
  expect(cs.flatMap((c) => c.violations).slice(0, 5)).toEqual([]);
  for (const c of cs) {
    for (const [key, ids] of c.events) expect(new Set(ids).size, `${key} duplicates at client ${c.id}`).toBe(ids.length);
  }
}

beforeAll(async () => {
  db = await createIsolatedDatabase('st_topo');
  prefix = uniquePrefix('topo');
  const target = new URL(db.url);
  dbProxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 5432) } });
  env = roleEnv({
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    SIM_DAY_MS: String(simDayMsForContinuousSession(Date.now(), 0, 300_000)),
    // A quarter of the default market rate: one replica must carry all 200 clients (~35 quote updates/s each)
    // while 100 of them resume, on a 2-core test machine (docs/scaling.md has the capacity method).
    SIM_INTENSITY: '50',
  });
  await runMigrate(env);
  ports = [await freePort(), await freePort()];
  const viaProxy = { ...env, DATABASE_URL: db.url.replace(`${target.hostname}:${target.port || 5432}`, `127.0.0.1:${dbProxy.port}`) };
  const started = await Promise.all([
    startReady('collector', 'collector', env),
    startReady('api', 'r1', { ...env, WEB_CONCURRENCY: '2', LOG_LEVEL: 'warn' }, { port: ports[0] }),
    // r2 reaches PostgreSQL through a fault proxy: the graceful-stop test makes it slow to hold a request in flight.
    startReady('api', 'r2', { ...viaProxy, WEB_CONCURRENCY: '2', LOG_LEVEL: 'warn' }, { port: ports[1] }),
  ]);
  collector = started[0];
  replicas = [started[1], started[2]];
  await collector.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'leadership');
  // The most traded symbols: their trades streams move during the test.
  tradedSymbols = await mostTraded(urls()[0]!, 3);
  clients = Array.from({ length: CLIENTS }, (_, i) => trackedClient(i, 'market', urls, i % 2, { symbols: '*', tradesFor: tradedSymbols }));
  await until(() => clients.every((c) => c.client.state === 'live'), `${CLIENTS} clients live`, 90_000, 200, () => describeClients(clients));
}, 300_000);

afterAll(async () => {
  for (const c of clients) c.client.close();
  alertsClient?.client.close();
  await killAll([collector, ...(replicas ?? [])]);
  await dbProxy?.close();
  if (prefix) await deletePrefix(testRedisUrl(), prefix);
  await db?.drop();
}, 60_000);

describe('collector + 2 api replicas × 2 workers + 200 WebSocket clients', () => {
  it('kill -9 of a replica: its clients reconnect to the other and resume every stream without a gap', async () => {
    expect(clients.filter((c) => c.current === 0).length).toBe(CLIENTS / 2);
    await sleep(1_500);
    const onFirst = clients.filter((c) => c.current === 0);
    const progress = (c: TrackedClient) => [...c.positions.values()].reduce((n, p) => n + p.seq, 0);
    const before = new Map(onFirst.map((c) => [c.id, progress(c)]));

    const killedAt = Date.now();
    await replicas[0].kill('SIGKILL');
    try {
      await until(() => onFirst.every((c) => c.current === 1 && settledState(c)), 'clients of the killed replica back on the other', 60_000, 100, () => `${describeClients(onFirst)}\n${replicas[1].output()}`);
      const outageMs = Date.now() - killedAt;
      // Stream on for a while on the surviving replica.
      await sleep(2_000);

      for (const c of onFirst) {
        expect(c.opened[1]).toBeGreaterThanOrEqual(1);
        expect(progress(c)).toBeGreaterThan(before.get(c.id)!); // streams moved on after the resume
      }
      // Resumed from history; a stream that moved more than its history during the outage (a slow machine) is reset explicitly, never left with a gap.
      const resets = clients.flatMap((c) => c.resets);
      expect(resets.filter((r) => r.reason !== 'history_exceeded')).toEqual([]);
      expect(onFirst.filter((c) => c.client.state === 'resumed').length, `outage ${outageMs} ms, ${resets.length} resets`).toBeGreaterThan(onFirst.length / 2);
      expect(onFirst.reduce((n, c) => n + c.recovered, 0)).toBeGreaterThan(0);
      expectCleanStreams(clients);
      console.info(`kill -9: ${onFirst.length} clients back in ${outageMs} ms; ${resets.length} streams reset (history exceeded)`);
    } finally {
      // Bring the replica back (same port) for the graceful test.
      replicas[0] = await startReady('api', 'r1-restarted', { ...env, WEB_CONCURRENCY: '2', LOG_LEVEL: 'warn' }, { port: ports[0] });
    }
  }, 150_000);

  it('an alert rule created through one replica reaches the collector, and its alert streams to the other', async () => {
    alertsClient = trackedClient(-1, 'alerts', urls, 0, { symbols: '*' });
    await until(() => alertsClient!.client.state === 'live', 'alerts client live', 20_000);
    const symbol = tradedSymbols[0]!;
    // Any trade satisfies it: the rule fires as soon as the collector applies it.
    const res = await fetch(`${urls()[1]}/api/alerts/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol, kind: 'price_above', threshold: 1, cooldownMs: 0, enabled: true }),
    });
    expect(res.status).toBe(201);
    const rule = (await res.json()) as { id: string };
    await until(() => hasAlert(alertsClient!, rule.id), 'the alert on /ws/alerts', 30_000, 100, () => `${describeClients([alertsClient!])}\n${collector.output()}`);
    await fetch(`${urls()[1]}/api/alerts/rules/${rule.id}`, { method: 'DELETE' });
  }, 60_000);

  it('SIGTERM of a replica: clients get 1012 and resume on the other; a request in flight completes', async () => {
    const onSecond = clients.filter((c) => c.current === 1);
    expect(onSecond.length).toBe(CLIENTS);
    const closesBefore = new Map(onSecond.map((c) => [c.id, c.closeCodes.length]));
    // A history read that takes ~2 s: the database answers through the slowed proxy.
    dbProxy.setLatency(1_000);
    const inflight = fetch(`${urls()[1]}/api/trades/${tradedSymbols[0]}?limit=5`).then(async (r) => ({ status: r.status, body: (await r.json()) as { items: unknown[] } }));
    await sleep(400);
    const exited = replicas[1].kill('SIGTERM');
    const answer = await inflight;
    dbProxy.setLatency(0);
    expect(answer.status).toBe(200);
    expect(answer.body.items.length).toBeGreaterThan(0);
    expect(answer.body.items.length).toBeLessThanOrEqual(5);
    expect(await exited).toEqual({ code: 0, signal: null });

    await until(() => onSecond.every((c) => c.current === 0 && settledState(c)), 'clients back on the first replica', 60_000, 100, () => describeClients(onSecond));
    await sleep(1_500);
    for (const c of onSecond) {
      expect(c.closeCodes.slice(closesBefore.get(c.id))[0]).toBe(1012);
    }
    const resets = clients.flatMap((c) => c.resets);
    expect(resets.filter((r) => r.reason !== 'history_exceeded')).toEqual([]);
    expect(onSecond.filter((c) => c.client.state === 'resumed').length).toBeGreaterThan(onSecond.length / 2);
    expectCleanStreams(clients);
  }, 120_000);

  it('with the collector stopped, every client board equals /api/quotes', async () => {
    expect(await collector.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    // Quiesced: what the api serves is the final state; each client must reach it.
    const final = ((await (await fetch(`${urls()[0]}/api/quotes`)).json()) as { items: QuoteState[] }).items;
    expect(final.length).toBeGreaterThan(20);
    await until(() => clients.every((c) => boardDiff(c, final).length === 0), 'every board equal to /api/quotes', 30_000, 200).catch((err: Error) => {
      const bad = clients.filter((c) => boardDiff(c, final).length > 0);
      throw new Error(`${err.message}: ${bad.length} clients differ, e.g. client ${bad[0]?.id} on ${boardDiff(bad[0]!, final).slice(0, 5).join(', ')}`);
    });
    expectCleanStreams(clients);
  }, 60_000);
});

function hasAlert(c: TrackedClient, ruleId: string): boolean {
  for (const ids of c.events.values()) if (ids.some((id) => id.startsWith(`${ruleId}:`))) return true;
  return false;
}
