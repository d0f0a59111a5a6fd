/**
 * Paper trading scaled out, in-process against real PostgreSQL and Redis: an
 * api replica's TradingService stores an order and announces it over Redis
 * pub/sub; the leader's TradingRunner (behind a TradingFollower) applies it,
 * fills it on market data, stores the fill and only then publishes it. Then a
 * failover: the leader dies with work in memory, a new leader restores every
 * core from storage, applies a command accepted while nobody led, and the
 * catch-up of market data already seen neither loses nor repeats a fill.
 */
import { randomUUID } from 'node:crypto';
import { MarketEngine } from '@stock-tracker/engine';
import type { EngineOutput, MarketEvent, Order, SymbolRef, TradingStreamEvent } from '@stock-tracker/protocol';
import { tradingPortfolioKey, tradingUserKey } from '@stock-tracker/protocol';
import { TRADING_DEFAULTS } from '../src/config.ts';
import { createInMemoryBus } from '../src/bus/index.ts';
import { closeClient, createRedisClient, whenReady } from '../src/bus/redis/connection.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { createTradingRepo, type TradingRepo } from '../src/storage/trading-repo.ts';
import { TradingRunner } from '../src/trading/runner.ts';
import { TradingAnnouncer, TradingFollower } from '../src/trading/sync.ts';
import { TradingService } from '../src/trading/service.ts';
import { openTestStorage, type TestStorage } from '../../../test/helpers/storage.ts';
import { testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// 2025-03-05 10:00 in Ho Chi Minh City (continuous session), one HOSE symbol.
const T0 = Date.parse('2025-03-05T03:00:00Z');
const ref: SymbolRef = { symbol: 'FPT', exchange: 'HOSE', market: 'VN', tradingDate: '2025-03-05', reference: 120_000, ceiling: 128_400, floor: 111_600, lotSize: 100, indices: ['VNINDEX'], sharesOutstanding: 1_000_000_000 };
let tradeNo = 0;
const trade = (ts: number, price: number, volume = 10_000): MarketEvent => ({ type: 'trade', ts, symbol: 'FPT', id: `t${++tradeNo}`, price, volume });

describe('paper trading across api replicas and a collector failover', () => {
  let storage: TestStorage;
  let repo: TradingRepo;
  let userId: string;
  const prefix = uniquePrefix('trading');
  const channel = `${prefix}trading:changes`;
  const redisUrl = testRedisUrl();

  beforeAll(async () => {
    storage = await openTestStorage('postgres');
    repo = createTradingRepo(storage.db);
    userId = (await createRepositories(storage.db).users.create({ username: `trader-${randomUUID()}` })).id;
  }, 60_000);
  afterAll(() => storage?.cleanup());

  it('applies an api replica\'s order on the leader, and a new leader neither loses nor repeats a fill', async () => {
    const engine = new MarketEngine();
    const outputs: EngineOutput[] = [];
    const feed = (runner: TradingRunner | null, ev: MarketEvent) =>
      engine.apply(ev, (out) => {
        outputs.push(out);
        runner?.onMarket(out);
      });

    // Leader 1: its runner, behind the follower of the announcement channel.
    const bus = createInMemoryBus();
    const published: TradingStreamEvent[] = [];
    bus.subscribe((m) => {
      if (m.channel === 'trading' && m.key === tradingUserKey(userId)) published.push(m.data as TradingStreamEvent);
    });
    const pub = bus.publisher();
    // Leader 1's storage: a write after `alive = false` never returns (the process is gone).
    let alive = true;
    const leaderRepo: TradingRepo = { ...repo, persist: (b) => (alive ? repo.persist(b) : new Promise<boolean>(() => {})) };
    let leader: TradingRunner | null = new TradingRunner({ repo: leaderRepo, publisher: () => pub, market: () => engine });
    await leader.start();
    const follower = new TradingFollower({ redis: { url: redisUrl }, channel, runner: () => leader, reloadMs: 60_000 }).start();
    const api = createRedisClient({ url: redisUrl }, 'test-api');
    try {
      expect(await whenReady(api, 5_000)).toBe(true);
      await until('the follower subscribed', async () => (await api.pubsub('NUMSUB', channel))[1] === 1);
      const service = new TradingService(repo, new TradingAnnouncer(api, channel, repo), { ...TRADING_DEFAULTS, commandWaitMs: 5_000 });

      feed(leader, { type: 'reference', ts: T0, ref });
      feed(leader, trade(T0 + 1_000, 120_000));
      const account = await service.createAccount(userId, { name: 'scaled', startingCash: 100_000_000 });

      // The api replica stores the order and announces it; the leader decides.
      const submitted = await service.submit(userId, account.id, { clientOrderId: 'c1', symbol: 'FPT', side: 'buy', type: 'market', qty: 300 });
      expect(submitted.status).toBe(201);
      const order = (submitted as { order: Order }).order;
      expect(order.status).toBe('accepted');
      // Another user cannot touch it, whichever replica they ask.
      await expect(service.cancel(randomUUID(), account.id, order.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });

      // The next trade fills it: stored first, then published.
      feed(leader, trade(T0 + 2_000, 120_100));
      const fills = await until('the stored fill', async () => {
        const f = await repo.fills.all(userId, account.id);
        return f.length > 0 && f;
      });
      expect(fills.map((f) => [f.qty, f.price, f.ts])).toEqual([[300, 120_100, T0 + 2_000]]);
      await until('the published fill', () => published.some((e) => e.type === 'fill' && e.fill.id === fills[0]!.id));
      expect((await bus.latest('trading', tradingPortfolioKey(userId)))?.data).toMatchObject({ accounts: [{ accountId: account.id, positions: [{ symbol: 'FPT', qty: 300 }] }] });

      // A resting limit order; then the leader freezes for good (killed): a trade through the limit reaches its core,
      // but the fill is never stored, so never published: nothing was acknowledged.
      const limit = await service.submit(userId, account.id, { clientOrderId: 'c2', symbol: 'FPT', side: 'buy', type: 'limit', qty: 200, limitPrice: 119_000 });
      expect((limit as { order: Order }).order.status).toBe('accepted');
      alive = false;
      const publishedBefore = published.length;
      feed(leader, trade(T0 + 30_000, 118_900, 50_000));
      await sleep(300);
      expect(await repo.fills.all(userId, account.id)).toHaveLength(1);
      expect(published.length).toBe(publishedBefore);
      leader = null;

      // While nobody leads, a third order is accepted by the api replica (stored, pending).
      const pending = await new TradingService(repo, new TradingAnnouncer(api, channel, repo), { ...TRADING_DEFAULTS, commandWaitMs: 300 }).submit(userId, account.id, { clientOrderId: 'c3', symbol: 'FPT', side: 'buy', type: 'market', qty: 100 });
      expect(pending.status).toBe(202);

      // Leader 2 restores from storage and applies the pending command when it starts.
      const next = new TradingRunner({ repo, publisher: () => pub, market: () => engine });
      await next.start();
      leader = next;
      expect((await repo.commands.byClientKey(userId, account.id, 'c3'))?.status).toBe('applied');
      // The feed's catch-up replays what the old leader saw: nothing fills twice.
      for (const o of outputs) next.onMarket(o);
      // New market data after the catch-up.
      feed(next, trade(T0 + 60_000, 118_800, 50_000));
      const after = await until('the new fills', async () => {
        const f = await repo.fills.all(userId, account.id);
        return f.reduce((s, x) => s + x.qty, 0) >= 600 && f;
      });
      await sleep(300);
      const final = await repo.fills.all(userId, account.id);
      expect(final.map((f) => f.id)).toEqual(after.map((f) => f.id));
      expect(new Set(final.map((f) => f.id)).size).toBe(final.length);
      expect(final.reduce((s, f) => s + f.qty, 0)).toBe(600);
      expect(final.filter((f) => f.ts === T0 + 2_000).map((f) => f.qty)).toEqual([300]);
      const snap = await repo.snapshots.get(userId, account.id);
      expect((snap?.portfolio as { positions: { symbol: string; qty: number }[] }).positions).toEqual([expect.objectContaining({ symbol: 'FPT', qty: 600 })]);
      await next.stop();
    } finally {
      await follower.stop();
      await closeClient(api);
    }
  }, 60_000);
});
