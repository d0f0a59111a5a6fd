/**
 * The price board table inside its own scroll box. Only the rows in view (plus
 * a few, and the keyboard tab stop) exist in the DOM; spacer rows keep the
 * body as tall as all rows, so the sticky header, the sticky symbol column
 * and the scrollbar behave as for the full table. Screen readers get the real
 * size from `aria-rowcount` and each row's `aria-rowindex`.
 * The board does not read quotes itself (rows do), so a quote update never
 * re-renders it, and a row out of view has no subscription at all.
 * Keyboard: ↑/↓/PageUp/PageDown/Home/End move the row focus (scrolling the row
 * into view), Enter opens the symbol, W opens the watchlist menu of the focused row.
 */
import { memo, useCallback, useEffect, useLayoutEffect, useRef, useState, type HTMLAttributes, type KeyboardEvent } from 'react';
import { countBoardRender } from '../../lib/render-counter.ts';
import type { QuoteStore } from '../../store/quote-store.ts';
import { BoardRow } from './BoardRow.tsx';
import { ariaRowIndex, bodySlots, geometryStyle, HEADER_ROWS, rowsPerPage } from './board-geometry.ts';
import { moveFocus, type SortState } from './board-model.ts';
import type { FlashSweeper } from './flash.ts';
import { COLUMNS, GROUP_LABELS, type ColumnGroup, type SortKey } from './columns.ts';
import { useBoardVirtualizer } from './use-board-virtualizer.ts';
import { useLiveOrder } from './use-live-order.ts';

export interface PriceBoardProps {
  symbols: readonly string[];
  store: QuoteStore;
  sort: SortState;
  onSort: (key: SortKey) => void;
  onOpen: (symbol: string) => void;
  watched?: ReadonlySet<string>;
  onWatch?: (symbol: string, anchor: HTMLElement) => void;
  /** Compact volumes (phones). */
  compact?: boolean;
  /** Accessible name of the table. */
  label?: string;
  /** How often a live sort may reorder rows. */
  resortMs?: number;
  /** Times the cell flashes (default: the page's sweeper; tests pass one with a fake clock). */
  flash?: FlashSweeper;
  /** Attributes of the scroll box (`board-scroll`), e.g. its tab panel role; `className` is added to it. */
  container?: HTMLAttributes<HTMLDivElement>;
}

const NO_WATCH: ReadonlySet<string> = new Set();

function headerGroups(): { group: ColumnGroup; span: number }[] {
  const out: { group: ColumnGroup; span: number }[] = [];
  for (const c of COLUMNS) {
    const last = out[out.length - 1];
    if (last && last.group === c.group) last.span++;
    else out.push({ group: c.group, span: 1 });
  }
  return out;
}
const GROUPS = headerGroups();
const GEOMETRY = geometryStyle();
export const BOARD_WIDTH = COLUMNS.reduce((w, c) => w + c.width, 0) + 36;

