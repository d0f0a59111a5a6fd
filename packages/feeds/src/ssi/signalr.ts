/**
 * A minimal client for classic ASP.NET SignalR (protocol 1.5) over the `ws`
 * package: what SSI's FastConnect stream speaks. No maintained Node client
 * speaks it (`@microsoft/signalr` is ASP.NET Core SignalR, a different wire
 * protocol), so the handful of steps are done here by hand:
 *
 *   GET  {base}/negotiate?clientProtocol=1.5&connectionData=[{"name":hub}]  → ConnectionToken, KeepAliveTimeout
 *   WS   {base}/connect?transport=webSockets&clientProtocol=1.5&connectionToken=…&connectionData=…
 *        ← {"C":…,"S":1,"M":[]}            (init)
 *   GET  {base}/start?transport=webSockets&…  → {"Response":"started"}
 *   →    {"H":hub,"M":method,"A":[args],"I":n}   (invoke)       ← {"I":"n","R":result} or {"I":"n","E":error}
 *   ←    {"C":cursor,"M":[{"H":hub,"M":method,"A":[args]}]}  (client method calls)
 *   ←    {}                                 (keep-alive)
 *
 * The bearer token goes in the `Authorization` header of every step. When no
 * frame (keep-alives included) arrives within KeepAliveTimeout, the socket is
 * considered dead and closed.
 */
import WebSocket from 'ws';
import type { Clock } from '../feed.ts';
import { after } from '../live/timers.ts';

export const SIGNALR_PROTOCOL = '1.5';

export class SignalRError extends Error {
  constructor(
    message: string,
    /** HTTP status of the negotiate/start/upgrade answer, when that is what failed. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SignalRError';
  }
}

export interface HubMessage {
  hub: string;
  method: string;
  args: unknown[];
}

export interface SignalRHandlers {
  /** Every frame, keep-alives included (feeds use it for health). */
  onFrame?(): void;
  onHubMessage(msg: HubMessage): void;
  /** A frame that is not JSON or not a SignalR message. */
  onMalformed?(kind: 'not_json' | 'unknown_format', text: string): void;
  /** The connection ended (once), for whatever reason; not called after close() from our side. */
  onClose(reason: string): void;
}

export interface SignalROptions {
  /** e.g. `https://fc-data.ssi.com.vn/v2.0/signalr` */
  url: string;
  hub: string;
  headers?: Record<string, string>;
  clock: Clock;
  /** Give up on a step (negotiate, upgrade, init, start, invoke) after this long. Default 15 s. */
  stepTimeoutMs?: number;
  /** Used when negotiate does not say. Default 20 s. */
  keepAliveTimeoutMs?: number;
  fetch?: typeof fetch;
}

interface Negotiation {
  ConnectionToken?: unknown;
  ProtocolVersion?: unknown;
  KeepAliveTimeout?: unknown;
}

const base = (url: string) => url.replace(/\/+$/, '');
const toWs = (url: string) => url.replace(/^http(s?):/i, 'ws$1:');

export class SignalRConnection {
  private ws: WebSocket | null = null;
  private nextId = 0;
  private readonly pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void; cancel(): void }>();
  private lastFrameAt = 0;
  private stopWatchdog: (() => void) | null = null;
  private closed = false;
  private keepAliveMs: number;

  private constructor(
    private readonly o: SignalROptions,
    private readonly h: SignalRHandlers,
  ) {
    this.keepAliveMs = o.keepAliveTimeoutMs ?? 20_000;
  }

  /** Negotiates, connects and starts; resolves once hub methods can be invoked. */
  static async open(o: SignalROptions, h: SignalRHandlers): Promise<SignalRConnection> {
    const c = new SignalRConnection(o, h);
    try {
      await c.connect();
    } catch (err) {
      c.shutdown();
      throw err;
    }
    return c;
  }

  private get stepMs(): number {
    return this.o.stepTimeoutMs ?? 15_000;
  }

  private query(token: string, extra: Record<string, string> = {}): string {
    return new URLSearchParams({
      transport: 'webSockets',
      clientProtocol: SIGNALR_PROTOCOL,
      connectionToken: token,
      connectionData: JSON.stringify([{ name: this.o.hub }]),
      ...extra,
    }).toString();
  }

