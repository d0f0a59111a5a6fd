/**
 * A fake Alpaca Market Data v2 server for tests: real HTTP and WebSocket on
 * 127.0.0.1 (random port), speaking the published protocol.
 *
 * Stream (`/v2/{iex|sip|delayed_sip|test}`): `[{"T":"success","msg":"connected"}]`,
 * auth by message within `authTimeoutMs` (404 auth timeout and close
 * otherwise), 402 auth failed (and close), 403 already authenticated, 401
 * subscribe before auth, 409 when the feed is not in the plan, 405 beyond the
 * symbol limit (the symbols that fit stay subscribed), 406 when the account's
 * connection slots are taken, `subscription` confirmations, data frames
 * holding several messages, filtered by each connection's subscription.
 *
 * REST: `/v2/stocks/bars` (symbols, timeframe, start, end, limit, page_token,
 * sort) and `/v2/stocks/snapshots`, with the APCA-API-* headers (401 otherwise).
 *
 * Scripting: push events (encoded with encodeAlpaca), raw frames, any error
 * code (optionally closing, as 407 slow client does), ignore the next auth
 * messages (to provoke 404), drop connections, queue REST faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MarketEvent } from '@stock-tracker/protocol';
import { toAlpacaMessage } from '../../packages/feeds/src/parsers/alpaca-encode.ts';
import { FaultQueue, waitFor, type RecordedRequest, type ScriptedResponse } from './http-util.ts';
import { closeServer, listenLocal, recordRequest } from './fake-server.ts';

export const FAKE_ALPACA_KEY = 'fake-key';
export const FAKE_ALPACA_SECRET = 'fake-secret';
const FEEDS = ['iex', 'sip', 'delayed_sip', 'test'];
const CHANNELS = ['trades', 'quotes', 'bars', 'dailyBars', 'updatedBars', 'statuses'] as const;
type Channel = (typeof CHANNELS)[number];

export interface AlpacaBarRow {
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n?: number;
  vw?: number;
}

export interface FakeAlpacaOptions {
  keyId?: string;
  secretKey?: string;
  /** Default 10 s, as documented. */
  authTimeoutMs?: number;
  /** Simultaneous connections per account. Default 1. */
  maxConnections?: number;
  /** Symbols per channel a connection may subscribe (405 beyond). Default unlimited. */
  symbolLimit?: number;
  /** Feeds the account's plan includes (409 on others). Default all. */
  plan?: string[];
  /** Historical bars per timeframe (`1Min`, `1Day`) and symbol. */
  bars?: Record<string, Record<string, AlpacaBarRow[]>>;
  /** Snapshots per symbol. */
  snapshots?: Record<string, unknown>;
}

export interface AlpacaSession {
  feed: string;
  ws: WebSocket;
  authenticated: boolean;
  subs: Record<Channel, Set<string>>;
  /** Error codes sent to this connection. */
  errors: number[];
}

export class FakeAlpacaServer {
  readonly requests: RecordedRequest[] = [];
  readonly sessions: AlpacaSession[] = [];
  /** Auth messages received. */
  authAttempts = 0;
  /** Messages sent by clients, parsed. */
  readonly received: Record<string, unknown>[] = [];
  private ignoreAuths = 0;
  private readonly faults = new FaultQueue();
  private readonly wss = new WebSocketServer({ noServer: true });
  private port = 0;

  private constructor(
    private readonly server: Server,
    readonly o: FakeAlpacaOptions,
  ) {}

  static async start(o: FakeAlpacaOptions = {}): Promise<FakeAlpacaServer> {
    let self!: FakeAlpacaServer;
    const server = createServer((req, res) => self.onRequest(req, res));
    self = new FakeAlpacaServer(server, o);
    server.on('upgrade', (req, socket, head) => {
      const feed = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/v2\//, '');
      if (!FEEDS.includes(feed)) return void socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      self.wss.handleUpgrade(req, socket, head, (ws) => self.onConnection(ws, feed));
    });
    self.port = await listenLocal(server);
    return self;
  }

