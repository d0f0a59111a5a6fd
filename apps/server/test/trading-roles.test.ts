/**
 * Paper trading in the production roles, as processes: an api replica accepts
 * orders, the collector leader (and only it) runs the trading cores; the
 * leader is killed (SIGKILL) after a fill and the standby takes over: the fill
 * is neither lost nor repeated, the position is the same, and the new leader
 * fills the next order.
 */
import type { Fill, Position, TradingAccount } from '@stock-tracker/protocol';
import { createIsolatedDatabase, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { simDayMsForContinuousSession } from '../../../test/helpers/server.ts';
import { killAll, roleEnv, runMigrate, startReady, until, type RoleProcess } from './role-processes.ts';

let db: IsolatedDatabase;
let prefix: string;
let env: Record<string, string>;
const procs: RoleProcess[] = [];

beforeAll(async () => {
  db = await createIsolatedDatabase('st_trading_roles');
  prefix = uniquePrefix('trading-roles');
  env = roleEnv({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, SIM_DAY_MS: String(simDayMsForContinuousSession(Date.now(), 0, 300_000)), LOG_LEVEL: 'info', TRADING_COMMAND_WAIT_MS: '5000' });
  await runMigrate(env);
}, 120_000);

afterAll(async () => {
  await killAll(procs);
  if (prefix) await deletePrefix(testRedisUrl(), prefix);
  await db?.drop();
}, 60_000);

const leading = (p: RoleProcess) => p.logs().some((l) => l.msg === 'collector: leading; pipeline started');

describe('paper trading with a collector leader and an api replica', () => {
  it('fills on the leader, survives its death without a lost or repeated fill, and the new leader trades on', async () => {
    const a = await startReady('collector', 'collector-a', env);
    procs.push(a);
    await until(() => leading(a), 'collector A leading', 60_000);
    const b = await startReady('collector', 'collector-b', env);
    procs.push(b);
    const api = await startReady('api', 'api', { ...env, WEB_CONCURRENCY: '1' });
    procs.push(api);
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${api.url}/api${path}`, { method, headers: body !== undefined ? { 'content-type': 'application/json' } : {}, body: body !== undefined ? JSON.stringify(body) : undefined });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    };

    const account = (await call('POST', '/trading/accounts', { name: 'prod' })).body as TradingAccount;
    let symbol = '';
    await until(async () => {
      const q = (await call('GET', '/quotes')).body as { items?: { symbol: string; last: number | null; exchange: string }[] };
      symbol = q.items?.find((x) => x.last !== null && x.exchange === 'HOSE')?.symbol ?? '';
      return symbol !== '';
    }, 'a traded symbol', 60_000, 300);

    const fillsOf = async () => ((await call('GET', `/trading/accounts/${account.id}/fills?limit=1000`)).body.items as Fill[]) ?? [];
    const qtyOf = (fs: Fill[]) => fs.reduce((s, f) => s + f.qty, 0);
    const first = await call('POST', `/trading/accounts/${account.id}/orders`, { clientOrderId: 'p1', symbol, side: 'buy', type: 'market', qty: 100 });
    expect([201, 202], JSON.stringify(first.body)).toContain(first.status);
    let fills: Fill[] = [];
    await until(async () => qtyOf((fills = await fillsOf())) === 100, 'the first fill', 60_000, 250);

    // The leader dies; the standby takes over and restores the account from storage.
    await a.kill('SIGKILL');
    await until(() => leading(b), 'collector B leading', 60_000, 200, () => b.output());
    const again = await fillsOf();
    expect(again.map((f) => f.id).sort()).toEqual(fills.map((f) => f.id).sort());
    const positions = (await call('GET', `/trading/accounts/${account.id}/positions`)).body.items as Position[];
    expect(positions.map((p) => [p.symbol, p.qty])).toEqual([[symbol, 100]]);

    // The new leader applies and fills the next order; the first fills stay exactly once.
    const second = await call('POST', `/trading/accounts/${account.id}/orders`, { clientOrderId: 'p2', symbol, side: 'buy', type: 'market', qty: 100 });
    expect([201, 202], JSON.stringify(second.body)).toContain(second.status);
    let all: Fill[] = [];
    await until(async () => qtyOf((all = await fillsOf())) >= 200, 'the second fill', 60_000, 250);
    expect(qtyOf(all)).toBe(200);
    expect(new Set(all.map((f) => f.id)).size).toBe(all.length);
    for (const f of fills) expect(all.filter((x) => x.id === f.id)).toHaveLength(1);
    // The retried first order is still the first order.
    expect((await call('POST', `/trading/accounts/${account.id}/orders`, { clientOrderId: 'p1', symbol, side: 'buy', type: 'market', qty: 100 })).status).toBe(200);
  }, 300_000);
});
