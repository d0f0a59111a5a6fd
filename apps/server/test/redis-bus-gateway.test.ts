/**
 * The unchanged WebSocket gateway on the Redis bus, as two API replicas: a
 * client whose connection drops reconnects to the *other* replica (as behind
 * a load balancer) and resumes without a gap, because history lives in Redis.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket from 'ws';
import { StreamClient, type ConnectionState } from '@stock-tracker/client';
import type { ResetMsg, SnapshotMsg, UpdateMsg } from '@stock-tracker/protocol';
import { RedisBus, RedisStreamPublisher, type BusMessage } from '../src/bus/index.ts';
import { createWsGateway } from '../src/ws/index.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { assertContiguous, makeQuote, makeTrade } from './ws-test-helpers.ts';

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
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const gateway = createWsGateway({ bus, pingIntervalMs: 0, closeGraceMs: 200 });
  gateway.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const r: Replica = {
    bus,
    connections: () => gateway.stats().connections,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    killSockets: () => sockets.forEach((s) => s.destroy()),
    async stop() {
      await gateway.close();
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((res) => server.close(() => res()));
      await bus.close();
    },
  };
  cleanups.push(() => r.stop());
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function record(c: StreamClient) {
  const log = {
    states: [] as ConnectionState[],
    start: {} as Record<string, number>,
    updates: [] as UpdateMsg[],
    last: {} as Record<string, number>,
    data: {} as Record<string, unknown>,
    snapshots: [] as SnapshotMsg[],
    resets: [] as ResetMsg[],
    gaps: 0,
  };
  c.on('state', (s) => log.states.push(s));
  c.on('snapshot', (m) => {
    log.snapshots.push(m);
    log.start[m.key] ??= m.seq;
    log.last[m.key] = m.seq;
    log.data[m.key] = m.data;
  });
  c.on('update', (m) => {
    log.updates.push(m);
    log.last[m.key] = m.seq;
    log.data[m.key] = m.data;
  });
  c.on('reset', (m) => log.resets.push(m));
  c.on('gap', () => log.gaps++);
  return log;
}

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
    const latest: Record<string, BusMessage> = {};
    let n = 0;
    const round = () => {
      n++;
      for (const s of symbols) {
        latest[s] = pub.publish('market', s, 'state', makeQuote(s, n));
        latest[`${s}:trades`] = pub.publish('market', `${s}:trades`, 'event', makeTrade(s, n));
      }
    };
    round();
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
    await waitFor(() => client.state === 'live', 'live on replica 1');

    const ticker = setInterval(() => {
      for (let i = 0; i < 3; i++) round();
    }, 3);
    cleanups.push(async () => clearInterval(ticker));
    await sleep(50);
    r1.killSockets(); // replica 1 drops the client; it reconnects to replica 2
    await waitFor(() => client.state === 'resumed', 'resumed on replica 2');
    await sleep(50);
    clearInterval(ticker);
    expect(await pub.drained()).toBe(true);
    await waitFor(() => Object.entries(latest).every(([k, m]) => log.last[k] === m.seq), 'final updates');

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
    await waitFor(() => log.snapshots.length === 2, 'two snapshots');
    const byKey = Object.fromEntries(log.snapshots.map((s) => [s.key, s]));
    expect(byKey.VNM).toMatchObject({ seq: 4, epoch: pub.epoch, data: makeQuote('VNM', 4) });
    expect(byKey['VNM:trades']).toMatchObject({ seq: 3, epoch: pub.epoch, data: [1, 2, 3].map((i) => makeTrade('VNM', i)) });
  });
});
