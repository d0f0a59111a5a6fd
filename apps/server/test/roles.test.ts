/**
 * The building blocks of the collector and api roles, in process: the
 * takeover guard, the live view (collector writer → Redis → api reader), the
 * alert rule channel, database-outage mapping, the chunked feed, worker
 * restart backoff and the role configuration. Redis is the shared test
 * server with a unique key prefix per test.
 */
import fc from 'fast-check';
import { AppError, type AlertRule, type EngineOutput, type MarketEvent } from '@stock-tracker/protocol';
import { AlertEngine, MarketEngine } from '@stock-tracker/engine';
import { Simulator, type Feed, type FeedStatus } from '@stock-tracker/feeds';
import { RedisStreamPublisher, publishEngineOutput, redisBusKeys, type BusMessage, type StreamPublisher } from '../src/bus/index.ts';
import { createRedisClient, whenReady } from '../src/bus/redis/connection.ts';
import { TakeoverGuard, loadTakeoverBaseline, type TakeoverBaseline } from '../src/roles/takeover-guard.ts';
import { LiveViewWriter } from '../src/market-view/view-writer.ts';
import { RedisMarketView } from '../src/market-view/market-view.ts';
import { viewKeys } from '../src/market-view/keys.ts';
import { AlertRuleFollower, AlertRulePublisher, applyAlertRules, parseAlertRuleChange } from '../src/market-view/alert-rule-sync.ts';
import { isDbUnavailable, outageAwareDb } from '../src/roles/db-outage.ts';
import { ChunkedFeed } from '../src/roles/chunked-feed.ts';
import { restartDelay } from '../src/roles/workers.ts';
import { ConfigError, DEFAULT_MAX_WORKERS, loadConfig } from '../src/config.ts';
import type { Db } from '../src/storage/db.ts';
import { deletePrefix, redisClient, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { freePort } from '../../../test/helpers/private-postgres.ts';
import { waitFor } from '../../../test/helpers/wait.ts';


/** A simulated market: engine outputs of `seconds` of trading (deterministic). */
function simulatedMarket(seconds: number): { engine: MarketEngine; outputs: EngineOutput[] } {
  const dayMs = 600_000;
  const start = Date.UTC(2025, 0, 6, 1, 30); // a trading day's pre-open in Ho Chi Minh City
  const sim = new Simulator({ seed: 3, dayMs, startTs: start });
  const engine = new MarketEngine();
  const outputs: EngineOutput[] = [];
  // Into continuous trading (past the opening auction), then `seconds` of it.
  sim.advanceTo(start + dayMs * 0.3 + seconds * 1000, (ev) => engine.apply(ev, (o) => outputs.push(o)));
  engine.advance(engine.now() + 1, (o) => outputs.push(o));
  return { engine, outputs };
}

class FakePublisher implements StreamPublisher {
  readonly epoch = 'e1';
  readonly sent: Array<{ channel: string; key: string; data: unknown }> = [];
  publish<C extends BusMessage['channel']>(channel: C, key: string, kind: 'state' | 'event', data: BusMessage<C>['data']): BusMessage<C> {
    this.sent.push({ channel, key, data });
    return { channel, key, kind, seq: this.sent.length, epoch: this.epoch, data };
  }
}

const baseline = (states: Record<string, number>, events: Record<string, { ids: string[]; horizon: number }>): TakeoverBaseline => ({
  states: new Map(Object.entries(states)),
  events: new Map(Object.entries(events).map(([k, v]) => [k, { ids: new Set(v.ids), horizon: v.horizon }])),
});
const quote = (symbol: string, ts: number, last: number) => ({ symbol, ts, last }) as never;
const trade = (symbol: string, id: string, ts: number) => ({ symbol, id, ts }) as never;

describe('TakeoverGuard', () => {
  it('drops states older than what Redis holds and retires the filter once a stream catches up', () => {
    const inner = new FakePublisher();
    const g = new TakeoverGuard(inner, baseline({ 'market\u0000VNM': 1_000 }, {}));
    g.publish('market', 'VNM', 'state', quote('VNM', 900, 1));
    g.publish('market', 'VNM', 'state', quote('VNM', 999, 2));
    g.publish('market', 'VNM', 'state', quote('VNM', 1_000, 3)); // same instant: published (an update at the same ms is possible)
    g.publish('market', 'VNM', 'state', quote('VNM', 950, 4)); // filter retired: the engine's later states pass whatever their ts
    g.publish('market', 'FPT', 'state', quote('FPT', 1, 5)); // unknown to Redis: published
    expect(inner.sent.map((m) => (m.data as { last: number }).last)).toEqual([3, 4, 5]);
    expect(g.stats()).toMatchObject({ skippedStates: 2, activeFilters: 0 });
  });

  it('drops events already in the history or older than its newest entry, then gets out of the way', () => {
    const inner = new FakePublisher();
    const g = new TakeoverGuard(inner, baseline({}, { 'market\u0000VNM:trades': { ids: ['t1', 't2', 't3'], horizon: 300 } }));
    for (const [id, ts] of [['t0', 50], ['t1', 100], ['t2', 200], ['t3', 300], ['t3b', 300], ['t4', 400], ['late', 10]] as const) g.publish('market', 'VNM:trades', 'event', trade('VNM', id, ts));
    // t3b shares the horizon's instant but was never published; `late` comes after the filter retired at t4.
    expect(inner.sent.map((m) => (m.data as { id: string }).id)).toEqual(['t3b', 't4', 'late']);
    expect(g.stats().skippedEvents).toBe(4);
  });

  it('hold..release publishes only the last state of each stream, events pass at once', () => {
    const inner = new FakePublisher();
    const g = new TakeoverGuard(inner);
    g.hold();
    for (let i = 1; i <= 5; i++) {
      g.publish('market', 'VNM', 'state', quote('VNM', i, i));
      g.publish('market', 'FPT', 'state', quote('FPT', i, 10 + i));
      g.publish('market', 'VNM:trades', 'event', trade('VNM', `t${i}`, i));
    }
    expect(inner.sent.map((m) => m.key)).toEqual(Array(5).fill('VNM:trades'));
    expect(g.stats().held).toBe(2);
    g.release();
    expect(inner.sent.slice(5).map((m) => [m.key, (m.data as { last: number }).last])).toEqual([
      ['VNM', 5],
      ['FPT', 15],
    ]);
  });
});

describe('with Redis', () => {
  let prefix: string;
  const url = () => testRedisUrl();
  const cleanups: Array<() => unknown> = [];
  beforeEach((ctx) => {
    prefix = uniquePrefix(ctx.task.name.slice(0, 16));
  });
  afterEach(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
    await deletePrefix(url(), prefix);
  });
  const client = async () => {
    const c = createRedisClient({ url: url() }, 'test');
    cleanups.push(() => c.disconnect());
    expect(await whenReady(c, 5_000)).toBe(true);
    return c;
  };
  async function publishAll(outputs: EngineOutput[], opts: { historyEvents?: number } = {}): Promise<RedisStreamPublisher> {
    const p = new RedisStreamPublisher({ url: url(), prefix, historyEvents: opts.historyEvents });
    cleanups.push(() => p.close());
    await p.activate();
    for (const o of outputs) publishEngineOutput(p, o);
    expect(await p.drained(10_000)).toBe(true);
    return p;
  }

  it('a takeover baseline read from Redis makes a replay of the same outputs publish nothing', async () => {
    const { outputs } = simulatedMarket(20);
    await publishAll(outputs, { historyEvents: 100_000 });
    const b = await loadTakeoverBaseline(await client(), prefix, { historyEvents: 100_000 });
    expect(b.states.size).toBeGreaterThan(50);
    expect(b.events.size).toBeGreaterThan(10);
    const floors = new Map(b.states);
    const inner = new FakePublisher();
    const g = new TakeoverGuard(inner, b);
    // The new leader's catch-up: the very same outputs again.
    for (const o of outputs) publishEngineOutput(g, o);
    const states = inner.sent.filter((m) => !m.key.endsWith(':trades'));
    const trades = inner.sent.filter((m) => m.key.endsWith(':trades'));
    expect(trades).toEqual([]);
    // States at the newest instant Redis holds may go out again (equal ts); none older does.
    expect(states.length).toBeLessThan(outputs.length / 10);
    for (const s of states) expect((s.data as { ts: number }).ts).toBe(floors.get(`${s.channel}\u0000${s.key}`));
  });

  it('the bus publisher starts a new epoch when Redis comes back holding less than it acknowledged', async () => {
    const reasons: string[] = [];
    const p = new RedisStreamPublisher({ url: url(), prefix, onEpoch: (_e, reason) => reasons.push(reason) });
    cleanups.push(() => p.close());
    await p.activate();
    for (let i = 1; i <= 5; i++) p.publish('market', 'VNM', 'state', quote('VNM', i, i));
    expect(await p.drained()).toBe(true);
    const epoch = p.epoch;
    // A lease lapse and back, Redis untouched: the epoch goes on.
    p.deactivate('hold');
    await p.activate();
    expect(p.epoch).toBe(epoch);
    // Redis restored from an older point (an AOF missing its last second): seq 4 and 5 are gone.
    const r = await client();
    await r.hset(redisBusKeys(prefix).head('market'), 'VNM', `3|s|${epoch}`);
    p.deactivate('hold');
    await p.activate();
    expect(reasons).toEqual(['first', 'redis_lost_data']);
    expect(p.epoch).not.toBe(epoch);
  });

  it('stored horizons cover event streams Redis no longer has', async () => {
    const b = await loadTakeoverBaseline(await client(), prefix, { historyEvents: 10, storedHorizons: async () => new Map([['market\u0000VNM:trades', 500]]) });
    const inner = new FakePublisher();
    const g = new TakeoverGuard(inner, b);
    g.publish('market', 'VNM:trades', 'event', trade('VNM', 'a', 499));
    g.publish('market', 'VNM:trades', 'event', trade('VNM', 'b', 501));
    expect(inner.sent.map((m) => (m.data as { id: string }).id)).toEqual(['b']);
  });

  it('the live view: what the collector writes, an api replica reads — fenced by the leader lock', async () => {
    const { engine, outputs } = simulatedMarket(30);
    await publishAll(outputs);
    const redis = await client();
    const keys = viewKeys(prefix);
    await redis.set(keys.leaderLock, 'me:1');
    let token = 'me:1';
    const writer = new LiveViewWriter({
      redis,
      prefix,
      source: engine,
      fence: { currentFence: () => ({ key: keys.leaderLock, token }) },
      status: () => ({ leader: 'me', feed: { name: 'simulator', connected: true, lastEventTs: engine.now() } }),
    });
    for (const o of outputs) writer.note(o);
    expect(await writer.write()).toBe('written');
    const view = new RedisMarketView({ redis: await client(), prefix });

    const symbols = engine.references().map((r) => r.symbol);
    expect((await view.references()).map((r) => r.symbol)).toEqual([...symbols].sort());
    const traded = symbols.filter((s) => engine.summary(s)?.day.trades);
    expect(traded.length).toBeGreaterThan(5);
    for (const s of traded.slice(0, 5)) {
      expect(await view.reference(s)).toEqual(engine.reference(s));
      expect(await view.summary(s)).toEqual(engine.summary(s));
      expect(await view.bars(s)).toEqual(engine.bars(s).slice(-5));
      expect(await view.quote(s)).toEqual(engine.quote(s));
      expect(await view.foreign(s)).toEqual(engine.foreign(s));
    }
    expect(await view.quotes()).toEqual([...engine.quotes()].sort((a, b) => (a.symbol < b.symbol ? -1 : 1)));
    expect((await view.indices()).map((i) => i.id)).toEqual(engine.indices().map((i) => i.id));
    const top = await view.foreignTop(3);
    expect(top.buyers.map((f) => f.symbol)).toEqual(engine.foreignTop(3).buyers.map((f) => f.symbol));
    expect(top.sellers.map((f) => f.symbol)).toEqual(engine.foreignTop(3).sellers.map((f) => f.symbol));
    expect(await view.now()).toBe(engine.now());
    expect(await view.feedInfo()).toEqual({ name: 'simulator', connected: true, lastEventTs: engine.now() });
    expect(await view.reference('NOPE')).toBeUndefined();
    expect(await view.bars('NOPE')).toEqual([]);

    // Another collector took the lock: this writer's writes are refused, and nothing is overwritten.
    await redis.set(keys.leaderLock, 'other:2');
    await redis.hset(keys.summary, traded[0]!, '{"marker":true}');
    writer.note({ type: 'trade', trade: { symbol: traded[0]! } as never });
    expect(await writer.write()).toBe('fenced');
    expect(await redis.hget(keys.summary, traded[0]!)).toBe('{"marker":true}');
    token = 'other:2';
    // What the refused write carried is still due: it goes out with the next write that may.
    expect(await writer.write()).toBe('written');
    expect(await view.summary(traded[0]!)).toEqual(engine.summary(traded[0]!));
  });

  it('a malformed entry is counted and skipped; an unreachable Redis answers 503, never 500', async () => {
    const redis = await client();
    await redis.hset(viewKeys(prefix).refs, 'BAD', '{not json', 'OK', JSON.stringify({ symbol: 'OK' }));
    const view = new RedisMarketView({ redis, prefix });
    expect((await view.references()).map((r) => r.symbol)).toEqual(['OK']);
    expect(view.malformed).toBe(1);

    const dead = createRedisClient({ url: `redis://127.0.0.1:${await freePort()}`, maxRetryDelayMs: 100 }, 'dead');
    cleanups.push(() => dead.disconnect());
    const down = new RedisMarketView({ redis: dead, prefix, connectWaitMs: 100 });
    const err = await down.quotes().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
  });

  it('alert rule changes travel from an api replica to the collector; a reload covers lost ones', async () => {
    const channel = viewKeys(prefix).alertRules;
    const engine = new AlertEngine();
    let stored: AlertRule[] = [];
    const follower = new AlertRuleFollower({ redis: { url: url() }, channel, target: () => engine, loadAll: async () => stored, reloadMs: 60_000 });
    cleanups.push(() => follower.stop());
    follower.start();
    const rule = (id: string, threshold: number): AlertRule => ({ id, userId: 'u1', symbol: 'VNM', kind: 'price_above', threshold, cooldownMs: 0, enabled: true, createdAt: 1 });
    const announcer = new AlertRulePublisher(await client(), channel);
    // The subscription is up once the first reload ran.
    await waitFor(() => follower.counts.reloads > 0, 'subscribed');
    announcer.upsert(rule('r1', 10));
    await waitFor(() => engine.get('r1')?.threshold === 10, 'upsert applied');
    announcer.upsert(rule('r1', 20));
    await waitFor(() => engine.get('r1')?.threshold === 20, 'update applied');
    const raw = redisClient(url());
    await raw.publish(channel, '{"op":"upsert","rule":{"id":"x"}}');
    raw.disconnect();
    await waitFor(() => follower.counts.malformed === 1, 'malformed counted');
    announcer.remove('r1');
    await waitFor(() => engine.get('r1') === undefined, 'remove applied');
    // Storage is the truth: a reload brings the engine to exactly the stored rules.
    stored = [rule('r2', 5), rule('r3', 6)];
    await follower.reload();
    expect(engine.list().map((r) => r.id).sort()).toEqual(['r2', 'r3']);
  });
});

