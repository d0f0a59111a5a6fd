import fc from 'fast-check';
import type { MarketEvent, SessionPhase } from '@stock-tracker/protocol';
import { HOSE, phaseAt } from '@stock-tracker/rules';
import { ManualClock, SIM_START_PHASES, Simulator, SimulatorFeed, encodeEvent, phaseChanges, systemClock } from '../src/index.ts';

const START = Date.parse('2025-01-06T08:30:00+07:00');
const opts = { seed: 8, dayMs: 60_000, intensity: 400 };
/** What the feed generates: the simulator on the exchange clock, paced by wall time. */
const expectedUpTo = (wallTs: number, startTs = START) => new Simulator({ ...opts, startTs, clock: 'exchange' }).advanceToWall(wallTs);

describe('SimulatorFeed', () => {
  it('advances with the injected clock every tick and delivers exactly what the simulator generates', async () => {
    const clock = new ManualClock(START);
    const feed = new SimulatorFeed({ ...opts, startTs: START, clock });
    const got: MarketEvent[] = [];
    await feed.start((ev) => got.push(ev));
    // The day's opening events are due at once, stamped 08:30 exchange time (START is 08:30 in Ho Chi Minh City).
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((e) => e.ts === START)).toBe(true);
    const batches: number[] = [];
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      batches.push(got.length);
      // Paced by wall milliseconds: what happens within the current one is due.
      expect(got.at(-1)!.ts).toBeLessThanOrEqual(feed.simulator.exchangeTimeAt(clock.now() + 1));
    }
    const expected = expectedUpTo(START + 10_000);
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
    const expected = expectedUpTo(START + 6_000);
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
    expect(got[0]!.ts).toBe(feed.simulator.exchangeTimeAt(aligned));
    expect(got.map(encodeEvent)).toEqual(expectedUpTo(aligned + 12_345, aligned).map(encodeEvent));
    expect(got.some((e) => e.type === 'trade')).toBe(true);
    // A restart within the same loop regenerates the same events (same trade ids).
    const again: MarketEvent[] = [];
    await new SimulatorFeed({ ...opts, clock }).start((ev) => again.push(ev));
    expect(again.map(encodeEvent)).toEqual(got.map(encodeEvent));
    await feed.stop();
  });

  const hoseStatuses = (events: MarketEvent[]) => events.filter((e): e is Extract<MarketEvent, { type: 'status' }> => e.type === 'status' && e.exchange === 'HOSE' && !e.symbol);
  const PHASES = SIM_START_PHASES.filter((p): p is SessionPhase => p !== 'aligned');

  it('starts the first day in the start phase at any hour, stamped in that phase by the rules (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PHASES), fc.integer({ min: 0, max: 7 * 86_400_000 }), async (phase, offset) => {
        const clock = new ManualClock(START + offset);
        const feed = new SimulatorFeed({ ...opts, clock, startPhase: phase });
        const got: MarketEvent[] = [];
        await feed.start((ev) => got.push(ev));
        const last = hoseStatuses(got).at(-1)!;
        expect(last.phase).toBe(phase);
        expect(phaseAt(HOSE, last.ts)).toBe(phase);
        // The day is either the aligned loop (already in the phase) or starts so that it enters it now.
        const aligned = Math.floor(clock.now() / opts.dayMs) * opts.dayMs;
        const s = feed.simulator.startTs;
        if (s !== aligned) {
          const entry = phaseChanges(HOSE, s, opts.dayMs, feed.simulator.layout).find((c) => c.phase === phase)!;
          expect(clock.now() - s - entry.offset).toBeGreaterThanOrEqual(0);
          expect(clock.now() - s - entry.offset).toBeLessThan(1);
        }
        await feed.stop();
      }),
      { numRuns: 60, seed: 1401 },
    );
  });

  it('continuous start: trades flow at once; quiet starts turn to trading within their short breaks', async () => {
    for (const phase of PHASES) {
      const clock = new ManualClock(START + 3 * 3_600_000); // 11:30 local: lunch in an aligned 60 s loop would not matter
      const feed = new SimulatorFeed({ ...opts, clock, startPhase: phase });
      const got: MarketEvent[] = [];
      await feed.start((ev) => got.push(ev));
      const atStart = got.length;
      // Breaks: pre-open and after-close a third of 1% of the day each, lunch 1%: at most 2 % of 60 s + the ATO/ATC/PLO time.
      let waited = 0;
      while (!got.slice(atStart).some((e) => e.type === 'trade' && !e.phase) && waited < opts.dayMs) {
        clock.advance(100);
        waited += 100;
      }
      expect(got.slice(atStart).some((e) => e.type === 'trade'), `no trade after starting in ${phase}`).toBe(true);
      if (phase === 'continuous') expect(waited).toBeLessThanOrEqual(500);
      await feed.stop();
    }
  });

  it('keeps the aligned loop when it is in the start phase now: a restart regenerates the same day', async () => {
    const aligned = 28_000_000 * 60_000;
    const sim = new Simulator({ ...opts, startTs: aligned });
    const cont = phaseChanges(HOSE, aligned, opts.dayMs, sim.layout).find((c) => c.phase === 'continuous')!;
    const clock = new ManualClock(aligned + Math.ceil(cont.offset) + 5_000);
    const first = new SimulatorFeed({ ...opts, clock, startPhase: 'continuous' });
    expect(first.simulator.startTs).toBe(aligned);
    const a: MarketEvent[] = [];
    await first.start((ev) => a.push(ev));
    const b: MarketEvent[] = [];
    await new SimulatorFeed({ ...opts, clock, startPhase: 'continuous' }).start((ev) => b.push(ev));
    expect(b.map(encodeEvent)).toEqual(a.map(encodeEvent));
    // In the lunch break of the aligned loop, a continuous start moves the day instead.
    const lunch = phaseChanges(HOSE, aligned, opts.dayMs, sim.layout).find((c) => c.phase === 'lunch_break')!;
    const moved = new SimulatorFeed({ ...opts, clock: new ManualClock(aligned + Math.ceil(lunch.offset) + 100), startPhase: 'continuous' });
    expect(moved.simulator.startTs).not.toBe(aligned);
    // `aligned` never moves it.
    expect(new SimulatorFeed({ ...opts, clock: new ManualClock(aligned + Math.ceil(lunch.offset) + 100), startPhase: 'aligned' }).simulator.startTs).toBe(aligned);
    await first.stop();
  });

  it('lays the first day out again at start: a slow server start does not eat into the start phase', async () => {
    const clock = new ManualClock(START + 5 * 3_600_000);
    const feed = new SimulatorFeed({ ...opts, clock, startPhase: 'lunch_break' });
    clock.advance(45_000); // longer than the lunch break and the afternoon session together
    const got: MarketEvent[] = [];
    await feed.start((ev) => got.push(ev));
    expect(hoseStatuses(got).at(-1)!.phase).toBe('lunch_break');
    await feed.stop();
  });

  it('refuses a start phase no simulated exchange has', () => {
    expect(() => new SimulatorFeed({ ...opts, symbols: ['BSR'], clock: new ManualClock(START), startPhase: 'ato' })).toThrow(/no simulated exchange has a 'ato' phase/);
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
