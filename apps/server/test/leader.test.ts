/**
 * LeaderLock and fencing, in process: exclusivity, hand-over on release,
 * lease expiry when Redis becomes unreachable, and a stale leader's writes
 * rejected by Redis.
 */
import { RedisBus, RedisStreamPublisher, redisBusKeys, type Fence } from '../src/bus/index.ts';
import { ElectedPublisher, LeaderLock, type LeaderLockOptions, type LostReason } from '../src/leader/index.ts';
import { deletePrefix, redisClient, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.ts';
import { makeQuote, makeTrade } from './ws-test-helpers.ts';
import { waitFor as waitUntil } from '../../../test/helpers/wait.ts';

const TTL = 600;
const RENEW = 150;
const fast = { socketTimeoutMs: 300, maxRetryDelayMs: 50 };

let prefix: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(() => {
  prefix = uniquePrefix('leader');
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
  await deletePrefix(testRedisUrl(), prefix);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = (cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000) => waitUntil(cond, what, { timeoutMs, everyMs: 5 });

interface Tracked {
  lock: LeaderLock;
  events: Array<['elected', Fence] | ['lost', LostReason]>;
}

function lock(id: string, url = testRedisUrl(), extra: Partial<LeaderLockOptions> = {}): Tracked {
  const events: Tracked['events'] = [];
  const l = new LeaderLock({
    redis: { url, ...fast },
    key: `${prefix}leader`,
    id,
    ttlMs: TTL,
    renewMs: RENEW,
    onElected: (f) => events.push(['elected', f]),
    onLost: (r) => events.push(['lost', r]),
    ...extra,
  });
  cleanups.push(() => l.stop());
  return { lock: l, events };
}

describe('LeaderLock', () => {
  it('elects exactly one holder, renews past the ttl, and hands over at once on release', async () => {
    const a = lock('a').lock.start();
    await waitFor(() => a.isLeader, 'a elected');
    const b = lock('b');
    b.lock.start();
    await sleep(TTL * 2); // several ttls: a keeps renewing, b keeps waiting
    expect(a.isLeader).toBe(true);
    expect(b.lock.isLeader).toBe(false);
    expect(b.events).toEqual([]);

    const r = redisClient(testRedisUrl());
    cleanups.push(async () => r.disconnect());
    expect(await r.get(`${prefix}leader`)).toBe(a.currentFence()!.token);
    expect(a.currentFence()!.token.startsWith('a:')).toBe(true);

    await a.stop(); // compare-and-delete: b need not wait for the ttl
    await waitFor(() => b.lock.isLeader, 'b elected', RENEW * 4);
    expect(b.events).toHaveLength(1);
    expect(b.events[0][0]).toBe('elected');
    expect(await r.get(`${prefix}leader`)).toBe(b.lock.currentFence()!.token);
  });

  it('never deletes a lock someone else holds, and reports `taken` when the key was overwritten', async () => {
    const a = lock('a');
    a.lock.start();
    await waitFor(() => a.lock.isLeader, 'a elected');
    const r = redisClient(testRedisUrl());
    cleanups.push(async () => r.disconnect());
    await r.set(`${prefix}leader`, 'intruder:1', 'PX', 10_000);
    await waitFor(() => !a.lock.isLeader, 'a deposed', RENEW * 4);
    expect(a.events.map((e) => e[0] === 'lost' && e[1])).toContain('taken');
    await a.lock.stop();
    expect(await r.get(`${prefix}leader`)).toBe('intruder:1');
  });

  it('a leader cut off from Redis gives up when its lease runs out; the other takes over within ttl + renew', async () => {
    const target = new URL(testRedisUrl());
    const proxy: FaultProxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    cleanups.push(() => proxy.close());
    const a = lock('a', proxy.url('redis'));
    a.lock.start();
    await waitFor(() => a.lock.isLeader, 'a elected');
    const b = lock('b');
    b.lock.start();
    await sleep(RENEW * 2);

    proxy.blackhole(true); // a's renewals vanish: from outside it looks paused or dead
    const cut = Date.now();
    await waitFor(() => b.lock.isLeader, 'b elected', TTL * 4);
    const takeover = Date.now() - cut;
    // a stopped considering itself leader no later than Redis let b in.
    expect(a.lock.isLeader).toBe(false);
    expect(a.events.some((e) => e[0] === 'lost' && e[1] === 'expired')).toBe(true);
    expect(takeover).toBeLessThan(TTL + RENEW + 3_000); // the lease bound plus generous scheduling slack on a loaded machine
    proxy.blackhole(false);
    await sleep(RENEW * 3);
    expect(a.lock.isLeader).toBe(false); // still the standby: b holds the lock
    expect(b.lock.isLeader).toBe(true);
  });

  /** A leader whose lease lapsed while Redis was unreachable (still blackholed on return). */
  async function lapsedLeader() {
    const target = new URL(testRedisUrl());
    const proxy: FaultProxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    cleanups.push(() => proxy.close());
    const standbyFor: string[] = [];
    const a = lock('a', proxy.url('redis'), { onStandby: (h) => standbyFor.push(h) });
    a.lock.start();
    await waitFor(() => a.lock.isLeader, 'a elected');
    const first = a.events.find((e) => e[0] === 'elected')![1] as Fence;
    proxy.blackhole(true);
    await waitFor(() => a.events.some((e) => e[0] === 'lost' && e[1] === 'expired'), 'lease lapsed', TTL * 4);
    const admin = redisClient(testRedisUrl());
    cleanups.push(async () => admin.disconnect());
    return { a, first, proxy, admin, standbyFor };
  }

  it('takes back its own lock when Redis kept a renewal whose reply was lost, instead of standing by for itself', async () => {
    const { a, first, proxy, admin, standbyFor } = await lapsedLeader();
    // As if a renewal had reached Redis and only its reply was lost: the key still holds a's token, for long.
    await admin.set(first.key, first.token, 'PX', 60_000);
    proxy.blackhole(false);
    // Re-elected long before that key would expire, with a fresh token, and never a standby of itself.
    await waitFor(() => a.lock.isLeader, 'a re-elected', 10_000);
    const second = a.events.filter((e) => e[0] === 'elected').at(-1)![1] as Fence;
    expect(second.token).not.toBe(first.token);
    expect(await admin.get(first.key)).toBe(second.token);
    expect(standbyFor).toEqual([]);
  });

  it('does not take over a lock another holder has, even right after losing its own lease', async () => {
    const { a, first, proxy, admin, standbyFor } = await lapsedLeader();
    await admin.set(first.key, 'other:holder', 'PX', 60_000);
    proxy.blackhole(false);
    await waitFor(() => standbyFor.length > 0, 'a stands by', 5_000);
    expect(standbyFor).toEqual(['other:holder']);
    expect(a.lock.isLeader).toBe(false);
    expect(await admin.get(first.key)).toBe('other:holder');
  });

  it('rejects bad timing options', () => {
    expect(() => new LeaderLock({ redis: { url: testRedisUrl() }, key: 'k', id: 'x', ttlMs: 100, renewMs: 100 })).toThrow(RangeError);
  });
});

describe('fencing', () => {
  it("Redis rejects a stale leader's batch; nothing it wrote after losing the lock is visible", async () => {
    const a = lock('a');
    a.lock.start();
    await waitFor(() => a.lock.isLeader, 'a elected');
    const staleFence = a.lock.currentFence()!;
    const fenced: string[] = [];
    // A publisher that keeps believing the old fence: what a paused process
    // would send if it woke up between its lease check and its write.
    const stale = new RedisStreamPublisher({ url: testRedisUrl(), prefix, ...fast, onFenced: (h) => fenced.push(h) });
    cleanups.push(() => stale.close());
    await stale.activate({ currentFence: () => staleFence });
    stale.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    expect(await stale.drained()).toBe(true);

    await a.lock.stop(); // a's lease ends...
    const b = lock('b');
    b.lock.start();
    await waitFor(() => b.lock.isLeader, 'b elected'); // ...and b holds the lock now
    const fresh = new RedisStreamPublisher({ url: testRedisUrl(), prefix, ...fast });
    cleanups.push(() => fresh.close());
    await fresh.activate(b.lock);
    expect(fresh.epoch).toBe(stale.epoch);

    stale.publish('market', 'VNM', 'state', makeQuote('VNM', 666));
    stale.publish('market', 'VNM:trades', 'event', makeTrade('VNM', 666));
    await waitFor(() => fenced.length > 0, 'stale writer fenced');
    expect(fenced[0]).toBe(b.lock.currentFence()!.token);
    expect(stale.status()).toMatchObject({ state: 'standby', fenced: 1 });

    fresh.publish('market', 'VNM', 'state', makeQuote('VNM', 2));
    expect(await fresh.drained()).toBe(true);
    const bus = new RedisBus({ url: testRedisUrl(), prefix, blockMs: 100 }).start();
    cleanups.push(() => bus.close());
    const history = await bus.history('market', 'VNM', 0, fresh.epoch);
    expect(history!.map((m) => m.data)).toEqual([makeQuote('VNM', 1), makeQuote('VNM', 2)]);
    expect(await bus.head('market', 'VNM:trades')).toBeNull();
    // Every entry carries its writer's fencing token.
    const r = redisClient(testRedisUrl());
    cleanups.push(async () => r.disconnect());
    const entries = await r.xrange(redisBusKeys(prefix).stream('market', 'VNM'), '-', '+');
    expect(entries.map(([, f]) => f[f.indexOf('f') + 1])).toEqual([staleFence.token, b.lock.currentFence()!.token]);
  });

  it('ElectedPublisher alone: a lease lost to a Redis outage is regained and the held queue goes out, nothing lost', async () => {
    const target = new URL(testRedisUrl());
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    cleanups.push(() => proxy.close());
    const publisher = new RedisStreamPublisher({ url: proxy.url('redis'), prefix, retryMs: 20, ...fast });
    const changes: Array<boolean | LostReason> = [];
    const ep = new ElectedPublisher({
      publisher,
      lock: { redis: { url: proxy.url('redis'), ...fast }, key: `${prefix}leader`, id: 'solo', ttlMs: TTL, renewMs: RENEW },
      onChange: (leading, reason) => changes.push(leading || reason!),
    });
    cleanups.push(() => publisher.close());
    cleanups.push(() => ep.stop());
    ep.start();
    await waitFor(() => ep.leading, 'leading');
    const epoch = publisher.epoch;
    let n = 0;
    const timer = setInterval(() => {
      n++;
      publisher.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    }, 5);
    cleanups.push(async () => clearInterval(timer));
    await sleep(50);
    proxy.blackhole(true);
    await waitFor(() => changes.includes('expired'), 'lease lost', TTL * 4);
    expect(publisher.state).toBe('suspended');
    await sleep(100);
    proxy.blackhole(false);
    await waitFor(() => ep.leading, 'leading again', 5_000);
    clearInterval(timer);
    expect(await publisher.drained()).toBe(true);

    const bus = new RedisBus({ url: testRedisUrl(), prefix, blockMs: 100 }).start();
    cleanups.push(() => bus.close());
    const trades = await bus.recent('market', 'VNM:trades', 10_000);
    expect(publisher.epoch).toBe(epoch);
    expect(trades.map((m) => m.seq)).toEqual(trades.map((_, i) => i + 1));
    // Every trade produced, including those queued while the lease was lost, in order.
    expect(trades.map((m) => (m.data as { id: string }).id)).toEqual(Array.from({ length: n }, (_, i) => `VNM-${i + 1}`));
    expect(changes.filter((c) => c === true)).toHaveLength(2);
  });

  it('ElectedPublisher: the standby continues the same epoch and seqs when the leader is cut off', async () => {
    const target = new URL(testRedisUrl());
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    cleanups.push(() => proxy.close());
    const make = (id: string, url: string) => {
      const publisher = new RedisStreamPublisher({ url, prefix, retryMs: 20, ...fast });
      const ep = new ElectedPublisher({ publisher, lock: { redis: { url, ...fast }, key: `${prefix}leader`, id, ttlMs: TTL, renewMs: RENEW } });
      cleanups.push(() => publisher.close());
      cleanups.push(() => ep.stop());
      return ep.start();
    };
    const a = make('a', proxy.url('redis'));
    await waitFor(() => a.leading, 'a leads');
    const b = make('b', testRedisUrl());
    // Both compute the same market (hot standby); only the leader's messages reach Redis.
    let n = 0;
    const tick = () => {
      n++;
      for (const ep of [a, b]) {
        ep.publisher.publish('market', 'VNM', 'state', makeQuote('VNM', n));
        ep.publisher.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
      }
    };
    const timer = setInterval(tick, 5);
    cleanups.push(async () => clearInterval(timer));
    await sleep(100);
    proxy.blackhole(true); // a is partitioned away (as good as dead to everyone else)
    await waitFor(() => b.leading, 'b leads', TTL * 4);
    await sleep(100);
    proxy.blackhole(false);
    await sleep(RENEW * 3); // a comes back: it must stay standby and write nothing
    clearInterval(timer);
    expect(await b.publisher.drained()).toBe(true);
    expect(a.leading).toBe(false);
    // a learnt that b leads: its queue from the lapsed lease is dropped, not kept growing.
    expect(a.publisher.status()).toMatchObject({ state: 'standby', buffered: 0 });
    expect(b.publisher.epoch).toBe(a.publisher.epoch);

    const bus = new RedisBus({ url: testRedisUrl(), prefix, blockMs: 100 }).start();
    cleanups.push(() => bus.close());
    const trades = await bus.recent('market', 'VNM:trades', 10_000);
    // One epoch, contiguous seqs from 1, across the change of leader.
    expect(trades.map((m) => m.seq)).toEqual(trades.map((_, i) => i + 1));
    expect(new Set(trades.map((m) => m.epoch))).toEqual(new Set([b.publisher.epoch]));
    // The state on the bus is the leader's newest.
    expect((await bus.latest('market', 'VNM'))!.data).toEqual(makeQuote('VNM', n));
    // No entry written with a's token after b's first one.
    const r = redisClient(testRedisUrl());
    cleanups.push(async () => r.disconnect());
    const writers = (await r.xrange(redisBusKeys(prefix).stream('market', 'VNM:trades'), '-', '+')).map(([, f]) => f[f.indexOf('f') + 1].split(':')[0]);
    const firstB = writers.indexOf('b');
    expect(firstB).toBeGreaterThan(0);
    expect(writers.slice(firstB).every((w) => w === 'b')).toBe(true);
    expect(writers.slice(0, firstB).every((w) => w === 'a')).toBe(true);
  });
});
