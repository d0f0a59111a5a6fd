/**
 * Engine snapshots (exportSnapshot / restore), replay of classified trades
 * and gap detection — what a new collector leader relies on to continue the
 * day instead of restarting it (docs/engine.md "Snapshots, replay, gaps").
 *
 * The central property: for any event sequence split at any point, an engine
 * that saw everything (A) and an engine restored from a snapshot taken at the
 * split (C) emit the same outputs for the rest, and end in the same state.
 */
import v8 from 'node:v8';
import fc from 'fast-check';
import type { ClassifiedTrade, EngineOutput, MarketEvent, SessionPhase, SymbolRef } from '@stock-tracker/protocol';
import { SESSION_PHASES } from '@stock-tracker/protocol';
import { MarketEngine, type EngineSnapshot } from '../src/engine.ts';

const T0 = Date.UTC(2024, 0, 2, 2, 0); // 09:00 in Vietnam
const MIN = 60_000;

const ref = (symbol: string, exchange: string, reference: number, tradingDate = '2024-01-02'): SymbolRef => ({
  symbol,
  exchange,
  market: 'VN',
  tradingDate,
  reference,
  ceiling: Math.round((reference * 1.07) / 100) * 100,
  floor: Math.round((reference * 0.93) / 100) * 100,
  lotSize: 100,
  indices: exchange === 'HOSE' ? ['VN30'] : [],
  sharesOutstanding: 1e6,
});
const REFS: Record<string, SymbolRef> = { FPT: ref('FPT', 'HOSE', 100_000), VNM: ref('VNM', 'HOSE', 70_000), SHB: ref('SHB', 'HNX', 10_000) };
const SYMBOLS = [...Object.keys(REFS), 'ZZZ']; // ZZZ: no reference data (listed from its first trade)

const priceFor = (symbol: string) =>
  symbol === 'ZZZ'
    ? fc.integer({ min: 100, max: 50_000 }).map((c) => c / 100)
    : fc.oneof(
        { weight: 9, arbitrary: fc.integer({ min: REFS[symbol]!.floor! / 100, max: REFS[symbol]!.ceiling! / 100 }).map((k) => k * 100) },
        { weight: 1, arbitrary: fc.constant(REFS[symbol]!.ceiling! + 50) }, // rejected
      );

