/**
 * One row of the price board. It subscribes to its own symbol only, so an
 * update to one symbol re-renders one row. Changed cells flash: the class
 * alternates between two identical animations so each change restarts it.
 */
import { memo, useRef, type MouseEvent } from 'react';
import { Link } from 'react-router-dom';
import { toneClass } from '../../lib/colors.ts';
import { countRowRender } from '../../lib/render-counter.ts';
import { useKeyed } from '../../store/hooks.ts';
import type { QuoteStore } from '../../store/quote-store.ts';
import { ariaRowIndex } from './board-geometry.ts';
import { COLUMNS, type CellView } from './columns.ts';

interface FlashMark {
  text: string;
  num: number | null;
  /** Number of changes seen; its parity picks the animation name. */
  n: number;
  dir: 'up' | 'down' | 'chg';
}

/**
 * Flash class of a cell. Idempotent for a given value (React may render twice),
 * so a re-render without a change keeps the class and does not restart the animation.
 */
export function flashClass(marks: Map<string, FlashMark>, id: string, cell: CellView): string {
  const m = marks.get(id);
  if (!m) {
    marks.set(id, { text: cell.text, num: cell.num, n: 0, dir: 'chg' });
    return '';
  }
  if (m.text !== cell.text) {
    m.dir = m.num !== null && cell.num !== null && cell.num !== m.num ? (cell.num > m.num ? 'up' : 'down') : 'chg';
    m.text = cell.text;
    m.num = cell.num;
    m.n++;
  }
  return m.n === 0 || !cell.text ? '' : `flash-${m.dir}-${m.n % 2}`;
}

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
}

export const BoardRow = memo(function BoardRow(p: BoardRowProps) {
  countRowRender(p.symbol);
  const q = useKeyed(p.store, p.symbol);
  const marks = useRef(new Map<string, FlashMark>()).current;
  // Zebra by position, not :nth-child: spacer rows and rows entering on scroll would shift the stripes.
  const cls = ['board-row', p.index % 2 === 1 ? 'alt' : '', p.focused ? 'focused' : '', q?.halted ? 'halted' : ''].filter(Boolean).join(' ');

  return (
    <tr
      className={cls}
      data-symbol={p.symbol}
      aria-rowindex={ariaRowIndex(p.index)}
      tabIndex={p.focused ? 0 : -1}
      onFocus={() => p.onFocusRow(p.symbol)}
      onDoubleClick={() => p.onOpen(p.symbol)}
    >
      {COLUMNS.map((c) => {
        const v = q ? c.cell(q, p.compact) : c.id === 'symbol' ? { ...EMPTY_CELL, text: p.symbol } : EMPTY_CELL;
        const className = [`col-${c.id}`, toneClass(v.tone), c.id === 'symbol' ? '' : flashClass(marks, c.id, v)].filter(Boolean).join(' ');
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
