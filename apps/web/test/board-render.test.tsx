// @vitest-environment jsdom
import { act, cleanup, render } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { DEFAULT_SORT, type SortState } from '../src/components/board/board-model.ts';
import { PriceBoard } from '../src/components/board/PriceBoard.tsx';
import { renderStats, resetRenderStats } from '../src/lib/render-counter.ts';
import { createQuoteStore, type QuoteStore } from '../src/store/quote-store.ts';
import { makeQuote } from './helpers.tsx';

const SYMBOLS = Array.from({ length: 60 }, (_, i) => `S${String(i).padStart(2, '0')}`);
const noop = () => {};

function setup(sort: SortState = DEFAULT_SORT, resortMs?: number) {
  const store: QuoteStore = createQuoteStore(() => {}); // the test flushes "frames" itself
  for (const s of SYMBOLS) store.set(s, makeQuote(s, { totalVolume: 1_000 }));
  store.flush();
  const utils = render(
    <MemoryRouter>
      <PriceBoard symbols={SYMBOLS} store={store} sort={sort} onSort={noop} onOpen={noop} resortMs={resortMs} />
    </MemoryRouter>,
  );
  return { store, ...utils };
}
const row = (container: HTMLElement, s: string) => container.querySelector<HTMLTableRowElement>(`tr[data-symbol="${s}"]`)!;
const cell = (container: HTMLElement, s: string, col: string) => row(container, s).querySelector<HTMLElement>(`.col-${col}`)!;

afterEach(() => cleanup());

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

  it('flashes exactly the cells that changed, restarting the animation on each change', () => {
    const { store, container } = setup();
    const last = () => cell(container, 'S05', 'last');
    const ref = () => cell(container, 'S05', 'ref');
    expect(last().className).not.toMatch(/flash-/);
    act(() => {
      store.set('S05', makeQuote('S05', { ts: 1_717_380_001_000, last: 50_300, totalVolume: 1_000 }));
      store.flush();
    });
    const first = last().className.match(/flash-(\w+)-(\d)/);
    expect(first?.[1]).toBe('up');
    expect(ref().className).not.toMatch(/flash-/);
    act(() => {
      store.set('S05', makeQuote('S05', { ts: 1_717_380_002_000, last: 50_200, totalVolume: 1_000 }));
      store.flush();
    });
    const second = last().className.match(/flash-(\w+)-(\d)/);
    expect(second?.[1]).toBe('down');
    expect(second?.[2]).not.toBe(first?.[2]); // another animation name: the browser restarts it
    // a change elsewhere in the row leaves this cell's class (and its animation) alone
    const before = last().className;
    act(() => {
      store.set('S05', makeQuote('S05', { ts: 1_717_380_003_000, last: 50_200, totalVolume: 9_999 }));
      store.flush();
    });
    expect(last().className).toBe(before);
    expect(cell(container, 'S05', 'totalVol').className).toMatch(/flash-up-/);
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
      // Moving a row does not re-render the others: S42 (new data) and S00, which hands the
      // keyboard tab stop (first row while nothing is focused) over to S42.
      expect(Object.keys(renderStats.bySymbol).sort()).toEqual(['S00', 'S42']);
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
