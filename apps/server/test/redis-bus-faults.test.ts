/**
 * Redis Streams bus under faults: a private redis-server killed and restarted
 * empty, a TCP proxy that adds latency or blackholes the connection, a reader
 * overtaken by trimming, a publisher whose queue overflows.
 */
import { RedisBus, RedisStreamPublisher, redisBusKeys, type BusMessage, type EpochReason, type RedisBusOptions, type RedisStreamPublisherOptions } from '../src/bus/index.ts';
import { deletePrefix, startPrivateRedis, testRedisUrl, uniquePrefix, type PrivateRedis } from '../../../test/helpers/redis.ts';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.ts';
import { makeQuote, makeTrade } from './ws-test-helpers.ts';
import { waitFor as waitUntil } from '../../../test/helpers/wait.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = (cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 8_000) => waitUntil(cond, what, timeoutMs);

// Short timeouts so outages are noticed in test time.
const fast = { socketTimeoutMs: 600, maxRetryDelayMs: 100 };

function publisher(url: string, prefix: string, opts: Partial<RedisStreamPublisherOptions> = {}): RedisStreamPublisher {
  const p = new RedisStreamPublisher({ url, prefix, retryMs: 50, ...fast, ...opts });
  cleanups.push(() => p.close());
  return p;
}

function bus(url: string, prefix: string, opts: Partial<RedisBusOptions> = {}): RedisBus {
  const b = new RedisBus({ url, prefix, blockMs: 200, ...fast, ...opts }).start();
  cleanups.push(() => b.close());
  return b;
}

function collect(b: RedisBus): BusMessage[] {
  const got: BusMessage[] = [];
  b.subscribe((m) => got.push(m));
  return got;
}

/** Asserts every stream's delivered seqs are contiguous within each epoch (a new epoch starts at 1). */
function assertNoGaps(msgs: readonly BusMessage[]): void {
  const last = new Map<string, { seq: number; epoch: string }>();
  for (const m of msgs) {
    const id = `${m.channel}/${m.key}`;
    const p = last.get(id);
    if (p && p.epoch === m.epoch && m.seq !== p.seq + 1) throw new Error(`gap on ${id}: ${p.seq} -> ${m.seq}`);
    if (p && p.epoch !== m.epoch && m.seq !== 1) throw new Error(`new epoch on ${id} starts at ${m.seq}`);
    last.set(id, { seq: m.seq, epoch: m.epoch });
  }
}

