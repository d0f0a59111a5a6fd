import fc from 'fast-check';
import type { QuoteState, UpdateMsg } from '@stock-tracker/protocol';
import type { BusMessage } from '../src/bus/index.ts';
import { Outbox } from '../src/ws/outbox.ts';
import { updateFrame } from '../src/ws/frames.ts';

/** A socket whose buffer only empties when the test says so. */
class FakeSink {
  bufferedAmount = 0;
  frames: string[] = [];
  private cbs: Array<() => void> = [];
  send(data: string | Buffer, cb: () => void) {
    const s = data.toString();
    this.frames.push(s);
    this.bufferedAmount += s.length;
    this.cbs.push(cb);
  }
  /** The client read everything: buffer empties, write callbacks fire. */
  drain() {
    this.bufferedAmount = 0;
    const cbs = this.cbs;
    this.cbs = [];
    cbs.forEach((cb) => cb());
  }
  parsed() {
    return this.frames.map((f) => JSON.parse(f));
  }
}

/** One frame leaves per drain at this high-water mark; drain until the queue is empty. */
function drainAll(sink: FakeSink, box: Outbox) {
  do sink.drain();
  while (box.size > 0);
}

const state = (key: string, seq: number, epoch = 'E'): BusMessage => ({
  channel: 'market',
  key,
  kind: 'state',
  seq,
  epoch,
  data: { symbol: key, last: seq } as unknown as QuoteState,
});
const event = (key: string, seq: number, pad = 0): BusMessage => ({
  channel: 'market',
  key,
  kind: 'event',
  seq,
  epoch: 'E',
  data: { id: `t${seq}`, pad: 'x'.repeat(pad) } as never,
});

function setup(highWaterBytes = 100, queueBytesCap = 10_000) {
  const sink = new FakeSink();
  const events = { overflow: 0, conflated: 0 };
  const box = new Outbox(sink, {
    highWaterBytes,
    queueBytesCap,
    onOverflow: () => events.overflow++,
    onConflate: () => events.conflated++,
  });
  return { sink, box, events };
}

