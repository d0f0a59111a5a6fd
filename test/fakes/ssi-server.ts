/**
 * A fake SSI FastConnect Data v2 server for tests: real HTTP and WebSocket on
 * 127.0.0.1 (random port), speaking the published protocol.
 *
 * REST (`/api/v2/Market/...`): AccessToken (JWT-shaped tokens with `exp`),
 * Securities, SecuritiesDetails, IndexComponents, DailyStockPrice, DailyOhlc,
 * IntradayOhlc — `lookupRequest.*` query parameters, dd/mm/yyyy dates,
 * paging with totalRecord, numbers as strings, Bearer auth (401 otherwise).
 *
 * Stream (`/v2.0/signalr/...`): classic ASP.NET SignalR 1.5 — negotiate
 * (GET or POST), WebSocket connect (init `{"S":1}`), start, hub invocations
 * of `SwitchChannels` answered `{"I":n,"R":…}`, data as
 * `{"C":…,"M":[{"H":"FcMarketDataV2Hub","M":"Broadcast","A":["<envelope>"]}]}`
 * routed by channel (`TYPE:ALL` or `TYPE:SYM1-SYM2`), optional keep-alives `{}`.
 * On SwitchChannels the latest envelope per (type, symbol) is resent, as the
 * vendor's snapshot channels do.
 *
 * Scripting: emit events (encoded with encodeSsi), send raw frames or
 * envelopes (malformed input), hub `Error` messages, expire every token
 * mid-stream, drop connections, queue REST faults (429 with Retry-After, 5xx,
 * hang-ups), refuse credentials.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MarketEvent } from '@stock-tracker/protocol';
import { createSsiEncodeState, encodeSsi } from '../../packages/feeds/src/parsers/ssi-encode.ts';
import { FaultQueue, paginate, readBody, waitFor, type RecordedRequest, type ScriptedResponse } from './http-util.ts';
import { closeServer, listenLocal, recordRequest } from './fake-server.ts';

export const FAKE_SSI_ID = 'fake-consumer';
export const FAKE_SSI_SECRET = 'fake-secret';
const HUB = 'FcMarketDataV2Hub';

export interface SsiListing {
  symbol: string;
  exchange: 'HOSE' | 'HNX' | 'UPCOM';
  name?: string;
  lotSize?: number;
  listedShare?: number;
}

export interface SsiPriceRow {
  symbol: string;
  /** YYYY-MM-DD */
  date: string;
  ref: number;
  ceiling: number;
  floor: number;
}

export interface SsiOhlcRow {
  symbol: string;
  /** YYYY-MM-DD */
  date: string;
  /** HH:mm:ss (intraday only) */
  time?: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  value?: number;
}

export interface FakeSsiData {
  listing?: SsiListing[];
  prices?: SsiPriceRow[];
  indexComponents?: Record<string, string[]>;
  daily?: SsiOhlcRow[];
  intraday?: SsiOhlcRow[];
}

export interface FakeSsiOptions {
  consumerId?: string;
  consumerSecret?: string;
  /** Lifetime written into each token's `exp`. Default 1 h. */
  tokenTtlMs?: number;
  /** KeepAliveTimeout announced by negotiate, seconds. Default 20. */
  keepAliveTimeoutS?: number;
  /** Send `{}` this often to every connection (0 = never). Default 0. */
  keepAliveIntervalMs?: number;
  /** Resend the latest envelope per (type, symbol) on SwitchChannels. Default true. */
  snapshotOnSubscribe?: boolean;
  data?: FakeSsiData;
}

interface Conn {
  ws: WebSocket;
  token: string;
  channels: { type: string; symbols: Set<string> | 'ALL' }[];
}

const dmy = (ymd: string) => `${ymd.slice(8, 10)}/${ymd.slice(5, 7)}/${ymd.slice(0, 4)}`;
const ymdOf = (d: string) => {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(d);
  return m ? `${m[3]}-${m[2]}-${m[1]}` : null;
};

