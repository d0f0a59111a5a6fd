/**
 * Property tests of the engine over arbitrary event sequences: out-of-order
 * timestamps, duplicate trade ids, stale updates, invalid values. The expected
 * figures come from a small independent model of the documented policy.
 */
import fc from 'fast-check';
import type { EngineOutput, Level, MarketEvent, QuoteState, SessionPhase, SymbolRef } from '@stock-tracker/protocol';
import { SESSION_PHASES } from '@stock-tracker/protocol';
import { MarketEngine } from '../src/engine.ts';

const T0 = Date.UTC(2024, 0, 2, 2, 0); // 09:00 in Vietnam
const MIN = 60_000;

interface Spec {
  ref?: SymbolRef;
  /** grid step and limits the model uses to decide validity */
  tick: number;
  lo: number;
  hi: number;
}
const SPECS: Record<string, Spec> = {
  FPT: {
    ref: { symbol: 'FPT', exchange: 'HOSE', market: 'VN', tradingDate: '2024-01-02', reference: 100_000, ceiling: 107_000, floor: 93_000, lotSize: 100, indices: ['VN30'], sharesOutstanding: 1e6 },
    tick: 100,
    lo: 93_000,
    hi: 107_000,
  },
  SHB: {
    ref: { symbol: 'SHB', exchange: 'HNX', market: 'VN', tradingDate: '2024-01-02', reference: 10_000, ceiling: 11_000, floor: 9_000, lotSize: 100, indices: [], sharesOutstanding: 1e6 },
    tick: 100,
    lo: 9_000,
    hi: 11_000,
  },
  // No reference data: listed from its first trade, no limits.
  ZZZ: { tick: 0.01, lo: 0, hi: Infinity },
};
const SYMBOLS = Object.keys(SPECS);

const badNumber = fc.constantFrom(0, -1, Number.NaN, Number.POSITIVE_INFINITY, -Number.MAX_VALUE);

/** A price for a symbol: mostly valid, sometimes off-grid, out of limits or non-numeric. */
const priceFor = (symbol: string) =>
  symbol === 'ZZZ'
    ? fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 100, max: 50_000 }).map((c) => c / 100) }, { weight: 1, arbitrary: badNumber })
    : fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: SPECS[symbol]!.lo / 100, max: SPECS[symbol]!.hi / 100 }).map((k) => k * 100) },
        { weight: 1, arbitrary: fc.integer({ min: SPECS[symbol]!.lo / 100 - 20, max: SPECS[symbol]!.hi / 100 + 20 }).map((k) => k * 100 + 50) },
        { weight: 1, arbitrary: fc.oneof(fc.integer({ min: SPECS[symbol]!.hi + 100, max: SPECS[symbol]!.hi * 2 }), badNumber) },
      );

const step = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...SYMBOLS).chain((symbol) =>
      fc.record({
        kind: fc.constant('trade' as const),
        symbol: fc.constant(symbol),
        dt: fc.integer({ min: -5 * MIN, max: 2 * MIN }),
        price: priceFor(symbol),
        volume: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 5_000 }) }, { weight: 1, arbitrary: badNumber }),
        id: fc.integer({ min: 0, max: 40 }), // small pool: duplicates happen
        side: fc.constantFrom(undefined, 'buy', 'sell', 'unknown'),
        phase: fc.constantFrom(undefined, 'ato', 'continuous', 'atc'),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...SYMBOLS).chain((symbol) =>
      fc.record({
        kind: fc.constant('quote' as const),
        symbol: fc.constant(symbol),
        dt: fc.integer({ min: -3 * MIN, max: MIN }),
        bids: fc.array(fc.record({ price: priceFor(symbol), volume: fc.integer({ min: 1, max: 1e5 }) }), { maxLength: 3 }),
        asks: fc.array(fc.record({ price: priceFor(symbol), volume: fc.integer({ min: 1, max: 1e5 }) }), { maxLength: 3 }),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('foreign' as const),
      symbol: fc.constantFrom(...SYMBOLS),
      dt: fc.integer({ min: -3 * MIN, max: MIN }),
      buyValue: fc.oneof({ weight: 9, arbitrary: fc.nat(1e9) }, { weight: 1, arbitrary: fc.constant(-5) }),
      sellValue: fc.nat(1e9),
      totalRoom: fc.nat(1e6),
      currentRoom: fc.nat(1e6),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      target: fc.constantFrom<[string, string]>(['exchange', 'HOSE'], ['exchange', 'HNX'], ['symbol', 'FPT'], ['symbol', 'ZZZ'], ['market', '']),
      dt: fc.integer({ min: -3 * MIN, max: MIN }),
      phase: fc.constantFrom<SessionPhase>(...SESSION_PHASES),
      halted: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), dt: fc.integer({ min: -MIN, max: 3 * MIN }) }) },
  // The feed replays an earlier trade event unchanged (reconnect): picks one of the trades so far.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resend' as const), dt: fc.constant(0), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reref' as const), symbol: fc.constantFrom('FPT', 'SHB'), dt: fc.integer({ min: -MIN, max: MIN }) }) },
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

