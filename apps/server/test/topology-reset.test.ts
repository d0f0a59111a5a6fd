/**
 * When an outage outlasts the bus history, resuming must say so: with a tiny
 * history (BUS_HISTORY_STATE/EVENTS=3) an api replica is killed and comes
 * back a few seconds later; its clients reconnect and get an explicit
 * `reset` (history_exceeded) plus a fresh snapshot for every stream that
 * moved too far, `recovered` for the others — never a silent gap — and end
 * with the same board as /api/quotes.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { simDayMsForContinuousSession } from '../../../test/helpers/server.ts';
import { boardDiff, describeClients, freePort, killAll, mostTraded, roleEnv, runMigrate, sleep, startReady, trackedClient, until, type RoleProcess, type TrackedClient } from './role-processes.ts';

let db: IsolatedDatabase;
let prefix: string;
let collector: RoleProcess | undefined;
let api: RoleProcess | undefined;
let clients: TrackedClient[] = [];

afterAll(async () => {
  for (const c of clients) c.client.close();
  await killAll([collector, api]);
  if (prefix) await deletePrefix(testRedisUrl(), prefix);
  await db?.drop();
}, 60_000);

describe('an outage longer than the bus history', () => {
  it('resumes with an explicit reset and a fresh snapshot, never a silent gap', async () => {
    db = await createIsolatedDatabase('st_reset');
    prefix = uniquePrefix('reset');
    const env = roleEnv({
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      SIM_DAY_MS: String(simDayMsForContinuousSession(Date.now(), 0, 240_000)),
      BUS_HISTORY_STATE: '3',
      BUS_HISTORY_EVENTS: '3',
    });
    await runMigrate(env);
    const port = await freePort();
    const apiEnv = { ...env, WEB_CONCURRENCY: '1', LOG_LEVEL: 'warn' };
    [collector, api] = await Promise.all([startReady('collector', 'collector', env), startReady('api', 'api', apiEnv, { port })]);
    await collector.waitForLog((l) => l.msg === 'collector: leading; pipeline started', 'leadership');
    const url = `http://127.0.0.1:${port}`;
    const traded = await mostTraded(url, 3);
    clients = Array.from({ length: 20 }, (_, i) => trackedClient(i, 'market', () => [url], 0, { symbols: '*', tradesFor: traded }));
    await until(() => clients.every((c) => c.client.state === 'live'), 'clients live', 60_000, 100, () => describeClients(clients));
    await sleep(1_000);

    await api.kill('SIGKILL');
    // Long enough for the busy streams to move past 3 messages.
    await sleep(2_000);
    api = await startReady('api', 'api-restarted', apiEnv, { port });
    await until(() => clients.every((c) => c.client.state === 'reset' || c.client.state === 'resumed'), 'clients back', 60_000, 100, () => describeClients(clients));
    await sleep(1_000);

    const resets = clients.flatMap((c) => c.resets);
    expect(resets.length).toBeGreaterThan(0);
    expect(new Set(resets.map((r) => r.reason))).toEqual(new Set(['history_exceeded']));
    // The busy streams moved past their 3 retained messages: every client had to start some of them over.
    for (const c of clients) {
      expect(c.client.state).toBe('reset');
      expect(c.resets.length).toBeGreaterThan(0);
      // After the reset a fresh snapshot re-established each stream.
      for (const r of c.resets) expect(c.positions.has(r.key), `${r.key} has a position again`).toBe(true);
    }
    // Streams that did not move past the history were recovered, not reset.
    expect(clients.reduce((n, c) => n + c.recovered, 0)).toBeGreaterThan(0);
    expect(clients.reduce((n, c) => n + c.gaps, 0)).toBe(0);
    expect(clients.flatMap((c) => c.violations)).toEqual([]);

    // Quiesce and compare the boards.
    expect(await collector.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    const final = ((await (await fetch(`${url}/api/quotes`)).json()) as { items: QuoteState[] }).items;
    await until(() => clients.every((c) => boardDiff(c, final).length === 0), 'boards equal to /api/quotes', 30_000, 200, () => describeClients(clients));
  }, 240_000);
});