export const PriceBoard = memo(function PriceBoard(p: PriceBoardProps) {
  countBoardRender();
  const order = useLiveOrder(p.symbols, p.store, p.sort, p.resortMs);
  const [focused, setFocused] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const body = useRef<HTMLTableSectionElement>(null);
  /** A row to focus once it is rendered (keyboard moves to a row outside the rendered range). */
  const pendingFocus = useRef<string | null>(null);
  const { onOpen, onWatch } = p;

  // Keep a focused symbol that left the list (filter, search) from trapping the roving tab stop.
  const focusedIndex = focused ? order.indexOf(focused) : -1;
  const tabStop = focusedIndex >= 0 ? focused : (order[0] ?? null);
  const tabStopIndex = focusedIndex >= 0 ? focusedIndex : order.length > 0 ? 0 : -1;
  useEffect(() => {
    if (focused && focusedIndex < 0) setFocused(null);
  }, [focused, focusedIndex]);

  const virtualizer = useBoardVirtualizer(scroller, order.length, tabStopIndex);
  const slots = bodySlots(
    virtualizer.getVirtualItems().map((v) => v.index),
    order.length,
  );

  // Symbols are [A-Za-z0-9._-] (protocol), safe inside a quoted attribute selector.
  const rowOf = (symbol: string) => body.current?.querySelector<HTMLElement>(`tr[data-symbol="${symbol}"]`) ?? null;
  const focusPending = () => {
    const symbol = pendingFocus.current;
    const row = symbol ? rowOf(symbol) : null;
    if (!row) return;
    pendingFocus.current = null;
    // The virtualizer already scrolled it below the sticky header; a native focus scroll would not know about the header.
    if (document.activeElement !== row && !row.contains(document.activeElement)) row.focus({ preventScroll: true });
  };
  useLayoutEffect(focusPending);

  const focusIndex = (index: number) => {
    const symbol = order[index];
    if (symbol === undefined) return;
    setFocused(symbol);
    pendingFocus.current = symbol;
    virtualizer.scrollToIndex(index, { align: 'auto' });
    focusPending(); // already rendered: focus now; otherwise after the render that adds it
  };
  const onFocusRow = useCallback((symbol: string) => setFocused(symbol), []);

  const onKeyDown = (e: KeyboardEvent<HTMLTableSectionElement>) => {
    if (e.target instanceof HTMLButtonElement && e.key === 'Enter') return; // let the button act
    const cur = Math.max(0, focusedIndex);
    if (e.key === 'Enter') {
      const s = order[cur];
      if (s) {
        e.preventDefault();
        onOpen(s);
      }
      return;
    }
    if ((e.key === 'w' || e.key === 'W') && onWatch) {
      const s = order[cur];
      const row = s ? rowOf(s) : null;
      if (s && row) {
        e.preventDefault();
        onWatch(s, row);
      }
      return;
    }
    const next = moveFocus(e.key, focusedIndex < 0 ? -1 : cur, order.length, rowsPerPage(virtualizer.scrollRect?.height ?? 0));
    if (next === null) return;
    e.preventDefault();
    focusIndex(next);
  };

  const watched = p.watched ?? NO_WATCH;
  const { className: extraClass, style, ...container } = p.container ?? {};
  return (
    <div {...container} ref={scroller} className={extraClass ? `board-scroll ${extraClass}` : 'board-scroll'} style={{ ...GEOMETRY, ...style }}>
      <table className="board" aria-label={p.label ?? 'Bảng giá'} aria-rowcount={HEADER_ROWS + Math.max(order.length, 1)} style={{ width: BOARD_WIDTH }}>
        <colgroup>
          {COLUMNS.map((c) => (
            <col key={c.id} style={{ width: c.width }} />
          ))}
          <col style={{ width: 36 }} />
        </colgroup>
        <thead>
          <tr className="group-row" aria-rowindex={1}>
            {GROUPS.map((g, i) => (
              <th
                key={`${g.group}${i}`}
                colSpan={g.span}
                scope="colgroup"
                className={`grp grp-${g.group}${g.group === 'symbol' ? ' col-symbol' : ''}`}
                title={GROUP_LABELS[g.group].title}
              >
                {GROUP_LABELS[g.group].label}
              </th>
            ))}
            <th className="grp" aria-hidden="true" />
          </tr>
          <tr className="column-row" aria-rowindex={2}>
            {COLUMNS.map((c) => {
              const active = c.sortKey !== undefined && p.sort.key === c.sortKey;
              return (
                <th
                  key={c.id}
                  scope="col"
                  className={`col-${c.id} grp-${c.group}`}
                  aria-sort={active ? (p.sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}
                >
                  {c.sortKey ? (
                    <button type="button" className="sort-btn" aria-label={c.title} title={`Sort by ${c.title}`} onClick={() => p.onSort(c.sortKey!)}>
                      <abbr title={c.title}>{c.label}</abbr>
                      <span aria-hidden="true" className="sort-mark">{active ? (p.sort.dir === 'asc' ? '▲' : '▼') : ''}</span>
                    </button>
                  ) : (
                    <abbr title={c.title}>{c.label}</abbr>
                  )}
                </th>
              );
            })}
            <th scope="col" className="col-actions">
              <span className="visually-hidden">Watchlist</span>
            </th>
          </tr>
        </thead>
        <tbody ref={body} onKeyDown={onKeyDown}>
          {order.length === 0 && (
            <tr aria-rowindex={ariaRowIndex(0)}>
              <td colSpan={COLUMNS.length + 1} className="empty">
                Không có mã nào — no symbols match.
              </td>
            </tr>
          )}
          {slots.map((slot) =>
            slot.kind === 'gap' ? (
              // Stands in for rows that are not rendered; invisible to assistive technology.
              <tr key={slot.key} className="gap" aria-hidden="true">
                <td colSpan={COLUMNS.length + 1} style={{ height: slot.height }} />
              </tr>
            ) : (
              <BoardRow
                key={order[slot.index]!}
                symbol={order[slot.index]!}
                index={slot.index}
                store={p.store}
                focused={order[slot.index] === tabStop}
                watched={watched.has(order[slot.index]!)}
                compact={p.compact ?? false}
                onFocusRow={onFocusRow}
                onOpen={onOpen}
                onWatch={onWatch}
                flash={p.flash}
              />
            ),
          )}
        </tbody>
      </table>
    </div>
  );
});
