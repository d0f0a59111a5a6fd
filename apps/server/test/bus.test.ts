import fc from 'fast-check';
import type { ClassifiedTrade, EngineOutput, QuoteState } from '@stock-tracker/protocol';
import { InMemoryBus, publishEngineOutput, Ring, type BusMessage } from '../src/bus/index.ts';

const quote = (symbol: string, last: number) => ({ symbol, last }) as unknown as QuoteState;
const trade = (symbol: string, id: string) => ({ id, symbol }) as unknown as ClassifiedTrade;

describe('Ring', () => {
  it('keeps the newest `capacity` items in order and reports what it evicts', () => {
    const r = new Ring<number>(3);
    expect([1, 2, 3].map((x) => r.push(x))).toEqual([undefined, undefined, undefined]);
    expect(r.push(4)).toBe(1);
    expect(r.sliceFrom(0)).toEqual([2, 3, 4]);
    expect(r.first()).toBe(2);
    expect(r.last()).toBe(4);
    expect(r.shift()).toBe(2);
    r.push(5);
    expect(r.sliceFrom(1)).toEqual([4, 5]);
    expect(r.at(0)).toBe(3);
  });

  it('behaves like a bounded array for any sequence of pushes and shifts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.option(fc.integer(), { nil: undefined }), { maxLength: 60 }), (cap, ops) => {
        const r = new Ring<number>(cap);
        const model: number[] = [];
        for (const op of ops) {
          if (op === undefined) expect(r.shift()).toBe(model.shift());
          else {
            r.push(op);
            model.push(op);
            if (model.length > cap) model.shift();
          }
          expect(r.sliceFrom(0)).toEqual(model);
        }
      }),
    );
  });
});

describe('SeqStreamPublisher', () => {
  it('numbers each stream consecutively from 1 under the publisher epoch', () => {
    const bus = new InMemoryBus();
    const pub = bus.publisher({ newId: () => 'E1' });
    const a1 = pub.publish('market', 'VNM', 'state', quote('VNM', 1));
    const b1 = pub.publish('market', 'FPT', 'state', quote('FPT', 1));
    const a2 = pub.publish('market', 'VNM', 'state', quote('VNM', 2));
    const i1 = pub.publish('index', 'VNM', 'state', { id: 'VNM' } as never);
    expect([a1.seq, b1.seq, a2.seq, i1.seq]).toEqual([1, 1, 2, 1]);
    expect(new Set([a1.epoch, b1.epoch, a2.epoch])).toEqual(new Set(['E1']));
  });

  it('draws a fresh random epoch per publisher by default', () => {
    const bus = new InMemoryBus();
    const epochs = new Set(Array.from({ length: 20 }, () => bus.publisher().epoch));
    expect(epochs.size).toBe(20);
  });
});

describe('publishEngineOutput', () => {
  it('maps engine outputs to the documented streams and skips the unstreamed ones', () => {
    const bus = new InMemoryBus();
    const pub = bus.publisher({ newId: () => 'E' });
    const outs: EngineOutput[] = [
      { type: 'quote', state: quote('VNM', 1) },
      { type: 'trade', trade: trade('VNM', 't1') },
      { type: 'foreign', state: { symbol: 'VNM' } as never },
      { type: 'foreign_top', top: { ts: 1, buyers: [], sellers: [] } },
      { type: 'index', state: { id: 'VN30' } as never },
      { type: 'alert', alert: { userId: '42' } as never },
      { type: 'bar', bar: {} as never },
      { type: 'session', summary: {} as never },
      { type: 'reference', ref: {} as never },
    ];
    const streams = outs.map((o) => {
      const m = publishEngineOutput(pub, o);
      return m ? `${m.channel}/${m.key}/${m.kind}` : null;
    });
    expect(streams).toEqual([
      'market/VNM/state',
      'market/VNM:trades/event',
      'foreign/VNM/state',
      'foreign/top/state',
      'index/VN30/state',
      'alerts/user:42/event',
      null,
      null,
      null,
    ]);
  });
});

