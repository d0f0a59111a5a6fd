// @vitest-environment jsdom
import fc from 'fast-check';
import { FLASH_MS, FlashSweeper, flashDirection, type FlashClock } from '../src/components/board/flash.ts';

/** A clock moved by the test; timers fire in time order as it passes them. */
function manualClock() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  const clock: FlashClock = {
    now: () => now,
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => {
      timers = timers.filter((x) => x !== t);
    },
  };
  return {
    clock,
    pending: () => timers.length,
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = Math.max(now, due.at);
        due.fn();
      }
      now = end;
    },
  };
}

const cellEl = (cls = 'col-last tone-up') => {
  const td = document.createElement('td');
  td.className = cls;
  return td;
};
const flashOf = (el: Element) => [...el.classList].filter((c) => c.startsWith('flash-'));

describe('flash direction', () => {
  const v = (text: string, num: number | null) => ({ text, tone: 'none' as const, num });
  it('up or down by the number, chg when only the text changed, nothing when unchanged or emptied', () => {
    expect(flashDirection(v('50,000', 50_000), v('50,100', 50_100))).toBe('up');
    expect(flashDirection(v('50,100', 50_100), v('50,000', 50_000))).toBe('down');
    expect(flashDirection(v('', null), v('50,000', 50_000))).toBe('chg'); // first trade
    expect(flashDirection(v('1.2M', 1_200_000), v('1.2M', 1_240_000))).toBeNull(); // same text: nothing visible changed
    expect(flashDirection(v('50,000', 50_000), v('', null))).toBeNull();
    expect(flashDirection(undefined, v('50,000', 50_000))).toBeNull(); // first render
  });
});

describe('flash sweeper', () => {
  it('lights a cell for FLASH_MS, keeps its other classes, then clears it', () => {
    const t = manualClock();
    const sweeper = new FlashSweeper(t.clock);
    const td = cellEl();
    sweeper.flash(td, 'up');
    expect(flashOf(td)).toEqual(['flash-up']);
    expect(td.classList.contains('tone-up')).toBe(true);
    t.advance(FLASH_MS - 100);
    expect(flashOf(td)).toEqual(['flash-up']);
    t.advance(100);
    expect(flashOf(td)).toEqual([]);
    expect(td.className).toBe('col-last tone-up');
    expect(sweeper.size).toBe(0);
    expect(t.pending()).toBe(0); // no timer left running
  });

  it('a change while lit switches the colour and restarts the time', () => {
    const t = manualClock();
    const sweeper = new FlashSweeper(t.clock);
    const td = cellEl();
    sweeper.flash(td, 'up');
    t.advance(FLASH_MS - 50);
    sweeper.flash(td, 'down');
    expect(flashOf(td)).toEqual(['flash-down']);
    t.advance(FLASH_MS - 100);
    expect(flashOf(td)).toEqual(['flash-down']);
    t.advance(100);
    expect(flashOf(td)).toEqual([]);
  });

  it('clears every cell once its time is up, whatever the order of flashes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ cell: fc.integer({ min: 0, max: 7 }), wait: fc.integer({ min: 0, max: 400 }), dir: fc.constantFrom('up', 'down', 'chg') as fc.Arbitrary<'up' | 'down' | 'chg'> }), { maxLength: 60 }),
        (steps) => {
          const t = manualClock();
          const sweeper = new FlashSweeper(t.clock);
          const cells = Array.from({ length: 8 }, () => cellEl());
          const litAt = new Map<number, number>();
          let now = 0;
          for (const s of steps) {
            t.advance(s.wait);
            now += s.wait;
            sweeper.flash(cells[s.cell]!, s.dir);
            litAt.set(s.cell, now);
            // Every cell flashed less than FLASH_MS ago minus the sweep slack is lit; none flashed FLASH_MS or more ago is.
            for (const [i, at] of litAt) {
              const age = now - at;
              if (age < FLASH_MS - 40) expect(flashOf(cells[i]!)).toHaveLength(1);
              if (age >= FLASH_MS) expect(flashOf(cells[i]!)).toHaveLength(0);
            }
          }
          t.advance(FLASH_MS);
          for (const c of cells) expect(flashOf(c)).toEqual([]);
          expect(sweeper.size).toBe(0);
        },
      ),
    );
  });

  it('batches the cells that go dark together into one timer callback', () => {
    const t = manualClock();
    const sweeper = new FlashSweeper(t.clock);
    const cells = Array.from({ length: 50 }, () => cellEl());
    for (const c of cells) sweeper.flash(c, 'chg'); // same frame
    expect(t.pending()).toBe(1);
    t.advance(FLASH_MS);
    expect(cells.every((c) => flashOf(c).length === 0)).toBe(true);
  });
});