  private async http(path: string, query: string): Promise<unknown> {
    const url = `${base(this.o.url)}/${path}?${query}`;
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(url, { headers: { accept: 'application/json', ...this.o.headers }, signal: AbortSignal.timeout(this.stepMs) });
    } catch (err) {
      const e = err as { cause?: { code?: string }; message?: string; name?: string };
      throw new SignalRError(`${path} failed: ${e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message)}`);
    }
    const text = await res.text();
    if (!res.ok) throw new SignalRError(`${path} answered HTTP ${res.status}${text ? `: ${text.slice(0, 120)}` : ''}`, res.status);
    try {
      return JSON.parse(text);
    } catch {
      throw new SignalRError(`${path} answered with a body that is not JSON`);
    }
  }

  private async connect(): Promise<void> {
    const connectionData = JSON.stringify([{ name: this.o.hub }]);
    const neg = (await this.http('negotiate', new URLSearchParams({ clientProtocol: SIGNALR_PROTOCOL, connectionData }).toString())) as Negotiation;
    if (typeof neg?.ConnectionToken !== 'string' || neg.ConnectionToken === '') throw new SignalRError('negotiate answered without a ConnectionToken');
    const token = neg.ConnectionToken;
    const ka = Number(neg.KeepAliveTimeout);
    if (Number.isFinite(ka) && ka > 0) this.keepAliveMs = ka * 1000;

    const url = `${toWs(base(this.o.url))}/connect?${this.query(token, { tid: String(Math.floor(Math.random() * 11)) })}`;
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: this.o.headers, handshakeTimeout: this.stepMs });
      this.ws = ws;
      let initialized = false;
      const cancel = after(this.o.clock, this.stepMs, () => fail(new SignalRError('no init message from the server')));
      const fail = (e: Error) => {
        cancel();
        if (!initialized) reject(e);
      };
      ws.on('unexpected-response', (_req, res) => {
        fail(new SignalRError(`connect answered HTTP ${res.statusCode}`, res.statusCode));
        res.resume();
        ws.terminate();
      });
      ws.on('error', (err) => fail(new SignalRError(`connect failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
      ws.on('close', (code, reason) => {
        fail(new SignalRError(`socket closed before init (${code})`));
        if (initialized) this.lost(`socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
      });
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
        const init = this.frame(text);
        if (init && !initialized) {
          initialized = true;
          cancel();
          resolve();
        }
      });
    });
    const started = (await this.http('start', this.query(token))) as { Response?: unknown };
    if (started?.Response !== 'started') throw new SignalRError(`start answered ${JSON.stringify(started).slice(0, 80)}`);
    this.lastFrameAt = this.o.clock.now();
    this.stopWatchdog = this.watch();
  }

  /** Closes the socket (no onClose callback) and fails pending invocations. */
  close(): void {
    this.shutdown();
  }

  /** Calls a hub method; resolves with its result (`R`), rejects with its error (`E`). */
  invoke(method: string, args: unknown[]): Promise<unknown> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.closed) return Promise.reject(new SignalRError('not connected'));
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const cancel = after(this.o.clock, this.stepMs, () => {
        this.pending.delete(id);
        reject(new SignalRError(`${method}: no answer within ${this.stepMs} ms`));
      });
      this.pending.set(id, { resolve, reject, cancel });
      ws.send(JSON.stringify({ H: this.o.hub, M: method, A: args, I: Number(id) }));
    });
  }

  /** Handles one frame; returns true when it is the init message. */
  private frame(text: string): boolean {
    this.lastFrameAt = this.o.clock.now();
    this.h.onFrame?.();
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.h.onMalformed?.('not_json', text);
      return false;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.h.onMalformed?.('unknown_format', text);
      return false;
    }
    const m = msg as Record<string, unknown>;
    if (m['I'] !== undefined && m['M'] === undefined) {
      const p = this.pending.get(String(m['I']));
      if (p) {
        this.pending.delete(String(m['I']));
        p.cancel();
        if (m['E'] !== undefined && m['E'] !== null) p.reject(new SignalRError(`hub error: ${String(m['E'])}`));
        else p.resolve(m['R']);
      }
      return false;
    }
    if (Array.isArray(m['M'])) {
      for (const call of m['M']) {
        if (typeof call !== 'object' || call === null) {
          this.h.onMalformed?.('unknown_format', JSON.stringify(call));
          continue;
        }
        const c = call as Record<string, unknown>;
        this.h.onHubMessage({ hub: String(c['H'] ?? ''), method: String(c['M'] ?? ''), args: Array.isArray(c['A']) ? c['A'] : [] });
      }
    }
    // T:1 is the server asking the client to reconnect (e.g. it is shutting down).
    if (m['T'] === 1) this.lost('server asked to reconnect');
    return m['S'] === 1;
  }

  private watch(): () => void {
    const check = Math.max(50, Math.floor(this.keepAliveMs / 4));
    const h = this.o.clock.setInterval(() => {
      if (this.o.clock.now() - this.lastFrameAt > this.keepAliveMs) this.lost(`no message for ${this.keepAliveMs} ms (keep-alive timeout)`);
    }, check);
    return () => this.o.clock.clearInterval(h);
  }

  private lost(reason: string): void {
    if (this.closed) return;
    this.shutdown();
    this.h.onClose(reason);
  }

  private shutdown(): void {
    this.closed = true;
    this.stopWatchdog?.();
    this.stopWatchdog = null;
    for (const p of this.pending.values()) {
      p.cancel();
      p.reject(new SignalRError('connection closed'));
    }
    this.pending.clear();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.removeAllListeners('message');
      ws.on('error', () => {});
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    }
  }
}
