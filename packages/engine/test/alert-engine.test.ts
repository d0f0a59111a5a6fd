import fc from 'fast-check';
import type { AlertEvent, AlertKind, AlertRule, Bar, ForeignState, QuoteState } from '@stock-tracker/protocol';
import { AlertEngine } from '../src/alert-engine.ts';
import { Rsi } from '../src/indicators.ts';

function rule(id: string, kind: AlertKind, threshold: number, extra: Partial<AlertRule> = {}): AlertRule {
  return { id, userId: 'u1', symbol: 'VNM', kind, threshold, cooldownMs: 0, enabled: true, createdAt: 0, ...extra };
}

function quote(ts: number, last: number | null, symbol = 'VNM', reference = 64_000): QuoteState {
  return {
    symbol,
    exchange: 'HOSE',
    market: 'VN',
    tradingDate: '2024-06-03',
    ts,
    reference,
    ceiling: 68_400,
    floor: 59_600,
    open: last,
    high: last,
    low: last,
    last,
    lastVolume: 100,
    change: last === null ? null : last - reference,
    changePct: last === null ? null : ((last - reference) / reference) * 100,
    totalVolume: 100,
    totalValue: 100 * (last ?? 0),
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: 100,
    bids: [],
    asks: [],
    phase: 'continuous',
    halted: false,
    foreign: null,
  };
}

const MIN = 60_000;
function bar(i: number, close: number, volume = 1_000, extra: Partial<Bar> = {}): Bar {
  return {
    symbol: 'VNM',
    interval: '1m',
    ts: i * MIN,
    open: close,
    high: close,
    low: close,
    close,
    volume,
    value: close * volume,
    vwap: close,
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: volume,
    trades: 1,
    closed: true,
    ...extra,
  };
}

function foreign(ts: number, netValue: number): ForeignState {
  return {
    symbol: 'VNM',
    ts,
    buyVolume: 0,
    sellVolume: 0,
    buyValue: Math.max(netValue, 0),
    sellValue: Math.max(-netValue, 0),
    netVolume: 0,
    netValue,
    totalRoom: 1e9,
    currentRoom: 5e8,
    roomUsagePct: 50,
  };
}

function collector() {
  const fired: AlertEvent[] = [];
  return { fired, emit: (a: AlertEvent) => fired.push(a) };
}

