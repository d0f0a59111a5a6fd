import type { QuoteState } from '@stock-tracker/protocol';
import type { BusMessage } from '../src/bus/index.ts';
import { assertContiguous, makeQuote, makeTrade, RawClient, startServer, type TestServer } from './ws-test-helpers.ts';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.stop();
  srv = undefined;
});
const tick = () => new Promise((r) => setImmediate(r));

describe('ws gateway: slow consumers', () => {
  it('conflates quotes for a paused reader: bounded memory, then the latest states with `from`', async () => {
    const highWaterBytes = 64 * 1024;
    srv = await startServer({ highWaterBytes });
    const pub = srv.bus.publisher();
    const keys = ['A', 'B', 'C', 'D'];
    keys.forEach((k) => pub.publish('market', k, 'state', makeQuote(k, 1, 20)));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: keys });
    await c.until((ms) => ms.filter((m) => m.type === 'snapshot').length === 4);
    c.ws.pause(); // stops reading: TCP buffers fill, then the gateway must hold back

    const latest: Record<string, BusMessage> = {};
    let maxEntries = 0;
    let maxBuffered = 0;
    let maxFrame = 0;
    for (let n = 2; n <= 4001; n++) {
      for (const k of keys) latest[k] = pub.publish('market', k, 'state', makeQuote(k, n, 20));
      if (n % 100 === 0) {
        await tick();
        const st = srv.gateway.stats();
        maxEntries = Math.max(maxEntries, st.maxQueuedEntries);
        maxBuffered = Math.max(maxBuffered, st.maxBufferedBytes);
      }
    }
    maxFrame = JSON.stringify(latest.A.data).length + 200;
    const st = srv.gateway.stats();
    expect(st.conflated).toBeGreaterThan(1000);
    expect(maxEntries).toBeLessThanOrEqual(keys.length);
    expect(st.maxQueuedEntries).toBeLessThanOrEqual(keys.length);
    expect(maxBuffered).toBeLessThanOrEqual(highWaterBytes + maxFrame);

    c.ws.resume();
    await c.until((ms) => keys.every((k) => ms.some((m) => m.type === 'update' && m.key === k && m.seq === latest[k].seq)), 10_000);
    const updates = c.messages.filter((m) => m.type === 'update');
    const end = assertContiguous(updates as never, { A: 1, B: 1, C: 1, D: 1 });
    for (const k of keys) {
      expect(end[k]).toBe(latest[k].seq);
      const final = updates.filter((u) => u.key === k).at(-1)!;
      expect(final.data as QuoteState).toEqual(latest[k].data);
    }
    const conflatedFrames = updates.filter((u) => u.from !== undefined);
    expect(conflatedFrames.length).toBeGreaterThan(0);
    expect(conflatedFrames.every((u) => u.from! < u.seq)).toBe(true);
    // Far fewer frames than updates published: the range was covered, not replayed.
    expect(updates.length).toBeLessThan(4 * 4000);
    c.close();
  });

  it('closes a paused trades subscriber with 4008 once its queue passes the byte cap', async () => {
    srv = await startServer({ highWaterBytes: 16 * 1024, queueBytesCap: 64 * 1024, closeGraceMs: 10_000 });
    const pub = srv.bus.publisher();
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM'], trades: true });
    await c.next((m) => m.type === 'snapshot' && m.key === 'VNM:trades');
    c.ws.pause();
    let n = 0;
    while (srv.gateway.stats().slowConsumerCloses === 0 && n < 400_000) {
      for (let i = 0; i < 1000; i++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', ++n));
      await tick();
    }
    expect(srv.gateway.stats().slowConsumerCloses).toBe(1);
    expect(srv.gateway.stats().queuedBytes).toBe(0); // its queue was freed at once
    c.ws.resume();
    expect((await c.closed).code).toBe(4008);
    // What it did receive is contiguous: it can resume from there with `since`.
    assertContiguous(c.messages.filter((m) => m.type === 'update') as never, { 'VNM:trades': 0 });
  });
});
