/** Test fixtures: quotes, a fake REST client, fake stream clients and a provider tree. */
import { useState, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router-dom';
import type { RestClient } from '@stock-tracker/client';
import type { QuoteState, SnapshotMsg, SymbolRef, UpdateMsg, Watchlist } from '@stock-tracker/protocol';
import { ServicesProvider, type Services } from '../src/services.tsx';
import { AlertFeed } from '../src/store/alert-feed.ts';
import { ConnectionStore, type ConnectionState } from '../src/store/connection.ts';
import { IndexStore } from '../src/store/index-store.ts';
import { createQuoteStore } from '../src/store/quote-store.ts';
import { HEADER_HEIGHT, ROW_HEIGHT } from '../src/components/board/board-geometry.ts';
import type { StreamLike, StreamOptions } from '../src/store/streams.ts';

/** A quote of a HOSE-like symbol at reference 50,000 (ceiling 53,500, floor 46,500). */
export function makeQuote(symbol: string, over: Partial<QuoteState> = {}): QuoteState {
  return {
    symbol,
    exchange: 'HOSE',
    market: 'VN',
    tradingDate: '2024-06-03',
    ts: 1_717_380_000_000,
    reference: 50_000,
    ceiling: 53_500,
    floor: 46_500,
    open: 50_000,
    high: 50_500,
    low: 49_800,
    last: 50_100,
    lastVolume: 1_000,
    change: 100,
    changePct: 0.2,
    totalVolume: 120_000,
    totalValue: 6_012_000_000,
    buyVolume: 70_000,
    sellVolume: 45_000,
    unknownVolume: 5_000,
    bids: [
      { price: 50_000, volume: 3_000 },
      { price: 49_950, volume: 5_000 },
      { price: 49_900, volume: 8_000 },
    ],
    asks: [
      { price: 50_100, volume: 2_000 },
      { price: 50_150, volume: 4_000 },
      { price: 50_200, volume: 9_000 },
    ],
    phase: 'continuous',
    halted: false,
    foreign: null,
    ...over,
  };
}

export function makeRef(symbol: string, over: Partial<SymbolRef> = {}): SymbolRef {
  return {
    symbol, exchange: 'HOSE', market: 'VN', tradingDate: '2024-06-03', reference: 50_000, ceiling: 53_500, floor: 46_500,
    lotSize: 100, indices: ['VNINDEX'], sharesOutstanding: 1_000_000_000, ...over,
  };
}

/** A stream client driven by the test: `emit` delivers messages, `setState` changes the connection state. */
export class FakeStream implements StreamLike {
  state: ConnectionState = 'closed';
  connected = false;
  closed = false;
  private readonly handlers = new Map<string, Set<(v: never) => void>>();
  constructor(readonly opts: StreamOptions) {}
  connect(): void {
    this.connected = true;
    this.setState('connecting');
  }
  close(): void {
    this.closed = true;
    this.setState('closed');
  }
  subscribe(): void {}
  unsubscribe(): void {}
  on(event: string, fn: (v: never) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }
  setState(s: ConnectionState): void {
    this.state = s;
    for (const fn of this.handlers.get('state') ?? []) (fn as (v: ConnectionState) => void)(s);
  }
  emit(msg: SnapshotMsg | UpdateMsg): void {
    for (const fn of this.handlers.get(msg.type) ?? []) (fn as (v: SnapshotMsg | UpdateMsg) => void)(msg);
  }
}

export function fakeStreams() {
  const created: FakeStream[] = [];
  const factory = (opts: StreamOptions) => {
    const s = new FakeStream(opts);
    created.push(s);
    return s;
  };
  return { created, factory, byPath: (path: string) => created.filter((c) => c.opts.url.endsWith(path)) };
}

/** A fake REST client: each method resolves from `data` or rejects; calls are recorded. */
export function fakeApi(data: {
  quotes?: QuoteState[];
  symbols?: SymbolRef[];
  watchlists?: Watchlist[];
  overrides?: Partial<Record<keyof RestClient, (...args: unknown[]) => Promise<unknown>>>;
}) {
  const calls: { method: string; args: unknown[] }[] = [];
  const impl: Record<string, (...args: unknown[]) => Promise<unknown>> = {
    quotes: async () => ({ ts: 0, items: data.quotes ?? [] }),
    symbols: async () => ({ items: data.symbols ?? [], next: null }),
    watchlists: async () => ({ items: data.watchlists ?? [], next: null }),
    indices: async () => ({ items: [] }),
    indexHistory: async () => ({ items: [], next: null }),
    marketStatus: async () => ({ ts: 0, exchanges: [], feed: { name: 'test', connected: true, lastEventTs: null } }),
    alertRules: async () => ({ items: [], next: null }),
    alertEvents: async () => ({ items: [], next: null }),
    ...data.overrides,
  };
  const api = new Proxy({} as RestClient, {
    get: (_t, method: string) => (...args: unknown[]) => {
      calls.push({ method, args });
      const f = impl[method];
      return f ? f(...args) : Promise.reject(new Error(`fakeApi: ${method} not stubbed`));
    },
  });
  return { api, calls };
}

export function makeServices(api: RestClient, factory = fakeStreams().factory): Services {
  return {
    api,
    quotes: createQuoteStore(() => {}), // flushed by the test (no animation frames in jsdom tests)
    indices: new IndexStore(() => {}),
    connection: new ConnectionStore(() => Date.UTC(2024, 5, 3, 2, 15, 30)), // 09:15:30 in Hanoi
    alerts: new AlertFeed(),
    streams: { factory, url: (p) => `ws://test${p}` },
  };
}

export function Providers({ services, children, path = '/' }: { services: Services; children: ReactNode; path?: string }) {
  const [qc] = useState(() => new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } }));
  return (
    <QueryClientProvider client={qc}>
      <ServicesProvider services={services}>
        <MemoryRouter initialEntries={[path]}>{children}</MemoryRouter>
      </ServicesProvider>
    </QueryClientProvider>
  );
}

