import fc from 'fast-check';
import { TradeDeduper } from '../src/trade-dedup.ts';

describe('TradeDeduper', () => {
  it('recognizes a replay (same id, same ts) in order and out of order', () => {
    const d = new TradeDeduper();
    d.record('A', '1', 100);
    d.record('A', '2', 100);
    d.record('A', '3', 200);
    d.record('A', '0', 50); // late
    expect(d.isDuplicate('A', '2', 100)).toBe(true);
    expect(d.isDuplicate('A', '0', 50)).toBe(true);
    expect(d.isDuplicate('A', '3', 200)).toBe(true);
    // Same id elsewhere in time, other symbol, unknown id: not replays.
    expect(d.isDuplicate('A', '2', 150)).toBe(false);
    expect(d.isDuplicate('B', '2', 100)).toBe(false);
    expect(d.isDuplicate('A', '9', 100)).toBe(false);
    expect(d.isDuplicate('A', '3', 300)).toBe(false);
    d.reset('A');
    expect(d.isDuplicate('A', '2', 100)).toBe(false);
  });

  it('property: agrees with a set of (id, ts) pairs', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.nat(20), ts: fc.nat(30) }), { maxLength: 200 }), (trades) => {
        const d = new TradeDeduper();
        const seen = new Set<string>();
        for (const t of trades) {
          const key = `${t.id}@${t.ts}`;
          expect(d.isDuplicate('S', String(t.id), t.ts)).toBe(seen.has(key));
          if (!seen.has(key)) {
            seen.add(key);
            d.record('S', String(t.id), t.ts);
          }
        }
      }),
    );
  });
});
