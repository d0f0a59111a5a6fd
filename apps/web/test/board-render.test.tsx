// @vitest-environment jsdom
import { act, cleanup, render } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { DEFAULT_SORT, type SortState } from '../src/components/board/board-model.ts';
import { PriceBoard } from '../src/components/board/PriceBoard.tsx';
import { renderStats, resetRenderStats } from '../src/lib/render-counter.ts';
import { createQuoteStore, type QuoteStore } from '../src/store/quote-store.ts';
import { HEADER_ROWS } from '../src/components/board/board-geometry.ts';
import { FLASH_MS, FlashSweeper } from '../src/components/board/flash.ts';
import { makeQuote, stubBoardViewport } from './helpers.tsx';

const SYMBOLS = Array.from({ length: 60 }, (_, i) => `S${String(i).padStart(2, '0')}`);
const noop = () => {};

/** A clock the test moves by hand, for the flash timing. */
function fakeClock() {
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  return {
    clock: {
      now: () => now,
      setTimer: (fn: () => void, ms: number) => {
        const t = { at: now + ms, fn };
        timers.push(t);
        return t;
      },
      clearTimer: (t: unknown) => {
        const i = timers.indexOf(t as (typeof timers)[number]);
        if (i >= 0) timers.splice(i, 1);
      },
    },
    advance(ms: number) {
      now += ms;
      for (let t = timers.find((x) => x.at <= now); t; t = timers.find((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    },
  };
}

function setup(sort: SortState = DEFAULT_SORT, resortMs?: number) {
  const store: QuoteStore = createQuoteStore(() => {}); // the test flushes "frames" itself
  for (const s of SYMBOLS) store.set(s, makeQuote(s, { totalVolume: 1_000 }));
  store.flush();
  const time = fakeClock();
  const flash = new FlashSweeper(time.clock);
  const utils = render(
    <MemoryRouter>
      <PriceBoard symbols={SYMBOLS} store={store} sort={sort} onSort={noop} onOpen={noop} resortMs={resortMs} flash={flash} />
    </MemoryRouter>,
  );
  return { store, time, flash, ...utils };
}
const row = (container: HTMLElement, s: string) => container.querySelector<HTMLTableRowElement>(`tr[data-symbol="${s}"]`)!;
const cell = (container: HTMLElement, s: string, col: string) => row(container, s).querySelector<HTMLElement>(`.col-${col}`)!;

let restoreLayout: () => void;
beforeEach(() => {
  restoreLayout = stubBoardViewport(); // room for all 60 rows
});
afterEach(() => {
  cleanup();
  restoreLayout();
});

describe('price board rendering', () => {
  it('re-renders only the row of the symbol that changed', () => {
    const { store, container } = setup();
    expect(renderStats.bySymbol.S07).toBeGreaterThan(0); // every row rendered once at mount
    resetRenderStats();
    act(() => {
      store.set('S07', makeQuote('S07', { ts: 1_717_380_001_000, last: 50_300, change: 300, changePct: 0.6, totalVolume: 1_500 }));
      store.flush();
    });
    expect(renderStats.rows).toBe(1);
    expect(renderStats.bySymbol).toEqual({ S07: 1 });
    expect(renderStats.board).toBe(0);
    expect(cell(container, 'S07', 'last').textContent).toBe('50,300');
  });

  it('renders a burst of updates to a few symbols once per row per frame', () => {
    const { store } = setup();
    resetRenderStats();
    act(() => {
      for (let i = 0; i < 300; i++) {
        const s = ['S01', 'S02', 'S03'][i % 3]!;
        store.set(s, makeQuote(s, { ts: 1_717_380_000_000 + i, lastVolume: 100 + i }));
      }
      store.flush();
    });
    expect(renderStats.rows).toBe(3);
    expect(Object.keys(renderStats.bySymbol).sort()).toEqual(['S01', 'S02', 'S03']);
    expect(renderStats.board).toBe(0);
  });

  it('flashes exactly the cells that changed, in the direction of the change, for FLASH_MS', () => {
    const { store, container, time, flash } = setup();
    const last = () => cell(container, 'S05', 'last');
    const ref = () => cell(container, 'S05', 'ref');
    const flashOf = (el: HTMLElement) => el.className.match(/\bflash-(up|down|chg)\b/)?.[1] ?? null;
    expect(flashOf(last())).toBeNull(); // the first values shown do not flash
    act(() => {
      store.set('S05', makeQuote('S05', { ts: 1_717_380_001_000, last: 50_300, totalVolume: 1_000 }));
      store.flush();
    });
    expect(flashOf(last())).toBe('up');
    expect(flashOf(ref())).toBeNull();
    expect(last().className).toContain('tone-up'); // the tint does not replace the price colour
    time.advance(FLASH_MS / 2);
    act(() => {
      store.set('S05', makeQuote('S05', { ts: 1_717_380_002_000, last: 50_200, totalVolume: 1_000 }));
      store.flush();
    });
    expect(flashOf(last())).toBe('down'); // a new change while lit switches colour and restarts the time
    time.advance(FLASH_MS / 2 + 50);
    expect(flashOf(last())).toBe('down');
    // a change elsewhere in the row leaves this cell alone
    act(() => {
      store.set('S05', makeQuote('S05', { ts: 1_717_380_003_000, last: 50_200, totalVolume: 9_999 }));
      store.flush();
    });
    expect(flashOf(cell(container, 'S05', 'totalVol'))).toBe('up');
    time.advance(FLASH_MS);
    expect(flashOf(last())).toBeNull();
    expect(flashOf(cell(container, 'S05', 'totalVol'))).toBeNull();
    expect(flash.size).toBe(0); // nothing left lit, no element kept
  });

  it('colours cells by the price against reference, ceiling and floor', () => {
    const { store, container } = setup();
    act(() => {
      store.set('S09', makeQuote('S09', { ts: 1_717_380_001_000, last: 53_500, change: 3_500, changePct: 7, high: 53_500, low: 46_500 }));
      store.flush();
    });
    expect(cell(container, 'S09', 'last').className).toContain('tone-ceiling');
    expect(cell(container, 'S09', 'symbol').className).toContain('tone-ceiling');
    expect(cell(container, 'S09', 'low').className).toContain('tone-floor');
    expect(cell(container, 'S09', 'ref').className).toContain('tone-ref');
    expect(cell(container, 'S09', 'bid1p').className).toContain('tone-ref'); // best bid 50,000 = reference
    expect(cell(container, 'S09', 'ask1p').className).toContain('tone-up');
    expect(cell(container, 'S09', 'bid3p').className).toContain('tone-down');
  });

  it('shows an empty match before the first trade, and no limits for a US symbol', () => {
    const { store, container } = setup();
    act(() => {
      store.set('S10', makeQuote('S10', { ts: 1_717_380_001_000, last: null, change: null, changePct: null, lastVolume: 0 }));
      store.set('S11', makeQuote('S11', { ts: 1_717_380_001_000, market: 'US', exchange: 'NASDAQ', reference: 187.5, ceiling: null, floor: null, last: 188.25, bids: [], asks: [] }));
      store.flush();
    });
    expect(cell(container, 'S10', 'last').textContent).toBe('');
    expect(cell(container, 'S10', 'pct').textContent).toBe('');
    expect(cell(container, 'S10', 'symbol').className).not.toMatch(/tone-/);
    expect(cell(container, 'S11', 'ceil').textContent).toBe('');
    expect(cell(container, 'S11', 'last').textContent).toBe('188.25');
    expect(cell(container, 'S11', 'last').className).toContain('tone-up');
  });

  it('live sort re-orders at most once per interval and only when the order changes', () => {
    vi.useFakeTimers();
    try {
      const { store, container } = setup({ key: 'totalVolume', dir: 'desc' }, 1_000);
      const order = () => [...container.querySelectorAll('tbody tr')].map((r) => r.getAttribute('data-symbol'));
      expect(order().slice(0, 2)).toEqual(['S00', 'S01']); // ties fall back to the symbol
      resetRenderStats();
      act(() => {
        store.set('S42', makeQuote('S42', { ts: 1_717_380_001_000, totalVolume: 900_000 }));
        store.flush();
      });
      expect(order()[0]).toBe('S00'); // not yet: the re-sort waits for the interval
      act(() => void vi.advanceTimersByTime(1_000));
      expect(order()[0]).toBe('S42');
      expect(renderStats.board).toBe(1);
      // Re-rendered: S42 (new data, moved to the top) and the rows it pushed down one place,
      // whose aria-rowindex and stripe change; the rows below its old place are left alone.
      expect(Object.keys(renderStats.bySymbol).sort()).toEqual(SYMBOLS.slice(0, 43));
      expect(row(container, 'S07').getAttribute('aria-rowindex')).toBe(String(HEADER_ROWS + 8 + 1));
      resetRenderStats();
      act(() => {
        store.set('S42', makeQuote('S42', { ts: 1_717_380_002_000, totalVolume: 950_000 }));
        store.flush();
      });
      act(() => void vi.advanceTimersByTime(1_000));
      expect(renderStats.board).toBe(0); // same order: no board render
    } finally {
      vi.useRealTimers();
    }
  });
});
