// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { App } from '../src/App.tsx';
import { MarketHub } from '../src/store/streams.ts';
import { fakeApi, fakeStreams, makeQuote, makeRef, makeServices, Providers, stubBoardViewport } from './helpers.tsx';

let restoreLayout: () => void;
beforeEach(() => {
  restoreLayout = stubBoardViewport();
});
afterEach(() => {
  cleanup();
  restoreLayout();
});

function setup(path = '/') {
  const quotes = [
    makeQuote('VNM', { last: 53_500, change: 3_500, changePct: 7 }),
    makeQuote('FPT', { last: 49_000, change: -1_000, changePct: -2 }),
    makeQuote('SHS', { exchange: 'HNX', reference: 20_000, ceiling: 22_000, floor: 18_000, last: 18_000, change: -2_000, changePct: -10 }),
  ];
  const symbols = [makeRef('VNM', { indices: ['VNINDEX', 'VN30'], name: 'Vinamilk' }), makeRef('FPT', { indices: ['VNINDEX', 'VN30'] }), makeRef('SHS', { exchange: 'HNX', indices: [] })];
  const { api, calls } = fakeApi({ quotes, symbols, watchlists: [{ id: 'w1', name: 'Banks', symbols: ['SHS'], createdAt: 0, updatedAt: 0 }] });
  const streams = fakeStreams();
  const services = makeServices(api, streams.factory);
  const hub = new MarketHub({ ...services, factory: streams.factory });
  hub.start();
  const utils = render(
    <Providers services={services} path={path}>
      <App />
    </Providers>,
  );
  const flushQuotes = () => act(() => void services.quotes.flush());
  return { ...utils, services, streams, calls, hub, flushQuotes };
}
const boardOrder = () => [...document.querySelectorAll<HTMLElement>('.board tbody tr[data-symbol]')].map((r) => r.dataset.symbol);

describe('board page', () => {
  it('fills the board from the REST snapshot and filters by tab and search', async () => {
    const t = setup();
    await waitFor(() => expect(t.calls.some((c) => c.method === 'quotes')).toBe(true));
    // The snapshot is queued in the store when the query resolves (timing depends on the machine's load); then flush the "frame".
    await waitFor(() => expect(['FPT', 'SHS', 'VNM'].every((s) => t.services.quotes.latest(s))).toBe(true));
    t.flushQuotes();
    await waitFor(() => expect(boardOrder()).toEqual(['FPT', 'SHS', 'VNM']));
    expect(document.querySelector('tr[data-symbol="VNM"] .col-last')!.className).toContain('tone-ceiling');
    expect(document.querySelector('tr[data-symbol="SHS"] .col-last')!.className).toContain('tone-floor');

    fireEvent.click(screen.getByRole('tab', { name: 'HNX' }));
    expect(boardOrder()).toEqual(['SHS']);
    expect(screen.getByRole('tab', { name: 'HNX' }).getAttribute('aria-selected')).toBe('true');
    fireEvent.click(screen.getByRole('tab', { name: 'VN30' }));
    expect(boardOrder()).toEqual(['FPT', 'VNM']);
    await waitFor(() => screen.getByRole('tab', { name: '★ Banks' }));
    fireEvent.click(screen.getByRole('tab', { name: '★ Banks' }));
    expect(boardOrder()).toEqual(['SHS']);
    fireEvent.click(screen.getByRole('tab', { name: 'All' }));
    fireEvent.change(screen.getByLabelText('Search symbol or company'), { target: { value: 'vinam' } });
    expect(boardOrder()).toEqual(['VNM']);
  });

  it('applies streamed quotes and marks the board stale while the market stream is not live', async () => {
    const t = setup();
    const market = t.streams.byPath('/ws/market')[0]!;
    expect(market.opts.symbols).toBe('*');
    act(() => market.setState('live'));
    act(() => market.emit({ type: 'snapshot', channel: 'market', key: 'HPG', seq: 1, epoch: 'e', data: makeQuote('HPG', { last: 50_500 }) }));
    t.flushQuotes();
    await waitFor(() => expect(boardOrder()).toContain('HPG'));
    const scroll = document.querySelector('.board-scroll')!;
    expect(scroll.classList.contains('stale')).toBe(false);
    expect(screen.queryByText(/stale since/)).toBeNull();

    act(() => market.setState('reconnecting'));
    expect(scroll.classList.contains('stale')).toBe(true);
    expect(screen.getAllByText(/stale since 09:15:30/).length).toBeGreaterThan(0);
    expect(document.querySelector('.conn')!.getAttribute('data-state')).toBe('reconnecting');

    act(() => market.setState('resumed'));
    expect(scroll.classList.contains('stale')).toBe(false);
    expect(document.querySelector('.conn')!.textContent).toContain('Resumed');
  });

  it('counts and skips malformed stream messages without crashing', () => {
    const t = setup();
    const market = t.streams.byPath('/ws/market')[0]!;
    act(() => market.emit({ type: 'update', channel: 'market', key: 'BAD', seq: 1, epoch: 'e', data: { nonsense: true } as never }));
    act(() => market.emit({ type: 'update', channel: 'market', key: 42 as never, seq: 2, epoch: 'e', data: makeQuote('X') }));
    expect(t.hub.stats.malformed).toBe(2);
    expect(t.services.quotes.latest('BAD')).toBeUndefined();
  });
});