  streamUrl(feed = 'iex'): string {
    return `ws://127.0.0.1:${this.port}/v2/${feed}`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections currently open. */
  get open(): AlpacaSession[] {
    return this.sessions.filter((s) => s.ws.readyState === s.ws.OPEN);
  }

  /** The next `n` auth messages are ignored (the client then hits the auth timeout). */
  ignoreNextAuth(n = 1): void {
    this.ignoreAuths += n;
  }

  failNext(pathEnd: string, responses: ScriptedResponse[]): void {
    this.faults.add(pathEnd, responses);
  }

  calls(pathEnd: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.toLowerCase().endsWith(pathEnd.toLowerCase()));
  }

  /** Sends the events, as one frame per connection, to every connection subscribed to them. */
  push(events: MarketEvent[]): void {
    for (const s of this.open) {
      if (!s.authenticated) continue;
      const msgs = events.map((ev) => [ev, toAlpacaMessage(ev)] as const).filter(([ev, m]) => m !== null && wants(s, ev));
      if (msgs.length) s.ws.send(JSON.stringify(msgs.map(([, m]) => m)));
    }
  }

  /** A raw text frame to every open connection. */
  sendRaw(text: string): void {
    for (const s of this.open) s.ws.send(text);
  }

  /** An error message to every open connection, closing them afterwards when asked (407 slow client does). */
  sendError(code: number, msg: string, close = false): void {
    for (const s of this.open) this.error(s, code, msg, close);
  }

  dropConnections(): void {
    for (const s of this.open) s.ws.terminate();
  }

  async waitFor(cond: () => boolean, what: string, timeoutMs?: number): Promise<void> {
    await waitFor(cond, what, timeoutMs);
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    await closeServer(this.server, this.wss);
  }

  private error(s: AlpacaSession, code: number, msg: string, close: boolean): void {
    s.errors.push(code);
    if (s.ws.readyState !== s.ws.OPEN) return;
    s.ws.send(JSON.stringify([{ T: 'error', code, msg }]));
    if (close) s.ws.close(1008, msg);
  }

  private onConnection(ws: WebSocket, feed: string): void {
    const s: AlpacaSession = { feed, ws, authenticated: false, subs: Object.fromEntries(CHANNELS.map((c) => [c, new Set<string>()])) as AlpacaSession['subs'], errors: [] };
    const busy = this.open.filter((o) => o.ws !== ws).length;
    this.sessions.push(s);
    if (busy >= (this.o.maxConnections ?? 1)) return this.error(s, 406, 'connection limit exceeded', true);
    ws.send(JSON.stringify([{ T: 'success', msg: 'connected' }]));
    const authTimer = setTimeout(() => {
      if (!s.authenticated) this.error(s, 404, 'auth timeout', true);
    }, this.o.authTimeoutMs ?? 10_000);
    ws.on('close', () => clearTimeout(authTimer));
    ws.on('error', () => clearTimeout(authTimer));
    ws.on('message', (data) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return this.error(s, 400, 'invalid syntax', false);
      }
      this.received.push(m);
      if (m['action'] === 'auth') {
        this.authAttempts += 1;
        if (this.ignoreAuths > 0) {
          this.ignoreAuths -= 1;
          return;
        }
        if (s.authenticated) return this.error(s, 403, 'already authenticated', false);
        if (m['key'] !== (this.o.keyId ?? FAKE_ALPACA_KEY) || m['secret'] !== (this.o.secretKey ?? FAKE_ALPACA_SECRET)) return this.error(s, 402, 'auth failed', true);
        if (this.o.plan && !this.o.plan.includes(feed)) return this.error(s, 409, 'insufficient subscription', true);
        s.authenticated = true;
        clearTimeout(authTimer);
        return void ws.send(JSON.stringify([{ T: 'success', msg: 'authenticated' }]));
      }
      if (m['action'] === 'subscribe' || m['action'] === 'unsubscribe') {
        if (!s.authenticated) return this.error(s, 401, 'not authenticated', false);
        const limit = this.o.symbolLimit ?? Infinity;
        let over = false;
        for (const c of CHANNELS) {
          const list = m[c];
          if (!Array.isArray(list)) continue;
          for (const sym of list) {
            if (typeof sym !== 'string') continue;
            if (m['action'] === 'unsubscribe') s.subs[c].delete(sym);
            else if (s.subs[c].size < limit || s.subs[c].has(sym)) s.subs[c].add(sym);
            else over = true;
          }
        }
        if (over) this.error(s, 405, 'symbol limit exceeded', false);
        return void ws.send(JSON.stringify([{ T: 'subscription', ...Object.fromEntries(CHANNELS.map((c) => [c, [...s.subs[c]]])) }]));
      }
      this.error(s, 400, 'invalid syntax', false);
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const r = recordRequest(req, res, this.requests, this.faults);
    if (!r) return;
    const { url, answer } = r;
    if (req.headers['apca-api-key-id'] !== (this.o.keyId ?? FAKE_ALPACA_KEY) || req.headers['apca-api-secret-key'] !== (this.o.secretKey ?? FAKE_ALPACA_SECRET)) {
      return answer(401, { message: 'unauthorized.' });
    }
    const symbols = (url.searchParams.get('symbols') ?? '').split(',').filter(Boolean);
    if (url.pathname === '/v2/stocks/snapshots') {
      return answer(200, Object.fromEntries(symbols.filter((s) => this.o.snapshots?.[s] !== undefined).map((s) => [s, this.o.snapshots![s]])));
    }
    if (url.pathname === '/v2/stocks/bars') {
      const tf = url.searchParams.get('timeframe') ?? '';
      const start = url.searchParams.get('start');
      const end = url.searchParams.get('end');
      const limit = Math.min(10_000, Number(url.searchParams.get('limit') ?? 1000));
      if (!['1Min', '1Day'].includes(tf) || !(limit > 0)) return answer(422, { message: 'invalid timeframe or limit' });
      // All matching rows in (symbol, time) order; the page token is the offset into them.
      const all: [string, AlpacaBarRow][] = [];
      for (const sym of [...symbols].sort()) {
        for (const b of this.o.bars?.[tf]?.[sym] ?? []) {
          const t = Date.parse(b.t);
          if ((start && t < Date.parse(start)) || (end && t > Date.parse(end))) continue;
          all.push([sym, b]);
        }
      }
      const token = url.searchParams.get('page_token');
      const offset = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
      if (!Number.isInteger(offset) || offset < 0) return answer(400, { message: 'invalid page token' });
      const page = all.slice(offset, offset + limit);
      const bars: Record<string, AlpacaBarRow[]> = {};
      for (const [sym, b] of page) (bars[sym] ??= []).push(b);
      const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64url') : null;
      return answer(200, { bars, next_page_token: next });
    }
    answer(404, { message: 'Not Found' });
  }
}

