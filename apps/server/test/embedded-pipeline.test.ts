/**
 * The collector pipeline of the embedded role: feed → engine → bus + storage
 * writer. A full writer never stops live data: refused outputs are held in
 * order (nothing reordered); past the hold bound a pausable feed is paused
 * and an unpausable one has its storage outputs dropped (counted). Plus a
 * clock-driven advance that follows event time.
 */
import fc from 'fast-check';
import type { EngineOutput, MarketEvent } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { ManualClock, Simulator, type Feed, type FeedStatus } from '@stock-tracker/feeds';
import { createInMemoryBus } from '../src/bus/index.ts';
import { MarketPipeline, isPausable, type OutputWriter } from '../src/collector/index.ts';
import { ChunkedFeed } from '../src/roles/chunked-feed.ts';
import { createRegistry } from '../src/observability/metrics.ts';

class PushFeed implements Feed {
  readonly name = 'push';
  sink: ((ev: MarketEvent) => void) | null = null;
  pauses = 0;
  resumes = 0;
  constructor(pausable = false) {
    if (pausable) Object.assign(this, { pause: () => this.pauses++, resume: () => this.resumes++ });
  }
  async start(sink: (ev: MarketEvent) => void) {
    this.sink = sink;
  }
  async stop() {
    this.sink = null;
  }
  push(ev: MarketEvent) {
    this.sink?.(ev);
  }
  status(): FeedStatus {
    return { name: this.name, connected: this.sink !== null, lastEventTs: null, events: 0, malformed: 0, errors: {} };
  }
}

