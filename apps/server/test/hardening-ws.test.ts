/**
 * Hostile WebSocket clients (issue 12, findings 2 and 3), through a real HTTP
 * server and real `ws` clients:
 * - readers that stop reading (their TCP socket paused) after a wildcard
 *   trades subscription: the gateway's accounted bytes per connection stay
 *   under `queueBytesCap`, the heap stays under a stated bound, and they are
 *   closed with 4008;
 * - a reader that keeps sending pongs but never reads is still closed;
 * - fabricated `since` keys neither open streams, nor cost bus reads, nor stay
 *   in per-connection state; resumed positions count against the limit.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Bus } from '../src/bus/index.ts';
import { InMemoryBus } from '../src/bus/index.ts';
import { makeQuote, makeTrade, RawClient, serveGateway, sleep, startServer, waitFor, type ServedGateway, type TestServer } from './ws-test-helpers.ts';

let srv: TestServer | undefined;
let served: ServedGateway | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await srv?.stop();
  await served?.stop();
  srv = undefined;
  served = undefined;
});

/** Stops reading: the client's TCP socket no longer drains, so the server's writes back up. */
const stopReading = (c: RawClient) => (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
const resumeReading = (c: RawClient) => (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();

/** A real full GC (heap numbers without garbage): V8's gc exposed at run time. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const heapMiB = (gc: () => void) => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

describe('hostile WebSocket readers', () => {
  it('20 paused wildcard-trades readers: accounted bytes ≤ the cap, heap under its bound, all closed with 4008', async () => {
    const N = 20;
    const SYMBOLS = 600;
    const queueBytesCap = 1024 * 1024;
    const highWaterBytes = 256 * 1024;
    // The default limits; the stall bound is what closes a reader that stopped while nothing new arrives.
    srv = await startServer({ queueBytesCap, highWaterBytes, stallTimeoutMs: 1_500, closeGraceMs: 30_000 }, { historyEvents: 60 });
    const pub = srv.bus.publisher();
    // A day's tape: every symbol has a quote and 50 recent trades, ~11 KB of snapshot per trades key,
    // so an unbounded snapshot queue would be ~7 MB per connection.
    for (let n = 1; n <= 50; n++) for (let s = 0; s < SYMBOLS; s++) pub.publish('market', `S${s}:trades`, 'event', makeTrade(`S${s}`, n));
    for (let s = 0; s < SYMBOLS; s++) pub.publish('market', `S${s}`, 'state', makeQuote(`S${s}`, 1));

    const gc = collector();
    const heapBefore = heapMiB(gc);
    for (let i = 0; i < N; i++) {
      const c = await RawClient.open(srv.url('/ws/market'));
      clients.push(c);
      stopReading(c);
      c.send({ op: 'subscribe', trades: true });
    }
    // Live trades keep arriving while they do not read.
    let maxAccounted = 0;
    let maxBuffered = 0;
    let heapPeak = 0;
    let n = 50;
    const deadline = Date.now() + 30_000;
    while (srv.gateway.stats().slowConsumerCloses < N && Date.now() < deadline) {
      n++;
      for (let s = 0; s < SYMBOLS; s += 20) pub.publish('market', `S${s}:trades`, 'event', makeTrade(`S${s}`, n));
      await sleep(20);
      const st = srv.gateway.stats();
      maxAccounted = Math.max(maxAccounted, st.maxQueuedBytes);
      maxBuffered = Math.max(maxBuffered, st.maxBufferedBytes);
      if (n % 25 === 0) heapPeak = Math.max(heapPeak, heapMiB(gc) - heapBefore);
    }
    heapPeak = Math.max(heapPeak, heapMiB(gc) - heapBefore);
    // Stated bound: per connection its socket buffer and its queue (high water + cap), plus 32 MiB for
    // the test's own publishing and V8 slack. (Before the fix these readers were never closed: their
    // queues held every snapshot, counted as 0 bytes, and grew by ~30,000 entries a second.)
    const boundMiB = (N * (highWaterBytes + queueBytesCap)) / 2 ** 20 + 32;
    console.info(`hardening-ws: ${N} paused readers, peak heap growth ${heapPeak.toFixed(1)} MiB (bound ${boundMiB.toFixed(0)} MiB), max accounted ${maxAccounted} B, max socket buffer ${maxBuffered} B`);
    expect(heapPeak, 'heap growth with N paused readers (MiB)').toBeLessThan(boundMiB);
    const st = srv.gateway.stats();
    expect(st.slowConsumerCloses, 'every paused reader is closed as a slow consumer').toBe(N);
    expect(maxAccounted).toBeLessThanOrEqual(queueBytesCap);
    // One frame may go past the high-water mark: the largest is one trades snapshot (~11 KB).
    expect(maxBuffered).toBeLessThanOrEqual(highWaterBytes + 64 * 1024);

    // They read again: what was buffered arrives, then the 4008 close.
    for (const c of clients) resumeReading(c);
    const codes = await Promise.all(clients.map((c) => c.closed.then((x) => x.code)));
    expect(codes).toEqual(Array(N).fill(4008));
  }, 60_000);

  it('a reader that sends pongs but never reads is closed with 4008 once its queue stalls', async () => {
    srv = await startServer({ highWaterBytes: 16 * 1024, stallTimeoutMs: 600, closeGraceMs: 10_000 });
    const pub = srv.bus.publisher();
    const keys = ['A', 'B', 'C', 'D'];
    keys.forEach((k) => pub.publish('market', k, 'state', makeQuote(k, 1, 20)));
    const c = await RawClient.open(srv.url('/ws/market'));
    clients.push(c);
    c.send({ op: 'subscribe', symbols: keys });
    await c.until((ms) => ms.filter((m) => m.type === 'snapshot').length === keys.length);
    stopReading(c);
    // Quotes only: conflated, so the byte cap alone would never close it. Its pongs must not keep it open.
    const pongs = setInterval(() => c.ws.pong(), 50);
    try {
      let n = 1;
      // Until the kernel's socket buffers are full nothing stalls: publish fast enough to fill them soon.
      const deadline = Date.now() + 30_000;
      while (srv.gateway.stats().slowConsumerCloses === 0 && Date.now() < deadline) {
        for (let i = 0; i < 5; i++) {
          n++;
          for (const k of keys) pub.publish('market', k, 'state', makeQuote(k, n, 20));
        }
        await sleep(5);
      }
    } finally {
      clearInterval(pongs);
    }
    expect(srv.gateway.stats().slowConsumerCloses, 'the stalled reader is closed').toBe(1);
    resumeReading(c);
    expect((await c.closed).code).toBe(4008);
  }, 45_000);

  it('the heartbeat: a reader that sends unsolicited pongs but never reads is dropped', async () => {
    // No stall bound here: only the heartbeat. Its ping carries a nonce and waits behind the queue,
    // so only a client that reads can answer it.
    srv = await startServer({ highWaterBytes: 16 * 1024, pingIntervalMs: 300, stallTimeoutMs: 0, closeGraceMs: 10_000 });
    const pub = srv.bus.publisher();
    const keys = ['A', 'B', 'C', 'D'];
    keys.forEach((k) => pub.publish('market', k, 'state', makeQuote(k, 1, 20)));
    const c = await RawClient.open(srv.url('/ws/market'));
    clients.push(c);
    c.send({ op: 'subscribe', symbols: keys });
    await c.until((ms) => ms.filter((m) => m.type === 'snapshot').length === keys.length);
    stopReading(c);
    const pongs = setInterval(() => c.ws.pong(), 20);
    try {
      let n = 1;
      const deadline = Date.now() + 10_000;
      while (srv.gateway.stats().connections > 0 && Date.now() < deadline) {
        n++;
        for (const k of keys) pub.publish('market', k, 'state', makeQuote(k, n, 20));
        await sleep(5);
      }
    } finally {
      clearInterval(pongs);
    }
    expect(srv.gateway.stats().connections, 'dropped by the heartbeat despite its pongs').toBe(0);
    resumeReading(c);
    // Terminated (1006), or 4008 when its ping was still queued behind frames it did not read.
    expect([1006, 4008]).toContain((await c.closed).code);
  }, 20_000);

  it('a reader that keeps up is not closed by the stall bound or the heartbeat', async () => {
    srv = await startServer({ highWaterBytes: 16 * 1024, pingIntervalMs: 200, stallTimeoutMs: 300 });
    const pub = srv.bus.publisher();
    const c = await RawClient.open(srv.url('/ws/market'));
    clients.push(c);
    c.send({ op: 'subscribe', trades: true });
    await c.next((m) => m.type === 'subscribed');
    for (let n = 1; n <= 100; n++) {
      pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', n));
      await sleep(10);
    }
    await c.until((ms) => ms.some((m) => m.type === 'update' && m.seq === 100));
    expect(srv.gateway.stats().slowConsumerCloses).toBe(0);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  }, 20_000);
});

describe('live messages during a subscribe', () => {
  it('are held conflated per state key (bounded by keys, counted), then delivered contiguous', async () => {
    const inner = new InMemoryBus();
    const pub = inner.publisher();
    pub.publish('market', 'A', 'state', makeQuote('A', 1, 20));
    pub.publish('market', 'B', 'state', makeQuote('B', 1, 20));
    // Snapshot reads take a while, as from a remote Redis under load: live messages arrive meanwhile.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = new Proxy(inner, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        // Read when asked, answered late: the snapshot is older than the messages that arrive meanwhile.
        if (prop === 'latest') return async (...a: unknown[]) => {
          const answer = await (v as (...x: unknown[]) => unknown).apply(target, a);
          await gate;
          return answer;
        };
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    served = await serveGateway(slow as unknown as Bus);
    const c = await RawClient.open(served.url('/ws/market'));
    clients.push(c);
    c.send({ op: 'subscribe', id: 's', symbols: ['A', 'B'] });
    await c.next((m) => m.type === 'subscribed');
    let last = 1;
    let maxHeld = 0;
    for (let n = 2; n <= 2_000; n++) {
      pub.publish('market', 'A', 'state', makeQuote('A', n, 20));
      if (n % 100 === 0) maxHeld = Math.max(maxHeld, served.gateway.stats().maxQueuedBytes);
      last = n;
    }
    // 1,999 held updates of one key cost one frame, not 1,999.
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThan(3 * JSON.stringify(makeQuote('A', 1, 20)).length);
    release();
    await c.until((ms) => ms.some((m) => m.key === 'A' && m.type === 'update' && m.seq === last));
    const a = c.messages.filter((m) => m.key === 'A' && (m.type === 'snapshot' || m.type === 'update'));
    expect(a[0]).toMatchObject({ type: 'snapshot' });
    let pos = a[0]!.seq as number;
    for (const u of a.slice(1)) {
      expect(u.from ?? u.seq, 'contiguous').toBe(pos + 1);
      pos = u.seq;
    }
    expect(a.length).toBeLessThan(10);
  });
});

/** The bus, counting the reads the gateway makes. */
function countingBus(bus: InMemoryBus): { bus: Bus; reads: () => number } {
  let reads = 0;
  const counted = new Set(['latest', 'recent', 'history', 'head', 'keys', 'currentEpoch']);
  const proxy = new Proxy(bus, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (counted.has(String(prop))) reads++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { bus: proxy as unknown as Bus, reads: () => reads };
}

describe('fabricated resume keys', () => {
  it('a wildcard subscribe resumes only keys that exist: 1,400 fabricated keys open nothing and leave no state', async () => {
    const inner = new InMemoryBus();
    const pub = inner.publisher();
    const real = ['VNM', 'FPT', 'HPG'];
    for (const s of real) {
      pub.publish('market', s, 'state', makeQuote(s, 1));
      pub.publish('market', `${s}:trades`, 'event', makeTrade(s, 1));
    }
    const { bus, reads } = countingBus(inner);
    served = await serveGateway(bus, { maxSubscriptions: 10 });
    const c = await RawClient.open(served.url('/ws/market'));
    clients.push(c);
    const epoch = (await inner.head('market', 'VNM'))!.epoch;
    const since: Record<string, { seq: number; epoch: string }> = { VNM: { seq: 1, epoch } };
    for (let i = 0; i < 700; i++) {
      since[`ZZ${i}`] = { seq: 5, epoch };
      since[`ZZ${i}:trades`] = { seq: 5, epoch };
    }
    expect(JSON.stringify({ op: 'subscribe', since }).length).toBeGreaterThan(40_000);
    c.send({ op: 'subscribe', id: 's', trades: true, since });
    const sub = await c.next((m) => m.type === 'subscribed');
    expect([...sub.keys].sort()).toEqual([...real, ...real.map((s) => `${s}:trades`)].sort());
    // Every real key is answered once: VNM recovered, the others with a snapshot.
    await c.until((ms) => ms.filter((m) => m.type === 'snapshot').length === 5 && ms.some((m) => m.type === 'recovered'));
    await sleep(100);
    expect(c.messages.filter((m) => m.type === 'reset')).toEqual([]);
    expect(c.messages.some((m) => typeof m.key === 'string' && m.key.startsWith('ZZ'))).toBe(false);
    // Bus reads scale with the keys that exist (a handful per key), not with the `since` map.
    expect(reads()).toBeLessThanOrEqual(1 + 6 * 5);
    expect(served.gateway.stats().streamStates).toBeLessThanOrEqual(real.length * 2);

    // A fabricated key that later appears on the bus starts like any new wildcard key.
    pub.publish('market', 'ZZ1', 'state', makeQuote('ZZ1', 1));
    await c.next((m) => m.type === 'update' && m.key === 'ZZ1');
    expect(served.gateway.stats().streamStates).toBe(real.length * 2 + 1);
  });

  it('resumed positions count against WS_MAX_SUBSCRIPTIONS: past it, keys get a snapshot instead of a history read', async () => {
    const inner = new InMemoryBus();
    const pub = inner.publisher();
    const syms = Array.from({ length: 30 }, (_, i) => `S${i}`);
    for (const s of syms) for (let n = 1; n <= 3; n++) pub.publish('market', s, 'state', makeQuote(s, n));
    const { bus } = countingBus(inner);
    served = await serveGateway(bus, { maxSubscriptions: 10 });
    const c = await RawClient.open(served.url('/ws/market'));
    clients.push(c);
    const epoch = (await inner.head('market', 'S0'))!.epoch;
    c.send({ op: 'subscribe', id: 's', since: Object.fromEntries(syms.map((s) => [s, { seq: 1, epoch }])) });
    await c.until((ms) => ms.filter((m) => m.type === 'recovered' || m.type === 'snapshot').length === syms.length);
    expect(c.messages.filter((m) => m.type === 'recovered')).toHaveLength(10);
    expect(c.messages.filter((m) => m.type === 'snapshot')).toHaveLength(20);
    // Either way each key ends at its latest seq, contiguous for the client.
    for (const s of syms) {
      const last = c.messages.filter((m) => m.key === s && (m.type === 'update' || m.type === 'snapshot')).at(-1)!;
      expect(last.seq).toBe(3);
    }
  });
});