function wants(s: AlpacaSession, ev: MarketEvent): boolean {
  const has = (c: Channel, sym: string) => s.subs[c].has(sym) || s.subs[c].has('*');
  switch (ev.type) {
    case 'trade':
      return has('trades', ev.symbol);
    case 'quote':
      return has('quotes', ev.symbol);
    case 'bar':
      return has(ev.interval === '1d' ? 'dailyBars' : 'bars', ev.symbol);
    case 'status':
      return ev.symbol !== undefined && has('statuses', ev.symbol);
    default:
      return false;
  }
}

/** Deterministic 1-minute bars for one New York session day from 09:30. */
export function makeAlpacaMinuteBars(date: string, count: number, base = 100): AlpacaBarRow[] {
  const out: AlpacaBarRow[] = [];
  // 09:30 New York is 13:30 or 14:30 UTC; the tests use dates in EDT (UTC-4).
  const start = Date.parse(`${date}T13:30:00Z`);
  for (let i = 0; i < count; i++) {
    const o = base + (i % 7) * 0.05;
    out.push({ t: new Date(start + i * 60_000).toISOString().replace('.000Z', 'Z'), o, h: o + 0.2, l: o - 0.1, c: o + 0.1, v: 1_000 + i, n: 10 + i, vw: o + 0.05 });
  }
  return out;
}

/** Deterministic daily bars (New York midnight, EDT) on weekdays between two dates. */
export function makeAlpacaDailyBars(from: string, to: string, base = 100): AlpacaBarRow[] {
  const out: AlpacaBarRow[] = [];
  let i = 0;
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).getUTCDay();
    if (day === 0 || day === 6) continue;
    const o = base + i;
    out.push({ t: `${new Date(t).toISOString().slice(0, 10)}T04:00:00Z`, o, h: o + 2, l: o - 1, c: o + 1, v: 1_000_000 + i, n: 5_000 + i, vw: o + 0.5 });
    i += 1;
  }
  return out;
}
