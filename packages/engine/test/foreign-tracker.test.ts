import fc from 'fast-check';
import type { ForeignEvent } from '@stock-tracker/protocol';
import { ForeignInvestorTracker, foreignStateOf } from '../src/foreign-tracker.ts';

const fev = (symbol: string, ts: number, buyValue: number, sellValue: number, extra: Partial<ForeignEvent> = {}): ForeignEvent => ({
  type: 'foreign',
  ts,
  symbol,
  buyVolume: buyValue / 10,
  sellVolume: sellValue / 10,
  buyValue,
  sellValue,
  totalRoom: 1_000_000,
  currentRoom: 400_000,
  ...extra,
});

describe('ForeignInvestorTracker', () => {
  it('derives net figures and room usage', () => {
    const s = foreignStateOf({
      type: 'foreign',
      ts: 5,
      symbol: 'VCB',
      buyVolume: 12_000,
      sellVolume: 5_000,
      buyValue: 1_080_000_000,
      sellValue: 450_000_000,
      totalRoom: 1_000_000,
      currentRoom: 250_000,
    });
    expect(s.netVolume).toBe(7_000);
    expect(s.netValue).toBe(630_000_000);
    // 750k of 1M room used.
    expect(s.roomUsagePct).toBe(75);
    expect(foreignStateOf(fev('X', 1, 1, 1, { totalRoom: 0, currentRoom: 0 })).roomUsagePct).toBeNull();
    // Current room above total (vendor glitch) clamps rather than going negative.
    expect(foreignStateOf(fev('X', 1, 1, 1, { totalRoom: 100, currentRoom: 150 })).roomUsagePct).toBe(0);
  });

  it('latest cumulative update wins; an older one is stale', () => {
    const t = new ForeignInvestorTracker();
    expect(t.apply(fev('A', 100, 500, 100))?.netValue).toBe(400);
    expect(t.apply(fev('A', 50, 9_000, 0))).toBeUndefined();
    expect(t.get('A')?.netValue).toBe(400);
    // Same ts: a correction re-sent at the same instant is applied.
    expect(t.apply(fev('A', 100, 600, 100))?.netValue).toBe(500);
  });

  it('after a day reset, updates from before the new day are stale', () => {
    const t = new ForeignInvestorTracker();
    t.apply(fev('A', 100, 500, 100));
    t.reset('A', 1_000);
    expect(t.get('A')).toBeUndefined();
    expect(t.apply(fev('A', 900, 500, 100))).toBeUndefined();
    expect(t.apply(fev('A', 1_100, 10, 0))?.netValue).toBe(10);
  });

  it('top lists: only net buyers / net sellers, largest first, bounded', () => {
    const t = new ForeignInvestorTracker(2);
    t.apply(fev('A', 1, 500, 100)); // +400
    t.apply(fev('B', 1, 100, 900)); // -800
    t.apply(fev('C', 1, 1_000, 0)); // +1000
    t.apply(fev('D', 1, 300, 300)); // 0: neither
    t.apply(fev('E', 2, 0, 50)); // -50
    t.apply(fev('F', 3, 250, 0)); // +250
    const top = t.top();
    expect(top.buyers.map((s) => s.symbol)).toEqual(['C', 'A']);
    expect(top.sellers.map((s) => s.symbol)).toEqual(['B', 'E']);
    expect(top.ts).toBe(3);
    expect(t.top(10).buyers.map((s) => s.symbol)).toEqual(['C', 'A', 'F']);
  });

  it('recomputes lazily: the same object until something changes', () => {
    const t = new ForeignInvestorTracker(3);
    t.apply(fev('A', 1, 500, 100));
    expect(t.dirty).toBe(true);
    const a = t.top();
    expect(t.dirty).toBe(false);
    expect(t.top()).toBe(a);
    t.apply(fev('B', 2, 900, 100));
    const b = t.top();
    expect(b).not.toBe(a);
    expect(b.buyers.map((s) => s.symbol)).toEqual(['B', 'A']);
    // The earlier result was not mutated.
    expect(a.buyers.map((s) => s.symbol)).toEqual(['A']);
  });

  it('property: top N equals the first N of a full sort', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sym: fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'), buy: fc.nat(10_000), sell: fc.nat(10_000), ts: fc.nat(50) }), {
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 6 }),
        (updates, n) => {
          const t = new ForeignInvestorTracker(n);
          const latest = new Map<string, { ts: number; net: number }>();
          for (const u of updates) {
            t.apply(fev(u.sym, u.ts, u.buy, u.sell));
            const prev = latest.get(u.sym);
            if (prev === undefined || u.ts >= prev.ts) latest.set(u.sym, { ts: u.ts, net: u.buy - u.sell });
          }
          const nets = [...latest.values()].map((x) => x.net);
          const expectBuy = nets.filter((x) => x > 0).sort((a, b) => b - a).slice(0, n);
          const expectSell = nets.filter((x) => x < 0).sort((a, b) => a - b).slice(0, n);
          const top = t.top();
          expect(top.buyers.map((s) => s.netValue)).toEqual(expectBuy);
          expect(top.sellers.map((s) => s.netValue)).toEqual(expectSell);
        },
      ),
    );
  });
});
