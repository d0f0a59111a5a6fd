/**
 * A fake Alpaca Trading API v2 for tests: real HTTP and WebSocket on
 * 127.0.0.1 (random port), speaking the documented protocol (docs/trading.md,
 * "Alpaca broker").
 *
 * REST (APCA-API-KEY-ID / APCA-API-SECRET-KEY headers; wrong keys get 403
 * {"message":"forbidden."}): GET /v2/account, GET /v2/positions, GET/POST
 * /v2/orders, GET /v2/orders:by_client_order_id, GET/PATCH/DELETE
 * /v2/orders/{id}, GET /v2/account/activities/FILL. Decimals are strings;
 * errors are {"code", "message"}: 403 40310000 insufficient buying power /
 * qty, 422 40010001 invalid parameters or duplicate client_order_id, 422
 * 42210000 not cancelable, 404 40410000 order not found.
 *
 * Stream (/stream): {"action":"authenticate","data":{"key_id","secret_key"}}
 * (the older {"action":"auth","key","secret"} form is accepted too) →
 * authorization authorized/unauthorized; listen → listening; trade_updates
 * messages in binary frames by default, as the paper endpoint sends them.
 * Missed messages are not replayed (as documented: clients reconcile).
 *
 * Scripting: fill(id, qty, price) (partial fills on demand), expire, reject,
 * setPrice; failNext(method, path, faults) for any documented error (429
 * with Retry-After and X-RateLimit-* headers, 500, hang-ups, or "process
 * then fail" to lose an answer); dropConnections(); refuseStream().
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { readBody, sendJson, waitFor } from './http-util.ts';
import { closeServer, listenLocal } from './fake-server.ts';

export const FAKE_TRADING_KEY = 'fake-trading-key';
export const FAKE_TRADING_SECRET = 'fake-trading-secret';

const TYPES = ['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'];
const TIFS = ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'];
const OPEN = new Set(['new', 'accepted', 'pending_new', 'partially_filled', 'pending_cancel', 'pending_replace', 'held', 'done_for_day']);

export interface FakeOrder {
  id: string;
  client_order_id: string;
  created_at: string;
  updated_at: string;
  submitted_at: string;
  filled_at: string | null;
  expired_at: string | null;
  canceled_at: string | null;
  failed_at: string | null;
  replaced_at: string | null;
  replaced_by: string | null;
  replaces: string | null;
  asset_id: string;
  symbol: string;
  asset_class: 'us_equity';
  notional: string | null;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  order_class: '';
  order_type: string;
  type: string;
  side: 'buy' | 'sell';
  time_in_force: string;
  limit_price: string | null;
  stop_price: string | null;
  status: string;
  extended_hours: boolean;
}

export interface Fault {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Destroy the socket without an answer. */
  hangUp?: boolean;
  /** Handle the request normally first, then answer with this fault (the client loses the real answer). */
  afterHandling?: boolean;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown> | null;
  status: number;
}

export interface FakeTradingOptions {
  keyId?: string;
  secretKey?: string;
  cash?: number;
  /** Last prices per symbol (market orders' buying-power check; unknown symbols are refused with 422). */
  prices?: Record<string, number>;
  /** Send trade_updates in binary frames (the paper endpoint does). Default true. */
  binaryFrames?: boolean;
  /** Positions held at start. */
  positions?: Record<string, { qty: number; avgEntryPrice: number }>;
  /**
   * Replaces wait for completeReplace(oldId): meanwhile the old order is `pending_replace` and can still fill
   * (the race Alpaca documents for PATCH). Default false: replaced at once.
   */
  manualReplace?: boolean;
  /** The account's request quota (documented: 200 per minute), announced in X-RateLimit-* headers; 429 beyond. Default 200 per 60 s. */
  rateLimit?: { limit: number; windowMs: number };
}

interface Session {
  ws: WebSocket;
  authorized: boolean;
  listening: boolean;
}

