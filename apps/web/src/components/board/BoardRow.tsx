/**
 * One row of the price board. It subscribes to its own symbol only, so an
 * update to one symbol re-renders one row, and only while the row is
 * rendered (in view). Changed cells flash (see flash.ts): the tint is put on
 * the cell right after the commit that changed its text, in the same frame.
 */
import { memo, useLayoutEffect, useRef, type MouseEvent } from 'react';
import { Link } from 'react-router-dom';
import { toneClass } from '../../lib/colors.ts';
import { countRowRender } from '../../lib/render-counter.ts';
import { useKeyed } from '../../store/hooks.ts';
import type { QuoteStore } from '../../store/quote-store.ts';
import { ariaRowIndex } from './board-geometry.ts';
import { COLUMNS, type CellView } from './columns.ts';
import { boardFlash, flashDirection, type FlashSweeper } from './flash.ts';

const EMPTY_CELL: CellView = { text: '', tone: 'none', num: null };

export interface BoardRowProps {
  symbol: string;
  /** Position in the board (0-based): `aria-rowindex` and the zebra stripe. */
  index: number;
  store: QuoteStore;
  focused: boolean;
  watched: boolean;
  compact: boolean;
  onFocusRow: (symbol: string) => void;
  onOpen: (symbol: string) => void;
  onWatch?: (symbol: string, anchor: HTMLElement) => void;
  /** Where flashes are timed (tests pass one with a fake clock). */
  flash?: FlashSweeper;
}

export const BoardRow = memo(function BoardRow(p: BoardRowProps) {
  countRowRender(p.symbol);
  const q = useKeyed(p.store, p.symbol);
  const views = COLUMNS.map((c) => (q ? c.cell(q, p.compact) : c.id === 'symbol' ? { ...EMPTY_CELL, text: p.symbol } : EMPTY_CELL));
  const tr = useRef<HTMLTableRowElement>(null);
  const shown = useRef<readonly CellView[] | null>(null);
  const sweeper = p.flash ?? boardFlash;
  // After the commit, before the paint: compare with what the row showed and tint what changed.
  // A row that just mounted (scrolled into view) has nothing to compare with, so it does not flash.
  useLayoutEffect(() => {
    const prev = shown.current;
    shown.current = views;
    const row = tr.current;
    if (!prev || !row) return;
    for (let i = 1; i < COLUMNS.length; i++) {
      const dir = flashDirection(prev[i], views[i]!);
      const cell = row.cells[i];
      if (dir && cell) sweeper.flash(cell, dir);
    }
  });
  // Zebra by position, not :nth-child: spacer rows and rows entering on scroll would shift the stripes.
  const cls = ['board-row', p.index % 2 === 1 ? 'alt' : '', p.focused ? 'focused' : '', q?.halted ? 'halted' : ''].filter(Boolean).join(' ');

  return (
    <tr
      ref={tr}
      className={cls}
      data-symbol={p.symbol}
      aria-rowindex={ariaRowIndex(p.index)}
      tabIndex={p.focused ? 0 : -1}
      onFocus={() => p.onFocusRow(p.symbol)}
      onDoubleClick={() => p.onOpen(p.symbol)}
    >
      {COLUMNS.map((c, i) => {
        const v = views[i]!;
        const tone = toneClass(v.tone);
        // The flash class is not here: flash.ts adds and removes it on the element. (A new colour
        // rewrites the class attribute and ends a running tint early: harmless.)
        const className = tone ? `col-${c.id} ${tone}` : `col-${c.id}`;
        if (c.id === 'symbol') {
          return (
            <th key={c.id} scope="row" className={className}>
              <Link to={`/s/${encodeURIComponent(p.symbol)}`} tabIndex={-1} title={q?.halted ? `${p.symbol} (halted)` : undefined}>
                {p.symbol}
              </Link>
            </th>
          );
        }
        return (
          <td key={c.id} className={className}>
            {v.text}
          </td>
        );
      })}
      <td className="col-actions">
        {p.onWatch && (
          <button
            type="button"
            className={`watch-btn${p.watched ? ' on' : ''}`}
            // Roving focus: only the focused row's button is in the tab order.
            tabIndex={p.focused ? 0 : -1}
            aria-label={`${p.watched ? 'In a watchlist' : 'Add to a watchlist'}: ${p.symbol}`}
            aria-pressed={p.watched}
            onClick={(e: MouseEvent<HTMLButtonElement>) => p.onWatch?.(p.symbol, e.currentTarget)}
          >
            {p.watched ? '★' : '☆'}
          </button>
        )}
      </td>
    </tr>
  );
});
