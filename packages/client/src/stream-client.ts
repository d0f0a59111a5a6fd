/**
 * Typed WebSocket client for one channel (/ws/market, /ws/foreign, ...),
 * for browsers and Node. Keeps its subscriptions across reconnects, resumes
 * every stream with `since`, drops duplicates and detects gaps (then asks for
 * a fresh snapshot of that key). The lifecycle is the pure machine in
 * reconnect.ts; this class performs its effects.
 */
import type {
  ClientMessage,
  RecoveredMsg,
  ResetMsg,
  ServerMessage,
  SnapshotMsg,
  StreamPos,
  SubscribeOp,
  UpdateMsg,
  WsErrorMsg,
} from '@stock-tracker/protocol';
import { tradesKey, tradesKeySymbol } from '@stock-tracker/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { initialMachineState, step, type ConnectionState, type Effect, type MachineEvent, type MachineState } from './reconnect.ts';
import { StreamPositions, type Gap } from './positions.ts';

/** The part of the WHATWG WebSocket API the client uses (the browser global and `ws` both provide it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface StreamClientOptions {
  /** e.g. `ws://host/ws/market` */
  url: string;
  /** WebSocket implementation; defaults to the global one (browsers, Node 22). Node 20: pass `ws`. */
  WebSocket?: typeof WebSocket | unknown;
  /** Subscribed on every (re)connect. */
  symbols?: string[] | '*';
  /** market: also the trades stream of the subscribed symbols. */
  trades?: boolean;
  backoff?: BackoffOptions;
  /** Source of jitter; injectable for deterministic tests. */
  random?: () => number;
  /** Access token sent in an `auth` op after each connect (alerts, or deployments that require it). */
  token?: () => string | null | Promise<string | null>;
}

export interface ClientEvents {
  snapshot: SnapshotMsg;
  update: UpdateMsg;
  state: ConnectionState;
  reset: ResetMsg;
  recovered: RecoveredMsg;
  error: WsErrorMsg;
  gap: Gap & { channel: string };
}

const OPEN = 1;

export class StreamClient {
  private machine: MachineState = initialMachineState;
  private ws: WebSocketLike | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Map<keyof ClientEvents, Set<(v: never) => void>>();
  private readonly pos = new StreamPositions();
  /** Keys waiting for a fresh snapshot after a gap: their updates are dropped meanwhile. */
  private readonly awaitingSnapshot = new Set<string>();
  // desired subscriptions, replayed on every connect
  private wildcard = false;
  private wildcardTrades = false;
  private readonly symbols = new Map<string, boolean>();
  private readonly excluded = new Set<string>();
  // resume bookkeeping for the current connection
  private readonly pendingOps = new Map<string, string[]>();
  private readonly pendingResume = new Set<string>();
  private anyReset = false;
  private connectedOnce = false;
  /** The current socket has been sent the subscriptions: later changes go out immediately. */
  private synced = false;
  private nextId = 0;

  constructor(private readonly opts: StreamClientOptions) {
    if (opts.symbols === '*') {
      this.wildcard = true;
      this.wildcardTrades = opts.trades === true;
    } else for (const s of opts.symbols ?? []) this.symbols.set(s, opts.trades === true);
  }

  get state(): ConnectionState {
    return this.machine.status;
  }

  /** Last seq/epoch per key: what is sent as `since` on reconnect. */
  positions(): Record<string, StreamPos> {
    return this.pos.toRecord();
  }

  connect(): void {
    this.dispatch({ type: 'start' });
  }

  close(): void {
    this.dispatch({ type: 'stop' });
  }