describe('Redis restart without persistence', () => {
  let redis: PrivateRedis;
  beforeEach(async () => {
    redis = await startPrivateRedis();
    cleanups.push(() => redis.kill());
  });

  it('publisher starts a new epoch, readers go not-ready then ready, old positions get null history', async () => {
    const prefix = 'st:';
    const epochs: Array<[string, EpochReason]> = [];
    const pub = publisher(redis.url, prefix, { onEpoch: (e, r) => epochs.push([e, r]) });
    await pub.activate();
    const b = bus(redis.url, prefix);
    expect(await b.waitReady()).toBe(true);
    const got = collect(b);
    for (let n = 1; n <= 10; n++) {
      pub.publish('market', 'VNM', 'state', makeQuote('VNM', n));
      pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    }
    pub.publish('market', 'FPT', 'state', makeQuote('FPT', 1)); // never updated again: must still have a snapshot afterwards
    await waitFor(() => got.length === 21, 'first epoch delivered');
    const oldEpoch = pub.epoch;

    await redis.kill();
    // Readiness can drop (failed read) a moment before the socket close is seen: wait for both.
    await waitFor(() => !b.ready() && !b.status().connected, 'reader not ready and disconnected');
    // Published while Redis is down: queued, in order.
    for (let n = 11; n <= 15; n++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    expect(pub.status().buffered).toBeGreaterThanOrEqual(5);
    expect(b.status()).toMatchObject({ ready: false, connected: false });
    await expect(b.latest('market', 'VNM')).rejects.toThrow(); // fails fast, no hang

    await redis.start(); // empty
    await waitFor(() => b.ready(), 'reader ready again');
    await waitFor(() => pub.epoch !== oldEpoch && pub.status().buffered === 0, 'new epoch flushed');
    expect(epochs.map(([, r]) => r)).toEqual(['first', 'redis_lost_data']);
    expect(await b.currentEpoch()).toBe(pub.epoch);

    // Resume positions from the old epoch are unusable: the gateway answers reset + snapshot.
    expect(await b.history('market', 'VNM:trades', 5, oldEpoch)).toBeNull();
    expect(await b.head('market', 'VNM:trades')).toEqual({ seq: 5, epoch: pub.epoch });
    // The queued events went out under the new epoch, in order, and states were restored from the publisher's cache.
    expect((await b.recent('market', 'VNM:trades', 10)).map((m) => m.data)).toEqual([11, 12, 13, 14, 15].map((n) => makeTrade('VNM', n)));
    expect((await b.latest('market', 'FPT'))!).toMatchObject({ seq: 1, epoch: pub.epoch });
    expect((await b.latest('market', 'VNM'))!.data).toEqual(makeQuote('VNM', 10));

    await waitFor(() => got.some((m) => m.epoch === pub.epoch && m.key === 'FPT'), 'new epoch live');
    const fresh = got.filter((m) => m.epoch === pub.epoch);
    expect(fresh.filter((m) => m.key === 'VNM:trades').map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    assertNoGaps(got);
  });
});

describe('through a fault proxy', () => {
  let proxy: FaultProxy;
  let prefix: string;
  beforeEach(async () => {
    const target = new URL(testRedisUrl());
    proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    prefix = uniquePrefix('faults');
    cleanups.push(() => proxy.close());
    cleanups.push(() => deletePrefix(testRedisUrl(), prefix));
  });

  it('reader survives latency and a blackhole, then continues without a gap', async () => {
    const pub = publisher(testRedisUrl(), prefix);
    await pub.activate();
    const b = bus(proxy.url('redis'), prefix);
    expect(await b.waitReady()).toBe(true);
    const got = collect(b);
    let n = 0;
    const publishRound = () => {
      n++;
      pub.publish('market', 'VNM', 'state', makeQuote('VNM', n));
      pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    };
    const ticker = setInterval(publishRound, 5);
    cleanups.push(async () => clearInterval(ticker));

    proxy.setLatency(50);
    await waitFor(() => got.length > 20, 'delivery with latency');
    proxy.setLatency(0);

    proxy.blackhole(true);
    await waitFor(() => !b.ready(), 'not ready while blackholed');
    const during = n;
    await sleep(100);
    proxy.blackhole(false);
    await waitFor(() => b.ready(), 'ready after the blackhole');
    const target = n;
    await waitFor(() => got.filter((m) => m.key === 'VNM:trades').at(-1)!.seq >= target, 'caught up');
    clearInterval(ticker);

    expect(during).toBeGreaterThan(0);
    expect(b.status().reconnects).toBeGreaterThanOrEqual(1);
    assertNoGaps(got);
    // Every trade from the first delivered one on arrived, across the outage.
    const trades = got.filter((m) => m.key === 'VNM:trades').map((m) => m.seq);
    expect(trades).toEqual(Array.from({ length: trades.length }, (_, i) => trades[0] + i));
  });

  it('a reader overtaken by trimming catches up from history, including quiet streams', async () => {
    const pub = publisher(testRedisUrl(), prefix, { liveMaxLen: 20, historyEvents: 1_000, historyState: 1_000, trim: 'exact' });
    await pub.activate();
    const b = bus(proxy.url('redis'), prefix);
    expect(await b.waitReady()).toBe(true);
    const got = collect(b);
    pub.publish('market', 'QUIET', 'state', makeQuote('QUIET', 1));
    for (let n = 1; n <= 3; n++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    await waitFor(() => got.length === 4, 'initial messages');

    proxy.blackhole(true);
    await waitFor(() => !b.ready(), 'not ready');
    pub.publish('market', 'QUIET', 'state', makeQuote('QUIET', 2)); // its only update during the outage
    for (let n = 4; n <= 200; n++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    expect(await pub.drained()).toBe(true);
    proxy.blackhole(false);

    await waitFor(() => got.filter((m) => m.key === 'VNM:trades').length === 200 && got.some((m) => m.key === 'QUIET' && m.seq === 2), 'caught up');
    assertNoGaps(got);
    expect(got.filter((m) => m.key === 'VNM:trades').map((m) => m.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(got.find((m) => m.key === 'QUIET' && m.seq === 2)!.data).toEqual(makeQuote('QUIET', 2));
  });

  it('publisher queues while Redis is unreachable and flushes in order when it returns', async () => {
    const pub = publisher(proxy.url('redis'), prefix);
    await pub.activate();
    const b = bus(testRedisUrl(), prefix);
    expect(await b.waitReady()).toBe(true);
    const got = collect(b);
    const epoch = pub.epoch;
    proxy.blackhole(true);
    for (let n = 1; n <= 50; n++) pub.publish('market', 'HPG:trades', 'event', makeTrade('HPG', n));
    await sleep(300);
    expect(got).toHaveLength(0);
    proxy.blackhole(false);
    await waitFor(() => got.length === 50, 'flushed after the outage');
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(got.every((m) => m.epoch === epoch)).toBe(true);
    expect(pub.status()).toMatchObject({ epochsStarted: 1, dropped: 0, overflows: 0 });
  });

  it('publisher past its queue bound starts a new epoch instead of leaving a silent gap', async () => {
    const reasons: EpochReason[] = [];
    const pub = publisher(proxy.url('redis'), prefix, { maxBuffered: 20, onEpoch: (_e, r) => reasons.push(r) });
    await pub.activate();
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', 1));
    expect(await pub.drained()).toBe(true);
    const oldEpoch = pub.epoch;
    const b = bus(testRedisUrl(), prefix);
    expect(await b.waitReady()).toBe(true);

    proxy.blackhole(true);
    await sleep(20);
    for (let n = 2; n <= 30; n++) {
      pub.publish('market', 'VNM', 'state', makeQuote('VNM', n));
      pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    }
    expect(pub.status().overflows).toBeGreaterThanOrEqual(1);
    proxy.blackhole(false);
    await waitFor(() => pub.epoch !== oldEpoch && pub.status().buffered === 0, 'new epoch flushed');
    expect(reasons).toEqual(['first', 'overflow']);
    // Anyone resuming from the old epoch is told to reset; the state is complete again.
    expect(await b.history('market', 'VNM:trades', 1, oldEpoch)).toBeNull();
    expect((await b.head('market', 'VNM'))!.epoch).toBe(pub.epoch);
    expect((await b.latest('market', 'VNM'))!.data).toEqual(makeQuote('VNM', 30));
    const trades = await b.recent('market', 'VNM:trades', 100);
    expect(trades.map((m) => m.seq)).toEqual(Array.from({ length: trades.length }, (_, i) => i + 1));
    expect(trades.at(-1)!.data).toEqual(makeTrade('VNM', 30));
    expect(await b.currentEpoch()).toBe(pub.epoch);
    expect(redisBusKeys(prefix).epoch).toBe(`${prefix}epoch`);
  });
});