const money = (x: number) => String(Math.round(x * 10_000) / 10_000);
const iso = (t: number) => new Date(t).toISOString();

export class FakeAlpacaTradingServer {
  readonly calls: RecordedCall[] = [];
  readonly sessions: Session[] = [];
  /** Parsed client messages on the stream. */
  readonly received: Record<string, unknown>[] = [];
  readonly orders = new Map<string, FakeOrder>();
  readonly activities: Record<string, unknown>[] = [];
  /** Every trade_updates message sent or that would have been sent (`delivered` false when no one listened). */
  readonly updates: { data: Record<string, unknown>; delivered: boolean }[] = [];
  cash: number;
  readonly positions = new Map<string, { qty: number; cost: number }>();
  readonly prices: Map<string, number>;
  private readonly faults: { method: string; path: string; fault: Fault }[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private refuseUpgrades = 0;
  private window = { start: 0, used: 0 };
  private readonly pendingReplaces = new Map<string, string>();
  private port = 0;
  private seq = 0;

  private constructor(
    private readonly server: Server,
    readonly o: FakeTradingOptions,
  ) {
    this.cash = o.cash ?? 100_000;
    this.prices = new Map(Object.entries(o.prices ?? { AAPL: 190, MSFT: 400 }));
    for (const [s, p] of Object.entries(o.positions ?? {})) this.positions.set(s, { qty: p.qty, cost: p.qty * p.avgEntryPrice });
  }

  static async start(o: FakeTradingOptions = {}): Promise<FakeAlpacaTradingServer> {
    let self!: FakeAlpacaTradingServer;
    const server = createServer((req, res) => void self.onRequest(req, res));
    self = new FakeAlpacaTradingServer(server, o);
    server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/stream') return void socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      if (self.refuseUpgrades > 0) {
        self.refuseUpgrades -= 1;
        return void socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
      }
      self.wss.handleUpgrade(req, socket, head, (ws) => self.onConnection(ws));
    });
    self.port = await listenLocal(server);
    return self;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get streamUrl(): string {
    return `ws://127.0.0.1:${this.port}/stream`;
  }

  get listening(): Session[] {
    return this.sessions.filter((s) => s.listening && s.ws.readyState === s.ws.OPEN);
  }

  /** The next requests matching method and path (exact, or a prefix ending in '*') get these faults, in order. */
  failNext(method: string, path: string, faults: Fault[]): void {
    for (const fault of faults) this.faults.push({ method, path, fault });
  }

  /** A 429 as Alpaca sends it: {code, message}, Retry-After and the X-RateLimit-* headers. */
  static rateLimited(retryAfterSeconds = 1, resetInSeconds = retryAfterSeconds): Fault {
    return {
      status: 429,
      body: { code: 42910000, message: 'rate limit exceeded' },
      headers: {
        'retry-after': String(retryAfterSeconds),
        'x-ratelimit-limit': '200',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000 + resetInSeconds)),
      },
    };
  }

  callsTo(method: string, path: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && (path.endsWith('*') ? c.path.startsWith(path.slice(0, -1)) : c.path === path));
  }

  /** The next `n` stream upgrades are refused with HTTP 503. */
  refuseStream(n = 1): void {
    this.refuseUpgrades += n;
  }

  dropConnections(): void {
    for (const s of this.sessions) if (s.ws.readyState === s.ws.OPEN) s.ws.terminate();
  }

  setPrice(symbol: string, price: number): void {
    this.prices.set(symbol, price);
  }

  byClientId(cid: string): FakeOrder | undefined {
    return [...this.orders.values()].find((o) => o.client_order_id === cid);
  }

  /** Executes `qty` shares of an open order at `price`: order, position, cash, a FILL activity and a fill/partial_fill update. */
  fill(orderId: string, qty: number, price: number): FakeOrder {
    const o = this.orders.get(orderId);
    if (!o || !OPEN.has(o.status)) throw new Error(`fake: order ${orderId} is not open`);
    const filled = Number(o.filled_qty);
    const total = Number(o.qty);
    if (qty <= 0 || filled + qty > total + 1e-9) throw new Error(`fake: cannot fill ${qty} of ${orderId} (${filled}/${total} filled)`);
    const now = this.tick();
    const cum = filled + qty;
    const avg = ((o.filled_avg_price ? Number(o.filled_avg_price) : 0) * filled + price * qty) / cum;
    o.filled_qty = String(cum);
    o.filled_avg_price = money(avg);
    o.status = cum >= total - 1e-9 ? 'filled' : 'partially_filled';
    o.updated_at = iso(now);
    if (o.status === 'filled') o.filled_at = iso(now);
    const sign = o.side === 'buy' ? 1 : -1;
    const p = this.positions.get(o.symbol) ?? { qty: 0, cost: 0 };
    if (sign > 0) p.cost += qty * price;
    else p.cost -= p.qty > 0 ? (p.cost / p.qty) * qty : 0;
    p.qty += sign * qty;
    if (Math.abs(p.qty) < 1e-9) this.positions.delete(o.symbol);
    else this.positions.set(o.symbol, p);
    this.cash -= sign * qty * price;
    const executionId = randomUUID();
    this.activities.push({
      id: `${iso(now).replace(/\D/g, '').slice(0, 17)}::${executionId}`,
      activity_type: 'FILL',
      transaction_time: iso(now),
      type: o.status === 'filled' ? 'fill' : 'partial_fill',
      price: money(price),
      qty: String(qty),
      side: o.side,
      symbol: o.symbol,
      leaves_qty: String(total - cum),
      order_id: o.id,
      cum_qty: String(cum),
      order_status: o.status,
    });
    this.broadcast({
      event: o.status === 'filled' ? 'fill' : 'partial_fill',
      execution_id: executionId,
      order: { ...o },
      position_qty: String(this.positions.get(o.symbol)?.qty ?? 0),
      price: money(price),
      qty: String(qty),
      timestamp: iso(now),
    });
    return o;
  }

  expire(orderId: string): void {
    this.finish(orderId, 'expired', 'expired_at');
  }

  reject(orderId: string): void {
    this.finish(orderId, 'rejected', 'failed_at');
  }

  /** Sends raw text (or binary) to every listening connection (malformed-input tests). */
  sendRaw(data: string, binary = false): void {
    for (const s of this.listening) s.ws.send(binary ? Buffer.from(data) : data);
  }

  async waitFor(cond: () => boolean, what: string, timeoutMs?: number): Promise<void> {
    await waitFor(cond, what, timeoutMs);
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    await closeServer(this.server, this.wss);
  }

  private tick(): number {
    // Strictly increasing times keep activities and updates in a stable order.
    this.seq += 1;
    return Date.now() + this.seq;
  }

  private finish(orderId: string, status: string, field: 'expired_at' | 'failed_at' | 'canceled_at'): FakeOrder {
    const o = this.orders.get(orderId);
    if (!o || !OPEN.has(o.status)) throw new Error(`fake: order ${orderId} is not open`);
    const now = iso(this.tick());
    o.status = status;
    o[field] = now;
    o.updated_at = now;
    this.broadcast({ event: status, order: { ...o }, timestamp: now });
    return o;
  }

  private broadcast(data: Record<string, unknown>): void {
    const targets = this.listening;
    this.updates.push({ data, delivered: targets.length > 0 });
    const text = JSON.stringify({ stream: 'trade_updates', data });
    for (const s of targets) s.ws.send(this.o.binaryFrames === false ? text : Buffer.from(text));
  }

  private onConnection(ws: WebSocket): void {
    const s: Session = { ws, authorized: false, listening: false };
    this.sessions.push(s);
    const send = (m: object) => {
      const text = JSON.stringify(m);
      ws.send(this.o.binaryFrames === false ? text : Buffer.from(text));
    };
    ws.on('message', (data) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return send({ stream: 'error', data: { error_message: 'invalid syntax' } });
      }
      this.received.push(m);
      const d = (m['data'] ?? {}) as Record<string, unknown>;
      if (m['action'] === 'authenticate' || m['action'] === 'auth') {
        const key = m['action'] === 'auth' ? m['key'] : d['key_id'];
        const secret = m['action'] === 'auth' ? m['secret'] : d['secret_key'];
        s.authorized = key === (this.o.keyId ?? FAKE_TRADING_KEY) && secret === (this.o.secretKey ?? FAKE_TRADING_SECRET);
        return send({ stream: 'authorization', data: { status: s.authorized ? 'authorized' : 'unauthorized', action: 'authenticate' } });
      }
      if (m['action'] === 'listen') {
        if (!s.authorized) return send({ stream: 'authorization', data: { status: 'unauthorized', action: 'listen' } });
        const streams = Array.isArray(d['streams']) ? (d['streams'] as unknown[]).filter((x) => x === 'trade_updates') : [];
        s.listening = streams.length > 0;
        return send({ stream: 'listening', data: { streams } });
      }
      send({ stream: 'error', data: { error_message: 'unknown action' } });
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const text = method === 'POST' || method === 'PATCH' ? await readBody(req) : '';
    let body: Record<string, unknown> | null = null;
    const rec: RecordedCall = { method, path: url.pathname, query: url.searchParams, body: null, status: 0 };
    this.calls.push(rec);
    if (text) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
        rec.body = body;
      } catch {
        rec.status = 400;
        return sendJson(res, 400, { code: 40010000, message: 'request body format is invalid' });
      }
    }
    const i = this.faults.findIndex((f) => f.method === method && (f.path.endsWith('*') ? url.pathname.startsWith(f.path.slice(0, -1)) : f.path === url.pathname));
    const fault = i >= 0 ? this.faults.splice(i, 1)[0]!.fault : null;
    let quota: Record<string, string> = {};
    const answer = (status: number, payload: unknown) => {
      if (fault?.afterHandling) return applyFault(fault);
      rec.status = status;
      if (status === 204) {
        res.writeHead(204, quota);
        return void res.end();
      }
      sendJson(res, status, payload, quota);
    };
    const applyFault = (f: Fault) => {
      rec.status = f.hangUp ? 0 : f.status;
      if (f.hangUp) return void res.socket?.destroy();
      sendJson(res, f.status, f.body ?? { code: f.status * 100_000, message: `scripted ${f.status}` }, f.headers ?? {});
    };
    if (fault && !fault.afterHandling) return applyFault(fault);
    if (req.headers['apca-api-key-id'] !== (this.o.keyId ?? FAKE_TRADING_KEY) || req.headers['apca-api-secret-key'] !== (this.o.secretKey ?? FAKE_TRADING_SECRET)) {
      return answer(403, { message: 'forbidden.' });
    }
    // The quota: a fixed window per account, announced on every answer.
    const rl = this.o.rateLimit ?? { limit: 200, windowMs: 60_000 };
    const now = Date.now();
    if (now >= this.window.start + rl.windowMs) this.window = { start: now, used: 0 };
    this.window.used += 1;
    const resetAt = this.window.start + rl.windowMs;
    quota = { 'x-ratelimit-limit': String(rl.limit), 'x-ratelimit-remaining': String(Math.max(0, rl.limit - this.window.used)), 'x-ratelimit-reset': String(Math.ceil(resetAt / 1000)) };
    if (this.window.used > rl.limit) {
      quota['retry-after'] = String(Math.max(1, Math.ceil((resetAt - now) / 1000)));
      return answer(429, { code: 42910000, message: 'rate limit exceeded' });
    }
    const p = url.pathname;
    if (method === 'GET' && p === '/v2/account') return answer(200, this.account());
    if (method === 'GET' && p === '/v2/positions') return answer(200, [...this.positions.entries()].map(([sym, pos]) => this.position(sym, pos)));
    if (method === 'GET' && p === '/v2/orders') return answer(200, this.listOrders(url.searchParams));
    if (method === 'POST' && p === '/v2/orders') return this.create(body ?? {}, answer);
    if (method === 'GET' && p === '/v2/orders:by_client_order_id') {
      const o = this.byClientId(url.searchParams.get('client_order_id') ?? '');
      return o ? answer(200, o) : answer(404, { code: 40410000, message: 'order not found' });
    }
    if (method === 'GET' && p === '/v2/account/activities/FILL') return answer(200, this.listFills(url.searchParams));
    const m = /^\/v2\/orders\/([^/]+)$/.exec(p);
    if (m) {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      if (!o) return answer(404, { code: 40410000, message: 'order not found' });
      if (method === 'GET') return answer(200, o);
      if (method === 'DELETE') {
        if (!OPEN.has(o.status)) return answer(422, { code: 42210000, message: `order is already in "${o.status}" state` });
        this.finish(o.id, 'canceled', 'canceled_at');
        return answer(204, null);
      }
      if (method === 'PATCH') return this.replace(o, body ?? {}, answer);
    }
    answer(404, { code: 40410000, message: 'endpoint not found' });
  }

  private account(): Record<string, unknown> {
    const market = [...this.positions.entries()].reduce((s, [sym, p]) => s + p.qty * (this.prices.get(sym) ?? p.cost / p.qty), 0);
    return {
      id: 'fake-account-0001',
      account_number: 'PA0000FAKE',
      status: 'ACTIVE',
      currency: 'USD',
      cash: money(this.cash),
      buying_power: money(this.buyingPower()),
      equity: money(this.cash + market),
      portfolio_value: money(this.cash + market),
      trading_blocked: false,
      account_blocked: false,
      pattern_day_trader: false,
      shorting_enabled: false,
    };
  }

  /** Cash minus what open buy orders could cost (a cash account: no margin). */
  private buyingPower(): number {
    let reserved = 0;
    for (const o of this.orders.values()) {
      if (!OPEN.has(o.status) || o.side !== 'buy') continue;
      const left = Number(o.qty ?? 0) - Number(o.filled_qty);
      reserved += left * (o.limit_price !== null ? Number(o.limit_price) : (this.prices.get(o.symbol) ?? 0));
    }
    return this.cash - reserved;
  }

  private position(symbol: string, p: { qty: number; cost: number }): Record<string, unknown> {
    const last = this.prices.get(symbol) ?? p.cost / p.qty;
    return {
      asset_id: `asset-${symbol}`,
      symbol,
      exchange: 'NASDAQ',
      asset_class: 'us_equity',
      qty: String(p.qty),
      avg_entry_price: money(p.cost / p.qty),
      side: p.qty >= 0 ? 'long' : 'short',
      market_value: money(p.qty * last),
      cost_basis: money(p.cost),
      unrealized_pl: money(p.qty * last - p.cost),
      current_price: money(last),
    };
  }

  private listOrders(q: URLSearchParams): FakeOrder[] {
    const status = q.get('status') ?? 'open';
    const after = q.get('after') ? Date.parse(q.get('after')!) : null;
    const limit = Math.min(500, Number(q.get('limit') ?? 50));
    let rows = [...this.orders.values()].filter((o) => (status === 'all' ? true : status === 'open' ? OPEN.has(o.status) : !OPEN.has(o.status)));
    if (after !== null) rows = rows.filter((o) => Date.parse(o.submitted_at) > after);
    rows.sort((a, b) => Date.parse(a.submitted_at) - Date.parse(b.submitted_at));
    if ((q.get('direction') ?? 'desc') === 'desc') rows.reverse();
    return rows.slice(0, limit);
  }

  private listFills(q: URLSearchParams): Record<string, unknown>[] {
    const after = q.get('after') ? Date.parse(q.get('after')!) : null;
    const size = Math.min(100, Number(q.get('page_size') ?? 100));
    let rows = this.activities.filter((a) => after === null || Date.parse(a['transaction_time'] as string) > after);
    if ((q.get('direction') ?? 'desc') === 'desc') rows = rows.reverse();
    const token = q.get('page_token');
    if (token) rows = rows.slice(rows.findIndex((a) => a['id'] === token) + 1);
    return rows.slice(0, size);
  }

  private invalid(message: string, answer: (s: number, b: unknown) => void): void {
    answer(422, { code: 40010001, message });
  }

  private create(b: Record<string, unknown>, answer: (s: number, b: unknown) => void): void {
    const symbol = b['symbol'];
    const side = b['side'];
    const type = b['type'];
    const tif = b['time_in_force'];
    const cid = typeof b['client_order_id'] === 'string' ? b['client_order_id'] : randomUUID();
    const qty = b['qty'] !== undefined ? Number(b['qty']) : null;
    const notional = b['notional'] !== undefined ? Number(b['notional']) : null;
    const limit = b['limit_price'] !== undefined ? Number(b['limit_price']) : null;
    const stop = b['stop_price'] !== undefined ? Number(b['stop_price']) : null;
    if (typeof symbol !== 'string' || !symbol) return this.invalid('symbol is required', answer);
    if (side !== 'buy' && side !== 'sell') return this.invalid('invalid side', answer);
    if (typeof type !== 'string' || !TYPES.includes(type)) return this.invalid('invalid order type', answer);
    if (typeof tif !== 'string' || !TIFS.includes(tif)) return this.invalid('invalid time_in_force', answer);
    if ((qty === null) === (notional === null)) return this.invalid('qty or notional is required', answer);
    if (qty !== null && !(qty > 0)) return this.invalid('qty must be > 0', answer);
    if ((type === 'limit' || type === 'stop_limit') && !(limit !== null && limit > 0)) return this.invalid('limit_price is required', answer);
    if ((type === 'stop' || type === 'stop_limit') && !(stop !== null && stop > 0)) return this.invalid('stop_price is required', answer);
    if (cid.length > 48) return this.invalid('client_order_id must be no more than 48 characters', answer);
    if (this.byClientId(cid)) return this.invalid('client_order_id must be unique', answer);
    const last = this.prices.get(symbol);
    if (last === undefined) return this.invalid(`asset "${symbol}" not found`, answer);
    if (side === 'buy') {
      const cost = notional ?? qty! * (limit ?? last);
      const bp = this.buyingPower();
      if (cost > bp + 1e-9) return answer(403, { code: 40310000, message: 'insufficient buying power', buying_power: money(bp), cost_basis: money(cost) });
    } else {
      const held = this.positions.get(symbol)?.qty ?? 0;
      let pending = 0;
      for (const o of this.orders.values()) if (OPEN.has(o.status) && o.side === 'sell' && o.symbol === symbol) pending += Number(o.qty) - Number(o.filled_qty);
      const available = held - pending;
      if ((qty ?? 0) > available + 1e-9) return answer(403, { code: 40310000, message: `insufficient qty available for order (requested: ${qty}, available: ${available})` });
    }
    const o = this.newOrder({ symbol, side, type, tif, cid, qty, notional, limit, stop, extended: b['extended_hours'] === true, replaces: null });
    answer(200, { ...o, status: 'accepted' });
    this.broadcast({ event: 'new', order: { ...o }, timestamp: o.updated_at });
  }

  private newOrder(a: { symbol: string; side: 'buy' | 'sell'; type: string; tif: string; cid: string; qty: number | null; notional: number | null; limit: number | null; stop: number | null; extended: boolean; replaces: string | null }): FakeOrder {
    const now = iso(this.tick());
    const o: FakeOrder = {
      id: randomUUID(),
      client_order_id: a.cid,
      created_at: now,
      updated_at: now,
      submitted_at: now,
      filled_at: null,
      expired_at: null,
      canceled_at: null,
      failed_at: null,
      replaced_at: null,
      replaced_by: null,
      replaces: a.replaces,
      asset_id: `asset-${a.symbol}`,
      symbol: a.symbol,
      asset_class: 'us_equity',
      notional: a.notional === null ? null : money(a.notional),
      qty: a.qty === null ? null : String(a.qty),
      filled_qty: '0',
      filled_avg_price: null,
      order_class: '',
      order_type: a.type,
      type: a.type,
      side: a.side,
      time_in_force: a.tif,
      limit_price: a.limit === null ? null : money(a.limit),
      stop_price: a.stop === null ? null : money(a.stop),
      status: 'new',
      extended_hours: a.extended,
    };
    this.orders.set(o.id, o);
    return o;
  }

  /** PATCH: the old order becomes `replaced`, a new order (new id, filled 0, `replaces`) takes its place, as Alpaca does. */
  private replace(old: FakeOrder, b: Record<string, unknown>, answer: (s: number, b: unknown) => void): void {
    if (!OPEN.has(old.status)) return answer(422, { code: 42210000, message: `order is already in "${old.status}" state` });
    const cid = typeof b['client_order_id'] === 'string' ? b['client_order_id'] : randomUUID();
    if (this.byClientId(cid)) return this.invalid('client_order_id must be unique', answer);
    const qty = b['qty'] !== undefined ? Number(b['qty']) : Number(old.qty);
    const limit = b['limit_price'] !== undefined ? Number(b['limit_price']) : old.limit_price === null ? null : Number(old.limit_price);
    const stop = b['stop_price'] !== undefined ? Number(b['stop_price']) : old.stop_price === null ? null : Number(old.stop_price);
    const tif = typeof b['time_in_force'] === 'string' ? b['time_in_force'] : old.time_in_force;
    if (!(qty > 0) || !TIFS.includes(tif)) return this.invalid('invalid replace parameters', answer);
    if (qty === Number(old.qty) && limit === (old.limit_price === null ? null : Number(old.limit_price)) && stop === (old.stop_price === null ? null : Number(old.stop_price)) && tif === old.time_in_force) {
      return answer(403, { code: 40310000, message: 'order parameters are not changed' });
    }
    const next = this.newOrder({ symbol: old.symbol, side: old.side, type: old.type, tif, cid, qty, notional: null, limit, stop, extended: old.extended_hours, replaces: old.id });
    if (this.o.manualReplace) {
      next.status = 'pending_new';
      old.status = 'pending_replace';
      this.pendingReplaces.set(old.id, next.id);
      answer(200, { ...next, status: 'accepted' });
      this.broadcast({ event: 'pending_replace', order: { ...old }, timestamp: iso(this.tick()) });
      return;
    }
    answer(200, { ...next, status: 'accepted' });
    this.switchReplace(old, next);
  }

  /** manualReplace: Alpaca switches to the replacement now; when the old order filled completely meanwhile, the replacement is rejected. */
  completeReplace(oldId: string): void {
    const old = this.orders.get(oldId);
    const next = this.orders.get(this.pendingReplaces.get(oldId) ?? '');
    if (!old || !next) throw new Error(`fake: no replace pending for ${oldId}`);
    this.pendingReplaces.delete(oldId);
    if (old.status === 'filled') {
      next.status = 'rejected';
      next.failed_at = iso(this.tick());
      this.broadcast({ event: 'rejected', order: { ...next }, timestamp: next.failed_at });
      return;
    }
    this.switchReplace(old, next);
  }

  private switchReplace(old: FakeOrder, next: FakeOrder): void {
    const now = iso(this.tick());
    next.status = 'new';
    old.status = 'replaced';
    old.replaced_at = now;
    old.replaced_by = next.id;
    old.updated_at = now;
    this.broadcast({ event: 'replaced', order: { ...old }, timestamp: now });
    this.broadcast({ event: 'new', order: { ...next }, timestamp: next.updated_at });
  }
}