type Step =
  | { kind: 'trade'; symbol: string; dt: number; price: number; volume: number; id: number; side: 'buy' | 'sell' | 'unknown' | undefined; phase: SessionPhase | undefined; cum: boolean; skip: number }
  | { kind: 'quote'; symbol: string; dt: number; bid: number; ask: number }
  | { kind: 'foreign'; symbol: string; dt: number; buy: number; sell: number }
  | { kind: 'status'; target: 'exchange' | 'symbol' | 'market'; key: string; dt: number; phase: SessionPhase; halted: boolean }
  | { kind: 'advance'; dt: number }
  | { kind: 'resend'; pick: number }
  | { kind: 'newday'; symbol: string; dt: number }
  | { kind: 'index'; dt: number; value: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(...SYMBOLS).chain((symbol) =>
      fc.record({
        kind: fc.constant('trade' as const),
        symbol: fc.constant(symbol),
        dt: fc.integer({ min: -3 * MIN, max: MIN }),
        price: priceFor(symbol),
        volume: fc.integer({ min: 1, max: 5_000 }),
        id: fc.integer({ min: 0, max: 60 }),
        side: fc.constantFrom(undefined, 'buy' as const, 'sell' as const, 'unknown' as const),
        phase: fc.constantFrom(undefined, 'ato' as const, 'continuous' as const, 'atc' as const),
        cum: fc.boolean(),
        // Vendor volume nobody received before this trade (a gap), mostly none.
        skip: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3_000 }) }),
      }),
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(...SYMBOLS).chain((symbol) =>
      fc.record({ kind: fc.constant('quote' as const), symbol: fc.constant(symbol), dt: fc.integer({ min: -2 * MIN, max: MIN }), bid: priceFor(symbol), ask: priceFor(symbol) }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('foreign' as const), symbol: fc.constantFrom(...SYMBOLS), dt: fc.integer({ min: -2 * MIN, max: MIN }), buy: fc.nat(1e9), sell: fc.nat(1e9) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      target: fc.constantFrom('exchange' as const, 'symbol' as const, 'market' as const),
      key: fc.constantFrom('HOSE', 'HNX', 'FPT', 'ZZZ'),
      dt: fc.integer({ min: -2 * MIN, max: MIN }),
      phase: fc.constantFrom<SessionPhase>(...SESSION_PHASES),
      halted: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), dt: fc.integer({ min: -MIN, max: 3 * MIN }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resend' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('newday' as const), symbol: fc.constantFrom('FPT', 'SHB'), dt: fc.integer({ min: 0, max: MIN }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('index' as const), dt: fc.integer({ min: -MIN, max: MIN }), value: fc.integer({ min: 900, max: 1500 }) }) },
);

type Input = MarketEvent | { type: 'advance'; ts: number };

/** Turns steps into concrete events (time walks forward on average; references first). */
function materialize(steps: Step[]): Input[] {
  const out: Input[] = Object.values(REFS).map((r) => ({ type: 'reference' as const, ts: T0 - MIN, ref: r }));
  const trades: MarketEvent[] = [];
  const cum = new Map<string, number>();
  const days = new Map<string, number>();
  let t = T0;
  for (const s of steps) {
    if (s.kind === 'resend') {
      if (trades.length > 0) out.push(trades[s.pick % trades.length]!);
      continue;
    }
    t += 1_000;
    const ts = t + s.dt;
    switch (s.kind) {
      case 'trade': {
        const total = (cum.get(s.symbol) ?? 0) + s.skip + s.volume;
        cum.set(s.symbol, total);
        const ev: MarketEvent = {
          type: 'trade',
          ts,
          symbol: s.symbol,
          id: `${s.symbol}-${s.id}`,
          price: s.price,
          volume: s.volume,
          ...(s.side ? { side: s.side } : {}),
          ...(s.phase ? { phase: s.phase } : {}),
          ...(s.cum ? { cumVolume: total } : {}),
        };
        trades.push(ev);
        out.push(ev);
        break;
      }
      case 'quote':
        out.push({ type: 'quote', ts, symbol: s.symbol, bids: [{ price: Math.min(s.bid, s.ask), volume: 1_000 }], asks: [{ price: Math.max(s.bid, s.ask), volume: 2_000 }] });
        break;
      case 'foreign':
        out.push({ type: 'foreign', ts, symbol: s.symbol, buyVolume: s.buy / 1e4, sellVolume: s.sell / 1e4, buyValue: s.buy, sellValue: s.sell, totalRoom: 1e6, currentRoom: 5e5 });
        break;
      case 'status': {
        const target = s.target === 'market' ? {} : s.target === 'exchange' ? { exchange: s.key === 'FPT' || s.key === 'ZZZ' ? 'HOSE' : s.key } : { symbol: s.key };
        out.push({ type: 'status', ts, phase: s.phase, halted: s.halted, ...target });
        break;
      }
      case 'advance':
        out.push({ type: 'advance', ts });
        break;
      case 'newday': {
        const n = (days.get(s.symbol) ?? 2) + 1;
        days.set(s.symbol, n);
        cum.delete(s.symbol);
        out.push({ type: 'reference', ts, ref: { ...REFS[s.symbol]!, tradingDate: `2024-01-${String(n).padStart(2, '0')}` } });
        break;
      }
      case 'index':
        out.push({ type: 'index', ts, index: 'HNXINDEX', value: s.value, prevClose: 1000, volume: 0, valueTraded: 0, advances: 1, declines: 0, unchanged: 0, ceilings: 0, floors: 0 });
        break;
    }
  }
  return out;
}

function feed(engine: MarketEngine, inputs: Input[], outs: EngineOutput[]): boolean[] {
  const emit = (o: EngineOutput) => outs.push(o);
  return inputs.map((ev) => {
    if (ev.type === 'advance') {
      engine.advance(ev.ts, emit);
      return true;
    }
    return engine.apply(ev, emit);
  });
}

/** Every piece of state the engine exposes. */
function view(e: MarketEngine) {
  return {
    now: e.now(),
    quotes: e.quotes(),
    refs: e.references(),
    summaries: SYMBOLS.map((s) => e.summary(s)),
    bars: SYMBOLS.map((s) => e.bars(s)),
    foreign: SYMBOLS.map((s) => e.foreign(s)),
    top: e.foreignTop(),
    top3: e.foreignTop(3),
    indices: e.indices(),
    stats: e.stats(),
  };
}

const stepsArb = fc.array(stepArb, { minLength: 1, maxLength: 160 });

describe('MarketEngine snapshots', () => {
  it('restore(export(prefix)) + suffix gives the outputs and state of the whole sequence, at any split', () => {
    fc.assert(
      fc.property(stepsArb, fc.double({ min: 0, max: 1, noNaN: true }), (steps, at) => {
        const inputs = materialize(steps);
        const k = Math.floor(at * inputs.length);
        const a = new MarketEngine({ barHistory: 20 });
        const aOuts: EngineOutput[] = [];
        const aAccepted = feed(a, inputs, aOuts);
        // A's outputs after the split: run A again, counting the prefix's outputs.
        const a2 = new MarketEngine({ barHistory: 20 });
        const prefixOuts: EngineOutput[] = [];
        feed(a2, inputs.slice(0, k), prefixOuts);
        const aSuffix = aOuts.slice(prefixOuts.length);

        const b = new MarketEngine({ barHistory: 20 });
        feed(b, inputs.slice(0, k), []);
        const snap = b.exportSnapshot();
        const c = MarketEngine.fromSnapshot(snap, { barHistory: 20 });
        const cOuts: EngineOutput[] = [];
        const cAccepted = feed(c, inputs.slice(k), cOuts);

        expect(cOuts).toEqual(aSuffix);
        expect(cAccepted).toEqual(aAccepted.slice(k));
        expect(view(c)).toEqual(view(a));
      }),
      { numRuns: 150 },
    );
  });

  it('a snapshot is a deep copy: the exporting engine moving on changes nothing in it, and it restores twice the same', () => {
    fc.assert(
      fc.property(stepsArb, stepsArb, (before, after) => {
        const prefix = materialize(before);
        const suffix = materialize(after).slice(Object.keys(REFS).length); // no second set of references
        const b = new MarketEngine();
        feed(b, prefix, []);
        const snap = b.exportSnapshot();
        const frozen = v8.serialize(snap);
        const copy = structuredClone(snap);
        expect(b.exportSnapshot()).toEqual(snap); // exporting is pure
        feed(b, suffix, []); // the exporting engine moves on
        expect(snap).toEqual(copy);

        const c1 = MarketEngine.fromSnapshot(snap);
        const c2 = MarketEngine.fromSnapshot(v8.deserialize(frozen) as EngineSnapshot); // carried as bytes (v8.serialize), e.g. to another process
        const o1: EngineOutput[] = [];
        const o2: EngineOutput[] = [];
        feed(c1, suffix, o1);
        feed(c2, suffix, o2);
        expect(o2).toEqual(o1);
        expect(view(c1)).toEqual(view(b));
        expect(view(c2)).toEqual(view(b));
      }),
      { numRuns: 60 },
    );
  });

  it('two engines fed the same events export equal snapshots (deterministic)', () => {
    fc.assert(
      fc.property(stepsArb, (steps) => {
        const inputs = materialize(steps);
        const x = new MarketEngine();
        const y = new MarketEngine();
        feed(x, inputs, []);
        feed(y, inputs, []);
        // Compared by value: v8's byte encoding of a number depends on JIT field representations.
        expect(x.exportSnapshot()).toEqual(y.exportSnapshot());
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a snapshot of an unknown version', () => {
    const snap = { ...new MarketEngine().exportSnapshot(), version: 2 } as unknown as EngineSnapshot;
    expect(() => new MarketEngine().restore(snap)).toThrow(/version 2/);
  });

  it('a restored engine still recognises the day’s trades as duplicates', () => {
    const a = new MarketEngine();
    const t: MarketEvent = { type: 'trade', ts: T0, symbol: 'FPT', id: 'x1', price: 100_000, volume: 100 };
    a.apply({ type: 'reference', ts: T0 - MIN, ref: REFS.FPT! }, () => {});
    expect(a.apply(t, () => {})).toBe(true);
    const c = MarketEngine.fromSnapshot(a.exportSnapshot());
    const outs: EngineOutput[] = [];
    expect(c.apply(t, (o) => outs.push(o))).toBe(false);
    expect(outs).toEqual([]);
    expect(c.quote('FPT')!.totalVolume).toBe(100);
    expect(c.stats().duplicates).toBe(1);
  });
});

describe('MarketEngine.replay (seeding from classified trades)', () => {
  it('replaying the published trades in order rebuilds totals, split, high/low, bars and summaries exactly', () => {
    fc.assert(
      fc.property(stepsArb, (steps) => {
        // Without new days: a seed replays one trading day.
        const inputs = materialize(steps.filter((s) => s.kind !== 'newday'));
        const a = new MarketEngine({ barHistory: 1_000 });
        const outs: EngineOutput[] = [];
        feed(a, inputs, outs);
        const published = outs.flatMap((o) => (o.type === 'trade' ? [o.trade] : []));

        const r = new MarketEngine({ barHistory: 1_000 });
        for (const x of Object.values(REFS)) r.apply({ type: 'reference', ts: T0 - MIN, ref: x }, () => {});
        for (const t of published) expect(r.replay(t, () => {})).toBe(true);
        r.advance(a.now(), () => {});

        const figures = (e: MarketEngine) =>
          e.quotes().map((q) => ({ s: q.symbol, d: q.tradingDate, o: q.open, h: q.high, l: q.low, last: q.last, v: q.totalVolume, val: q.totalValue, b: q.buyVolume, se: q.sellVolume, u: q.unknownVolume }));
        expect(figures(r)).toEqual(figures(a));
        for (const s of SYMBOLS) {
          expect(r.bars(s), s).toEqual(a.bars(s));
          expect(r.summary(s), s).toEqual(a.summary(s));
        }
        // And the recorded classification is kept, not recomputed.
        const again: ClassifiedTrade[] = [];
        const r2 = new MarketEngine();
        for (const x of Object.values(REFS)) r2.apply({ type: 'reference', ts: T0 - MIN, ref: x }, () => {});
        for (const t of published) r2.replay(t, (o) => o.type === 'trade' && again.push(o.trade));
        expect(again).toEqual(published);
      }),
      { numRuns: 100 },
    );
  });
});

describe('gap detection (vendor cumulative volume)', () => {
  const trade = (id: string, ts: number, volume: number, cumVolume?: number): MarketEvent => ({ type: 'trade', ts, symbol: 'FPT', id, price: 100_000, volume, ...(cumVolume !== undefined ? { cumVolume } : {}) });
  const gapsOf = (outs: EngineOutput[]) => outs.flatMap((o) => (o.type === 'gap' ? [o.gap] : []));

  it('reports the volume no received trade accounts for, once, and not when nothing is missing', () => {
    const e = new MarketEngine();
    const outs: EngineOutput[] = [];
    const emit = (o: EngineOutput) => outs.push(o);
    e.apply({ type: 'reference', ts: T0 - MIN, ref: REFS.FPT! }, emit);
    e.apply(trade('1', T0, 100, 100), emit);
    e.apply(trade('2', T0 + 1, 200, 300), emit);
    expect(gapsOf(outs)).toEqual([]);
    // Trades of 400 and 500 were never received.
    e.apply(trade('5', T0 + 5, 50, 1_250), emit);
    expect(gapsOf(outs)).toEqual([{ symbol: 'FPT', tradingDate: '2024-01-02', ts: T0 + 5, tradeId: '5', expectedVolume: 1_200, seenVolume: 300, missingVolume: 900 }]);
    e.apply(trade('6', T0 + 6, 10, 1_260), emit);
    expect(gapsOf(outs)).toHaveLength(1); // the same gap is not reported again
    expect(e.quote('FPT')!.totalVolume).toBe(360); // reported, not invented
    // Across a snapshot the reported gap is known.
    const c = MarketEngine.fromSnapshot(e.exportSnapshot());
    const cOuts: EngineOutput[] = [];
    c.apply(trade('7', T0 + 7, 40, 1_300), (o) => cOuts.push(o));
    expect(gapsOf(cOuts)).toEqual([]);
    c.apply(trade('9', T0 + 9, 1, 1_401), (o) => cOuts.push(o));
    expect(gapsOf(cOuts)).toEqual([{ symbol: 'FPT', tradingDate: '2024-01-02', ts: T0 + 9, tradeId: '9', expectedVolume: 1_400, seenVolume: 400, missingVolume: 100 }]);
  });

  it('a late trade that fills a reported gap shrinks it; a new day starts from zero', () => {
    const e = new MarketEngine();
    const outs: EngineOutput[] = [];
    const emit = (o: EngineOutput) => outs.push(o);
    e.apply({ type: 'reference', ts: T0 - MIN, ref: REFS.FPT! }, emit);
    e.apply(trade('2', T0 + 2, 200, 300), emit); // the first (100) has not arrived yet
    e.apply(trade('1', T0 + 1, 100, 100), emit); // ... now it has
    e.apply(trade('3', T0 + 3, 50, 400), emit); // 50 missing: 350 expected, 300 seen, 100 was reported and filled
    expect(gapsOf(outs).map((g) => g.missingVolume)).toEqual([100, 50]);
    e.apply({ type: 'reference', ts: T0 + 10, ref: { ...REFS.FPT!, tradingDate: '2024-01-03' } }, emit);
    e.apply(trade('1', T0 + 11, 10, 10), emit);
    expect(gapsOf(outs)).toHaveLength(2);
  });

  it('markGapReported: a gap another engine reported is not reported again, a larger one only for the difference', () => {
    const e = new MarketEngine();
    const outs: EngineOutput[] = [];
    e.apply({ type: 'reference', ts: T0 - MIN, ref: REFS.FPT! }, () => {});
    e.apply(trade('1', T0, 100, 100), () => {});
    e.markGapReported('FPT', 500);
    e.markGapReported('FPT', 200); // never lowers it
    e.apply(trade('7', T0 + 7, 100, 700), (o) => outs.push(o)); // 500 missing: already reported
    expect(gapsOf(outs)).toEqual([]);
    e.apply(trade('9', T0 + 9, 100, 1_000), (o) => outs.push(o)); // 200 more
    expect(gapsOf(outs).map((g) => g.missingVolume)).toEqual([200]);
  });

  it('the property: Σ reported missing = vendor total − counted volume, whenever the trades arrive in order', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ volume: fc.integer({ min: 1, max: 1_000 }), received: fc.boolean() }), { minLength: 1, maxLength: 80 }), (ts) => {
        const e = new MarketEngine();
        const outs: EngineOutput[] = [];
        e.apply({ type: 'reference', ts: T0 - MIN, ref: REFS.FPT! }, () => {});
        let total = 0;
        let lastReceived = 0;
        ts.forEach((t, i) => {
          total += t.volume;
          if (t.received) {
            e.apply(trade(String(i), T0 + i, t.volume, total), (o) => outs.push(o));
            lastReceived = total;
          }
        });
        const counted = e.quote('FPT')!.totalVolume;
        const missing = gapsOf(outs).reduce((n, g) => n + g.missingVolume, 0);
        expect(counted + missing).toBe(lastReceived);
      }),
      { numRuns: 200 },
    );
  });
});