/**
 * jsdom does no layout, so the virtual board would see a 0 px tall scroll box
 * and render no rows. Gives every board scroll box (`.board-scroll`) a
 * viewport `height` px tall (default: room for 90 rows under the header) and
 * a scroll height laid out as a browser would from what is in the table:
 * the header rows, ROW_HEIGHT per body row and each spacer row's own height.
 * `scrollTop` itself works in jsdom; jsdom has no `scrollTo`, so it is
 * stubbed to set `scrollTop` (clamped) and fire `scroll` soon after, as a
 * browser does.
 * Returns the undo.
 */
export function stubBoardViewport(height = HEADER_HEIGHT + 90 * ROW_HEIGHT, width = 1_400): () => void {
  const isBoard = (el: Element) => el.classList.contains('board-scroll');
  const base = Object.getOwnPropertyDescriptors(Element.prototype);
  const laidOutHeight = (box: Element) => {
    let h = HEADER_HEIGHT;
    for (const tr of box.querySelectorAll<HTMLTableRowElement>('.board tbody tr')) {
      const spacer = tr.classList.contains('gap') ? tr.querySelector<HTMLElement>('td')?.style.height : undefined;
      h += spacer ? parseFloat(spacer) : ROW_HEIGHT;
    }
    return h;
  };
  Object.defineProperty(HTMLElement.prototype, 'scrollHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return isBoard(this) ? Math.max(height, laidOutHeight(this)) : base.scrollHeight!.get!.call(this);
    },
  });
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return isBoard(this) ? height : base.clientHeight!.get!.call(this);
    },
  });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
    configurable: true,
    get(this: HTMLElement) {
      return isBoard(this) ? width : base.clientWidth!.get!.call(this);
    },
  });
  Object.defineProperty(HTMLElement.prototype, 'scrollTo', {
    configurable: true,
    writable: true,
    value(this: HTMLElement, opts: ScrollToOptions) {
      if (typeof opts?.top === 'number') this.scrollTop = Math.max(0, Math.min(opts.top, this.scrollHeight - this.clientHeight));
      // Browsers fire scroll events later (with the next frame), never inside the call.
      queueMicrotask(() => this.dispatchEvent(new Event('scroll')));
    },
  });
  return () => {
    delete (HTMLElement.prototype as { scrollHeight?: number }).scrollHeight;
    delete (HTMLElement.prototype as { clientHeight?: number }).clientHeight;
    delete (HTMLElement.prototype as { clientWidth?: number }).clientWidth;
    delete (HTMLElement.prototype as { scrollTo?: unknown }).scrollTo;
  };
}
