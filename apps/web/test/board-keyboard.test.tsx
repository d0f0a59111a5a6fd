// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { DEFAULT_SORT, nextSort, type SortState } from '../src/components/board/board-model.ts';
import { PriceBoard } from '../src/components/board/PriceBoard.tsx';
import { createQuoteStore } from '../src/store/quote-store.ts';
import { makeQuote, stubBoardViewport } from './helpers.tsx';

let restoreLayout: () => void;
beforeEach(() => {
  restoreLayout = stubBoardViewport();
});
afterEach(() => {
  cleanup();
  restoreLayout();
});

function Harness({ onOpen, onWatch }: { onOpen: (s: string) => void; onWatch?: (s: string) => void }) {
  const [sort, setSort] = useState<SortState>(DEFAULT_SORT);
  const [store] = useState(() => {
    const st = createQuoteStore(() => {});
    st.set('AAA', makeQuote('AAA', { changePct: 1, totalVolume: 10 }));
    st.set('BBB', makeQuote('BBB', { changePct: -2, totalVolume: 30 }));
    st.set('CCC', makeQuote('CCC', { changePct: 5, totalVolume: 20 }));
    st.flush();
    return st;
  });
  return (
    <MemoryRouter>
      <PriceBoard
        symbols={['AAA', 'BBB', 'CCC']}
        store={store}
        sort={sort}
        onSort={(k) => setSort((s) => nextSort(s, k))}
        onOpen={onOpen}
        onWatch={onWatch ? (s) => onWatch(s) : undefined}
      />
    </MemoryRouter>
  );
}
const rows = () => [...document.querySelectorAll<HTMLTableRowElement>('tbody tr')];
const order = () => rows().map((r) => r.dataset.symbol);

describe('board keyboard navigation', () => {
  it('has one tab stop and moves row focus with the arrow keys; Enter opens the symbol', () => {
    const onOpen = vi.fn();
    render(<Harness onOpen={onOpen} />);
    expect(rows().map((r) => r.tabIndex)).toEqual([0, -1, -1]);
    act(() => rows()[0]!.focus());
    fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' });
    expect((document.activeElement as HTMLElement).dataset.symbol).toBe('BBB');
    fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' });
    fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' }); // clamps at the last row
    expect((document.activeElement as HTMLElement).dataset.symbol).toBe('CCC');
    fireEvent.keyDown(document.activeElement!, { key: 'ArrowUp' });
    expect((document.activeElement as HTMLElement).dataset.symbol).toBe('BBB');
    expect(rows().map((r) => r.tabIndex)).toEqual([-1, 0, -1]);
    fireEvent.keyDown(document.activeElement!, { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledWith('BBB');
    fireEvent.keyDown(document.activeElement!, { key: 'Home' });
    expect((document.activeElement as HTMLElement).dataset.symbol).toBe('AAA');
  });

  it('W opens the watchlist menu for the focused row', () => {
    const onWatch = vi.fn();
    render(<Harness onOpen={() => {}} onWatch={onWatch} />);
    act(() => rows()[2]!.focus());
    fireEvent.keyDown(document.activeElement!, { key: 'w' });
    expect(onWatch).toHaveBeenCalledWith('CCC');
  });

  it('sorts by a clicked header, marks aria-sort, and flips on a second click; focus follows the symbol', () => {
    render(<Harness onOpen={() => {}} />);
    act(() => rows()[0]!.focus()); // AAA
    const header = screen.getByRole('button', { name: 'Change percent' });
    fireEvent.click(header);
    expect(order()).toEqual(['CCC', 'AAA', 'BBB']);
    expect(header.closest('th')!.getAttribute('aria-sort')).toBe('descending');
    expect(rows().find((r) => r.tabIndex === 0)!.dataset.symbol).toBe('AAA');
    fireEvent.click(header);
    expect(order()).toEqual(['BBB', 'AAA', 'CCC']);
    expect(header.closest('th')!.getAttribute('aria-sort')).toBe('ascending');
    fireEvent.click(screen.getByRole('button', { name: 'Total volume' }));
    expect(order()).toEqual(['BBB', 'CCC', 'AAA']);
    expect(header.closest('th')!.hasAttribute('aria-sort')).toBe(false);
  });
});