/** An unsigned JWT-shaped token: enough for a client to read `exp`. */
function makeToken(expMs: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: FAKE_SSI_ID, exp: Math.floor(expMs / 1000), jti: randomUUID() })}.fake`;
}

export class FakeSsiServer {
  readonly requests: RecordedRequest[] = [];
  /** Every SwitchChannels argument received, in order. */
  readonly switches: string[] = [];
  tokensIssued = 0;
  /** WebSocket connections accepted so far. */
  connects = 0;
  credentialsValid = true;
  data: Required<FakeSsiData>;
  private readonly validTokens = new Set<string>();
  private readonly connectionTokens = new Set<string>();
  private readonly conns = new Set<Conn>();
  private readonly faults = new FaultQueue();
  private readonly encodeState = createSsiEncodeState();
  /** Latest envelope per `TYPE|SYMBOL`, for snapshots on subscribe. */
  private readonly latest = new Map<string, string>();
  private cursor = 0;
  private keepAlive: NodeJS.Timeout | null = null;
  private readonly wss = new WebSocketServer({ noServer: true });
  private port = 0;

  private constructor(
    private readonly server: Server,
    private readonly o: FakeSsiOptions,
  ) {
    this.data = { listing: [], prices: [], indexComponents: {}, daily: [], intraday: [], ...o.data };
  }

  static async start(o: FakeSsiOptions = {}): Promise<FakeSsiServer> {
    let self!: FakeSsiServer;
    const server = createServer((req, res) => void self.onRequest(req, res));
    self = new FakeSsiServer(server, o);
    server.on('upgrade', (req, socket, head) => self.onUpgrade(req, socket, head));
    self.port = await listenLocal(server);
    if (o.keepAliveIntervalMs) self.keepAlive = setInterval(() => self.sendFrame('{}'), o.keepAliveIntervalMs);
    return self;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  get streamUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Open stream connections. */
  get connections(): number {
    return this.conns.size;
  }

  /** Requests to a REST endpoint or SignalR step (case-insensitive suffix of the path). */
  calls(pathEnd: string): RecordedRequest[] {
    const e = pathEnd.toLowerCase();
    return this.requests.filter((r) => r.path.toLowerCase().endsWith(e));
  }

  /** The next requests to `pathEnd` (e.g. `DailyOhlc`, `negotiate`) get these answers instead. */
  failNext(pathEnd: string, responses: ScriptedResponse[]): void {
    this.faults.add(pathEnd, responses);
  }

  /** Encodes events as SSI envelopes and broadcasts them to matching subscribers. */
  emit(events: MarketEvent[]): void {
    for (const ev of events) {
      const env = encodeSsi(ev, this.encodeState);
      if (env !== null) this.sendEnvelope(env);
    }
  }

  /** Broadcasts one envelope (string or object) as a `Broadcast` call; routed by its DataType and symbol when readable. */
  sendEnvelope(envelope: string | object): void {
    const text = typeof envelope === 'string' ? envelope : JSON.stringify(envelope);
    const route = routeOf(text);
    if (route) this.latest.set(`${route.type}|${route.symbol ?? ''}`, text);
    for (const c of this.conns) if (!route || matches(c, route)) this.sendTo(c, { M: [{ H: HUB, M: 'Broadcast', A: [text] }] });
  }

  /** A hub `Error` call on every connection. */
  sendHubError(message: string): void {
    for (const c of this.conns) this.sendTo(c, { M: [{ H: HUB, M: 'Error', A: [message] }] });
  }

  /** A raw WebSocket text frame on every connection. */
  sendFrame(text: string): void {
    for (const c of this.conns) if (c.ws.readyState === c.ws.OPEN) c.ws.send(text);
  }

  /** Every token stops being valid; with `close` (default) live connections are closed, as an expired session is. */
  expireTokens(close = true): void {
    this.validTokens.clear();
    if (close) for (const c of this.conns) c.ws.close(4001, 'token expired');
  }

  /** Drops every stream connection without a close handshake. */
  dropConnections(): void {
    for (const c of this.conns) c.ws.terminate();
  }

  async waitFor(cond: () => boolean, what: string, timeoutMs?: number): Promise<void> {
    await waitFor(cond, what, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.keepAlive) clearInterval(this.keepAlive);
    for (const c of this.conns) c.ws.terminate();
    await closeServer(this.server, this.wss);
  }

  // ---- HTTP

  private authorized(req: IncomingMessage): string | null {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/i.exec(h);
    return m && this.validTokens.has(m[1]!) ? m[1]! : null;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = recordRequest(req, res, this.requests, this.faults);
    if (!r) return;
    const { url, answer } = r;
    const path = url.pathname.toLowerCase();
    if (path === '/api/v2/market/accesstoken' && req.method === 'POST') {
      let body: { consumerID?: unknown; consumerSecret?: unknown } = {};
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch {
        return answer(400, { message: 'invalid body', status: 400 });
      }
      const ok = this.credentialsValid && body.consumerID === (this.o.consumerId ?? FAKE_SSI_ID) && body.consumerSecret === (this.o.consumerSecret ?? FAKE_SSI_SECRET);
      if (!ok) return answer(200, { message: 'Invalid consumer ID or consumer secret', status: 400, data: null });
      const token = makeToken(Date.now() + (this.o.tokenTtlMs ?? 3_600_000));
      this.validTokens.add(token);
      this.tokensIssued += 1;
      return answer(200, { message: 'Success', status: 200, data: { accessToken: token } });
    }
    if (path.startsWith('/api/v2/market/')) {
      if (!this.authorized(req)) return answer(401, { message: 'Authorization has been denied for this request.' });
      const endpoint = path.slice('/api/v2/market/'.length);
      const q = (k: string) => url.searchParams.get(`lookupRequest.${k}`) ?? url.searchParams.get(`lookuprequest.${k.toLowerCase()}`);
      const pageIndex = Math.max(1, Number(q('pageIndex') ?? 1));
      const pageSize = Math.max(1, Number(q('pageSize') ?? 10));
      const rows = this.rest(endpoint, q);
      if (rows === null) return answer(404, { message: 'No HTTP resource was found that matches the request URI.' });
      if (endpoint === 'securitiesdetails') {
        const page = paginate(rows, pageIndex, pageSize);
        return answer(200, { data: [{ RType: 'y', ReportDate: dmy('2025-01-06'), TotalNoSym: String(page.length), RepeatedInfo: page }], message: 'Success', status: 'Success', totalRecord: rows.length });
      }
      return answer(200, { data: paginate(rows, pageIndex, pageSize), message: 'Success', status: 'Success', totalRecord: rows.length });
    }
    if (path.startsWith('/v2.0/signalr/')) {
      const step = path.slice('/v2.0/signalr/'.length);
      if (!this.authorized(req)) return answer(401, { message: 'Unauthorized' });
      if (step === 'negotiate') {
        const connectionToken = randomUUID();
        this.connectionTokens.add(connectionToken);
        return answer(200, {
          Url: '/v2.0/signalr',
          ConnectionToken: connectionToken,
          ConnectionId: randomUUID(),
          KeepAliveTimeout: this.o.keepAliveTimeoutS ?? 20,
          DisconnectTimeout: 30,
          ConnectionTimeout: 110,
          TryWebSockets: true,
          ProtocolVersion: '1.5',
          TransportConnectTimeout: 5,
          LongPollDelay: 0,
        });
      }
      if (step === 'start') {
        if (!this.connectionTokens.has(url.searchParams.get('connectionToken') ?? '')) return answer(400, { message: 'unknown connection token' });
        return answer(200, { Response: 'started' });
      }
    }
    answer(404, { message: 'not found' });
  }

  /** Rows of a REST endpoint after its filters, or null for an unknown endpoint. */
  private rest(endpoint: string, q: (k: string) => string | null): Record<string, unknown>[] | null {
    const d = this.data;
    const symbol = q('symbol')?.toUpperCase();
    const market = q('market')?.toUpperCase();
    const from = q('fromDate') ? ymdOf(q('fromDate')!) : null;
    const to = q('toDate') ? ymdOf(q('toDate')!) : null;
    const inRange = (date: string) => (!from || date >= from) && (!to || date <= to);
    const exchangeOf = (s: string) => d.listing.find((l) => l.symbol === s)?.exchange;
    switch (endpoint) {
      case 'securities':
        return d.listing.filter((l) => !market || l.exchange === market).map((l) => ({ Market: l.exchange, Symbol: l.symbol, StockName: l.name ?? l.symbol, StockEnName: l.name ?? l.symbol }));
      case 'securitiesdetails':
        return d.listing
          .filter((l) => (!market || l.exchange === market) && (!symbol || l.symbol === symbol))
          .map((l) => ({
            Isin: `VN${l.symbol}`,
            Symbol: l.symbol,
            SymbolName: l.name ?? l.symbol,
            SymbolEngName: l.name ?? l.symbol,
            SecType: 'ST',
            MarketId: l.exchange,
            Exchange: l.exchange,
            LotSize: String(l.lotSize ?? 100),
            ListedShare: String(l.listedShare ?? 1_000_000),
          }));
      case 'indexcomponents': {
        const code = q('indexCode')?.toUpperCase() ?? '';
        const members = d.indexComponents[code];
        if (!members) return [];
        return [{ IndexCode: code, IndexName: code, Exchange: 'HOSE', TotalSymbolNo: String(members.length), IndexComponent: members.map((s) => ({ Isin: `VN${s}`, StockSymbol: s })) }];
      }
      case 'dailystockprice':
        return d.prices
          .filter((p) => (!symbol || p.symbol === symbol) && (!market || exchangeOf(p.symbol) === market) && inRange(p.date))
          .map((p) => ({ TradingDate: dmy(p.date), Symbol: p.symbol, RefPrice: String(p.ref), CeilingPrice: String(p.ceiling), FloorPrice: String(p.floor), ClosePrice: String(p.ref) }));
      case 'dailyohlc':
      case 'intradayohlc': {
        const rows = endpoint === 'dailyohlc' ? d.daily : d.intraday;
        const asc = (q('ascending') ?? 'true') !== 'false';
        const out = rows
          .filter((r) => (!symbol || r.symbol === symbol) && inRange(r.date))
          .map((r) => ({
            Symbol: r.symbol,
            Market: exchangeOf(r.symbol) ?? 'HOSE',
            TradingDate: dmy(r.date),
            Time: r.time ?? '',
            Open: String(r.open),
            High: String(r.high),
            Low: String(r.low),
            Close: String(r.close),
            Volume: String(r.volume),
            Value: r.value === undefined ? '' : String(r.value),
          }));
        return asc ? out : out.reverse();
      }
      default:
        return null;
    }
  }

  // ---- WebSocket

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ method: 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, status: 101 });
    const token = this.authorized(req);
    const refuse = (status: number) => {
      this.requests[this.requests.length - 1]!.status = status;
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    };
    if (url.pathname.toLowerCase() !== '/v2.0/signalr/connect') return refuse(404);
    if (!token) return refuse(401);
    if (url.searchParams.get('transport') !== 'webSockets' || !this.connectionTokens.has(url.searchParams.get('connectionToken') ?? '')) return refuse(400);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: Conn = { ws, token, channels: [] };
      this.conns.add(conn);
      this.connects += 1;
      ws.on('close', () => this.conns.delete(conn));
      ws.on('error', () => this.conns.delete(conn));
      ws.on('message', (data) => this.onClientFrame(conn, data.toString()));
      ws.send(JSON.stringify({ C: `s-0,${++this.cursor}`, S: 1, M: [] }));
    });
  }

  private onClientFrame(conn: Conn, text: string): void {
    let msg: { H?: unknown; M?: unknown; A?: unknown; I?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    const id = String(msg.I);
    if (String(msg.H).toLowerCase() !== HUB.toLowerCase()) return void conn.ws.send(JSON.stringify({ I: id, E: `'${String(msg.H)}' Hub could not be resolved.` }));
    if (msg.M !== 'SwitchChannels' || !Array.isArray(msg.A) || typeof msg.A[0] !== 'string') {
      return void conn.ws.send(JSON.stringify({ I: id, E: `'${String(msg.M)}' method could not be resolved.` }));
    }
    const channel = msg.A[0];
    this.switches.push(channel);
    const [type, list] = channel.split(':') as [string, string | undefined];
    conn.channels.push({ type: type.toUpperCase(), symbols: !list || list.toUpperCase() === 'ALL' ? 'ALL' : new Set(list.toUpperCase().split('-')) });
    conn.ws.send(JSON.stringify({ I: id, R: true }));
    if (this.o.snapshotOnSubscribe !== false) {
      for (const [key, env] of this.latest) {
        const [t, s] = key.split('|') as [string, string];
        if (matches({ channels: [conn.channels.at(-1)!] }, { type: t, symbol: s || undefined })) this.sendTo(conn, { M: [{ H: HUB, M: 'Broadcast', A: [env] }] });
      }
    }
  }

  private sendTo(c: Conn, frame: { M: unknown[] }): void {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify({ C: `d-${++this.cursor}`, ...frame }));
  }
}

function routeOf(envelope: string): { type: string; symbol: string | undefined } | null {
  try {
    const e = JSON.parse(envelope) as Record<string, unknown>;
    const type = String(e['DataType'] ?? e['Datatype'] ?? '').toUpperCase();
    const raw = e['Content'];
    const content = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
    const symbol = content['Symbol'] ?? content['IndexId'];
    return type ? { type, symbol: typeof symbol === 'string' ? symbol.toUpperCase() : undefined } : null;
  } catch {
    return null;
  }
}

function matches(c: Pick<Conn, 'channels'>, r: { type: string; symbol: string | undefined }): boolean {
  return c.channels.some((ch) => ch.type === r.type && (ch.symbols === 'ALL' || (r.symbol !== undefined && ch.symbols.has(r.symbol))));
}

/** Deterministic daily OHLC rows on weekdays between two dates (prices on a 100 VND grid). */
export function makeDailyRows(symbol: string, from: string, to: string, base = 50_000): SsiOhlcRow[] {
  const out: SsiOhlcRow[] = [];
  let i = 0;
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).getUTCDay();
    if (day === 0 || day === 6) continue;
    const open = base + ((i * 700) % 3_000);
    const close = open + (i % 2 === 0 ? 500 : -300);
    out.push({ symbol, date: new Date(t).toISOString().slice(0, 10), open, high: Math.max(open, close) + 200, low: Math.min(open, close) - 200, close, volume: 100_000 + i * 1_000, value: (100_000 + i * 1_000) * open });
    i += 1;
  }
  return out;
}

/** Deterministic 1-minute rows for one day from 09:15 (local time), `count` minutes. */
export function makeIntradayRows(symbol: string, date: string, count: number, base = 50_000): SsiOhlcRow[] {
  const out: SsiOhlcRow[] = [];
  for (let i = 0; i < count; i++) {
    const minutes = 9 * 60 + 15 + i;
    const time = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00`;
    const open = base + (i % 5) * 100;
    out.push({ symbol, date, time, open, high: open + 200, low: open - 100, close: open + 100, volume: 1_000 + i * 10 });
  }
  return out;
}