describe('alert rule sync helpers', () => {
  const rule = (id: string, threshold: number, note?: string): AlertRule => ({ id, userId: 'u', symbol: 'FPT', kind: 'price_below', threshold, cooldownMs: 0, enabled: true, createdAt: 1, ...(note ? { note } : {}) });

  it('applyAlertRules upserts what changed, removes what is gone, leaves the rest alone', () => {
    const engine = new AlertEngine([rule('a', 1), rule('b', 2), rule('c', 3)]);
    const upserts: string[] = [];
    const target = { upsert: (r: AlertRule) => (upserts.push(r.id), engine.upsert(r)), remove: (id: string) => engine.remove(id), list: () => engine.list() };
    const r = applyAlertRules(target, [rule('a', 1), rule('b', 20), rule('d', 4), { ...rule('bad', 1), kind: 'nonsense' as never }]);
    expect(r).toEqual({ upserted: 2, removed: 1, invalid: 1 });
    expect(upserts.sort()).toEqual(['b', 'bad', 'd']);
    expect(engine.list().map((x) => x.id).sort()).toEqual(['a', 'b', 'd']);
  });

  it('parseAlertRuleChange accepts only well-formed changes and never throws', () => {
    expect(parseAlertRuleChange(JSON.stringify({ op: 'upsert', rule: rule('a', 1) }))).toEqual({ op: 'upsert', rule: rule('a', 1) });
    expect(parseAlertRuleChange('{"op":"remove","id":"a"}')).toEqual({ op: 'remove', id: 'a' });
    for (const bad of ['', 'null', '{"op":"remove"}', '{"op":"remove","id":""}', '{"op":"drop","id":"a"}', '{"op":"upsert","rule":{"id":"a"}}']) expect(parseAlertRuleChange(bad)).toBeNull();
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (raw) => {
        const r = parseAlertRuleChange(raw);
        return r === null || r.op === 'upsert' || r.op === 'remove';
      }),
    );
  });
});