const validNum = (x: number) => Number.isFinite(x) && x > 0;

/** Book-keeping of the model for one symbol. */
interface ModelSym {
  /** `${id}@${ts}` of accepted trades: a replay repeats both. */
  ids: Set<string>;
  volume: number;
  high: number;
  low: number;
  last?: { ts: number; price: number };
  open?: { ts: number; price: number };
  book?: { ts: number; bids: Level[]; asks: Level[] };
  foreign?: { ts: number; net: number };
}

function run(steps: Step[]) {
  const engine = new MarketEngine({ barHistory: 100_000 });
  const outputs: EngineOutput[] = [];
  const frozen: string[] = [];
  const emit = (o: EngineOutput) => {
    outputs.push(o);
    frozen.push(JSON.stringify(o));
  };
  const model = new Map<string, ModelSym>(SYMBOLS.map((s) => [s, { ids: new Set(), volume: 0, high: -Infinity, low: Infinity }]));
  let expectedRejected = 0;
  let maxTs = -Infinity;

  for (const s of Object.values(SPECS)) if (s.ref) engine.apply({ type: 'reference', ts: T0 - 30 * MIN, ref: s.ref }, emit);
  maxTs = T0 - 30 * MIN;

  let ts = T0;
  const sentTrades: MarketEvent[] = [];
  for (const st of steps) {
    ts += st.dt;
    if (st.kind === 'resend') {
      if (sentTrades.length === 0) continue;
      // A replay of an accepted trade is a duplicate; of a rejected one, still invalid: rejected either way.
      expect(engine.apply(sentTrades[st.pick % sentTrades.length]!, emit)).toBe(false);
      expectedRejected++;
      continue;
    }
    if (st.kind === 'advance') {
      engine.advance(ts, emit);
      maxTs = Math.max(maxTs, ts);
      continue;
    }
    let ev: MarketEvent;
    let valid: boolean;
    const m = st.kind === 'status' ? undefined : model.get(st.symbol)!;
    const spec = st.kind === 'status' ? undefined : SPECS[st.symbol]!;
    const priceOk = (p: number) =>
      validNum(p) && (spec!.ref === undefined || (p >= spec!.lo && p <= spec!.hi && Math.round(p) % spec!.tick === 0));
    switch (st.kind) {
      case 'trade': {
        const id = String(st.id);
        ev = { type: 'trade', ts, symbol: st.symbol, id, price: st.price, volume: st.volume, side: st.side as 'buy' | undefined, phase: st.phase as SessionPhase | undefined };
        valid = priceOk(st.price) && validNum(st.volume) && !m!.ids.has(`${id}@${ts}`);
        sentTrades.push(ev);
        if (valid) {
          m!.ids.add(`${id}@${ts}`);
          m!.volume += st.volume;
          m!.high = Math.max(m!.high, st.price);
          m!.low = Math.min(m!.low, st.price);
          if (!m!.last || ts >= m!.last.ts) m!.last = { ts, price: st.price };
          if (!m!.open || ts < m!.open.ts) m!.open = { ts, price: st.price };
        }
        break;
      }
      case 'quote': {
        ev = { type: 'quote', ts, symbol: st.symbol, bids: st.bids, asks: st.asks };
        valid = [...st.bids, ...st.asks].every((l) => priceOk(l.price));
        if (valid && (!m!.book || ts >= m!.book.ts)) m!.book = { ts, bids: st.bids, asks: st.asks };
        break;
      }
      case 'foreign': {
        ev = { type: 'foreign', ts, symbol: st.symbol, buyVolume: 1, sellVolume: 1, buyValue: st.buyValue, sellValue: st.sellValue, totalRoom: st.totalRoom, currentRoom: st.currentRoom };
        valid = st.buyValue >= 0;
        if (valid && (!m!.foreign || ts >= m!.foreign.ts)) m!.foreign = { ts, net: st.buyValue - st.sellValue };
        break;
      }
      case 'status': {
        const [k, v] = st.target;
        ev = { type: 'status', ts, phase: st.phase, halted: st.halted, ...(k === 'market' ? {} : { [k]: v }) };
        valid = true;
        break;
      }
      case 'reref': {
        ev = { type: 'reference', ts, ref: SPECS[st.symbol]!.ref! };
        valid = true;
        break;
      }
    }
    const accepted = engine.apply(ev, emit);
    expect(accepted).toBe(valid);
    if (!valid) expectedRejected++;
    else maxTs = Math.max(maxTs, ts);
  }
  return { engine, outputs, frozen, model, expectedRejected, maxTs };
}

