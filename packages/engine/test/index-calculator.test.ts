import fc from 'fast-check';
import type { IndexEvent, IndexState, QuoteState, SymbolRef } from '@stock-tracker/protocol';
import { DEFAULT_INDICES, IndexCalculator } from '../src/index-calculator.ts';
import { rulesFor, priceLimits } from '@stock-tracker/rules';

const DAY1 = '2024-06-03';
const DAY2 = '2024-06-04';

function ref(symbol: string, exchange: string, reference: number, shares: number, indices: string[] = [], tradingDate = DAY1): SymbolRef {
  const { ceiling, floor } = priceLimits(rulesFor(exchange, 'VN'), reference);
  return { symbol, exchange, market: 'VN', tradingDate, reference, ceiling, floor, lotSize: 100, indices, sharesOutstanding: shares };
}

function quote(r: SymbolRef, last: number | null, totalVolume = 0, totalValue = 0, ts = 1): QuoteState {
  return {
    symbol: r.symbol,
    exchange: r.exchange,
    market: r.market,
    tradingDate: r.tradingDate,
    ts,
    reference: r.reference,
    ceiling: r.ceiling,
    floor: r.floor,
    open: last,
    high: last,
    low: last,
    last,
    lastVolume: 0,
    change: last === null ? null : last - r.reference,
    changePct: last === null ? null : ((last - r.reference) / r.reference) * 100,
    totalVolume,
    totalValue,
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: totalVolume,
    bids: [],
    asks: [],
    phase: 'continuous',
    halted: false,
    foreign: null,
  };
}

// Three HOSE stocks of equal cap (1e10 VND each) and one HNX stock.
const A = ref('AAA', 'HOSE', 10_000, 1_000_000);
const B = ref('BBB', 'HOSE', 50_000, 200_000);
const C = ref('CCC', 'HOSE', 20_000, 500_000, ['VN30']);
const D = ref('DDD', 'HNX', 30_000, 100_000);

function setup(): IndexCalculator {
  const calc = new IndexCalculator();
  for (const r of [A, B, C, D]) calc.onReference(r);
  return calc;
}
const byId = (states: IndexState[]) => new Map(states.map((s) => [s.id, s]));

