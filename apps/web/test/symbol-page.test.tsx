// @vitest-environment jsdom
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import type { Bar, ClassifiedTrade } from '@stock-tracker/protocol';
import type { PriceChartProps } from '../src/chart/PriceChart.tsx';
import SymbolPage from '../src/pages/SymbolPage.tsx';
import { fakeApi, fakeStreams, makeQuote, makeRef, makeServices, Providers } from './helpers.tsx';

// The canvas chart cannot draw in jsdom: record what it is given instead.
const chartProps: PriceChartProps[] = [];
vi.mock('../src/chart/PriceChart.tsx', () => ({
  PriceChart: (p: PriceChartProps) => {
    chartProps.push(p);
    return <div data-testid="chart" />;
  },
}));

afterEach(() => {
  cleanup();
  chartProps.length = 0;
});

const at = (h: number, m: number, s = 0) => Date.UTC(2024, 5, 3, h - 7, m, s);
const bar = (ts: number, close: number, volume: number): Bar => ({
  symbol: 'VNM', interval: '1m', ts, open: close, high: close, low: close, close, volume, value: close * volume, vwap: close,
  buyVolume: volume, sellVolume: 0, unknownVolume: 0, trades: 1, closed: true,
});
const trade = (id: string, ts: number, price: number, volume: number, side: ClassifiedTrade['side']): ClassifiedTrade => ({
  id, symbol: 'VNM', ts, price, volume, side, sideSource: 'quote', phase: 'continuous',
});

function setup(bars: Bar[]) {
  const streams = fakeStreams();
  const { api, calls } = fakeApi({
    overrides: {
      symbol: async () => makeRef('VNM', { name: 'Vinamilk' }),
      quote: async () => makeQuote('VNM', { last: 50_100 }),
      bars: async () => ({ items: bars, next: null }),
      trades: async () => ({ items: [trade('old', at(9, 20), 50_000, 100, 'sell')], next: null }),
      session: async () => { throw Object.assign(new Error('none'), { status: 404 }); },
    },
  });
  const services = makeServices(api, streams.factory);
  render(
    <Providers services={services} path="/s/vnm">
      <Routes>
        <Route path="/s/:symbol" element={<SymbolPage />} />
      </Routes>
    </Providers>,
  );
  return { streams, services, calls };
}
const lastChart = () => chartProps[chartProps.length - 1]!;

describe('symbol page', () => {
  it('loads bars for the interval and extends the last candle with live trades only', async () => {
    const t = setup([bar(at(9, 20), 50_000, 1_000), bar(at(9, 21), 50_100, 500)]);
    await waitFor(() => expect(lastChart().bars).toHaveLength(2));
    expect(t.calls.find((c) => c.method === 'bars')!.args.slice(0, 2)).toEqual(['VNM', { interval: '1m', limit: 1000 }]);
    const stream = t.streams.byPath('/ws/market').at(-1)!;
    expect(stream.opts).toMatchObject({ symbols: ['VNM'], trades: true });

    // The trades snapshot (recent history, already inside the bars) feeds the tape only.
    act(() => stream.emit({ type: 'snapshot', channel: 'market', key: 'VNM:trades', seq: 5, epoch: 'e', data: [trade('s1', at(9, 21, 10), 50_100, 500, 'buy')] }));
    await waitFor(() => expect(document.querySelectorAll('.tape tbody tr')).toHaveLength(2));
    expect(lastChart().bars[1]!.volume).toBe(500);

    act(() => {
      stream.emit({ type: 'update', channel: 'market', key: 'VNM:trades', seq: 6, epoch: 'e', data: trade('u1', at(9, 21, 30), 50_300, 200, 'buy') });
      stream.emit({ type: 'update', channel: 'market', key: 'VNM:trades', seq: 7, epoch: 'e', data: trade('u2', at(9, 22, 5), 50_200, 300, 'sell') });
    });
    await waitFor(() => expect(lastChart().bars).toHaveLength(3));
    const [, b1, b2] = lastChart().bars;
    expect(b1).toMatchObject({ close: 50_300, high: 50_300, volume: 700, buyVolume: 700 });
    expect(b2).toMatchObject({ ts: at(9, 22), open: 50_200, volume: 300, sellVolume: 300 });
    const rows = [...document.querySelectorAll('.tape tbody tr')];
    expect(rows.map((r) => r.className)).toEqual(['side-sell', 'side-buy', 'side-buy', 'side-sell']);
    expect(rows[0]!.textContent).toContain('09:22:05');
  });

  it('shows the live quote with board colours and the order book', async () => {
    const t = setup([]);
    await waitFor(() => expect(screen.getByRole('heading', { name: 'VNM' })).toBeTruthy());
    const stream = t.streams.byPath('/ws/market').at(-1)!;
    act(() => stream.emit({ type: 'update', channel: 'market', key: 'VNM', seq: 1, epoch: 'e', data: makeQuote('VNM', { ts: 1_717_390_000_000, last: 53_500, change: 3_500, changePct: 7 }) }));
    act(() => void t.services.quotes.flush());
    await waitFor(() => expect(document.querySelector('.symbol-head .big')!.textContent).toBe('53,500'));
    expect(document.querySelector('.symbol-head .big')!.className).toContain('tone-ceiling');
    const book = screen.getByRole('table', { name: 'Order book depth' });
    const rows = [...book.querySelectorAll('tbody tr')].map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent));
    // best levels first: bid volume, bid, ask, ask volume
    expect(rows).toEqual([
      ['3,000', '50,000', '50,100', '2,000'],
      ['5,000', '49,950', '50,150', '4,000'],
      ['8,000', '49,900', '50,200', '9,000'],
    ]);
    expect(book.querySelector('tbody tr td:nth-child(2)')!.className).toContain('tone-ref');
  });
});
