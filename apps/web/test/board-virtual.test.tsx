// @vitest-environment jsdom
import { act, cleanup, fireEvent, render } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { HEADER_HEIGHT, HEADER_ROWS, OVERSCAN, ROW_HEIGHT } from '../src/components/board/board-geometry.ts';
import { DEFAULT_SORT } from '../src/components/board/board-model.ts';
import { FlashSweeper } from '../src/components/board/flash.ts';
import { PriceBoard } from '../src/components/board/PriceBoard.tsx';
import { renderStats, resetRenderStats } from '../src/lib/render-counter.ts';
import { createQuoteStore, type QuoteStore } from '../src/store/quote-store.ts';
import { makeQuote, stubBoardViewport } from './helpers.tsx';

/** 400 symbols, as in the board benchmark; the scroll box shows 20 rows under the header. */
const COUNT = 400;
const VISIBLE = 20;
const SYMBOLS = Array.from({ length: COUNT }, (_, i) => `S${String(i).padStart(3, '0')}`);

let restoreLayout: () => void;
beforeEach(() => {
  restoreLayout = stubBoardViewport(HEADER_HEIGHT + VISIBLE * ROW_HEIGHT);
});
afterEach(() => {
  cleanup();
  restoreLayout();
});

function setup(onOpen: (s: string) => void = () => {}) {
  const store: QuoteStore = createQuoteStore(() => {}); // frames are flushed by the test
  for (const s of SYMBOLS) store.set(s, makeQuote(s));
  store.flush();
  const flash = new FlashSweeper({ now: () => 0, setTimer: () => 0, clearTimer: () => {} });
  const utils = render(
    <MemoryRouter>
      <PriceBoard symbols={SYMBOLS} store={store} sort={DEFAULT_SORT} onSort={() => {}} onOpen={onOpen} flash={flash} />
    </MemoryRouter>,
  );
  const scroller = utils.container.querySelector<HTMLElement>('.board-scroll')!;
  return { store, scroller, ...utils };
}

const rows = () => [...document.querySelectorAll<HTMLTableRowElement>('.board tbody tr[data-symbol]')];
const rendered = () => rows().map((r) => r.dataset.symbol!);
const rowIndexes = () => rows().map((r) => Number(r.getAttribute('aria-rowindex')));
/** Scrolls the box as a user would: the browser moves scrollTop, then fires `scroll`. */
async function scrollTo(scroller: HTMLElement, top: number) {
  await act(async () => {
    scroller.scrollTop = top;
    scroller.dispatchEvent(new Event('scroll'));
  });
}
const update = (store: QuoteStore, symbols: string[], ts: number) =>
  act(() => {
    for (const s of symbols) store.set(s, makeQuote(s, { ts, last: 50_200, totalVolume: 130_000 + ts % 1000 }));
    store.flush();
  });

