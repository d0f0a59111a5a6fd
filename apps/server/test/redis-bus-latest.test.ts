/**
 * RedisBus.latest batching: the snapshot reads of one event-loop turn (a
 * subscribe to every symbol, a reconnect storm) become one HMGET per channel,
 * and every caller asking for a key gets the same parsed message (so the
 * gateway encodes its snapshot frame once). Watched with MONITOR on the real
 * test Redis, filtered by this test's key prefix.
 */
import type { Redis } from 'ioredis';
import { RedisBus, RedisStreamPublisher, redisBusKeys } from '../src/bus/index.ts';
import { deletePrefix, redisClient, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { makeQuote } from './ws-test-helpers.ts';

const url = testRedisUrl();
let prefix: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach((ctx) => {
  prefix = uniquePrefix(ctx.task.name.slice(0, 16));
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
  await deletePrefix(url, prefix);
});

async function setup(symbols: string[]) {
  const pub = new RedisStreamPublisher({ url, prefix });
  cleanups.push(() => pub.close());
  await pub.activate();
  for (const s of symbols) for (let n = 1; n <= 3; n++) pub.publish('market', s, 'state', makeQuote(s, n));
  expect(await pub.drained()).toBe(true);
  const bus = new RedisBus({ url, prefix, blockMs: 200 }).start();
  cleanups.push(() => bus.close());
  expect(await bus.waitReady(5_000)).toBe(true);
  return { pub, bus };
}

/** Commands touching the `latest` hash of the market channel, as Redis saw them. */
async function watchLatestReads(): Promise<{ commands: string[][]; stop(): Promise<void> }> {
  const admin: Redis = redisClient(url);
  const monitor = await admin.monitor();
  const latestKey = redisBusKeys(prefix).latest('market');
  const commands: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[1] === latestKey) commands.push(args);
  });
  return {
    commands,
    async stop() {
      monitor.disconnect();
      admin.disconnect();
    },
  };
}

describe('RedisBus.latest batching', () => {
  it('answers one turn of reads for many keys and callers with one HMGET, sharing each parsed message', async () => {
    const symbols = Array.from({ length: 60 }, (_, i) => `B${String(i).padStart(2, '0')}`);
    const { pub, bus } = await setup(symbols);
    const watch = await watchLatestReads();
    cleanups.push(() => watch.stop());
    // Two "connections" snapshotting every symbol in the same turn, plus one unknown key.
    const [a, b, none] = await Promise.all([
      Promise.all(symbols.map((s) => bus.latest('market', s))),
      Promise.all(symbols.map((s) => bus.latest('market', s))),
      bus.latest('market', 'NOPE'),
    ]);
    for (const [i, s] of symbols.entries()) {
      expect(a[i]).toMatchObject({ channel: 'market', key: s, kind: 'state', seq: 3, epoch: pub.epoch });
      expect(a[i]!.data).toEqual(makeQuote(s, 3));
      expect(b[i]).toBe(a[i]); // the same object: one parse, one frame
    }
    expect(none).toBeNull();
    // MONITOR lines arrive asynchronously: wait for the read to show up, then for stragglers.
    for (let t = 0; t < 100 && watch.commands.length === 0; t++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    expect(watch.commands.map((c) => c[0]!.toLowerCase())).toEqual(['hmget']);
    expect(new Set(watch.commands[0]!.slice(2))).toEqual(new Set([...symbols, 'NOPE']));
  });

  it('reads again in a later turn (no stale cache) and rejects every waiter when Redis is unreachable', async () => {
    const { pub, bus } = await setup(['AAA']);
    expect((await bus.latest('market', 'AAA'))!.seq).toBe(3);
    pub.publish('market', 'AAA', 'state', makeQuote('AAA', 4));
    expect(await pub.drained()).toBe(true);
    expect((await bus.latest('market', 'AAA'))!.seq).toBe(4);

    const down = new RedisBus({ url: 'redis://127.0.0.1:1', prefix, connectWaitMs: 100 });
    cleanups.push(() => down.close());
    const results = await Promise.allSettled([down.latest('market', 'AAA'), down.latest('market', 'AAA'), down.latest('market', 'BBB')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/redis bus unavailable/);
  });
});
