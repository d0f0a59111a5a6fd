import fc from 'fast-check';
import type { Bar, ClassifiedTrade, SessionPhase, SessionSummary, Side } from '@stock-tracker/protocol';
import { SessionAggregator } from '../src/session-aggregator.ts';

const M = 60_000;
const T0 = 1_700_000_040_000; // a whole UTC minute (1_700_000_040_000 / 60_000 = 28_333_334)
let n = 0;
const tr = (ts: number, price: number, volume: number, side: Side = 'unknown', phase: SessionPhase = 'continuous', symbol = 'AAA'): ClassifiedTrade => ({
  id: `t${n++}`,
  symbol,
  ts,
  price,
  volume,
  side,
  sideSource: side === 'unknown' ? 'none' : 'quote',
  phase,
});

function collector() {
  const bars: { bar: Bar; late: boolean }[] = [];
  const summaries: SessionSummary[] = [];
  return { bars, summaries, onBar: (bar: Bar, late: boolean) => bars.push({ bar, late }), onSummary: (s: SessionSummary) => summaries.push(s) };
}

describe('SessionAggregator', () => {
  it('builds a 1-minute bar and closes it on time without a further trade', () => {
    expect(T0 % M).toBe(0);
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0 + 10_000, 100, 200, 'buy'), '2024-01-02', c.onBar);
    a.addTrade(tr(T0 + 20_000, 104, 100, 'sell'), '2024-01-02', c.onBar);
    a.addTrade(tr(T0 + 30_000, 99, 300, 'unknown'), '2024-01-02', c.onBar);
    a.addTrade(tr(T0 + 59_999, 101, 400, 'buy'), '2024-01-02', c.onBar);
    // One open-bar update per trade, none closed yet.
    expect(c.bars.map((b) => b.bar.closed)).toEqual([false, false, false, false]);
    expect(c.bars[1]!.bar.high).toBe(104);
    a.advance(T0 + 59_999, c.onBar);
    expect(c.bars).toHaveLength(4);
    a.advance(T0 + M, c.onBar);
    expect(c.bars).toHaveLength(5);
    const bar = c.bars[4]!.bar;
    // value = 100*200 + 104*100 + 99*300 + 101*400 = 20000 + 10400 + 29700 + 40400 = 100500; volume 1000
    expect(bar).toEqual({
      symbol: 'AAA',
      interval: '1m',
      ts: T0,
      open: 100,
      high: 104,
      low: 99,
      close: 101,
      volume: 1_000,
      value: 100_500,
      vwap: 100.5,
      buyVolume: 600,
      sellVolume: 100,
      unknownVolume: 300,
      trades: 4,
      closed: true,
    });
    expect(c.bars[4]!.late).toBe(false);
    expect(a.bars('AAA')).toEqual([bar]);
  });

  it('emitted bar snapshots are never mutated afterwards', () => {
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0 + 1, 10, 1), 'd', c.onBar);
    const first = c.bars[0]!.bar;
    const copy = structuredClone(first);
    a.addTrade(tr(T0 + 2, 20, 1), 'd', c.onBar);
    a.advance(T0 + 5 * M, c.onBar);
    a.addTrade(tr(T0 + 3, 5, 1), 'd', c.onBar); // late, into the closed bar
    expect(first).toEqual(copy);
  });

  it('a trade in a later minute closes the open bar first', () => {
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0 + 5_000, 10, 1), 'd', c.onBar);
    a.addTrade(tr(T0 + 3 * M + 1, 11, 2), 'd', c.onBar);
    expect(c.bars.map((b) => [b.bar.ts, b.bar.closed])).toEqual([
      [T0, false],
      [T0, true],
      [T0 + 3 * M, false],
    ]);
    // Quiet minutes produce no bars.
    expect(a.bars('AAA').map((b) => b.ts)).toEqual([T0, T0 + 3 * M]);
  });

  it('within a bar, open is the earliest trade and close the latest by time', () => {
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0 + 30_000, 50, 1), 'd', c.onBar);
    a.addTrade(tr(T0 + 10_000, 40, 1), 'd', c.onBar); // earlier: new open, not the close
    const open = c.bars.at(-1)!.bar;
    expect([open.open, open.close]).toEqual([40, 50]);
  });

  it('a late trade updates its closed bar in the history and re-emits it flagged late', () => {
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0 + 1_000, 10, 100, 'buy'), 'd', c.onBar);
    a.addTrade(tr(T0 + 2 * M + 1_000, 12, 100, 'buy'), 'd', c.onBar);
    a.advance(T0 + 10 * M, c.onBar);
    c.bars.length = 0;
    // Late trade in minute 0, earlier than the bar's first trade: new open and new low.
    a.addTrade(tr(T0 + 500, 9, 50, 'sell'), 'd', c.onBar);
    expect(c.bars).toHaveLength(1);
    expect(c.bars[0]!.late).toBe(true);
    expect(c.bars[0]!.bar).toMatchObject({ ts: T0, open: 9, low: 9, close: 10, volume: 150, sellVolume: 50, buyVolume: 100, trades: 2, closed: true });
    // Late trade in minute 1 (no bar yet): a bar is created in order.
    a.addTrade(tr(T0 + M + 10, 11, 7), 'd', c.onBar);
    expect(a.bars('AAA').map((b) => [b.ts, b.volume])).toEqual([
      [T0, 150],
      [T0 + M, 7],
      [T0 + 2 * M, 100],
    ]);
    // All of it is in the day totals.
    expect(a.summary('AAA')!.day.volume).toBe(257);
  });

  it('keeps a bounded history; a trade older than all of it only counts in the totals', () => {
    const a = new SessionAggregator({ barHistory: 3 });
    const c = collector();
    for (let i = 0; i < 5; i++) a.addTrade(tr(T0 + i * M, 10 + i, 1), 'd', c.onBar);
    a.advance(T0 + 10 * M, c.onBar);
    expect(a.bars('AAA').map((b) => b.close)).toEqual([12, 13, 14]);
    const emitted = c.bars.length;
    a.addTrade(tr(T0 - 5_000, 1, 1), 'd', c.onBar); // before the first trade: the day open
    expect(c.bars.length).toBe(emitted);
    expect(a.bars('AAA').map((b) => b.volume)).toEqual([1, 1, 1]);
    expect(a.summary('AAA')!.day).toMatchObject({ volume: 6, trades: 6, low: 1, open: 1, close: 14 });
  });

  it('summarises per phase and for the day; emits a phase when it ends and the day at close', () => {
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0, 100, 1_000, 'unknown', 'ato'), '2024-01-02', c.onBar);
    a.addTrade(tr(T0 + 1_000, 102, 500, 'buy', 'continuous'), '2024-01-02', c.onBar);
    a.addTrade(tr(T0 + 2_000, 98, 500, 'sell', 'continuous'), '2024-01-02', c.onBar);
    a.endPhase('AAA', 'ato', c.onSummary);
    a.endPhase('AAA', 'ato', c.onSummary); // unchanged since: not again
    a.endPhase('AAA', 'lunch_break', c.onSummary); // no trades: nothing
    expect(c.summaries).toEqual([
      {
        symbol: 'AAA',
        tradingDate: '2024-01-02',
        phase: 'ato',
        open: 100,
        high: 100,
        low: 100,
        close: 100,
        volume: 1_000,
        value: 100_000,
        vwap: 100,
        buyVolume: 0,
        sellVolume: 0,
        unknownVolume: 1_000,
        trades: 1,
      },
    ]);
    a.endPhase('AAA', 'continuous', c.onSummary);
    a.endDay('AAA', c.onSummary);
    const day = c.summaries.at(-1)!;
    // day value = 100000 + 51000 + 49000 = 200000 over 2000 shares
    expect(day).toMatchObject({ phase: 'day', open: 100, high: 102, low: 98, close: 98, volume: 2_000, value: 200_000, vwap: 100, buyVolume: 500, sellVolume: 500, unknownVolume: 1_000, trades: 3 });
    const s = a.summary('AAA')!;
    expect(s.phases.map((p) => p.phase)).toEqual(['ato', 'continuous']);
    expect(s.phases[1]).toMatchObject({ volume: 1_000, open: 102, close: 98 });
  });

  it('a new day flushes pending summaries, resets the totals and keeps the bars', () => {
    const a = new SessionAggregator();
    const c = collector();
    a.addTrade(tr(T0, 100, 10, 'buy'), '2024-01-02', c.onBar);
    a.newDay('AAA', '2024-01-03', c.onSummary);
    expect(c.summaries.map((s) => [s.phase, s.tradingDate, s.volume])).toEqual([
      ['continuous', '2024-01-02', 10],
      ['day', '2024-01-02', 10],
    ]);
    const s = a.summary('AAA')!;
    expect(s.day).toMatchObject({ tradingDate: '2024-01-03', volume: 0, open: null, vwap: null, trades: 0 });
    expect(s.phases).toEqual([]);
    expect(a.bars('AAA')).toHaveLength(1);
  });

  it('property: bar, phase and day volumes add up; OHLC bounds hold', () => {
    const trade = fc.record({
      dt: fc.integer({ min: 0, max: 20 * M }),
      price: fc.integer({ min: 1, max: 1_000 }),
      volume: fc.integer({ min: 1, max: 10_000 }),
      side: fc.constantFrom<Side>('buy', 'sell', 'unknown'),
      phase: fc.constantFrom<SessionPhase>('ato', 'continuous', 'atc'),
      advance: fc.option(fc.integer({ min: 0, max: 25 * M }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(trade, { maxLength: 120 }), (trades) => {
        const a = new SessionAggregator({ barHistory: 1_000 });
        const c = collector();
        for (const t of trades) {
          if (t.advance !== undefined) a.advance(T0 + t.advance, c.onBar);
          a.addTrade(tr(T0 + t.dt, t.price, t.volume, t.side, t.phase), 'd', c.onBar);
        }
        const total = trades.reduce((s, t) => s + t.volume, 0);
        const s = a.summary('AAA');
        if (trades.length === 0) {
          expect(s).toBeUndefined();
          return;
        }
        const bars = a.bars('AAA');
        expect(s!.day.volume).toBe(total);
        expect(s!.phases.reduce((x, p) => x + p.volume, 0)).toBe(total);
        expect(bars.reduce((x, b) => x + b.volume, 0)).toBe(total);
        expect(s!.day.high).toBe(Math.max(...trades.map((t) => t.price)));
        expect(s!.day.low).toBe(Math.min(...trades.map((t) => t.price)));
        for (const x of [...bars, ...s!.phases.map((p) => ({ ...p, high: p.high!, low: p.low!, open: p.open!, close: p.close! }))]) {
          expect(x.buyVolume + x.sellVolume + x.unknownVolume).toBe(x.volume);
          expect(x.low).toBeLessThanOrEqual(Math.min(x.open, x.close));
          expect(x.high).toBeGreaterThanOrEqual(Math.max(x.open, x.close));
        }
        // Bars strictly ordered by time, only the last may be open.
        for (let i = 1; i < bars.length; i++) expect(bars[i]!.ts).toBeGreaterThan(bars[i - 1]!.ts);
        expect(bars.slice(0, -1).every((b) => b.closed)).toBe(true);
        // Each bar's close is the price of its latest trade (ties: last applied).
        for (const b of bars) {
          let best: (typeof trades)[number] | undefined;
          for (const t of trades) if (Math.floor(t.dt / M) * M + T0 === b.ts && (best === undefined || t.dt >= best.dt)) best = t;
          expect(b.close).toBe(best!.price);
        }
      }),
    );
  });
});
