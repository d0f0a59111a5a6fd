import fc from 'fast-check';
import { ariaRowIndex, bodySlots, HEADER_HEIGHT, HEADER_ROWS, ROW_HEIGHT, rowsPerPage } from '../src/components/board/board-geometry.ts';

describe('board geometry', () => {
  it('spacer rows keep the body exactly count × ROW_HEIGHT tall whatever is rendered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600 }), fc.array(fc.integer({ min: -5, max: 650 }), { maxLength: 80 }), (count, indexes) => {
        const slots = bodySlots(indexes, count);
        const rows = slots.filter((s) => s.kind === 'row').map((s) => s.index);
        const wanted = [...new Set(indexes.filter((i) => i >= 0 && i < count))].sort((a, b) => a - b);
        expect(rows).toEqual(wanted); // every valid index once, in order; out-of-range ones dropped
        const height = slots.reduce((h, s) => h + (s.kind === 'row' ? ROW_HEIGHT : s.height), 0);
        expect(height).toBe(count * ROW_HEIGHT);
        // A spacer stands between two rendered rows exactly when indexes are skipped, never two spacers in a row.
        let at = 0;
        for (let i = 0; i < slots.length; i++) {
          const s = slots[i]!;
          if (s.kind === 'gap') {
            expect(s.height).toBeGreaterThan(0);
            expect(slots[i + 1]?.kind).not.toBe('gap');
            at += s.height / ROW_HEIGHT;
          } else {
            expect(s.index).toBe(at);
            at++;
          }
        }
        const keys = slots.filter((s) => s.kind === 'gap').map((s) => s.key);
        expect(new Set(keys).size).toBe(keys.length);
      }),
    );
  });

  it('a window in the middle of a long list is one spacer, the rows, another spacer', () => {
    const slots = bodySlots([100, 101, 102], 400);
    expect(slots).toEqual([
      { kind: 'gap', key: 'gap-0', height: 100 * ROW_HEIGHT },
      { kind: 'row', index: 100 },
      { kind: 'row', index: 101 },
      { kind: 'row', index: 102 },
      { kind: 'gap', key: 'gap-1', height: 297 * ROW_HEIGHT },
    ]);
    expect(bodySlots([], 0)).toEqual([]);
  });

  it('numbers rows for aria-rowindex after the header rows, from 1', () => {
    expect(ariaRowIndex(0)).toBe(HEADER_ROWS + 1);
    expect(ariaRowIndex(399)).toBe(HEADER_ROWS + 400);
  });

  it('pages by the rows that fit under the sticky header', () => {
    expect(rowsPerPage(HEADER_HEIGHT + 10 * ROW_HEIGHT)).toBe(10);
    expect(rowsPerPage(HEADER_HEIGHT + 10 * ROW_HEIGHT + ROW_HEIGHT - 1)).toBe(10); // a partial row does not count
    expect(rowsPerPage(0)).toBeUndefined(); // not laid out yet
  });
});