describe('IndexCalculator: hand-computed values', () => {
  it('opens every index at its base with all members unchanged', () => {
    const calc = setup();
    const out = byId(calc.compute(100));
    expect([...out.keys()]).toEqual(['VNINDEX', 'VN30', 'HNXINDEX']); // no UPCOM members yet
    expect(out.get('VNINDEX')).toMatchObject({ value: 1250, prevClose: 1250, change: 0, computed: true, ts: 100 });
    expect(out.get('VNINDEX')!.breadth).toEqual({ advances: 0, declines: 0, unchanged: 3, ceilings: 0, floors: 0 });
    expect(out.get('VN30')!.breadth.unchanged).toBe(1);
    expect(out.get('HNXINDEX')!.value).toBe(230);
    expect(calc.get('UPCOMINDEX')).toBeUndefined();
  });

  it('weights by capitalisation and counts breadth like Vietnamese boards', () => {
    const calc = setup();
    calc.compute(0);
    expect(A.ceiling).toBe(10_700);
    calc.onQuote(quote(A, 10_700, 1_000, 10_700_000)); // at the ceiling
    calc.onQuote(quote(B, 49_000, 500, 24_500_000));
    let out = byId(calc.compute(1));
    // 1250 × (1.07e10 + 0.98e10 + 1e10) / 3e10
    expect(out.get('VNINDEX')!.value).toBeCloseTo(1270.8333333333, 8);
    expect(out.get('VNINDEX')!.change).toBeCloseTo(20.8333333333, 8);
    expect(out.get('VNINDEX')!.changePct).toBeCloseTo(1.6666666667, 8);
    expect(out.get('VNINDEX')!.breadth).toEqual({ advances: 1, declines: 1, unchanged: 1, ceilings: 1, floors: 0 });
    expect(out.get('VNINDEX')!.volume).toBe(1_500);
    expect(out.get('VNINDEX')!.valueTraded).toBe(35_200_000);
    expect(out.has('VN30')).toBe(false); // no VN30 member moved

    calc.onQuote(quote(C, 21_000, 100, 2_100_000));
    calc.onQuote(quote(D, 27_000, 200, 5_400_000)); // HNX floor of 30,000
    out = byId(calc.compute(2));
    expect(out.get('VNINDEX')!.value).toBeCloseTo((1250 * 3.1) / 3, 8);
    expect(out.get('VN30')!.value).toBeCloseTo(1417.5, 8);
    expect(out.get('VN30')!.breadth).toEqual({ advances: 1, declines: 0, unchanged: 0, ceilings: 0, floors: 0 });
    expect(D.floor).toBe(27_000);
    expect(out.get('HNXINDEX')!.value).toBeCloseTo(207, 8);
    expect(out.get('HNXINDEX')!.breadth).toEqual({ advances: 0, declines: 1, unchanged: 0, ceilings: 0, floors: 1 });
    expect(calc.all().map((s) => s.id)).toEqual(['VNINDEX', 'VN30', 'HNXINDEX']);
  });

  it('a trade back at the reference counts as unchanged', () => {
    const calc = setup();
    calc.onQuote(quote(A, 10_500));
    calc.onQuote(quote(A, 10_000));
    const vn = byId(calc.compute(1)).get('VNINDEX')!;
    expect(vn.value).toBe(1250);
    expect(vn.breadth).toEqual({ advances: 0, declines: 0, unchanged: 3, ceilings: 0, floors: 0 });
  });

  it('compute returns only indices that changed since the last call', () => {
    const calc = setup();
    calc.compute(0);
    expect(calc.compute(1)).toEqual([]);
    calc.onQuote(quote(A, null)); // no trade yet: nothing moves
    expect(calc.compute(2)).toEqual([]);
    calc.onQuote(quote(D, 30_100, 100, 3_010_000));
    expect(calc.compute(3).map((s) => s.id)).toEqual(['HNXINDEX']);
    calc.onQuote(quote(D, 30_100, 200, 6_020_000)); // same price, more volume
    expect(calc.compute(4).map((s) => s.volume)).toEqual([200]);
  });

  it('restarts from the last close on a new trading date, without jumping on adjusted references', () => {
    const calc = setup();
    calc.onQuote(quote(A, 10_700));
    calc.onQuote(quote(B, 49_000));
    calc.onQuote(quote(C, 21_000));
    const close = byId(calc.compute(1)).get('VNINDEX')!.value;
    expect(close).toBeCloseTo((1250 * 3.1) / 3, 8);

    // Day 2: A and C reference = yesterday's close; B went ex-dividend (reference 47,000 < close 49,000).
    const A2 = ref('AAA', 'HOSE', 10_700, 1_000_000, [], DAY2);
    const B2 = ref('BBB', 'HOSE', 47_000, 200_000, [], DAY2);
    const C2 = ref('CCC', 'HOSE', 21_000, 500_000, ['VN30'], DAY2);
    calc.onReference(A2);
    let vn = byId(calc.compute(2)).get('VNINDEX')!;
    expect(vn.prevClose).toBe(close);
    expect(vn.value).toBeCloseTo(close, 9);
    expect(vn.change).toBeCloseTo(0, 9);
    calc.onReference(B2);
    calc.onReference(C2);
    calc.compute(3);
    vn = calc.get('VNINDEX')!;
    expect(vn.value).toBeCloseTo(close, 9);
    expect(vn.breadth).toEqual({ advances: 0, declines: 0, unchanged: 3, ceilings: 0, floors: 0 });
    expect(vn.volume).toBe(0);
    expect(calc.get('VN30')!.prevClose).toBeCloseTo(1417.5, 9);

    calc.onQuote(quote(B2, 48_000));
    vn = byId(calc.compute(4)).get('VNINDEX')!;
    // Denominator = new references: 1.07e10 + 0.94e10 + 1.05e10 = 3.06e10.
    expect(vn.value).toBeCloseTo((close * (1.07e10 + 0.96e10 + 1.05e10)) / 3.06e10, 8);
    expect(vn.breadth.advances).toBe(1);

    // A late quote from day 1 is stale and ignored.
    calc.onQuote(quote(A, 9_300));
    expect(calc.compute(5)).toEqual([]);
    expect(calc.skipped).toBe(1);
  });

  it('a re-sent reference on the same day keeps the last trade', () => {
    const calc = setup();
    calc.onQuote(quote(A, 10_500, 100, 1_050_000));
    const before = byId(calc.compute(1)).get('VNINDEX')!;
    calc.onReference(A);
    calc.compute(2);
    expect(calc.get('VNINDEX')).toEqual(before);
  });

  it('feed-supplied values pass through and stop computing that index', () => {
    const calc = setup();
    calc.compute(0);
    const ev: IndexEvent = {
      type: 'index',
      ts: 50,
      index: 'VNINDEX',
      value: 1261.5,
      prevClose: 1250,
      volume: 9,
      valueTraded: 99,
      advances: 200,
      declines: 150,
      unchanged: 50,
      ceilings: 5,
      floors: 3,
    };
    const s = calc.onFeedIndex(ev);
    expect(s).toMatchObject({ id: 'VNINDEX', name: 'VN-Index', value: 1261.5, computed: false, volume: 9, valueTraded: 99 });
    expect(s.change).toBeCloseTo(11.5, 9);
    expect(s.changePct).toBeCloseTo(0.92, 9);
    expect(s.breadth).toEqual({ advances: 200, declines: 150, unchanged: 50, ceilings: 5, floors: 3 });
    calc.onQuote(quote(A, 10_700));
    expect(calc.compute(60).map((x) => x.id)).toEqual([]); // VNINDEX not computed; VN30 did not move
    expect(calc.get('VNINDEX')).toBe(s);
    const other = calc.onFeedIndex({ ...ev, index: 'VN100', value: 1300, prevClose: 1290 });
    expect(other).toMatchObject({ id: 'VN100', name: 'VN100', computed: false });
    expect(calc.all().map((x) => x.id)).toContain('VN100');
  });

  it('selects members by exchange and index tag, and ignores malformed input', () => {
    const calc = new IndexCalculator(DEFAULT_INDICES);
    calc.onReference({ ...ref('AAPL', 'NASDAQ', 190, 1e9), market: 'US', ceiling: null, floor: null });
    calc.onReference(ref('UPC', 'UPCOM', 10_000, 1_000));
    calc.onReference({ ...ref('BAD', 'HOSE', 10_000, 1_000), reference: Number.NaN });
    calc.onQuote(quote(A, 10_000)); // unknown symbol: no reference yet
    expect(calc.compute(1).map((s) => s.id)).toEqual(['UPCOMINDEX']);
    calc.onReference(A);
    calc.onQuote(quote(A, Number.NaN));
    calc.compute(2);
    expect(calc.get('VNINDEX')!.value).toBe(1250);
    expect(calc.skipped).toBe(2);
  });
});

