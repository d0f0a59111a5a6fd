/** Fills placed on candles (symbol chart, backtest report) and the report's drawdown curve. */
import { drawdownSeries } from '../src/trading/backtest-model.ts';
import { fillMarkers } from '../src/trading/fill-markers.ts';

const M = 60_000;
const bars = [0, M, 2 * M, 5 * M].map((x) => 1_736_130_000_000 + x);

describe('fillMarkers', () => {
  it('puts each fill on the candle that contains it and merges one candle\'s fills per side', () => {
    const fills = [
      { ts: bars[0]! + 5_000, side: 'buy' as const, qty: 100, price: 10_000 },
      { ts: bars[0]! + 59_999, side: 'buy' as const, qty: 300, price: 10_400 },
      { ts: bars[0]! + 30_000, side: 'sell' as const, qty: 100, price: 10_200 },
      // A gap in the bars (no trade in minutes 3–4): the fill belongs to the last candle started before it.
      { ts: bars[2]! + 2 * M + 1, side: 'sell' as const, qty: 200, price: 10_500 },
      { ts: bars[3]!, side: 'buy' as const, qty: 100, price: 10_600 },
    ];
    expect(fillMarkers(fills, bars)).toEqual([
      { ts: bars[0], side: 'buy', qty: 400, price: 10_300, count: 2 },
      { ts: bars[0], side: 'sell', qty: 100, price: 10_200, count: 1 },
      { ts: bars[2], side: 'sell', qty: 200, price: 10_500, count: 1 },
      { ts: bars[3], side: 'buy', qty: 100, price: 10_600, count: 1 },
    ]);
  });
  it('drops fills before the first candle; no candles, no markers', () => {
    expect(fillMarkers([{ ts: bars[0]! - 1, side: 'buy', qty: 100, price: 1 }], bars)).toEqual([]);
    expect(fillMarkers([{ ts: bars[0]!, side: 'buy', qty: 100, price: 1 }], [])).toEqual([]);
  });
});

describe('drawdownSeries', () => {
  it('is the fall from the running peak (from the start equity), in percent, never above zero', () => {
    const pts = [110, 99, 121, 121, 108.9].map((equity, i) => ({ ts: i * M, equity, cash: 0 }));
    const dd = drawdownSeries(100, pts).map((p) => Math.round(p.value * 100) / 100);
    expect(dd).toEqual([0, -10, 0, 0, -10]);
    expect(drawdownSeries(100, [{ ts: 0, equity: 90, cash: 0 }])[0]!.value).toBeCloseTo(-10);
  });
});
