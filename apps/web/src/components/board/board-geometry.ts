/**
 * Fixed geometry of the price board. Every body row is exactly ROW_HEIGHT px
 * and the two header rows have fixed heights, so the virtual list knows where
 * each row is without measuring anything (no layout reads) and a changing
 * number can never move a row. styles.css reads these through the CSS
 * variables set by `geometryStyle`, so the two cannot drift apart.
 */
import type { CSSProperties } from 'react';

/** Body row height in px, border included. */
export const ROW_HEIGHT = 22;
/** The "Dư mua / Khớp lệnh / …" group row. */
export const GROUP_ROW_HEIGHT = 20;
/** The column header row (Giá 3, KL 3, …). */
export const COLUMN_ROW_HEIGHT = 24;
export const HEADER_HEIGHT = GROUP_ROW_HEIGHT + COLUMN_ROW_HEIGHT;
/** Header rows count in `aria-rowcount` / `aria-rowindex`. */
export const HEADER_ROWS = 2;
/** Rows rendered beyond each edge of the viewport, so a short scroll shows rows already painted. */
export const OVERSCAN = 6;

/** CSS variables of the scroll box: row heights for the table, header height for `scroll-padding-top`. */
export const geometryStyle = (): CSSProperties =>
  ({
    '--row-h': `${ROW_HEIGHT}px`,
    '--group-row-h': `${GROUP_ROW_HEIGHT}px`,
    '--column-row-h': `${COLUMN_ROW_HEIGHT}px`,
  }) as CSSProperties;

/** `aria-rowindex` (1-based, header rows first) of body row `index` (0-based). */
export const ariaRowIndex = (index: number): number => HEADER_ROWS + index + 1;

/**
 * How many whole rows fit under the sticky header in a viewport `height` px
 * tall (the PageUp/PageDown step); undefined while the box has no layout yet.
 */
export function rowsPerPage(height: number): number | undefined {
  const rows = Math.floor((height - HEADER_HEIGHT) / ROW_HEIGHT);
  return rows >= 1 ? rows : undefined;
}

export type BodySlot = { kind: 'row'; index: number } | { kind: 'gap'; key: string; height: number };

/**
 * What the tbody holds: the rendered rows (any set of indexes, e.g. the
 * visible range plus the focused row far away) with a spacer row for each
 * run of rows that is not rendered. The body is therefore always
 * `count × ROW_HEIGHT` tall, whatever is rendered: scrolling never changes the
 * scroll height and the scrollbar does not jump.
 */
export function bodySlots(indexes: readonly number[], count: number): BodySlot[] {
  const sorted = [...new Set(indexes)].filter((i) => Number.isInteger(i) && i >= 0 && i < count).sort((a, b) => a - b);
  const out: BodySlot[] = [];
  let next = 0; // first index not yet accounted for
  // Keys by position (first gap, second gap…) so React keeps the same spacer elements while scrolling.
  let gaps = 0;
  const gap = (rows: number) => out.push({ kind: 'gap', key: `gap-${gaps++}`, height: rows * ROW_HEIGHT });
  for (const index of sorted) {
    if (index > next) gap(index - next);
    out.push({ kind: 'row', index });
    next = index + 1;
  }
  if (count > next) gap(count - next);
  return out;
}
