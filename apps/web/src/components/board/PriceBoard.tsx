/**
 * The price board table. It renders the header and the list of rows; it does
 * not read quotes itself (rows do), so a quote update never re-renders it.
 * Keyboard: ↑/↓/PageUp/PageDown/Home/End move the row focus, Enter opens the
 * symbol, W opens the watchlist menu of the focused row.
 */
import { memo, useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { countBoardRender } from '../../lib/render-counter.ts';
import type { QuoteStore } from '../../store/quote-store.ts';
import { BoardRow } from './BoardRow.tsx';
import { moveFocus, type SortState } from './board-model.ts';
import { COLUMNS, GROUP_LABELS, type ColumnGroup, type SortKey } from './columns.ts';
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
export const BOARD_WIDTH = COLUMNS.reduce((w, c) => w + c.width, 0) + 36;

export const PriceBoard = memo(function PriceBoard(p: PriceBoardProps) {
  countBoardRender();
  const order = useLiveOrder(p.symbols, p.store, p.sort, p.resortMs);
  const [focused, setFocused] = useState<string | null>(null);
  const body = useRef<HTMLTableSectionElement>(null);
  const { onOpen, onWatch } = p;

  // Symbols are [A-Za-z0-9._-] (protocol), safe inside a quoted attribute selector.
  const focusSymbol = useCallback((symbol: string) => {
    setFocused(symbol);
    const row = body.current?.querySelector<HTMLElement>(`tr[data-symbol="${symbol}"]`);
    if (row && document.activeElement !== row && !row.contains(document.activeElement)) row.focus();
  }, []);
  const onFocusRow = useCallback((symbol: string) => setFocused(symbol), []);

  // Keep a focused symbol that left the list (filter, search) from trapping the roving tab stop.
  const focusedIndex = focused ? order.indexOf(focused) : -1;
  const tabStop = focusedIndex >= 0 ? focused : (order[0] ?? null);
  useEffect(() => {
    if (focused && focusedIndex < 0) setFocused(null);
  }, [focused, focusedIndex]);

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
      const row = s ? body.current?.querySelector<HTMLElement>(`tr[data-symbol="${s}"]`) : null;
      if (s && row) {
        e.preventDefault();
        onWatch(s, row);
      }
      return;
    }
    const next = moveFocus(e.key, focusedIndex < 0 ? -1 : cur, order.length);
    if (next === null) return;
    e.preventDefault();
    focusSymbol(order[next]!);
  };

  const watched = p.watched ?? NO_WATCH;
  return (
    <table className="board" aria-label={p.label ?? 'Bảng giá'} style={{ width: BOARD_WIDTH }}>
      <colgroup>
        {COLUMNS.map((c) => (
          <col key={c.id} style={{ width: c.width }} />
        ))}
        <col style={{ width: 36 }} />
      </colgroup>
      <thead>
        <tr className="group-row">
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
        <tr>
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
          <tr>
            <td colSpan={COLUMNS.length + 1} className="empty">
              Không có mã nào — no symbols match.
            </td>
          </tr>
        )}
        {order.map((s) => (
          <BoardRow
            key={s}
            symbol={s}
            store={p.store}
            focused={s === tabStop}
            watched={watched.has(s)}
            compact={p.compact ?? false}
            onFocusRow={onFocusRow}
            onOpen={onOpen}
            onWatch={onWatch}
          />
        ))}
      </tbody>
    </table>
  );
});
