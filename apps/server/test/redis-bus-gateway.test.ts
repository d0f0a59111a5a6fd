/**
 * The unchanged WebSocket gateway on the Redis bus, as two API replicas: a
 * client whose connection drops reconnects to the *other* replica (as behind
 * a load balancer) and resumes without a gap, because history lives in Redis.
 */
import WebSocket from 'ws';
import { StreamClient } from '@stock-tracker/client';
import { RedisBus, RedisStreamPublisher } from '../src/bus/index.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { assertContiguous, makeQuote, makeTrade, marketRounds, serveGateway, sleep, waitFor } from './ws-test-helpers.ts';
import { recordStream as record } from './stream-recorder.ts';

interface Replica {
  bus: RedisBus;
  connections(): number;
  url(path: string): string;
  killSockets(): void;
  stop(): Promise<void>;
}

let prefix: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(() => {
  prefix = uniquePrefix('gw');
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
  await deletePrefix(testRedisUrl(), prefix);
});

async function replica(): Promise<Replica> {
  const bus = new RedisBus({ url: testRedisUrl(), prefix, blockMs: 200 }).start();
  expect(await bus.waitReady()).toBe(true);
  const srv = await serveGateway(bus);
  const r: Replica = {
    bus,
    connections: () => srv.gateway.stats().connections,
    url: srv.url,
    killSockets: srv.killSockets,
    async stop() {
      await srv.stop();
      await bus.close();
    },
  };
  cleanups.push(() => r.stop());
  return r;
}

/** Redis round trips: more patience than the in-process gateway tests. */
const WAIT_MS = 8_000;

/** A WebSocket constructor that sends each new connection to the next replica, like a round-robin balancer. */
function roundRobin(urls: string[]): typeof WebSocket {
  let i = 0;
  return class extends WebSocket {
    constructor(_url: string) {
      super(urls[i++ % urls.length]);
    }
  } as unknown as typeof WebSocket;
}

describe('WS gateway on the Redis bus', () => {
  it('resumes on another replica after a disconnect: recovered, no gap, same final state', async () => {
    const pub = new RedisStreamPublisher({ url: testRedisUrl(), prefix });
    cleanups.push(() => pub.close());
    await pub.activate();
    const [r1, r2] = await Promise.all([replica(), replica()]);

    const symbols = ['VNM', 'FPT', 'HPG'];
    const rounds = marketRounds(pub, symbols);
    const { latest } = rounds;
    rounds.publish();
    expect(await pub.drained()).toBe(true);

    const client = new StreamClient({
      url: 'ws://unused/ws/market',
      WebSocket: roundRobin([r1.url('/ws/market'), r2.url('/ws/market')]),
      symbols,
      trades: true,
      backoff: { initialMs: 20, maxMs: 100 },
      random: () => 0.5,
    });
    cleanups.push(async () => client.close());
    const log = record(client);
    client.connect();
    await waitFor(() => client.state === 'live', 'live on replica 1', WAIT_MS);

    const ticker = setInterval(() => {
      for (let i = 0; i < 3; i++) rounds.publish();
    }, 3);
    cleanups.push(async () => clearInterval(ticker));
    await sleep(50);
    r1.killSockets(); // replica 1 drops the client; it reconnects to replica 2
    await waitFor(() => client.state === 'resumed', 'resumed on replica 2', WAIT_MS);
    await sleep(50);
    clearInterval(ticker);
    expect(await pub.drained()).toBe(true);
    await waitFor(() => Object.entries(latest).every(([k, m]) => log.last[k] === m.seq), 'final updates', WAIT_MS);

    expect(log.states).toEqual(['connecting', 'live', 'reconnecting', 'resumed']);
    expect(log.resets).toEqual([]);
    expect(log.gaps).toBe(0);
    const end = assertContiguous(log.updates, log.start);
    for (const [k, m] of Object.entries(latest)) {
      expect(end[k]).toBe(m.seq);
      expect(log.data[k]).toEqual(m.data);
    }
    expect(client.positions().VNM).toEqual({ seq: latest.VNM.seq, epoch: pub.epoch });
    // The resumed connection really is on the other replica.
    expect([r1.connections(), r2.connections()]).toEqual([0, 1]);
  });

  it('a new subscriber on any replica gets its snapshot from Redis', async () => {
    const pub = new RedisStreamPublisher({ url: testRedisUrl(), prefix });
    cleanups.push(() => pub.close());
    await pub.activate();
    for (let i = 1; i <= 4; i++) pub.publish('market', 'VNM', 'state', makeQuote('VNM', i));
    for (let i = 1; i <= 3; i++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', i));
    expect(await pub.drained()).toBe(true);
    const r = await replica(); // started after the data was published: nothing in its memory

    const client = new StreamClient({ url: r.url('/ws/market'), WebSocket, symbols: ['VNM'], trades: true, backoff: { initialMs: 20, maxMs: 100 } });
    cleanups.push(async () => client.close());
    const log = record(client);
    client.connect();
    await waitFor(() => log.snapshots.length === 2, 'two snapshots', WAIT_MS);
    const byKey = Object.fromEntries(log.snapshots.map((s) => [s.key, s]));
    expect(byKey.VNM).toMatchObject({ seq: 4, epoch: pub.epoch, data: makeQuote('VNM', 4) });
    expect(byKey['VNM:trades']).toMatchObject({ seq: 3, epoch: pub.epoch, data: [1, 2, 3].map((i) => makeTrade('VNM', i)) });
  });
});
