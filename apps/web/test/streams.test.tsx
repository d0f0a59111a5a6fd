// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { AlertEvent, ClassifiedTrade, IndexState } from '@stock-tracker/protocol';
import { Toasts } from '../src/components/Toasts.tsx';
import { sessionPoints, stripOrder } from '../src/components/IndexStrip.tsx';
import { sparkPath } from '../src/components/Sparkline.tsx';
import { mergeTrades } from '../src/components/symbol/TradeTape.tsx';
import { MarketHub, wsUrl } from '../src/store/streams.ts';
import { fakeApi, fakeStreams, makeServices, Providers } from './helpers.tsx';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const alert = (id: string, ts: number): AlertEvent => ({
  id, ruleId: 'r1', userId: 'local', symbol: 'VNM', kind: 'price_above', ts, value: 65_400, threshold: 65_300, message: `VNM above 65,300 (${id})`,
});
const index = (id: string, ts: number, value: number): IndexState => ({
  id, name: id, ts, value, prevClose: 1_200, change: value - 1_200, changePct: ((value - 1_200) / 1_200) * 100, volume: 1, valueTraded: 1, computed: true,
  breadth: { advances: 1, declines: 2, unchanged: 3, ceilings: 0, floors: 0 },
});

function startHub() {
  const streams = fakeStreams();
  const services = makeServices(fakeApi({}).api, streams.factory);
  const hub = new MarketHub({ ...services, factory: streams.factory, url: (p) => `wss://example.test${p}` });
  hub.start();
  return { hub, streams, services };
}

describe('market hub', () => {
  it('opens market (all symbols, no trades), index and alerts streams on this origin', () => {
    const { streams } = startHub();
    expect(streams.created.map((c) => [c.opts.url, c.opts.symbols, c.opts.trades])).toEqual([
      ['wss://example.test/ws/market', '*', false],
      ['wss://example.test/ws/index', '*', undefined],
      ['wss://example.test/ws/alerts', '*', undefined],
    ]);
    expect(streams.created.every((c) => c.connected)).toBe(true);
    expect(wsUrl('/ws/market', { protocol: 'https:', host: 'board.example:8443' })).toBe('wss://board.example:8443/ws/market');
    expect(wsUrl('/ws/market', { protocol: 'http:', host: '127.0.0.1:5173' })).toBe('ws://127.0.0.1:5173/ws/market');
  });

  it('routes index states to the strip store, leaves trades to the symbol page', () => {
    const { streams, services, hub } = startHub();
    streams.byPath('/ws/index')[0]!.emit({ type: 'update', channel: 'index', key: 'VN30', seq: 1, epoch: 'e', data: index('VN30', 1_000, 1_250) });
    streams.byPath('/ws/market')[0]!.emit({ type: 'update', channel: 'market', key: 'VNM:trades', seq: 1, epoch: 'e', data: {} as ClassifiedTrade });
    services.indices.states.flush();
    expect(services.indices.states.get('VN30')!.value).toBe(1_250);
    expect(services.quotes.size + services.quotes.keys().length).toBe(0);
    expect(hub.stats).toEqual({ messages: 2, malformed: 0 });
  });

  it('seeds the alert list from the snapshot silently and toasts live alerts once', () => {
    vi.useFakeTimers();
    const { streams, services } = startHub();
    const alerts = streams.byPath('/ws/alerts')[0]!;
    alerts.emit({ type: 'snapshot', channel: 'alerts', key: 'user:local', seq: 2, epoch: 'e', data: [alert('a1', 1_000), alert('a2', 2_000)] });
    expect(services.alerts.list.get().map((a) => a.id)).toEqual(['a2', 'a1']);
    expect(services.alerts.toasts.get()).toEqual([]);
    alerts.emit({ type: 'update', channel: 'alerts', key: 'user:local', seq: 3, epoch: 'e', data: alert('a3', 3_000) });
    alerts.emit({ type: 'update', channel: 'alerts', key: 'user:local', seq: 3, epoch: 'e', data: alert('a3', 3_000) }); // replayed
    expect(services.alerts.list.get().map((a) => a.id)).toEqual(['a3', 'a2', 'a1']);
    expect(services.alerts.toasts.get().map((t) => t.id)).toEqual(['a3']);

    render(
      <Providers services={services}>
        <Toasts feed={services.alerts} />
      </Providers>,
    );
    expect(screen.getByText('VNM above 65,300 (a3)')).toBeTruthy();
    act(() => void vi.advanceTimersByTime(8_000));
    expect(screen.queryByText('VNM above 65,300 (a3)')).toBeNull();
    expect(services.alerts.list.get()).toHaveLength(3); // dismissed toasts stay in the list
  });

  it('dismisses a toast on request', () => {
    const { services } = startHub();
    services.alerts.push(alert('x1', 1));
    render(
      <Providers services={services}>
        <Toasts feed={services.alerts} />
      </Providers>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(services.alerts.toasts.get()).toEqual([]);
  });

  it('stops: unsubscribes and closes every stream', () => {
    const { hub, streams } = startHub();
    hub.stop();
    expect(streams.created.every((c) => c.closed)).toBe(true);
  });
});

describe('small pieces of the live views', () => {
  const t = (id: string, ts: number): ClassifiedTrade => ({ id, symbol: 'VNM', ts, price: 1, volume: 1, side: 'buy', sideSource: 'quote', phase: 'continuous' });
  it('merges trades newest first without duplicates, capped', () => {
    const a = mergeTrades([], [t('1', 1), t('2', 2)]);
    const b = mergeTrades(a, [t('2', 2), t('3', 3), t('3', 3)]);
    expect(b.map((x) => x.id)).toEqual(['3', '2', '1']);
    expect(mergeTrades(b, [t('2', 2)])).toBe(b);
    expect(mergeTrades(b, [t('4', 4)], 2).map((x) => x.id)).toEqual(['4', '3']);
  });
  it('orders the strip with the well-known indices first', () => {
    expect(stripOrder(['ZZZ', 'HNXINDEX', 'VN30', 'VNINDEX', 'AAA'])).toEqual(['VNINDEX', 'VN30', 'HNXINDEX', 'AAA', 'ZZZ']);
  });
  it('keeps only the latest local session for the sparkline', () => {
    const d1 = Date.UTC(2024, 5, 3, 2, 0); // 09:00 3 June Hanoi
    const d0 = Date.UTC(2024, 5, 2, 7, 0); // 14:00 2 June Hanoi
    const pts = sessionPoints([{ ts: d1 + 60_000, value: 2 }, { ts: d0, value: 9 }, { ts: d1, value: 1 }, { ts: Number.NaN, value: 5 }]);
    expect(pts.map((p) => p.value)).toEqual([1, 2]);
  });
  it('draws the sparkline inside its box, higher values higher up', () => {
    const d = sparkPath([{ ts: 0, value: 10 }, { ts: 1, value: 20 }, { ts: 2, value: 15 }], 80, 20);
    const pts = [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(pts).toHaveLength(3);
    for (const [x, y] of pts) expect(x! >= 0 && x! <= 80 && y! >= 0 && y! <= 20).toBe(true);
    expect(pts[1]![1]).toBeLessThan(pts[0]![1]!);
    expect(sparkPath([{ ts: 0, value: 1 }], 80, 20)).toBe('');
  });
});
