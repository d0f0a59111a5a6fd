/**
 * Which board rows exist in the DOM: those in the scroll box's viewport plus
 * OVERSCAN on each side, and always the row holding the keyboard tab stop
 * (so Tab can reach the board and a focused row scrolled out of view keeps
 * its focus). Rows have a fixed height, so nothing is ever measured; the
 * virtualizer only listens to the box's scroll and resize events, never to
 * quote updates.
 */
import { useCallback, type RefObject } from 'react';
import { defaultRangeExtractor, useVirtualizer, type Range } from '@tanstack/react-virtual';
import { HEADER_HEIGHT, OVERSCAN, ROW_HEIGHT } from './board-geometry.ts';

const rowSize = () => ROW_HEIGHT;

export function useBoardVirtualizer(scroller: RefObject<HTMLElement | null>, count: number, keepIndex: number) {
  const rangeExtractor = useCallback(
    (range: Range) => {
      const out = defaultRangeExtractor(range);
      if (keepIndex >= 0 && keepIndex < range.count && !out.includes(keepIndex)) {
        out.push(keepIndex);
        out.sort((a, b) => a - b);
      }
      return out;
    },
    [keepIndex],
  );
  return useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: rowSize,
    overscan: OVERSCAN,
    // Rows start below the two header rows inside the scroll box…
    scrollMargin: HEADER_HEIGHT,
    // …and the sticky header covers that band, so scrolling to a row keeps it below the header.
    scrollPaddingStart: HEADER_HEIGHT,
    rangeExtractor,
  });
}