/** A writer whose capacity the test controls: `offer` refuses (without accepting) while closed. */
class GateWriter implements OutputWriter {
  readonly accepted: EngineOutput[] = [];
  refusals = 0;
  private open = true;
  private waiters: (() => void)[] = [];
  /** Accept at most this many more outputs, then close the gate (undefined: unlimited). */
  budget: number | undefined;
  offer(out: EngineOutput): boolean {
    if (!this.open || this.budget === 0) {
      this.refusals++;
      return false;
    }
    if (this.budget !== undefined) this.budget--;
    this.accepted.push(out);
    return true;
  }
  waitForCapacity(): Promise<void> {
    if (this.open && this.budget !== 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
  close() {
    this.open = false;
  }
  release(budget?: number) {
    this.open = true;
    this.budget = budget;
    for (const w of this.waiters.splice(0)) w();
  }
}

const START = Date.UTC(2025, 2, 3, 1, 30);
function tape(ms: number, seed = 5): MarketEvent[] {
  return new Simulator({ seed, startTs: START, dayMs: 120_000, symbols: 8, intensity: 300 }).advanceTo(START + ms);
}
/** What the engine emits for a tape when nothing ever blocks. */
function baseline(events: MarketEvent[]): EngineOutput[] {
  const engine = new MarketEngine();
  const out: EngineOutput[] = [];
  for (const ev of events) engine.apply(ev, (o) => out.push(o));
  return out;
}
const flushMicrotasks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('collector pipeline', () => {
  const events = tape(30_000);
  const expected = baseline(events);

  it('without backpressure: every output reaches the writer and the bus, in engine order', async () => {
    const bus = createInMemoryBus();
    const published: string[] = [];
    bus.subscribe((m) => published.push(`${m.channel}/${m.key}`));
    const feed = new PushFeed();
    const writer = new GateWriter();
    const c = new MarketPipeline({ feed, engine: new MarketEngine(), publisher: bus.publisher(), writer, clock: new ManualClock(START), registry: createRegistry({ processMetrics: false }) });
    await c.start();
    for (const ev of events) feed.push(ev);
    expect(writer.accepted).toEqual(expected);
    const streamed = expected.filter((o) => ['quote', 'trade', 'foreign', 'foreign_top', 'index', 'alert'].includes(o.type)).length;
    expect(published).toHaveLength(streamed);
    expect(c.status()).toMatchObject({ events: events.length, blockedOutputs: 0, paused: false, droppedOutputs: 0 });
    await c.stop();
  });

  it('a full writer holds outputs; they arrive complete and in order once it drains (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ at: fc.nat(events.length - 1), budget: fc.nat(200) }), { minLength: 1, maxLength: 6 }), async (stalls) => {
        const feed = new PushFeed();
        const writer = new GateWriter();
        const c = new MarketPipeline({ feed, engine: new MarketEngine(), publisher: createInMemoryBus().publisher(), writer, clock: new ManualClock(START) });
        await c.start();
        const at = new Map(stalls.map((s) => [s.at, s.budget]));
        for (let i = 0; i < events.length; i++) {
          if (at.has(i)) writer.close();
          feed.push(events[i]!);
          if (at.has(i)) {
            // Trickle capacity back in small budgets, as a database catching up would.
            await flushMicrotasks();
            writer.release(at.get(i));
            await flushMicrotasks();
            writer.release();
          }
        }
        await c.idle();
        expect(writer.accepted.length).toBe(expected.length);
        expect(writer.accepted).toEqual(expected);
        expect(c.status().blockedOutputs).toBe(0);
        await c.stop();
      }),
      { numRuns: 25, seed: 42 },
    );
    // CPU-bound (25 runs over a 30 s tape): generous for a loaded machine, not a speed assertion.
  }, 120_000);

  it('keeps publishing while the writer refuses; pauses a pausable feed past the hold bound, resumes after', async () => {
    const feed = new PushFeed(true);
    const writer = new GateWriter();
    const bus = createInMemoryBus();
    let published = 0;
    bus.subscribe(() => published++);
    const c = new MarketPipeline({ feed, engine: new MarketEngine(), publisher: bus.publisher(), writer, clock: new ManualClock(START), maxHeldOutputs: 50 });
    await c.start();
    writer.close();
    for (const ev of events.slice(0, 500)) feed.push(ev);
    const s = c.status();
    // Every event was applied and published although storage took nothing.
    expect(s.events).toBe(500);
    expect(published).toBe(baseline(events.slice(0, 500)).filter((o) => ['quote', 'trade', 'foreign', 'foreign_top', 'index', 'alert'].includes(o.type)).length);
    expect(s.paused).toBe(true);
    expect(s.blockedOutputs).toBeGreaterThan(50);
    expect(s.droppedOutputs).toBe(0);
    expect(feed.pauses).toBe(1);
    expect(writer.accepted).toHaveLength(0);
    writer.release();
    await c.idle();
    expect(feed.resumes).toBe(1);
    for (const ev of events.slice(500)) feed.push(ev);
    expect(writer.accepted).toEqual(expected);
    await c.stop();
  });

  it('a feed that cannot pause keeps flowing: past the hold bound new storage outputs are dropped and counted, memory stays bounded', async () => {
    const feed = new PushFeed(false);
    const writer = new GateWriter();
    const registry = createRegistry({ processMetrics: false });
    const bus = createInMemoryBus();
    let published = 0;
    bus.subscribe(() => published++);
    const c = new MarketPipeline({ feed, engine: new MarketEngine(), publisher: bus.publisher(), writer, clock: new ManualClock(START), maxHeldOutputs: 50, registry });
    await c.start();
    writer.close();
    const part = events.slice(0, 500);
    for (const ev of part) feed.push(ev);
    const out = baseline(part);
    expect(published).toBe(out.filter((o) => ['quote', 'trade', 'foreign', 'foreign_top', 'index', 'alert'].includes(o.type)).length);
    const s = c.status();
    expect(s).toMatchObject({ events: 500, paused: false, blockedOutputs: 50 });
    expect(s.droppedOutputs).toBe(out.length - 50);
    const dropped = (await registry.getSingleMetric('collector_storage_dropped_total')!.get()).values[0]!.value;
    expect(dropped).toBe(s.droppedOutputs);
    // What was held reaches the writer, in order, once it has room again; later outputs go straight through.
    writer.release();
    await c.idle();
    expect(writer.accepted).toEqual(out.slice(0, 50));
    await c.stop();
  });

  it('a wrapper is only as pausable as the feed it wraps (the collector role slices every feed)', () => {
    expect(isPausable(new PushFeed(false))).toBe(false);
    expect(isPausable(new PushFeed(true))).toBe(true);
    expect(isPausable(new ChunkedFeed(new PushFeed(false)))).toBe(false);
    expect(isPausable(new ChunkedFeed(new PushFeed(true)))).toBe(true);
    expect(isPausable(new ChunkedFeed(new ChunkedFeed(new PushFeed(false))))).toBe(false);
  });

  it('stop() hands every queued event to the writer before resolving', async () => {
    const feed = new PushFeed();
    const writer = new GateWriter();
    const c = new MarketPipeline({ feed, engine: new MarketEngine(), publisher: createInMemoryBus().publisher(), writer, clock: new ManualClock(START) });
    await c.start();
    writer.close();
    for (const ev of events) feed.push(ev);
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await flushMicrotasks();
    expect(stopped).toBe(false);
    writer.release();
    await stopping;
    expect(writer.accepted).toEqual(expected);
  });

  it('the timer advances event time by elapsed wall time: bars close without trades, even on an old tape', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1)); // wall clock years after the tape
    const feed = new PushFeed();
    const writer = new GateWriter();
    const engine = new MarketEngine();
    const c = new MarketPipeline({ feed, engine, publisher: createInMemoryBus().publisher(), writer, clock, advanceIntervalMs: 1_000 });
    await c.start();
    const first = events.slice(0, events.findIndex((e) => e.type === 'trade') + 1);
    for (const ev of first) feed.push(ev);
    const t0 = engine.now();
    const trade = first.at(-1)!;
    const closedBefore = writer.accepted.filter((o) => o.type === 'bar' && o.bar.closed).length;
    clock.advance(61_000);
    // Event time moved by the wall time elapsed, not to the 2030 wall clock.
    expect(engine.now()).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(engine.now()).toBeLessThanOrEqual(t0 + 61_000);
    const closed = writer.accepted.filter((o) => o.type === 'bar' && o.bar.closed);
    expect(closed.length).toBeGreaterThan(closedBefore);
    expect(closed.some((o) => o.type === 'bar' && o.bar.symbol === (trade as { symbol: string }).symbol)).toBe(true);
    await c.stop();
    expect(clock.pending).toBe(0);
  });

  it('preload applies stored reference data without writing it back', async () => {
    const refs = new Simulator({ seed: 1, startTs: START, symbols: 5 }).references();
    const writer = new GateWriter();
    const engine = new MarketEngine();
    const c = new MarketPipeline({ feed: new PushFeed(), engine, publisher: createInMemoryBus().publisher(), writer, clock: new ManualClock(START) });
    c.preload(refs);
    expect(engine.references().map((r) => r.symbol).sort()).toEqual(refs.map((r) => r.symbol).sort());
    expect(writer.accepted).toHaveLength(0);
    // A fresh reference from the feed wins over the preloaded one.
    const feed = new PushFeed();
    const c2 = new MarketPipeline({ feed, engine, publisher: createInMemoryBus().publisher(), writer, clock: new ManualClock(START) });
    await c2.start();
    feed.push({ type: 'reference', ts: START, ref: { ...refs[0]!, reference: refs[0]!.reference, tradingDate: '2025-03-04' } });
    expect(engine.reference(refs[0]!.symbol)!.tradingDate).toBe('2025-03-04');
    await c2.stop();
  });

  it('counts rejected events instead of failing', async () => {
    const feed = new PushFeed();
    const c = new MarketPipeline({ feed, engine: new MarketEngine(), publisher: createInMemoryBus().publisher(), writer: new GateWriter(), clock: new ManualClock(START) });
    await c.start();
    feed.push({ type: 'trade', ts: Number.NaN, symbol: 'X', id: '1', price: 1, volume: 1 });
    feed.push({ type: 'trade', ts: START, symbol: 'X', id: '2', price: -5, volume: 1 });
    feed.push(null as unknown as MarketEvent);
    expect(c.status()).toMatchObject({ events: 3, rejected: 3 });
    await c.stop();
  });
});