describe('InMemoryBus', () => {
  it('delivers live messages to subscribers until they unsubscribe', () => {
    const bus = new InMemoryBus();
    const pub = bus.publisher();
    const got: number[] = [];
    const off = bus.subscribe((m) => got.push(m.seq));
    pub.publish('market', 'A', 'state', quote('A', 1));
    pub.publish('market', 'A', 'state', quote('A', 2));
    off();
    pub.publish('market', 'A', 'state', quote('A', 3));
    expect(got).toEqual([1, 2]);
  });

  it('isolates a throwing subscriber from the others and from the publisher', () => {
    const errors: unknown[] = [];
    const bus = new InMemoryBus({ onHandlerError: (e) => errors.push(e) });
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('boom');
    });
    bus.subscribe((m) => seen.push(m.seq));
    bus.publisher().publish('market', 'A', 'state', quote('A', 1));
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(1);
  });

  it('serves latest for state streams and recent for event streams', async () => {
    const bus = new InMemoryBus();
    const pub = bus.publisher({ newId: () => 'E' });
    for (let i = 1; i <= 5; i++) pub.publish('market', 'A', 'state', quote('A', i));
    for (let i = 1; i <= 5; i++) pub.publish('market', 'A:trades', 'event', trade('A', `t${i}`));
    expect(((await bus.latest('market', 'A'))!.data as QuoteState).last).toBe(5);
    expect((await bus.recent('market', 'A:trades', 3)).map((m) => (m.data as ClassifiedTrade).id)).toEqual(['t3', 't4', 't5']);
    expect(await bus.latest('market', 'B')).toBeNull();
    expect(await bus.head('market', 'A:trades')).toEqual({ seq: 5, epoch: 'E' });
    expect((await bus.keys('market')).sort()).toEqual(['A', 'A:trades']);
    expect(await bus.keys('index')).toEqual([]);
    expect(await bus.currentEpoch()).toBe('E');
  });

  it('answers history only while the bounded history covers the position', async () => {
    const bus = new InMemoryBus({ historyState: 10 });
    const pub = bus.publisher({ newId: () => 'E' });
    for (let i = 1; i <= 25; i++) pub.publish('market', 'A', 'state', quote('A', i));
    expect((await bus.history('market', 'A', 20, 'E'))!.map((m) => m.seq)).toEqual([21, 22, 23, 24, 25]);
    expect((await bus.history('market', 'A', 15, 'E'))!.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(await bus.history('market', 'A', 25, 'E')).toEqual([]);
    expect(await bus.history('market', 'A', 14, 'E')).toBeNull(); // 15 was evicted
    expect(await bus.history('market', 'A', 26, 'E')).toBeNull(); // beyond the head
    expect(await bus.history('market', 'A', 20, 'OTHER')).toBeNull();
    expect(await bus.history('market', 'B', 0, 'E')).toBeNull();
  });

  it('starts a stream over when a new publisher (epoch) appears', async () => {
    const bus = new InMemoryBus();
    const old = bus.publisher({ newId: () => 'OLD' });
    for (let i = 1; i <= 5; i++) old.publish('market', 'A', 'state', quote('A', i));
    const fresh = bus.publisher({ newId: () => 'NEW' });
    fresh.publish('market', 'A', 'state', quote('A', 100));
    expect(await bus.head('market', 'A')).toEqual({ seq: 1, epoch: 'NEW' });
    expect(await bus.history('market', 'A', 3, 'OLD')).toBeNull();
    expect((await bus.history('market', 'A', 0, 'NEW'))!.map((m) => (m.data as QuoteState).last)).toEqual([100]);
  });

  it('ignores duplicate deliveries and does not bridge holes in a stream', async () => {
    const bus = new InMemoryBus();
    const seen: number[] = [];
    bus.subscribe((m) => seen.push(m.seq));
    const msg = (seq: number): BusMessage => ({ channel: 'market', key: 'A', kind: 'state', seq, epoch: 'E', data: quote('A', seq) });
    [1, 2, 2, 3, 6, 7].forEach((s) => bus.append(msg(s)));
    expect(seen).toEqual([1, 2, 3, 6, 7]);
    expect(await bus.history('market', 'A', 2, 'E')).toBeNull(); // 4 and 5 never arrived
    expect((await bus.history('market', 'A', 5, 'E'))!.map((m) => m.seq)).toEqual([6, 7]);
  });

  it('bounds the messages retained across all streams but keeps every state snapshot', async () => {
    const bus = new InMemoryBus({ historyState: 100, historyEvents: 100, maxRetainedMessages: 50 });
    const pub = bus.publisher({ newId: () => 'E' });
    for (let i = 0; i < 1000; i++) pub.publish('market', `S${i % 20}`, 'state', quote(`S${i % 20}`, i));
    expect(bus.retainedCount()).toBeLessThanOrEqual(50);
    for (let k = 0; k < 20; k++) {
      const latest = await bus.latest('market', `S${k}`);
      expect((latest!.data as QuoteState).last).toBe(980 + k);
    }
  });

  it('history is always null or the exact contiguous tail after the position (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom('A', 'B', 'C:trades'), newPublisher: fc.integer({ min: 0, max: 19 }).map((n) => n === 0) }), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 5, max: 40 }),
        fc.nat({ max: 60 }),
        async (ops, perStream, overall, after) => {
          const bus = new InMemoryBus({ historyState: perStream, historyEvents: perStream, maxRetainedMessages: overall });
          let epochs = 0;
          let pub = bus.publisher({ newId: () => `E${epochs++}` });
          const published = new Map<string, BusMessage[]>();
          for (const op of ops) {
            if (op.newPublisher) pub = bus.publisher({ newId: () => `E${epochs++}` });
            const kind = op.key.endsWith(':trades') ? 'event' : 'state';
            const m = pub.publish('market', op.key, kind, quote(op.key, 0));
            published.set(op.key, [...(published.get(op.key) ?? []), m]);
          }
          expect(bus.retainedCount()).toBeLessThanOrEqual(overall);
          for (const [key, msgs] of published) {
            const epoch = msgs[msgs.length - 1].epoch;
            const sameEpoch = msgs.filter((m) => m.epoch === epoch);
            const lastSeq = sameEpoch[sameEpoch.length - 1].seq;
            const h = await bus.history('market', key, after, epoch);
            // Without global pressure, coverage is exactly the per-stream window.
            if (overall >= ops.length) expect(h !== null).toBe(after <= lastSeq && after >= lastSeq - perStream);
            if (h === null) continue;
            expect(h).toEqual(sameEpoch.filter((m) => m.seq > after));
          }
          // The newest position is always resumable (nothing missed).
          for (const [key, msgs] of published) {
            const last = msgs[msgs.length - 1];
            expect(await bus.history('market', key, last.seq, last.epoch)).toEqual([]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
