/**
 * Wires the WebSocket channels to the stores. The StreamClient (from
 * @stock-tracker/client) does reconnects, resume and ordering; this module
 * only routes its messages. The client is injected as a factory so tests and
 * the benchmark can drive the app without sockets.
 */
import { SYSTEM_ALERTS_KEY, isTradesKey, wsPath, type AlertEvent, type ClassifiedTrade, type IndexState, type QuoteState, type SnapshotMsg, type SystemAlert, type UpdateMsg } from '@stock-tracker/protocol';
import type { AlertFeed } from './alert-feed.ts';
import type { ConnectionState, ConnectionStore } from './connection.ts';
import type { IndexStore } from './index-store.ts';
import type { QuoteStore } from './quote-store.ts';

/** The part of StreamClient the web app uses. */
export interface StreamLike {
  connect(): void;
  close(): void;
  subscribe(symbols: string[] | '*', opts?: { trades?: boolean }): void;
  unsubscribe(symbols: string[]): void;
  on(event: 'snapshot' | 'update', fn: (msg: SnapshotMsg | UpdateMsg) => void): () => void;
  on(event: 'state', fn: (s: ConnectionState) => void): () => void;
  on(event: 'reset' | 'recovered' | 'error' | 'gap', fn: (msg: unknown) => void): () => void;
  readonly state: ConnectionState;
}

export interface StreamOptions {
  url: string;
  symbols?: string[] | '*';
  trades?: boolean;
}
export type StreamFactory = (opts: StreamOptions) => StreamLike;

/** ws(s)://<this origin><path>: the API serves the SPA, so sockets go to the same host. */
export function wsUrl(path: string, loc: { protocol: string; host: string } = globalThis.location): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}${path}`;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
export const looksLikeQuote = (v: unknown): v is QuoteState =>
  isObj(v) && typeof v.symbol === 'string' && typeof v.reference === 'number' && Array.isArray(v.bids) && Array.isArray(v.asks);
export const looksLikeTrade = (v: unknown): v is ClassifiedTrade =>
  isObj(v) && typeof v.id === 'string' && typeof v.price === 'number' && typeof v.volume === 'number' && typeof v.ts === 'number';
export const looksLikeIndex = (v: unknown): v is IndexState =>
  isObj(v) && typeof v.id === 'string' && typeof v.value === 'number' && typeof v.ts === 'number';
export const looksLikeAlert = (v: unknown): v is AlertEvent =>
  isObj(v) && typeof v.id === 'string' && typeof v.ruleId === 'string' && typeof v.ts === 'number';

export const looksLikeSystemAlert = (v: unknown): v is SystemAlert =>
  isObj(v) && typeof v.id === 'string' && (v.kind === 'feed_stale' || v.kind === 'feed_recovered') && typeof v.message === 'string' && typeof v.ts === 'number';

export interface HubStats {
  messages: number;
  /** Messages whose data did not have the expected shape: counted and skipped. */
  malformed: number;
}

export interface MarketHubDeps {
  factory: StreamFactory;
  quotes: QuoteStore;
  indices: IndexStore;
  connection: ConnectionStore;
  alerts: AlertFeed;
  url?: (path: string) => string;
}

/** The app-wide streams: every quote (board), every index (strip), the user's alerts. */
export class MarketHub {
  readonly stats: HubStats = { messages: 0, malformed: 0 };
  private clients: StreamLike[] = [];
  private offs: (() => void)[] = [];
  constructor(private readonly deps: MarketHubDeps) {}

  url(path: string): string {
    return (this.deps.url ?? wsUrl)(path);
  }

  start(): void {
    if (this.clients.length) return;
    const { factory, quotes, indices, connection, alerts } = this.deps;

    const market = factory({ url: this.url(wsPath('market')), symbols: '*', trades: false });
    this.listen(market, (msg) => {
      if (isTradesKey(msg.key)) return; // trades belong to the symbol page's own stream
      if (!looksLikeQuote(msg.data)) return this.bad();
      quotes.set(msg.data.symbol, msg.data);
    });
    // The board's liveness is the market stream's: that is what the numbers come from.
    this.offs.push(market.on('state', (s) => connection.setState(s)));

    const index = factory({ url: this.url(wsPath('index')), symbols: '*' });
    this.listen(index, (msg) => {
      if (!looksLikeIndex(msg.data)) return this.bad();
      indices.update(msg.data);
    });

    const alertStream = factory({ url: this.url(wsPath('alerts')), symbols: '*' });
    this.listen(alertStream, (msg) => {
      const items = Array.isArray(msg.data) ? msg.data : [msg.data];
      if (msg.key === SYSTEM_ALERTS_KEY) {
        const notices = items.filter(looksLikeSystemAlert);
        if (notices.length !== items.length) this.bad();
        return alerts.system(notices);
      }
      const valid = items.filter(looksLikeAlert);
      if (valid.length !== items.length) this.bad();
      if (msg.type === 'snapshot') alerts.seed(valid);
      else for (const a of valid) alerts.push(a);
    });

    this.clients = [market, index, alertStream];
    for (const c of this.clients) c.connect();
    connection.setState(market.state);
  }

  stop(): void {
    for (const off of this.offs) off();
    for (const c of this.clients) c.close();
    this.offs = [];
    this.clients = [];
  }

  private listen(client: StreamLike, handle: (msg: SnapshotMsg | UpdateMsg) => void): void {
    const fn = (msg: SnapshotMsg | UpdateMsg) => {
      this.stats.messages++;
      if (!isObj(msg) || typeof msg.key !== 'string') return this.bad();
      handle(msg);
    };
    this.offs.push(client.on('snapshot', fn), client.on('update', fn));
  }

  private bad(): void {
    this.stats.malformed++;
  }
}