  on<E extends keyof ClientEvents>(event: E, fn: (v: ClientEvents[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as (v: never) => void);
    return () => {
      set.delete(fn as (v: never) => void);
    };
  }

  subscribe(symbols: string[] | '*', opts: { trades?: boolean } = {}): void {
    const trades = opts.trades ?? this.opts.trades ?? false;
    if (symbols === '*') {
      this.wildcard = true;
      this.wildcardTrades ||= trades;
      this.excluded.clear();
    } else {
      for (const s of symbols) {
        this.symbols.set(s, (this.symbols.get(s) ?? false) || trades);
        this.excluded.delete(s);
      }
    }
    if (this.isLive()) this.send({ op: 'subscribe', id: this.newId(), symbols: symbols === '*' ? ['*'] : symbols, trades });
  }

  unsubscribe(symbols: string[]): void {
    for (const s of symbols) {
      this.symbols.delete(s);
      if (this.wildcard) this.excluded.add(s);
      for (const k of [s, tradesKey(s)]) {
        this.pos.delete(k);
        this.awaitingSnapshot.delete(k);
      }
    }
    if (this.isLive()) this.send({ op: 'unsubscribe', id: this.newId(), symbols });
  }

  // ---------- machine ----------

  private dispatch(ev: MachineEvent): void {
    const before = this.machine.status;
    const [next, effects] = step(this.machine, ev, (attempt) => backoffDelay(attempt, this.opts.backoff, this.opts.random));
    this.machine = next;
    for (const e of effects) this.perform(e);
    if (next.status !== before) this.emit('state', next.status);
  }

  private perform(e: Effect): void {
    switch (e.type) {
      case 'open':
        return this.open();
      case 'subscribe':
        return void this.resubscribe();
      case 'schedule-retry':
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.dispatch({ type: 'retry-due' });
        }, e.delayMs);
        return;
      case 'cancel-retry':
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = null;
        return;
      case 'close-socket': {
        const ws = this.ws;
        this.ws = null;
        if (ws) {
          ws.onopen = ws.onmessage = ws.onclose = null;
          // Not null: closing a socket still CONNECTING makes the Node `ws` package emit an
          // 'error' event, which with no listener would be thrown as an uncaught exception.
          ws.onerror = () => {};
          try {
            ws.close(1000, 'client closed');
          } catch {
            /* already closing */
          }
        }
        return;
      }
    }
  }

  private open(): void {
    const Ctor = (this.opts.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WebSocketConstructor | undefined;
    if (!Ctor) throw new Error('StreamClient: no WebSocket implementation; pass options.WebSocket (e.g. the `ws` package on Node 20)');
    let ws: WebSocketLike;
    try {
      ws = new Ctor(this.opts.url);
    } catch {
      // e.g. a transient DNS/URL failure: treat like a dropped connection and back off.
      queueMicrotask(() => this.dispatch({ type: 'dropped' }));
      return;
    }
    this.ws = ws;
    this.synced = false;
    ws.onopen = () => {
      if (this.ws === ws) this.dispatch({ type: 'opened' });
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onMessage(ev.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.dispatch({ type: 'dropped' });
    };
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  private isLive(): boolean {
    return this.synced && this.ws !== null && this.ws.readyState === OPEN;
  }

  private newId(): string {
    return `c${++this.nextId}`;
  }

  private send(op: ClientMessage): void {
    if (this.ws && this.ws.readyState === OPEN) this.ws.send(JSON.stringify(op));
  }

  /** Whether a key belongs to the desired subscriptions (positions of others are not resumed). */
  private wanted(key: string): boolean {
    if (this.symbols.has(key)) return true;
    const sym = tradesKeySymbol(key);
    if (sym !== null) {
      return this.symbols.get(sym) === true || (this.wildcard && this.wildcardTrades && !this.excluded.has(sym));
    }
    return this.wildcard && !this.excluded.has(key);
  }

  /**
   * Sends a fresh token on the open connection. Call it after the access
   * token was refreshed: the server closes an authenticated channel with 4001
   * when the token it knows expires.
   */
  async reauthenticate(): Promise<void> {
    const ws = this.ws;
    if (!this.opts.token || !ws || ws.readyState !== OPEN) return;
    let token: string | null = null;
    try {
      token = await this.opts.token();
    } catch {
      return;
    }
    if (token && this.ws === ws) this.send({ op: 'auth', token });
  }

  /** After (re)connecting: authenticate, then replay the subscriptions with `since` for every known key. */
  private async resubscribe(): Promise<void> {
    const ws = this.ws;
    this.pendingOps.clear();
    this.pendingResume.clear();
    this.awaitingSnapshot.clear();
    this.anyReset = false;
    for (const k of this.pos.keys()) if (!this.wanted(k)) this.pos.delete(k);
    if (this.opts.token) {
      let token: string | null = null;
      try {
        token = await this.opts.token();
      } catch {
        token = null;
      }
      if (this.ws !== ws) return; // dropped while fetching the token
      if (token) this.send({ op: 'auth', token });
    }
    const since = this.pos.toRecord();
    const ops: SubscribeOp[] = [];
    if (this.wildcard) ops.push({ op: 'subscribe', id: this.newId(), symbols: ['*'], trades: this.wildcardTrades });
    const withTrades = [...this.symbols].filter(([, t]) => t).map(([s]) => s);
    const plain = [...this.symbols].filter(([, t]) => !t).map(([s]) => s);
    if (withTrades.length > 0) ops.push({ op: 'subscribe', id: this.newId(), symbols: withTrades, trades: true });
    if (plain.length > 0) ops.push({ op: 'subscribe', id: this.newId(), symbols: plain });
    // Each resumed key is sent once, with the first op that covers it.
    const assigned = new Set<string>();
    for (const op of ops) {
      const covers = (k: string) => {
        const sym = tradesKeySymbol(k);
        return op.symbols![0] === '*' ? sym === null || op.trades === true : op.symbols!.includes(k) || (op.trades === true && sym !== null && op.symbols!.includes(sym));
      };
      const mine = Object.keys(since).filter((k) => !assigned.has(k) && covers(k));
      mine.forEach((k) => assigned.add(k));
      if (mine.length > 0) op.since = Object.fromEntries(mine.map((k) => [k, since[k]]));
      this.pendingOps.set(op.id!, mine);
      for (const k of mine) this.pendingResume.add(k);
      this.send(op);
    }
    if (this.wildcard && this.excluded.size > 0) this.send({ op: 'unsubscribe', id: this.newId(), symbols: [...this.excluded] });
    this.synced = true;
    this.maybeReady();
  }

  private maybeReady(): void {
    if (this.state !== 'connecting' && this.state !== 'reconnecting') return;
    if (this.pendingOps.size > 0 || this.pendingResume.size > 0) return;
    const outcome = !this.connectedOnce ? 'live' : this.anyReset ? 'reset' : 'resumed';
    this.connectedOnce = true;
    this.dispatch({ type: 'ready', outcome });
  }

  // ---------- messages ----------

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: ServerMessage;
    try {
      msg = JSON.parse(data) as ServerMessage;
    } catch {
      return; // not ours to crash on; the server only sends JSON
    }
    switch (msg.type) {
      case 'snapshot':
        this.pos.snapshot(msg);
        this.awaitingSnapshot.delete(msg.key);
        return this.emit('snapshot', msg);
      case 'update':
        return this.onUpdate(msg);
      case 'recovered':
        this.resolved(msg.key, false);
        return this.emit('recovered', msg);
      case 'reset':
        this.pos.delete(msg.key);
        this.resolved(msg.key, true);
        return this.emit('reset', msg);
      case 'subscribed': {
        const expected = msg.id !== undefined ? this.pendingOps.get(msg.id) : undefined;
        if (expected) {
          this.pendingOps.delete(msg.id!);
          const answered = new Set(msg.keys);
          for (const k of expected) if (!answered.has(k)) this.pendingResume.delete(k);
          this.maybeReady();
        }
        return;
      }
      case 'error': {
        const expected = msg.id !== undefined ? this.pendingOps.get(msg.id) : undefined;
        if (expected) {
          this.pendingOps.delete(msg.id!);
          for (const k of expected) this.pendingResume.delete(k);
        }
        this.emit('error', msg);
        return this.maybeReady();
      }
      default:
        return; // pong, unsubscribed
    }
  }

  private resolved(key: string, reset: boolean): void {
    if (!this.pendingResume.delete(key)) return;
    if (reset) this.anyReset = true;
    this.maybeReady();
  }

  private onUpdate(msg: UpdateMsg): void {
    if (this.awaitingSnapshot.has(msg.key)) return;
    const verdict = this.pos.update(msg);
    if (verdict === 'duplicate') return;
    if (verdict === 'gap') {
      this.emit('gap', { ...this.pos.gapOf(msg), channel: msg.channel });
      this.awaitingSnapshot.add(msg.key);
      this.send({ op: 'subscribe', id: this.newId(), symbols: [msg.key] });
      return;
    }
    this.emit('update', msg);
  }

  private emit<E extends keyof ClientEvents>(event: E, value: ClientEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as (v: ClientEvents[E]) => void)(value);
      } catch (err) {
        console.error(`StreamClient ${event} listener failed`, err);
      }
    }
  }
}
