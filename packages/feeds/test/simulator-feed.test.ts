import type { MarketEvent } from '@stock-tracker/protocol';
import { ManualClock, Simulator, SimulatorFeed, encodeEvent, systemClock } from '../src/index.ts';

const START = Date.parse('2025-01-06T08:30:00+07:00');
const opts = { seed: 8, dayMs: 60_000, intensity: 400 };

describe('SimulatorFeed', () => {
  it('advances with the injected clock every tick and delivers exactly what the simulator generates', async () => {
    const clock = new ManualClock(START);
    const feed = new SimulatorFeed({ ...opts, startTs: START, clock });
    const got: MarketEvent[] = [];
    await feed.start((ev) => got.push(ev));
    // The day's opening events are due at once.
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((e) => e.ts === START)).toBe(true);
    const batches: number[] = [];
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      batches.push(got.length);
      expect(got.at(-1)!.ts).toBeLessThanOrEqual(clock.now());
    }
    const expected = new Simulator({ ...opts, startTs: START }).advanceTo(START + 10_000);
    expect(got.map(encodeEvent)).toEqual(expected.map(encodeEvent));
    // Events arrive spread over the ticks, not in one lump.
    expect(new Set(batches).size).toBeGreaterThan(20);

    const st = feed.status();
    expect(st).toMatchObject({ name: 'simulator', connected: true, events: got.length, malformed: 0, errors: {} });
    expect(st.lastEventTs).toBe(got.at(-1)!.ts);

    await feed.stop();
    expect(clock.pending).toBe(0);
    const n = got.length;
    clock.advance(5_000);
    expect(got.length).toBe(n);
    expect(feed.status().connected).toBe(false);
  });

  it('pause holds delivery and resume catches up with exactly the same events', async () => {
    const clock = new ManualClock(START);
    const feed = new SimulatorFeed({ ...opts, startTs: START, clock });
    const got: MarketEvent[] = [];
    await feed.start((ev) => got.push(ev));
    clock.advance(2_000);
    feed.pause();
    const atPause = got.length;
    clock.advance(3_000);
    expect(got.length).toBe(atPause);
    feed.resume();
    expect(got.length).toBeGreaterThan(atPause);
    clock.advance(1_000);
    const expected = new Simulator({ ...opts, startTs: START }).advanceTo(START + 6_000);
    expect(got.map(encodeEvent)).toEqual(expected.map(encodeEvent));
    await feed.stop();
  });

  it('aligns day loops to multiples of dayMs by default and catches up to now on start', async () => {
    const aligned = 28_000_000 * 60_000;
    const clock = new ManualClock(aligned + 12_345);
    const feed = new SimulatorFeed({ ...opts, clock });
    expect(feed.simulator.startTs).toBe(aligned);
    const got: MarketEvent[] = [];
    await feed.start((ev) => got.push(ev));
    expect(got[0]!.ts).toBe(aligned);
    expect(got.at(-1)!.ts).toBeLessThanOrEqual(aligned + 12_345);
    expect(got.some((e) => e.type === 'trade')).toBe(true);
    // A restart within the same loop regenerates the same events (same trade ids).
    const again: MarketEvent[] = [];
    await new SimulatorFeed({ ...opts, clock }).start((ev) => again.push(ev));
    expect(again.map(encodeEvent)).toEqual(got.map(encodeEvent));
    await feed.stop();
  });

  it('counts a throwing sink as an error and keeps going', async () => {
    const clock = new ManualClock(START);
    const feed = new SimulatorFeed({ ...opts, startTs: START, clock });
    let calls = 0;
    await feed.start(() => {
      calls++;
      if (calls % 2 === 0) throw new Error('consumer bug');
    });
    clock.advance(2_000);
    const st = feed.status();
    expect(st.events).toBe(calls);
    expect(st.errors.sink).toBe(Math.floor(calls / 2));
    await expect(feed.start(() => {})).rejects.toThrow(/already started/);
    await feed.stop();
  });
});

describe('clocks', () => {
  it('ManualClock fires intervals in time order with now() at the due instant', () => {
    const clock = new ManualClock(1_000);
    const seen: string[] = [];
    const a = clock.setInterval(() => seen.push(`a@${clock.now()}`), 300);
    clock.setInterval(() => seen.push(`b@${clock.now()}`), 500);
    clock.advance(1_000);
    expect(seen).toEqual(['a@1300', 'b@1500', 'a@1600', 'a@1900', 'b@2000']);
    expect(clock.now()).toBe(2_000);
    clock.clearInterval(a);
    clock.advance(500);
    expect(seen.at(-1)).toBe('b@2500');
  });

  it('systemClock reads the wall clock and runs real intervals', async () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    let ticks = 0;
    const h = systemClock.setInterval(() => ticks++, 5);
    await new Promise((r) => setTimeout(r, 60));
    systemClock.clearInterval(h);
    const after = ticks;
    expect(after).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(ticks).toBe(after);
  });
});