describe('database outages on request paths', () => {
  const failing = (err: unknown): Db => ({
    kind: 'postgres',
    query: async () => Promise.reject(err),
    exec: async () => Promise.reject(err),
    transaction: async () => Promise.reject(err),
    close: async () => {},
    ping: async () => false,
  });

  it('connection failures become 503 SERVICE_UNAVAILABLE; data errors pass through', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    for (const err of [refused, new AggregateError([refused]), Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), new Error('Connection terminated unexpectedly'), Object.assign(new Error('x'), { code: '08006' })]) {
      expect(isDbUnavailable(err)).toBe(true);
      const e = await outageAwareDb(failing(err)).query('SELECT 1').catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
      expect((e as AppError).headers?.['Retry-After']).toBeDefined();
    }
    const unique = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(isDbUnavailable(unique)).toBe(false);
    expect(await outageAwareDb(failing(unique)).exec('x').catch((x: unknown) => x)).toBe(unique);
    expect(isDbUnavailable(new AppError('NOT_FOUND'))).toBe(false);
  });
});

describe('ChunkedFeed', () => {
  class BurstFeed implements Feed {
    readonly name = 'burst';
    sink: ((ev: MarketEvent) => void) | null = null;
    constructor(private readonly n: number) {}
    async start(sink: (ev: MarketEvent) => void): Promise<void> {
      this.sink = sink;
      for (let i = 0; i < this.n; i++) sink({ type: 'status', ts: i } as MarketEvent);
    }
    async stop(): Promise<void> {}
    status(): FeedStatus {
      return { name: this.name, connected: true, lastEventTs: null, events: this.n, malformed: 0, errors: {} };
    }
  }

  it('delivers a burst in order, in slices that let the event loop run in between', async () => {
    const feed = new ChunkedFeed(new BurstFeed(10_000), 1_000);
    const got: number[] = [];
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    await feed.start((ev) => got.push(ev.ts));
    expect(got.length).toBeLessThan(10_000); // not delivered inside start()
    await feed.idle();
    clearInterval(ticker);
    expect(got).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(turns).toBeGreaterThan(0);
  });

  it('stop() delivers what is still queued; a throwing consumer is counted, not fatal', async () => {
    const feed = new ChunkedFeed(new BurstFeed(5_000), 100);
    const got: number[] = [];
    await feed.start((ev) => {
      if (ev.ts === 7) throw new Error('consumer bug');
      got.push(ev.ts);
    });
    await feed.stop();
    expect(got.length).toBe(4_999);
    expect(feed.sinkErrors).toBe(1);
    expect(feed.backlog).toBe(0);
  });
});