describe('AlertEngine: quote rules', () => {
  it('price_above fires when the price crosses the level, with a readable message and a deterministic id', () => {
    const engine = new AlertEngine([rule('r1', 'price_above', 64_500, { userId: 'alice' })]);
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 64_000), emit);
    engine.onQuote(quote(2, 64_400), emit);
    expect(fired).toEqual([]);
    engine.onQuote(quote(3, 65_000), emit);
    expect(fired).toEqual([
      {
        id: 'r1:3',
        ruleId: 'r1',
        userId: 'alice',
        symbol: 'VNM',
        kind: 'price_above',
        ts: 3,
        value: 65_000,
        threshold: 64_500,
        message: 'VNM price 65,000 crossed above 64,500',
      },
    ]);
  });

  it('price_below, change_pct_above and change_pct_below', () => {
    const engine = new AlertEngine([
      rule('below', 'price_below', 63_000),
      rule('up', 'change_pct_above', 5),
      rule('down', 'change_pct_below', -3),
    ]);
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 64_000), emit); // change 0%
    engine.onQuote(quote(2, 67_200), emit); // +5%
    engine.onQuote(quote(3, 62_000), emit); // -3.125%, below 63,000
    expect(fired.map((a) => [a.ruleId, a.ts])).toEqual([
      ['up', 2],
      ['below', 3],
      ['down', 3],
    ]);
    expect(fired[0]!.value).toBeCloseTo(5, 9);
    expect(fired[0]!.message).toBe('VNM change +5.00% crossed above +5.00%');
    expect(fired[2]!.message).toBe('VNM change -3.13% crossed below -3.00%');
    expect(fired[1]!.message).toBe('VNM price 62,000 crossed below 63,000');
  });

  it('is edge-triggered and re-arms when the condition turns false', () => {
    const engine = new AlertEngine([rule('r', 'price_above', 65_000)]);
    const { fired, emit } = collector();
    const prices = [64_000, 65_000, 65_500, 66_000, 64_900, 64_800, 65_100, 65_200];
    prices.forEach((p, i) => engine.onQuote(quote(i + 1, p), emit));
    expect(fired.map((a) => a.ts)).toEqual([2, 7]);
  });

  it('a rule that is already satisfied when created fires on the first quote', () => {
    const engine = new AlertEngine([rule('r', 'price_below', 70_000)]);
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 65_000), emit);
    engine.onQuote(quote(2, 65_100), emit);
    expect(fired.map((a) => a.ts)).toEqual([1]);
  });

  it('cooldown on event time swallows a re-cross inside the window', () => {
    const engine = new AlertEngine([rule('r', 'price_above', 65_000, { cooldownMs: 60_000 })]);
    const { fired, emit } = collector();
    const seq: [number, number][] = [
      [0, 64_000],
      [1_000, 65_000], // fires
      [2_000, 64_000],
      [30_000, 65_500], // inside cooldown: swallowed
      [70_000, 65_600], // still true, no new edge
      [80_000, 64_000],
      [90_000, 65_000], // re-armed and outside cooldown: fires
    ];
    for (const [ts, p] of seq) engine.onQuote(quote(ts, p), emit);
    expect(fired.map((a) => a.ts)).toEqual([1_000, 90_000]);
  });

  it('disabled rules never fire; re-enabling re-arms them', () => {
    const engine = new AlertEngine([rule('r', 'price_above', 65_000, { enabled: false })]);
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 64_000), emit);
    engine.onQuote(quote(2, 66_000), emit);
    expect(fired).toEqual([]);
    engine.upsert(rule('r', 'price_above', 65_000));
    engine.onQuote(quote(3, 66_000), emit);
    expect(fired.map((a) => a.ts)).toEqual([3]);
    engine.upsert(rule('r', 'price_above', 65_000, { enabled: false }));
    engine.onQuote(quote(4, 64_000), emit);
    engine.onQuote(quote(5, 66_000), emit);
    expect(fired).toHaveLength(1);
  });

  it('the same (rule, ts) never fires twice, nor does an older event after a newer firing', () => {
    const engine = new AlertEngine([rule('r', 'price_above', 65_000)]);
    const { fired, emit } = collector();
    engine.onQuote(quote(100, 66_000), emit);
    engine.onQuote(quote(100, 64_000), emit); // re-arms at the same instant
    engine.onQuote(quote(100, 66_000), emit); // same (rule, ts): de-duplicated
    engine.onQuote(quote(50, 64_000), emit);
    engine.onQuote(quote(50, 66_000), emit); // replayed, older than the last firing
    engine.onQuote(quote(101, 64_000), emit);
    engine.onQuote(quote(101, 66_000), emit);
    expect(fired.map((a) => a.id)).toEqual(['r:100', 'r:101']);
  });

  it('ignores quotes without a trade and quotes of other symbols', () => {
    const engine = new AlertEngine([rule('r', 'price_above', 65_000), rule('p', 'change_pct_above', 1)]);
    const { fired, emit } = collector();
    engine.onQuote(quote(1, null), emit);
    engine.onQuote(quote(2, 70_000, 'FPT'), emit);
    expect(fired).toEqual([]);
    expect(engine.stats().evaluated).toBe(0);
  });
});

