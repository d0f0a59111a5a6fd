/** Shared fixtures for the WebSocket gateway tests: a real HTTP server, the in-process bus, raw `ws` clients. */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { type ClientOptions } from 'ws';
import type { ClassifiedTrade, QuoteState, ServerMessage } from '@stock-tracker/protocol';
import { InMemoryBus, type BusMessage, type InMemoryBusOptions, type StreamPublisher } from '../src/bus/index.ts';
import { createWsGateway, type WsGateway, type WsGatewayOptions } from '../src/ws/index.ts';
import { waitFor as waitUntil } from '../../../test/helpers/wait.ts';

export interface TestServer {
  bus: InMemoryBus;
  gateway: WsGateway;
  server: http.Server;
  url(path: string): string;
  /** Destroys every server-side TCP socket: the client sees an abnormal close (1006). */
  killSockets(): void;
  stop(): Promise<void>;
}

export async function startServer(gw: Partial<WsGatewayOptions> = {}, busOpts: InMemoryBusOptions = {}): Promise<TestServer> {
  const bus = new InMemoryBus(busOpts);
  return { bus, ...(await serveGateway(bus, gw)) };
}

export type ServedGateway = Omit<TestServer, 'bus'>;

/** A gateway on `bus` behind a real HTTP server on a random loopback port; stop() leaves the bus open. */
export async function serveGateway(bus: WsGatewayOptions['bus'], gw: Partial<WsGatewayOptions> = {}): Promise<ServedGateway> {
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const gateway = createWsGateway({ bus, pingIntervalMs: 0, closeGraceMs: 200, ...gw });
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    gateway,
    server,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    killSockets: () => sockets.forEach((s) => s.destroy()),
    async stop() {
      await gateway.close();
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms; rejects naming `what` after `timeoutMs`. */
/** The shared polling helper (test/helpers/wait.ts), checking every 5 ms. */
export const waitFor = (cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> => waitUntil(cond, what, { timeoutMs, everyMs: 5 });

type Msg = ServerMessage & Record<string, any>;

/** A raw protocol client that records every frame. */
export class RawClient {
  readonly messages: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('close', () => this.wake());
    ws.on('error', () => {});
  }

  static open(url: string, opts: ClientOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(url, opts);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers, body })));
      });
      ws.once('error', reject);
    });
  }

  send(msg: object | string): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves once `cond` holds (checked on every frame), rejects after `timeoutMs`. */
  async until(cond: (msgs: Msg[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond(this.messages)) {
      if (Date.now() > deadline) throw new Error(`timed out; last frames: ${JSON.stringify(this.messages.slice(-3)).slice(0, 600)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The first frame matching `pred`, waiting for it if needed. */
  async next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    await this.until((ms) => ms.some(pred), timeoutMs);
    return this.messages.find(pred)!;
  }

  close(): void {
    this.ws.close();
  }
}

/** Expects the upgrade to be refused; returns status and parsed JSON body. */
export async function refused(url: string, opts: ClientOptions = {}): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  try {
    const c = await RawClient.open(url, opts);
    c.close();
  } catch (err) {
    const e = err as { status?: number; body?: string; headers?: http.IncomingHttpHeaders };
    if (e.status) return { status: e.status, body: JSON.parse(e.body!), headers: e.headers! };
    throw err;
  }
  throw new Error('the upgrade was accepted');
}

/** A plausible price-board row; `pad` adds order-book depth to make frames bigger. */
export function makeQuote(symbol: string, n: number, depth = 3): QuoteState {
  const last = 10_000 + (n % 50) * 50;
  const levels = (sign: number) => Array.from({ length: depth }, (_, i) => ({ price: last + sign * (i + 1) * 50, volume: 100 * (i + 1 + (n % 7)) }));
  return {
    symbol,
    exchange: 'HOSE',
    market: 'VN',
    tradingDate: '2024-06-03',
    ts: 1_717_380_000_000 + n,
    reference: 10_000,
    ceiling: 10_700,
    floor: 9_300,
    open: 10_000,
    high: 10_650,
    low: 9_950,
    last,
    lastVolume: 100,
    change: last - 10_000,
    changePct: ((last - 10_000) / 10_000) * 100,
    totalVolume: n * 100,
    totalValue: n * 100 * last,
    buyVolume: n * 50,
    sellVolume: n * 40,
    unknownVolume: n * 10,
    bids: levels(-1),
    asks: levels(1),
    phase: 'continuous',
    halted: false,
    foreign: null,
  };
}

export function makeTrade(symbol: string, n: number): ClassifiedTrade {
  return { id: `${symbol}-${n}`, symbol, ts: 1_717_380_000_000 + n, price: 10_000 + (n % 10) * 50, volume: 100 * (1 + (n % 5)), side: n % 2 ? 'buy' : 'sell', sideSource: 'quote', phase: 'continuous' };
}

/** Publishes rounds of market data, each a quote state and a trade event per symbol; `latest` holds every key's last message. */
export function marketRounds(pub: StreamPublisher, symbols: readonly string[]) {
  const latest: Record<string, BusMessage> = {};
  let n = 0;
  return {
    latest,
    /** Rounds published so far. */
    get count() {
      return n;
    },
    publish(): void {
      n++;
      for (const s of symbols) {
        latest[s] = pub.publish('market', s, 'state', makeQuote(s, n));
        latest[`${s}:trades`] = pub.publish('market', `${s}:trades`, 'event', makeTrade(s, n));
      }
    },
  };
}

/** Asserts per-key contiguity of update frames starting after `start[key]`; returns the last seq per key. */
export function assertContiguous(updates: Array<{ key: string; seq: number; from?: number }>, start: Record<string, number>): Record<string, number> {
  const last = { ...start };
  for (const u of updates) {
    const expected = (last[u.key] ?? 0) + 1;
    if ((u.from ?? u.seq) !== expected) throw new Error(`gap on ${u.key}: expected ${expected}, got from=${u.from} seq=${u.seq}`);
    last[u.key] = u.seq;
  }
  return last;
}