describe('Outbox', () => {
  it('writes straight through while the socket keeps up', () => {
    const { sink, box } = setup(1_000_000);
    for (let i = 1; i <= 5; i++) box.update(state('A', i));
    expect(sink.parsed().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(box.size).toBe(0);
  });

  it('conflates a slow reader to one slot per state key, carrying `from`', () => {
    const { sink, box, events } = setup(10);
    box.update(state('A', 1)); // goes out, fills the buffer past high water
    for (let i = 2; i <= 500; i++) {
      box.update(state('A', i));
      box.update(state('B', i));
      expect(box.size).toBeLessThanOrEqual(2);
    }
    expect(events.conflated).toBe(2 * 498); // each key: the first queued update takes the slot, 498 replace it
    drainAll(sink, box);
    const out = sink.parsed() as UpdateMsg[];
    expect(out.map((m) => [m.key, m.from, m.seq])).toEqual([
      ['A', undefined, 1],
      ['A', 2, 500],
      ['B', 2, 500],
    ]);
    expect((out[1].data as QuoteState).last).toBe(500);
  });

  it('lets a queued snapshot absorb later updates (no `from` needed after a snapshot)', () => {
    const { sink, box } = setup(10);
    box.update(state('X', 1));
    box.stateSnapshot(state('A', 7));
    box.update(state('A', 8));
    box.update(state('A', 9));
    drainAll(sink, box);
    const last = sink.parsed().at(-1);
    expect(last).toMatchObject({ type: 'snapshot', key: 'A', seq: 9 });
    expect(last.from).toBeUndefined();
  });

  it('keeps event updates in order and closes past the byte cap', () => {
    const { sink, box, events } = setup(10, 2_000);
    box.update(event('A:trades', 1));
    let i = 2;
    while (events.overflow === 0 && i < 1000) box.update(event('A:trades', i++, 100));
    expect(events.overflow).toBe(1);
    expect(i).toBeLessThan(30); // ~150 bytes each against a 2,000 byte cap
    expect(box.size).toBe(0); // a closed outbox frees its queue
    box.update(event('A:trades', i));
    sink.drain();
    expect(sink.frames).toHaveLength(1);
  });

  it('delivers queued control frames before the slots queued after them', () => {
    const { sink, box } = setup(10);
    box.update(state('X', 1));
    box.control('{"type":"reset","key":"A"}', 'A');
    box.stateSnapshot(state('A', 3));
    box.update(state('B', 1));
    drainAll(sink, box);
    expect(sink.parsed().map((m) => `${m.type}:${m.key}`)).toEqual(['update:X', 'reset:A', 'snapshot:A', 'update:B']);
  });

  it('dropStream forgets everything queued for a key and its bytes', () => {
    const { sink, box } = setup(10);
    box.update(state('X', 1));
    box.update(state('A', 2));
    box.update(event('A:trades', 1, 50));
    box.control('{"type":"recovered","key":"A:trades"}', 'A:trades');
    const before = box.queuedBytes;
    box.dropStream('A:trades');
    expect(box.queuedBytes).toBe(before - updateFrame(event('A:trades', 1, 50)).length - 37);
    box.dropStream('A');
    expect(box.size).toBe(0);
    sink.drain();
    expect(sink.frames).toHaveLength(1);
  });

  it('counts every queued byte: event snapshots and state slots reach the cap too (issue 12)', () => {
    const { box, events } = setup(10, 20_000);
    box.update(event('X:trades', 1)); // goes out, fills the buffer past high water
    const snap = `{"type":"snapshot","data":[${'"x",'.repeat(1_000)}"x"]}`;
    for (let i = 0; i < 3; i++) box.eventSnapshot(`K${i}:trades`, snap, 'market');
    expect(box.queuedBytes).toBe(3 * snap.length);
    box.eventSnapshot('K0:trades', snap, 'market'); // replaces its slot: counted once
    expect(box.queuedBytes).toBe(3 * snap.length);
    box.update(state('A', 1));
    expect(box.queuedBytes).toBe(3 * snap.length + updateFrame(state('A', 1)).length);
    let i = 3;
    while (events.overflow === 0 && i < 100) box.eventSnapshot(`K${i++}:trades`, snap, 'market');
    expect(events.overflow).toBe(1);
    expect(i).toBeLessThanOrEqual(6); // ~4 KB each against a 20,000 byte cap
    expect(box.queuedBytes).toBe(0);
  });

  it('bounds queued event snapshot slots, and lets a producer wait for room', async () => {
    const sink = new FakeSink();
    let overflow = 0;
    const box = new Outbox(sink, { highWaterBytes: 10, queueBytesCap: 1_000_000, maxQueuedSnapshots: 3, onOverflow: () => overflow++ });
    box.update(event('X:trades', 1));
    for (let i = 0; i < 3; i++) box.eventSnapshot(`K${i}:trades`, '{"type":"snapshot"}', 'market');
    expect(box.hasRoom()).toBe(false);
    const room = box.room();
    drainAll(sink, box);
    expect(await room).toBe(true);
    for (let i = 0; i < 4; i++) box.eventSnapshot(`K${i}:trades`, '{"type":"snapshot"}', 'market');
    expect(overflow).toBe(1);
    expect(await box.room()).toBe(false); // closed
  });

  it('queues the heartbeat ping behind waiting frames and reports a queue that makes no progress', () => {
    let now = 1_000;
    const sink = Object.assign(new FakeSink(), { pings: [] as number[] });
    (sink as unknown as { ping: (d: Buffer, cb: () => void) => void }).ping = (_d, cb) => {
      sink.pings.push(sink.frames.length);
      cb();
    };
    const box = new Outbox(sink, { highWaterBytes: 10, queueBytesCap: 10_000, onOverflow: () => {}, now: () => now });
    box.update(event('A:trades', 1));
    box.update(event('A:trades', 2));
    box.ping(Buffer.from('nonce'));
    expect(sink.pings).toEqual([]);
    expect(box.queuedBytes).toBe(updateFrame(event('A:trades', 2)).length + 5);
    now += 5_000;
    expect(box.stalledMs()).toBe(5_000);
    drainAll(sink, box);
    expect(sink.pings).toEqual([2]); // after both frames
    expect(box.stalledMs()).toBe(0);
  });

  it('never loses the newest state nor breaks contiguity, whatever the drain pattern (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom('A', 'B', 'C'), fc.constant('drain' as const)), { maxLength: 200 }),
        fc.integer({ min: 1, max: 400 }),
        (ops, highWater) => {
          const { sink, box } = setup(highWater);
          const seq: Record<string, number> = {};
          for (const op of ops) {
            if (op === 'drain') sink.drain();
            else box.update(state(op, (seq[op] = (seq[op] ?? 0) + 1)));
            expect(box.size).toBeLessThanOrEqual(3);
          }
          drainAll(sink, box);
          const last: Record<string, number> = {};
          for (const m of sink.parsed() as UpdateMsg[]) {
            expect(m.from ?? m.seq).toBe((last[m.key] ?? 0) + 1);
            last[m.key] = m.seq;
          }
          expect(last).toEqual(seq);
        },
      ),
    );
  });
});