describe('AlertEngine: ownership and rule management', () => {
  it('carries userId through and lists rules per user', () => {
    const engine = new AlertEngine();
    engine.upsert(rule('a1', 'price_above', 65_000, { userId: 'alice' }));
    engine.upsert(rule('b1', 'price_above', 64_500, { userId: 'bob' }));
    engine.upsert(rule('a2', 'price_below', 60_000, { userId: 'alice', symbol: 'FPT' }));
    expect(engine.list('alice').map((r) => r.id)).toEqual(['a1', 'a2']);
    expect(engine.list('bob').map((r) => r.id)).toEqual(['b1']);
    expect(engine.list().map((r) => r.id)).toEqual(['a1', 'b1', 'a2']);
    expect(engine.list('carol')).toEqual([]);
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 64_000), emit);
    engine.onQuote(quote(2, 66_000), emit);
    expect(fired.map((a) => [a.ruleId, a.userId])).toEqual([
      ['a1', 'alice'],
      ['b1', 'bob'],
    ]);
  });

  it('get, remove and moving a rule to another symbol', () => {
    const engine = new AlertEngine([rule('r', 'price_above', 65_000)]);
    expect(engine.get('r')?.threshold).toBe(65_000);
    engine.upsert(rule('r', 'price_above', 100, { symbol: 'FPT' }));
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 70_000), emit);
    expect(fired).toEqual([]);
    engine.onQuote(quote(2, 120, 'FPT', 110), emit);
    expect(fired.map((a) => a.symbol)).toEqual(['FPT']);
    expect(engine.remove('r')).toBe(true);
    expect(engine.remove('r')).toBe(false);
    expect(engine.get('r')).toBeUndefined();
    expect(engine.stats()).toMatchObject({ rules: 0, symbols: 0, indicators: 0 });
  });

  it('a quote only looks at its own symbol’s rules, however many others exist', () => {
    const engine = new AlertEngine();
    for (let i = 0; i < 1_000; i++) engine.upsert(rule(`x${i}`, 'price_above', 10, { symbol: `S${i}` }));
    engine.upsert(rule('mine', 'price_above', 65_000));
    const { fired, emit } = collector();
    engine.onQuote(quote(1, 66_000), emit);
    expect(fired.map((a) => a.ruleId)).toEqual(['mine']);
    expect(engine.stats().evaluated).toBe(1);
  });

  it('rejects an invalid rule on upsert; skips one when loading stored rules', () => {
    const engine = new AlertEngine();
    expect(() => engine.upsert(rule('r', 'price_above', Number.NaN))).toThrow(RangeError);
    expect(() => engine.upsert(rule('r', 'nope' as AlertKind, 1))).toThrow(RangeError);
    const loaded = new AlertEngine([rule('ok', 'price_above', 1), rule('bad', 'price_above', 1, { cooldownMs: -5 })]);
    expect(loaded.list().map((r) => r.id)).toEqual(['ok']);
    expect(loaded.stats().skipped).toBe(1);
  });
});