describe('engine properties', () => {
  it('volumes add up everywhere, OHLC bounds hold, state never regresses, emitted objects are never mutated', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 150 }), (steps) => {
        const { engine, outputs, frozen, model, expectedRejected, maxTs } = run(steps);
        expect(engine.stats().rejected).toBe(expectedRejected);
        expect(engine.now()).toBe(maxTs);

        for (const [symbol, m] of model) {
          const q = engine.quote(symbol);
          if (m.volume === 0) {
            if (SPECS[symbol]!.ref === undefined) expect(q).toBeUndefined();
            else expect(q!.totalVolume).toBe(0);
            continue;
          }
          // Quote row
          expect(q!.totalVolume).toBe(m.volume);
          expect(q!.buyVolume + q!.sellVolume + q!.unknownVolume).toBe(q!.totalVolume);
          expect(q!.high).toBe(m.high);
          expect(q!.low).toBe(m.low);
          expect(q!.last).toBe(m.last!.price);
          expect(q!.open).toBe(m.open!.price);
          // Day = Σ phases = Σ bars
          const sum = engine.summary(symbol)!;
          expect(sum.day.volume).toBe(m.volume);
          expect(sum.day.buyVolume + sum.day.sellVolume + sum.day.unknownVolume).toBe(m.volume);
          expect(sum.phases.reduce((a, p) => a + p.volume, 0)).toBe(m.volume);
          const bars = engine.bars(symbol);
          expect(bars.reduce((a, b) => a + b.volume, 0)).toBe(m.volume);
          for (const x of [...bars, sum.day, ...sum.phases]) {
            expect(x.buyVolume + x.sellVolume + x.unknownVolume).toBe(x.volume);
            if (x.trades === 0) continue;
            expect(x.low!).toBeLessThanOrEqual(Math.min(x.open!, x.close!));
            expect(x.high!).toBeGreaterThanOrEqual(Math.max(x.open!, x.close!));
            expect(x.low!).toBeGreaterThanOrEqual(m.low);
            expect(x.high!).toBeLessThanOrEqual(m.high);
          }
          expect(sum.day.high).toBe(m.high);
          expect(sum.day.low).toBe(m.low);
          expect(sum.day.close).toBe(m.last!.price);
          // Bars: ordered, closed except the last, which is open only if its minute has not ended.
          for (let i = 1; i < bars.length; i++) expect(bars[i]!.ts).toBeGreaterThan(bars[i - 1]!.ts);
          expect(bars.slice(0, -1).every((b) => b.closed)).toBe(true);
          const lastBar = bars.at(-1)!;
          expect(lastBar.closed).toBe(lastBar.ts + MIN <= engine.now());
        }

        for (const [symbol, m] of model) {
          const q = engine.quote(symbol);
          if (q === undefined) continue;
          // Book and foreign: the newest accepted update (ties: the later arrival).
          if (m.book) {
            expect(q.bids).toEqual(m.book.bids);
            expect(q.asks).toEqual(m.book.asks);
          }
          if (m.foreign) expect(q.foreign!.netValue).toBe(m.foreign.net);
        }

        // Per symbol, emitted quote states never go back in time and volume never shrinks within the day.
        const lastEmitted = new Map<string, QuoteState>();
        for (const o of outputs) {
          if (o.type !== 'quote') continue;
          const prev = lastEmitted.get(o.state.symbol);
          if (prev && prev.tradingDate === o.state.tradingDate) {
            expect(o.state.ts).toBeGreaterThanOrEqual(prev.ts);
            expect(o.state.totalVolume).toBeGreaterThanOrEqual(prev.totalVolume);
          }
          lastEmitted.set(o.state.symbol, o.state);
        }
        // Nothing emitted was mutated afterwards.
        outputs.forEach((o, i) => expect(JSON.stringify(o)).toBe(frozen[i]));
      }),
      { numRuns: 150 },
    );
  });

  it('is deterministic: the same tape gives the same outputs', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        expect(run(steps).frozen).toEqual(run(steps).frozen);
      }),
      { numRuns: 50 },
    );
  });

  it('volume adds up across a trading-day roll: the old day is flushed, the new one starts from zero', () => {
    const ref2 = { ...SPECS.FPT!.ref!, tradingDate: '2024-01-03' };
    const vols = fc.array(fc.record({ dt: fc.integer({ min: -MIN, max: MIN }), v: fc.integer({ min: 1, max: 1_000 }) }), { maxLength: 30 });
    fc.assert(
      fc.property(vols, vols, (day1, day2) => {
        const engine = new MarketEngine();
        const out: EngineOutput[] = [];
        const emit = (o: EngineOutput) => out.push(o);
        engine.apply({ type: 'reference', ts: T0 - MIN, ref: SPECS.FPT!.ref! }, emit);
        let ts = T0;
        day1.forEach((t, i) => engine.apply({ type: 'trade', ts: (ts += t.dt), symbol: 'FPT', id: String(i), price: 100_000, volume: t.v }, emit));
        engine.apply({ type: 'reference', ts: T0 + 86_400_000 - MIN, ref: ref2 }, emit);
        ts = T0 + 86_400_000;
        // Same ids as yesterday: ids are unique per day only.
        day2.forEach((t, i) => engine.apply({ type: 'trade', ts: (ts += t.dt), symbol: 'FPT', id: String(i), price: 100_000, volume: t.v }, emit));
        const sum1 = day1.reduce((a, t) => a + t.v, 0);
        const sum2 = day2.reduce((a, t) => a + t.v, 0);
        const dayOne = out.filter((o) => o.type === 'session' && o.summary.phase === 'day');
        expect(dayOne.map((o) => (o.type === 'session' ? [o.summary.tradingDate, o.summary.volume] : null))).toEqual(sum1 > 0 ? [['2024-01-02', sum1]] : []);
        expect(engine.quote('FPT')!.totalVolume).toBe(sum2);
        expect(engine.summary('FPT')!.day.volume).toBe(sum2);
        expect(engine.bars('FPT').reduce((a, b) => a + b.volume, 0)).toBe(sum1 + sum2);
      }),
    );
  });

  it('never throws on garbage, and rejects it', () => {
    const garbageField = fc.oneof(fc.anything(), badNumber, fc.constant(undefined));
    const mutated = fc
      .record({
        base: fc.constantFrom<Record<string, unknown>>(
          { type: 'trade', ts: T0, symbol: 'FPT', id: 'x', price: 100_000, volume: 100 },
          { type: 'quote', ts: T0, symbol: 'FPT', bids: [{ price: 100_000, volume: 1 }], asks: [] },
          { type: 'foreign', ts: T0, symbol: 'FPT', buyVolume: 1, sellVolume: 1, buyValue: 1, sellValue: 1, totalRoom: 1, currentRoom: 1 },
          { type: 'status', ts: T0, phase: 'continuous', halted: false },
          { type: 'reference', ts: T0, ref: SPECS.FPT!.ref },
          { type: 'index', ts: T0, index: 'VNINDEX', value: 1, prevClose: 1, volume: 1, valueTraded: 1, advances: 1, declines: 1, unchanged: 1, ceilings: 1, floors: 1 },
          { type: 'bar', ts: T0, symbol: 'FPT', interval: '1m', open: 1, high: 1, low: 1, close: 1, volume: 1 },
        ),
        field: fc.constantFrom('type', 'ts', 'symbol', 'id', 'price', 'volume', 'bids', 'asks', 'phase', 'halted', 'ref', 'value', 'interval', 'buyValue', 'advances'),
        value: garbageField,
      })
      .map(({ base, field, value }) => ({ ...base, [field]: value }));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.anything(), mutated), { maxLength: 30 }), (events) => {
        const engine = new MarketEngine();
        engine.apply({ type: 'reference', ts: T0 - MIN, ref: SPECS.FPT!.ref! }, () => {});
        for (const ev of events) expect(typeof engine.apply(ev as MarketEvent, () => {})).toBe('boolean');
        const s = engine.stats();
        const accepted = Object.values(s.events).reduce((a, b) => a + b, 0);
        expect(accepted + s.rejected).toBe(events.length + 1);
      }),
    );
  });
});
