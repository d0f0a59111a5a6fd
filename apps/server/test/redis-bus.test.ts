/**
 * Redis Streams bus against the shared test Redis (unique key prefix per test).
 */
import { RedisBus, RedisStreamPublisher, redisBusKeys, type BusMessage, type RedisBusOptions, type RedisStreamPublisherOptions } from '../src/bus/index.ts';
import { deletePrefix, redisClient, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { makeQuote, makeTrade } from './ws-test-helpers.ts';
import { waitFor } from '../../../test/helpers/wait.ts';

let prefix: string;
let url: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeEach((ctx) => {
  url = testRedisUrl();
  prefix = uniquePrefix(ctx.task.name.slice(0, 20));
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
  await deletePrefix(url, prefix);
});

function publisher(opts: Partial<RedisStreamPublisherOptions> = {}): RedisStreamPublisher {
  const p = new RedisStreamPublisher({ url, prefix, ...opts });
  cleanups.push(() => p.close());
  return p;
}

async function bus(opts: Partial<RedisBusOptions> = {}): Promise<RedisBus> {
  const b = new RedisBus({ url, prefix, blockMs: 200, ...opts }).start();
  cleanups.push(() => b.close());
  expect(await b.waitReady(5_000)).toBe(true);
  return b;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collect(b: RedisBus): BusMessage[] {
  const got: BusMessage[] = [];
  b.subscribe((m) => got.push(m));
  return got;
}

/** Per stream: the seqs in delivery order. */
function seqsByStream(msgs: readonly BusMessage[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of msgs) {
    const id = `${m.channel}/${m.key}`;
    if (!out.has(id)) out.set(id, []);
    out.get(id)!.push(m.seq);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('RedisStreamPublisher + RedisBus', () => {
  it('delivers every stream in order with contiguous seqs, identically to two readers', async () => {
    const pub = publisher({ batchSize: 64 });
    await pub.activate();
    const [a, b] = await Promise.all([bus(), bus()]);
    const gotA = collect(a);
    const gotB = collect(b);
    const symbols = Array.from({ length: 40 }, (_, i) => `S${String(i).padStart(2, '0')}`);
    const rounds = 25;
    const sent: BusMessage[] = [];
    for (let n = 1; n <= rounds; n++) {
      for (const s of symbols) {
        sent.push(pub.publish('market', s, 'state', makeQuote(s, n)));
        sent.push(pub.publish('market', `${s}:trades`, 'event', makeTrade(s, n)));
      }
      if (n % 5 === 0) await sleep(1); // let batches of different sizes go out
    }
    sent.push(pub.publish('index', 'VNINDEX', 'state', { id: 'VNINDEX', value: 1250 } as never));
    await waitFor(() => gotA.length >= sent.length && gotB.length >= sent.length, 'all messages on both readers');

    const byStream = seqsByStream(gotA);
    expect(byStream.size).toBe(symbols.length * 2 + 1);
    for (const s of symbols) {
      expect(byStream.get(`market/${s}`)).toEqual(range(1, rounds));
      expect(byStream.get(`market/${s}:trades`)).toEqual(range(1, rounds));
    }
    const view = (ms: BusMessage[]) => ms.map((m) => `${m.channel}/${m.key}/${m.seq}/${m.epoch}/${m.dataJson}`);
    expect(view(gotB)).toEqual(view(gotA));
    // What arrives is what was published (data round-trips through Redis, epoch is the publisher's).
    const sentView = new Set(view(sent.map((m) => ({ ...m, dataJson: JSON.stringify(m.data) }))));
    expect(view(gotA).every((v) => sentView.has(v))).toBe(true);
    expect(gotA[0].epoch).toBe(pub.epoch);
    expect(gotA.find((m) => m.key === 'VNINDEX')!.data).toEqual({ id: 'VNINDEX', value: 1250 });
    expect(pub.status()).toMatchObject({ state: 'leading', buffered: 0, published: sent.length, dropped: 0 });
  });

  it('serves latest, recent, head, keys and currentEpoch from Redis', async () => {
    const pub = publisher();
    await pub.activate();
    for (let n = 1; n <= 5; n++) pub.publish('market', 'VNM', 'state', makeQuote('VNM', n));
    for (let n = 1; n <= 8; n++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    expect(await pub.drained()).toBe(true);
    // A reader started afterwards sees it all: snapshots do not depend on process memory.
    const b = await bus();
    const latest = await b.latest('market', 'VNM');
    expect(latest).toMatchObject({ channel: 'market', key: 'VNM', kind: 'state', seq: 5, epoch: pub.epoch });
    expect(latest!.data).toEqual(makeQuote('VNM', 5));
    const recent = await b.recent('market', 'VNM:trades', 3);
    expect(recent.map((m) => m.seq)).toEqual([6, 7, 8]);
    expect(recent.map((m) => m.data)).toEqual([6, 7, 8].map((n) => makeTrade('VNM', n)));
    expect(await b.recent('market', 'VNM:trades', 100)).toHaveLength(8);
    expect(await b.head('market', 'VNM:trades')).toEqual({ seq: 8, epoch: pub.epoch });
    expect(await b.head('market', 'FPT')).toBeNull();
    expect(await b.latest('market', 'VNM:trades')).toBeNull();
    expect((await b.keys('market')).sort()).toEqual(['VNM', 'VNM:trades']);
    expect(await b.keys('index')).toEqual([]);
    expect(await b.currentEpoch()).toBe(pub.epoch);
  });

  it('answers history after N, and null beyond the retained window, another epoch or ahead of the head', async () => {
    const pub = publisher({ historyEvents: 10 }); // MAXLEN ~ 10: Redis trims whole nodes, so the real window is somewhat larger
    await pub.activate();
    const total = 400;
    for (let n = 1; n <= total; n++) pub.publish('market', 'FPT:trades', 'event', makeTrade('FPT', n));
    expect(await pub.drained()).toBe(true);
    const b = await bus();
    const h = await b.history('market', 'FPT:trades', total - 5, pub.epoch);
    expect(h!.map((m) => m.seq)).toEqual(range(total - 4, total));
    expect(h!.map((m) => m.data)).toEqual(range(total - 4, total).map((n) => makeTrade('FPT', n)));
    expect(await b.history('market', 'FPT:trades', total, pub.epoch)).toEqual([]);
    expect(await b.history('market', 'FPT:trades', 1, pub.epoch)).toBeNull(); // trimmed
    expect(await b.history('market', 'FPT:trades', total + 1, pub.epoch)).toBeNull();
    expect(await b.history('market', 'FPT:trades', total - 5, 'other-epoch')).toBeNull();
    expect(await b.history('market', 'NOPE:trades', 0, pub.epoch)).toBeNull();
    const len = await redisLen(redisBusKeys(prefix).stream('market', 'FPT:trades'));
    expect(len).toBeGreaterThanOrEqual(10);
    expect(len).toBeLessThan(total);
  });

  it('keeps exactly N with exact trimming', async () => {
    const pub = publisher({ historyState: 10, trim: 'exact' });
    await pub.activate();
    for (let n = 1; n <= 30; n++) pub.publish('index', 'VN30', 'state', { id: 'VN30', n } as never);
    expect(await pub.drained()).toBe(true);
    const b = await bus();
    expect(await b.history('index', 'VN30', 19, pub.epoch)).toBeNull();
    expect((await b.history('index', 'VN30', 20, pub.epoch))!.map((m) => m.seq)).toEqual(range(21, 30));
  });

  it('trims history by age but keeps the latest state', async () => {
    const pub = publisher({ maxAgeMs: 100, trimIntervalMs: 20, trim: 'exact' });
    await pub.activate();
    for (let n = 1; n <= 5; n++) pub.publish('market', 'HPG', 'state', makeQuote('HPG', n));
    for (let n = 1; n <= 5; n++) pub.publish('market', 'HPG:trades', 'event', makeTrade('HPG', n));
    expect(await pub.drained()).toBe(true);
    const k = redisBusKeys(prefix);
    await waitFor(async () => (await redisLen(k.stream('market', 'HPG:trades'))) === 0, 'age trimming');
    const b = await bus();
    expect(await b.recent('market', 'HPG:trades', 10)).toEqual([]);
    expect(await b.history('market', 'HPG:trades', 2, pub.epoch)).toBeNull();
    expect((await b.latest('market', 'HPG'))!.data).toEqual(makeQuote('HPG', 5));
    expect(await redisLen(k.live('market'))).toBe(0);
  });

  it('a second publisher continues the epoch and every stream seq (failover without a gap)', async () => {
    const p1 = publisher();
    await p1.activate();
    for (let n = 1; n <= 5; n++) p1.publish('market', 'VNM', 'state', makeQuote('VNM', n));
    for (let n = 1; n <= 3; n++) p1.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    expect(await p1.drained()).toBe(true);
    await p1.close();

    const b = await bus();
    const got = collect(b);
    const p2 = publisher();
    // It already computed the same state (hot standby): nothing to reconcile.
    p2.publish('market', 'VNM', 'state', makeQuote('VNM', 5));
    await p2.activate();
    expect(p2.epoch).toBe(p1.epoch);
    const m = p2.publish('market', 'VNM:trades', 'event', makeTrade('VNM', 4));
    const q = p2.publish('market', 'VNM', 'state', makeQuote('VNM', 6));
    expect([m.seq, q.seq]).toEqual([4, 6]);
    await waitFor(() => got.length >= 2, 'messages of the new publisher');
    expect(got.map((x) => `${x.key}/${x.seq}/${x.epoch}`)).toEqual([`VNM:trades/4/${p1.epoch}`, `VNM/6/${p1.epoch}`]);
    expect(p2.status().epochsStarted).toBe(0);
  });

  it('republishes a cached state Redis does not hold when it takes over', async () => {
    const p1 = publisher();
    await p1.activate();
    p1.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    p1.publish('market', 'FPT', 'state', makeQuote('FPT', 1));
    expect(await p1.drained()).toBe(true);
    await p1.close();

    const p2 = publisher();
    p2.publish('market', 'VNM', 'state', makeQuote('VNM', 2)); // standby saw a newer VNM the old leader never published
    p2.publish('market', 'FPT', 'state', makeQuote('FPT', 1));
    expect(p2.status().dropped).toBe(2); // standby does not publish
    await p2.activate();
    expect(await p2.drained()).toBe(true);
    const b = await bus();
    expect(await b.latest('market', 'VNM')).toMatchObject({ seq: 2, epoch: p1.epoch });
    expect((await b.latest('market', 'VNM'))!.data).toEqual(makeQuote('VNM', 2));
    expect(await b.head('market', 'FPT')).toEqual({ seq: 1, epoch: p1.epoch });
  });

  it('starts a new epoch when Redis lost part of a stream (head behind the publisher)', async () => {
    const reasons: string[] = [];
    const pub = publisher({ onEpoch: (_e, r) => reasons.push(r) });
    await pub.activate();
    for (let n = 1; n <= 3; n++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    expect(await pub.drained()).toBe(true);
    const old = pub.epoch;
    const r = redisClient(url);
    cleanups.push(async () => r.disconnect());
    await r.hdel(redisBusKeys(prefix).head('market'), 'VNM:trades'); // e.g. evicted under memory pressure
    pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', 4));
    await waitFor(() => pub.epoch !== old && pub.status().buffered === 0, 'new epoch');
    expect(reasons).toEqual(['first', 'gap']);
    const b = await bus();
    expect(await b.head('market', 'VNM:trades')).toEqual({ seq: 1, epoch: pub.epoch });
    expect((await b.recent('market', 'VNM:trades', 10)).map((m) => m.data)).toEqual([makeTrade('VNM', 4)]);
    expect(await b.latest('market', 'VNM')).toMatchObject({ seq: 1, epoch: pub.epoch });
  });

  it('stands by when another publisher replaced the epoch under it', async () => {
    const fenced: string[] = [];
    const pub = publisher({ onFenced: (h) => fenced.push(h) });
    await pub.activate();
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    expect(await pub.drained()).toBe(true);
    const r = redisClient(url);
    cleanups.push(async () => r.disconnect());
    await r.set(redisBusKeys(prefix).epoch, 'someone-else');
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 2));
    await waitFor(() => fenced.length === 1, 'fenced');
    expect(fenced).toEqual(['someone-else']);
    expect(pub.status()).toMatchObject({ state: 'standby', buffered: 0 });
    const b = await bus();
    expect(await b.head('market', 'VNM')).toMatchObject({ seq: 1 });
  });

  it('skips malformed live entries without stopping the reader', async () => {
    const pub = publisher();
    await pub.activate();
    const b = await bus();
    const got = collect(b);
    const r = redisClient(url);
    cleanups.push(async () => r.disconnect());
    await r.xadd(redisBusKeys(prefix).live('market'), '*', 'k', 'BAD', 's', 'x', 'e', pub.epoch, 't', 's', 'd', '{}');
    await r.xadd(redisBusKeys(prefix).live('market'), '*', 'garbage', '1');
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    await waitFor(() => got.length === 1, 'the good message');
    expect(got[0]).toMatchObject({ key: 'VNM', seq: 1 });
    expect(b.status().malformed).toBe(2);
  });

  it('a throwing subscriber does not stop delivery to the others', async () => {
    const pub = publisher();
    await pub.activate();
    const errors: unknown[] = [];
    const b = await bus({ onHandlerError: (e) => errors.push(e) });
    b.subscribe(() => {
      throw new Error('boom');
    });
    const got = collect(b);
    for (let n = 1; n <= 3; n++) pub.publish('alerts', 'user:1', 'event', { id: `a${n}` } as never);
    await waitFor(() => got.length === 3, 'three alerts');
    expect(errors).toHaveLength(3);
  });
});

async function redisLen(key: string): Promise<number> {
  const r = redisClient(url);
  try {
    return await r.xlen(key);
  } finally {
    r.disconnect();
  }
}