/** From-scratch oracle: base × Σ(price × shares) / Σ(reference × shares) and breadth from the latest quotes. */
function fromScratch(refs: SymbolRef[], lasts: Map<string, number | null>, base: number) {
  let num = 0;
  let den = 0;
  const breadth = { advances: 0, declines: 0, unchanged: 0, ceilings: 0, floors: 0 };
  for (const r of refs) {
    const last = lasts.get(r.symbol) ?? null;
    num += (last ?? r.reference) * r.sharesOutstanding;
    den += r.reference * r.sharesOutstanding;
    if (last === null || last === r.reference) breadth.unchanged++;
    else if (last > r.reference) breadth.advances++;
    else breadth.declines++;
    if (last !== null && last === r.ceiling) breadth.ceilings++;
    if (last !== null && last === r.floor) breadth.floors++;
  }
  return { value: (base * num) / den, breadth };
}

describe('IndexCalculator: incremental equals from-scratch', () => {
  const universe = Array.from({ length: 12 }, (_, i) =>
    ref(`S${i}`, 'HOSE', 10_000 + i * 3_700, 1_000_000 * (i + 1) + 12_345, i % 3 === 0 ? ['VN30'] : []),
  );
  // Prices on or between the limits, including exactly ceiling, floor and reference.
  const step = fc.record({
    i: fc.integer({ min: 0, max: universe.length - 1 }),
    where: fc.oneof(
      fc.constantFrom('ceiling', 'floor', 'reference', 'none'),
      fc.double({ min: 0, max: 1, noNaN: true }),
    ),
  });

  it('after any random sequence of quotes', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        const calc = new IndexCalculator();
        universe.forEach((r) => calc.onReference(r));
        const lasts = new Map<string, number | null>();
        let t = 0;
        for (const { i, where } of steps) {
          const r = universe[i]!;
          const last =
            where === 'none'
              ? null
              : where === 'ceiling'
                ? r.ceiling!
                : where === 'floor'
                  ? r.floor!
                  : where === 'reference'
                    ? r.reference
                    : Math.round(r.floor! + (where as number) * (r.ceiling! - r.floor!));
          lasts.set(r.symbol, last);
          calc.onQuote(quote(r, last, ++t, t * 1000));
          if (t % 37 === 0) calc.compute(t);
        }
        calc.compute(t + 1);
        const vn = calc.get('VNINDEX')!;
        const expected = fromScratch(universe, lasts, 1250);
        expect(Math.abs(vn.value - expected.value)).toBeLessThanOrEqual(1e-9 * expected.value);
        expect(vn.breadth).toEqual(expected.breadth);
        const vn30 = calc.get('VN30')!;
        const e30 = fromScratch(universe.filter((r) => r.indices.includes('VN30')), lasts, 1350);
        expect(Math.abs(vn30.value - e30.value)).toBeLessThanOrEqual(1e-9 * e30.value);
        expect(vn30.breadth).toEqual(e30.breadth);
        const b = vn.breadth;
        expect(b.advances + b.declines + b.unchanged).toBe(universe.length);
      }),
      { numRuns: 150 },
    );
  });

  it('across day rolls with adjusted references and share changes', () => {
    const day = fc.record({
      adjust: fc.array(fc.double({ min: 0.9, max: 1.05, noNaN: true }), { minLength: universe.length, maxLength: universe.length }),
      shares: fc.array(fc.constantFrom(1, 1, 2), { minLength: universe.length, maxLength: universe.length }),
      steps: fc.array(step, { maxLength: 60 }),
    });
    fc.assert(
      fc.property(fc.array(day, { minLength: 1, maxLength: 5 }), (days) => {
        const calc = new IndexCalculator();
        let refs = universe;
        refs.forEach((r) => calc.onReference(r));
        let prevClose = 1250;
        let lasts = new Map<string, number | null>();
        days.forEach((d, n) => {
          if (n > 0) {
            // Close of the previous day by the oracle; next references start from each close (adjusted).
            prevClose = fromScratch(refs, lasts, prevClose).value;
            refs = refs.map((r, i) => {
              const close = lasts.get(r.symbol) ?? r.reference;
              const next = ref(r.symbol, 'HOSE', Math.round((close * d.adjust[i]!) / 100) * 100, r.sharesOutstanding * d.shares[i]!, r.indices, `2024-07-${String(n + 1).padStart(2, '0')}`);
              return next;
            });
            refs.forEach((r) => calc.onReference(r));
            lasts = new Map();
            calc.compute(n * 1000);
            expect(Math.abs(calc.get('VNINDEX')!.value - prevClose)).toBeLessThanOrEqual(1e-9 * prevClose);
          }
          for (const { i, where } of d.steps) {
            const r = refs[i]!;
            const last = where === 'none' ? null : where === 'ceiling' ? r.ceiling! : where === 'floor' ? r.floor! : where === 'reference' ? r.reference : Math.round(r.floor! + (where as number) * (r.ceiling! - r.floor!));
            lasts.set(r.symbol, last);
            calc.onQuote(quote(r, last));
          }
          calc.compute(n * 1000 + 500);
          const vn = calc.get('VNINDEX')!;
          const expected = fromScratch(refs, lasts, prevClose);
          expect(vn.prevClose).toBeCloseTo(prevClose, 6);
          expect(Math.abs(vn.value - expected.value)).toBeLessThanOrEqual(1e-9 * expected.value);
          expect(vn.breadth).toEqual(expected.breadth);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('stays exact over many updates (periodic resync bounds float drift)', () => {
    const calc = new IndexCalculator();
    universe.forEach((r) => calc.onReference(r));
    const lasts = new Map<string, number | null>();
    let seed = 7;
    for (let k = 0; k < 20_000; k++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const r = universe[seed % universe.length]!;
      const last = r.floor! + 100 * (seed % Math.floor((r.ceiling! - r.floor!) / 100));
      lasts.set(r.symbol, last);
      calc.onQuote(quote(r, last));
    }
    calc.compute(1);
    const expected = fromScratch(universe, lasts, 1250).value;
    expect(Math.abs(calc.get('VNINDEX')!.value - expected)).toBeLessThanOrEqual(1e-12 * expected);
  });
});