describe('AlertEngine: bar rules', () => {
  it('volume_spike compares with the average of the previous `period` bars', () => {
    const engine = new AlertEngine([rule('v', 'volume_spike', 3, { period: 5 })]);
    const { fired, emit } = collector();
    for (let i = 0; i < 4; i++) engine.onBar(bar(i, 100, 1_000), emit);
    engine.onBar(bar(4, 100, 10_000), emit); // only 4 bars of history: no average yet
    expect(fired).toEqual([]);
    engine.onBar(bar(5, 100, 3_000), emit); // average of bars 0..4 = 2,800; 3,000 < 8,400
    engine.onBar(bar(6, 100, 9_000, { closed: false }), emit); // open bar: ignored
    engine.onBar(bar(6, 100, 9_000, { interval: '5m' }), emit); // not a 1m bar: ignored
    expect(fired).toEqual([]);
    engine.onBar(bar(6, 100, 9_000), emit); // average of bars 1..5 = 3,200; ratio 2.8125
    engine.onBar(bar(7, 100, 12_000), emit); // average of 2..6 = 4,800; ratio 2.5
    expect(fired).toEqual([]);
    engine.onBar(bar(8, 100, 30_000), emit); // average of 3..7 = 7,000; ratio 4.2857
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ ruleId: 'v', ts: 9 * MIN, threshold: 3 });
    expect(fired[0]!.value).toBeCloseTo(30_000 / 7_000, 12);
    expect(fired[0]!.message).toBe('VNM 1m volume 30,000 is 4.29× the 5-bar average 7,000');
  });

  it('a closed bar seen twice does not advance indicators twice', () => {
    const engine = new AlertEngine([rule('v', 'volume_spike', 2, { period: 2 })]);
    const { fired, emit } = collector();
    engine.onBar(bar(0, 100, 1_000), emit);
    engine.onBar(bar(1, 100, 1_000), emit);
    engine.onBar(bar(1, 100, 1_000), emit); // duplicate
    engine.onBar(bar(2, 100, 2_000), emit); // 2,000 ≥ 2 × 1,000
    expect(fired.map((a) => a.ts)).toEqual([3 * MIN]);
    expect(engine.stats().skipped).toBe(1);
  });

  it('rsi_cross_above and rsi_cross_below fire on the bar where RSI crosses the level', () => {
    const engine = new AlertEngine([rule('hi', 'rsi_cross_above', 70, { period: 5 }), rule('lo', 'rsi_cross_below', 30, { period: 5 })]);
    const { fired, emit } = collector();
    // Oscillating closes with trends in both directions.
    const closes = Array.from({ length: 120 }, (_, i) => 100 + 10 * Math.sin(i / 6) + (i % 3));
    const rsi = new Rsi(5);
    const expected: [string, number][] = [];
    let prev: number | null = null;
    closes.forEach((c, i) => {
      const cur = rsi.update(c);
      if (prev !== null && cur !== null) {
        if (prev <= 70 && cur > 70) expected.push(['hi', (i + 1) * MIN]);
        if (prev >= 30 && cur < 30) expected.push(['lo', (i + 1) * MIN]);
      }
      prev = cur;
      engine.onBar(bar(i, c), emit);
    });
    expect(expected.filter(([id]) => id === 'hi').length).toBeGreaterThan(2);
    expect(expected.filter(([id]) => id === 'lo').length).toBeGreaterThan(2);
    expect(fired.map((a) => [a.ruleId, a.ts])).toEqual(expected);
    expect(fired.find((a) => a.ruleId === 'hi')!.value).toBeGreaterThan(70);
    expect(fired[0]!.message).toMatch(/^VNM RSI\(5\) [\d.]+ crossed (above 70|below 30)$/);
  });

  it('price_cross_above_sma and price_cross_below_sma', () => {
    const engine = new AlertEngine([rule('up', 'price_cross_above_sma', 0, { period: 5 }), rule('dn', 'price_cross_below_sma', 0, { period: 5 })]);
    const { fired, emit } = collector();
    [100, 100, 100, 100, 100, 110, 105, 90].forEach((c, i) => engine.onBar(bar(i, c), emit));
    // Bar 5: SMA 102, close 110 after a close at the SMA → up. Bar 7: SMA 101, close 90 after 105 ≥ 103 → down.
    expect(fired.map((a) => [a.ruleId, a.ts, a.value, a.threshold])).toEqual([
      ['up', 6 * MIN, 110, 102],
      ['dn', 8 * MIN, 90, 101],
    ]);
    expect(fired[0]!.message).toBe('VNM close 110 crossed above SMA(5) 102');
  });

  it('shares indicator state per (symbol, period) and keeps it warm across rule edits', () => {
    const engine = new AlertEngine([rule('a', 'rsi_cross_above', 70, { period: 5 }), rule('b', 'rsi_cross_above', 60, { period: 5, userId: 'u2' })]);
    engine.upsert(rule('c', 'rsi_cross_below', 30)); // default period 14
    expect(engine.stats().indicators).toBe(2);
    const { fired, emit } = collector();
    [100, 99, 98, 97, 96, 95].forEach((c, i) => engine.onBar(bar(i, c), emit)); // RSI(5) = 0
    engine.upsert({ ...rule('a', 'rsi_cross_above', 70, { period: 5 }), note: 'edited' });
    engine.remove('b');
    expect(engine.stats().indicators).toBe(2);
    engine.onBar(bar(6, 120), emit); // RSI(5) jumps from 0 to > 70 only if the state survived the edit
    expect(fired.map((a) => a.ruleId)).toEqual(['a']);
    engine.remove('a');
    engine.remove('c');
    expect(engine.stats()).toMatchObject({ indicators: 0, symbols: 0 });
  });
});