describe('role settings', () => {
  it('worker restart backoff doubles from the base and is capped', () => {
    expect([1, 2, 3, 4, 5, 10].map((n) => restartDelay(n, 250, 3_000))).toEqual([250, 500, 1_000, 2_000, 3_000, 3_000]);
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000 }), (n) => restartDelay(n, 100, 10_000) <= 10_000 && restartDelay(n, 100, 10_000) >= 100));
  });

  it('collector and api need Redis and PostgreSQL; the scale knobs are validated', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).problems.map((p) => p.split(':')[0]);
      }
    };
    expect(problems({ ROLE: 'api' }).sort()).toEqual(['DATABASE_URL', 'REDIS_URL']);
    expect(problems({ ROLE: 'collector', REDIS_URL: 'redis://r:6379' })).toEqual(['DATABASE_URL']);
    expect(problems({ ROLE: 'all' })).toEqual([]);
    expect(problems({ LEADER_TTL_MS: '3000', LEADER_RENEW_MS: '2000' })).toEqual(['LEADER_RENEW_MS']);
    expect(problems({ REDIS_PREFIX: 'has space' })).toEqual(['REDIS_PREFIX']);
    const c = loadConfig({ ROLE: 'api', REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://d/x', LEADER_TTL_MS: '3000', BUS_HISTORY_STATE: '5', SIM_INTENSITY: '50' });
    expect(c.scale).toMatchObject({ redisPrefix: 'st:', leaderTtlMs: 3_000, leaderRenewMs: 1_000, busHistoryState: 5 });
    expect(c.feed.simIntensity).toBe(50);
    expect(c.webConcurrency).toBeGreaterThanOrEqual(1);
    expect(c.webConcurrency).toBeLessThanOrEqual(DEFAULT_MAX_WORKERS);
    expect(loadConfig({ WEB_CONCURRENCY: '1' }).webConcurrency).toBe(1);
  });
});