describe('virtual price board', () => {
  it('renders only the rows in view plus the overscan, and tells assistive technology the real size', () => {
    const { container } = setup();
    expect(rows().length).toBe(VISIBLE + OVERSCAN);
    expect(rendered()[0]).toBe('S000');
    const table = container.querySelector('table')!;
    expect(table.getAttribute('aria-rowcount')).toBe(String(HEADER_ROWS + COUNT));
    expect(rowIndexes()).toEqual(Array.from({ length: VISIBLE + OVERSCAN }, (_, i) => HEADER_ROWS + 1 + i));
    expect([...container.querySelectorAll('thead tr')].map((r) => r.getAttribute('aria-rowindex'))).toEqual(['1', '2']);
    // The spacer stands in for every row not rendered and is hidden from assistive technology.
    const gaps = [...container.querySelectorAll<HTMLElement>('tbody tr.gap')];
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.getAttribute('aria-hidden')).toBe('true');
    expect(parseFloat(gaps[0]!.querySelector('td')!.style.height)).toBe((COUNT - VISIBLE - OVERSCAN) * ROW_HEIGHT);
  });

  it('a row out of view costs nothing per update: no subscription, no render', () => {
    const { store } = setup();
    expect(store.listenerCount('S000')).toBe(1);
    expect(store.listenerCount('S300')).toBe(0);
    resetRenderStats();
    update(store, SYMBOLS.slice(100, 400), 1_717_380_001_000);
    expect(renderStats.rows).toBe(0);
    expect(renderStats.board).toBe(0);
    update(store, ['S003', 'S250'], 1_717_380_002_000);
    expect(renderStats.bySymbol).toEqual({ S003: 1 });
    expect(document.querySelector('tr[data-symbol="S003"] .col-last')!.textContent).toBe('50,200');
  });

  it('scrolling swaps the rendered window, keeps the scroll height, and shows current values without flashing them', async () => {
    const { store, scroller } = setup();
    const height = scroller.scrollHeight;
    expect(height).toBe(HEADER_HEIGHT + COUNT * ROW_HEIGHT);
    update(store, ['S205'], 1_717_380_001_000); // changes while out of view
    await scrollTo(scroller, 200 * ROW_HEIGHT);
    const shown = rendered();
    expect(shown).toContain('S200');
    expect(shown).toContain(`S${200 + VISIBLE - 1}`);
    expect(shown).not.toContain('S050');
    // The rows the box spans (the header band included, a partial row at each end), the overscan, the tab stop row.
    expect(shown.length).toBeLessThanOrEqual(HEADER_HEIGHT / ROW_HEIGHT + VISIBLE + 2 + 2 * OVERSCAN + 1);
    // Every rendered row's aria-rowindex matches its place in the list.
    for (const r of rows()) expect(Number(r.getAttribute('aria-rowindex'))).toBe(HEADER_ROWS + 1 + SYMBOLS.indexOf(r.dataset.symbol!));
    expect(scroller.scrollHeight).toBe(height); // spacers make up for the rows that left: no jump
    expect(store.listenerCount('S010')).toBe(0); // rows that left unsubscribed
    const cell = document.querySelector<HTMLElement>('tr[data-symbol="S205"] .col-last')!;
    expect(cell.textContent).toBe('50,200'); // the value that arrived while it was out of view
    expect(cell.className).not.toMatch(/flash-/); // entering the view is not a change
  });

  it('the focused row stays in the DOM (and focused) when scrolled far away', async () => {
    const { scroller } = setup();
    const first = rows()[0]!;
    act(() => first.focus());
    await scrollTo(scroller, 300 * ROW_HEIGHT);
    expect(rendered()[0]).toBe('S000');
    expect(first.isConnected).toBe(true);
    expect(document.activeElement).toBe(first);
    expect(first.tabIndex).toBe(0);
    expect(rows().filter((r) => r.tabIndex === 0)).toHaveLength(1);
  });

  it('keyboard: End, Home and PageDown reach rows that were not rendered and scroll them into view', async () => {
    const onOpen = vi.fn();
    const { scroller } = setup(onOpen);
    const view = () => ({ top: scroller.scrollTop + HEADER_HEIGHT, bottom: scroller.scrollTop + scroller.clientHeight });
    const inView = (symbol: string) => {
      const top = HEADER_HEIGHT + SYMBOLS.indexOf(symbol) * ROW_HEIGHT;
      return top >= view().top && top + ROW_HEIGHT <= view().bottom;
    };
    const active = () => (document.activeElement as HTMLElement).dataset.symbol;
    act(() => rows()[0]!.focus());

    await act(async () => void fireEvent.keyDown(document.activeElement!, { key: 'End' }));
    expect(active()).toBe('S399');
    expect(document.activeElement!.getAttribute('aria-rowindex')).toBe(String(HEADER_ROWS + COUNT));
    expect(inView('S399')).toBe(true);

    await act(async () => void fireEvent.keyDown(document.activeElement!, { key: 'Home' }));
    expect(active()).toBe('S000');
    expect(scroller.scrollTop).toBe(0);

    await act(async () => void fireEvent.keyDown(document.activeElement!, { key: 'PageDown' }));
    expect(active()).toBe(`S${String(VISIBLE).padStart(3, '0')}`); // one page = the rows that fit under the header
    expect(inView(active()!)).toBe(true);
    await act(async () => void fireEvent.keyDown(document.activeElement!, { key: 'PageDown' }));
    await act(async () => void fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' }));
    expect(active()).toBe(`S${String(2 * VISIBLE + 1).padStart(3, '0')}`);
    expect(inView(active()!)).toBe(true);
    fireEvent.keyDown(document.activeElement!, { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledWith(active());
  });
});