describe('AlertEngine: foreign rules', () => {
  it('foreign_net_buy_above and foreign_net_sell_above', () => {
    const engine = new AlertEngine([rule('buy', 'foreign_net_buy_above', 10e9), rule('sell', 'foreign_net_sell_above', 5e9)]);
    const { fired, emit } = collector();
    engine.onForeign(foreign(1, 2e9), emit);
    engine.onForeign(foreign(2, 12e9), emit);
    engine.onForeign(foreign(3, 13e9), emit); // still above: no new edge
    engine.onForeign(foreign(4, -6e9), emit);
    expect(fired.map((a) => [a.ruleId, a.ts, a.value])).toEqual([
      ['buy', 2, 12e9],
      ['sell', 4, 6e9],
    ]);
    expect(fired[0]!.message).toBe('VNM foreign net buy 12,000,000,000 reached 10,000,000,000');
    expect(fired[1]!.message).toBe('VNM foreign net sell 6,000,000,000 reached 5,000,000,000');
  });
});

describe('AlertEngine: properties', () => {
  const step = fc.record({ ts: fc.integer({ min: 0, max: 200_000 }), price: fc.integer({ min: 60_000, max: 70_000 }) });

  it('a rule never fires twice within its cooldown, whatever the quote sequence (any order, repeated ts)', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 200 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.integer({ min: 60_000, max: 70_000 }),
        (steps, cooldownMs, threshold) => {
          const engine = new AlertEngine([
            rule('above', 'price_above', threshold, { cooldownMs }),
            rule('below', 'price_below', threshold, { cooldownMs }),
            rule('pct', 'change_pct_above', 2, { cooldownMs }),
          ]);
          const { fired, emit } = collector();
          for (const s of steps) engine.onQuote(quote(s.ts, s.price), emit);
          for (const id of ['above', 'below', 'pct']) {
            const times = fired.filter((a) => a.ruleId === id).map((a) => a.ts);
            for (let i = 1; i < times.length; i++) {
              expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(Math.max(cooldownMs, 1));
            }
          }
          expect(new Set(fired.map((a) => a.id)).size).toBe(fired.length);
        },
      ),
    );
  });

  it('with time moving forward, firings are exactly the rising edges outside the cooldown', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 1, max: 5_000 }), price: fc.integer({ min: 64_000, max: 66_000 }) }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 20_000 }),
        (steps, cooldownMs) => {
          const engine = new AlertEngine([rule('r', 'price_above', 65_000, { cooldownMs })]);
          const { fired, emit } = collector();
          // Model: armed until true; fire on each rising edge at least cooldownMs after the last firing.
          const expected: number[] = [];
          let ts = 0;
          let wasTrue = false;
          for (const s of steps) {
            ts += s.dt;
            const isTrue = s.price >= 65_000;
            if (isTrue && !wasTrue && (expected.length === 0 || ts - expected.at(-1)! >= cooldownMs)) expected.push(ts);
            wasTrue = isTrue;
            engine.onQuote(quote(ts, s.price), emit);
          }
          expect(fired.map((a) => a.ts)).toEqual(expected);
        },
      ),
    );
  });
});
