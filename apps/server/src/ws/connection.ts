/**
 * One client connection on one channel: its subscriptions, the protocol ops it
 * sends, and delivery of bus messages through its bounded Outbox.
 *
 * Ops run one at a time (a subscribe awaits the bus). While a subscribe runs,
 * live messages for this connection are held and replayed afterwards, and
 * every message older than what a snapshot/recovery already covered is
 * dropped, so per-key delivery stays in order without duplicates.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import {
  AppError,
  SYSTEM_ALERTS_KEY,
  WS_CLOSE,
  alertsKey,
  isEventKey,
  tradesKey,
  type Channel,
  type ErrorCode,
  type ErrorDetail,
  type ResetMsg,
  type StreamPos,
  type SubscribeOp,
  type UnsubscribeOp,
} from '@stock-tracker/protocol';
import type { Bus, BusMessage } from '../bus/types.ts';
import { parseClientMessage } from './client-ops.ts';
import { tradingKeys } from '../trading/ws-keys.ts';
import { controlFrame, eventSnapshotFrame, updateFrame } from './frames.ts';
import { Outbox, type SentKind } from './outbox.ts';
import type { AuthUser, ResolvedWsOptions } from './options.ts';

export interface ConnectionContext {
  /** Connection id: the client's X-Request-ID when sane, else generated. Prefix of every request_id. */
  id: string;
  ip: string;
  channel: Channel;
  req: IncomingMessage;
  /** The upgraded socket ws writes to (corked by the host to coalesce writes). */
  socket: Duplex;
  user: AuthUser | null;
}

/** What the gateway provides to its connections. */
export interface ConnectionHost {
  bus: Bus;
  opts: ResolvedWsOptions;
  /** Maintain the gateway's fan-out index for an explicit key. */
  index(conn: WsConnection, key: string, add: boolean): void;
  setWildcard(conn: WsConnection, on: boolean): void;
  subscriptionsChanged(delta: number): void;
  sent(channel: Channel, kind: SentKind): void;
  conflated(channel: Channel): void;
  protocolError(code: ErrorCode): void;
  slowConsumer(conn: WsConnection): void;
  /** About to write to this connection's socket: lets the host coalesce this turn's frames into one write. */
  willWrite(conn: WsConnection): void;
}

/** Ops waiting behind a running one before the socket is paused (a flooding client gets backpressure). */
const MAX_PENDING_OPS = 32;
/** Live messages held during one subscribe op; beyond this the client cannot be served in order. */
const MAX_HELD = 50_000;
const SYMBOL_RE = /^[A-Za-z0-9._\-]{1,20}$/;

const rawText = (data: RawData): string =>
  Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');

export class WsConnection {
  readonly explicit = new Set<string>();
  wildcard = false;
  wildcardTrades = false;
  /** Keys unsubscribed while a wildcard is active. */
  private readonly excluded = new Set<string>();
  /** Last position delivered per key (snapshot, recovery or update). */
  private readonly streams = new Map<string, StreamPos>();
  /**
   * Live messages held while a subscribe runs, in order per key. A state key keeps one entry (its
   * first held seq and its newest message, replayed as one update covering both), like the outbox.
   */
  private held: Map<string, { msg: BusMessage; from: number }> | null = null;
  private heldN = 0;
  /** Frame bytes of `held`: counted with the outbox against queueBytesCap (held messages stay in memory too). */
  private heldBytes = 0;
  /** Subscribed keys whose snapshot/resume read failed: their next live message restarts them. */
  private readonly unprimed = new Set<string>();
  readonly outbox: Outbox;
  alive = true;
  private errors = 0;
  private requests = 0;
  private pendingOps = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Fires when the current user's credential expires. */
  private expiry: NodeJS.Timeout | null = null;
  /** Payload of the last heartbeat ping: only a pong echoing it counts (an unsolicited pong proves nothing). */
  private pingNonce: Buffer | null = null;

  constructor(
    readonly ws: WebSocket,
    readonly ctx: ConnectionContext,
    private readonly host: ConnectionHost,
  ) {
    const channel = ctx.channel;
    this.outbox = new Outbox(
      {
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        send: (data, cb) => {
          host.willWrite(this);
          ws.send(data, { binary: false }, cb);
        },
        ping: (data, cb) => {
          host.willWrite(this);
          ws.ping(data, undefined, cb);
        },
      },
      {
        highWaterBytes: host.opts.highWaterBytes,
        queueBytesCap: host.opts.queueBytesCap,
        maxQueuedSnapshots: host.opts.maxQueuedSnapshots,
        onOverflow: () => host.slowConsumer(this),
        onConflate: () => host.conflated(channel),
        onSent: (kind) => host.sent(channel, kind),
      },
    );
    ws.on('message', (data, isBinary) => this.enqueueOp(data, isBinary));
    ws.on('pong', (data) => {
      if (this.pingNonce && data.equals(this.pingNonce)) this.alive = true;
    });
    ws.on('close', () => this.clearExpiry());
    this.watchExpiry();
  }

  /** Bytes waiting for this client: its outbox plus live messages held while a subscribe runs. */
  get queuedBytes(): number {
    return this.outbox.queuedBytes + this.heldBytes;
  }

  /** Streams this connection keeps a position for (bounded by its subscriptions and the keys that exist). */
  get streamCount(): number {
    return this.streams.size + this.unprimed.size + this.excluded.size;
  }

  /**
   * One heartbeat round. 'dead': the previous ping was not answered; 'stuck':
   * not answered while frames still wait in the queue (the client stopped
   * reading: a slow consumer, closed with 4008); else a new ping is queued
   * behind whatever waits, so its pong proves the client read all of it.
   */
  heartbeat(): 'ok' | 'dead' | 'stuck' {
    if (!this.alive) return this.outbox.size > 0 ? 'stuck' : 'dead';
    this.alive = false;
    this.pingNonce = randomBytes(8);
    this.outbox.ping(this.pingNonce);
    return 'ok';
  }

  /** The user's session ended (logout, password change, reuse): a connection acting for it closes with 4001. */
  revoke(sessionIds: ReadonlySet<string>): boolean {
    const sid = this.ctx.user?.sessionId;
    if (this.closed || sid === undefined || !sessionIds.has(sid)) return false;
    this.ctx.user = null;
    this.outbox.control(
      controlFrame({ type: 'error', code: 'INVALID_TOKEN', message: 'The session has ended; log in again.', request_id: `${this.ctx.id}-${++this.requests}` }),
    );
    this.close(WS_CLOSE.UNAUTHORIZED, 'session ended');
    return true;
  }

  get subscriptionCount(): number {
    return this.explicit.size + (this.wildcard ? 1 : 0);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether a wildcard subscription covers this key. */
  wantsWildcard(key: string): boolean {
    if (!this.wildcard || this.excluded.has(key)) return false;
    return !isEventKey(this.ctx.channel, key) || this.wildcardTrades;
  }

  /** A live bus message for a key this connection is subscribed to. */
  deliver(msg: BusMessage): void {
    if (this.closed) return;
    if (this.held) return this.hold(msg);
    this.forward(msg);
  }

  private hold(msg: BusMessage): void {
    const held = this.held!;
    // Frame Buffers are cached per message and shared with every other receiver: measuring is cheap.
    const bytes = (m: BusMessage) => updateFrame(m).length;
    const id = msg.kind === 'state' ? `s\u0000${msg.key}` : `#${++this.heldN}`;
    const prev = msg.kind === 'state' ? held.get(id) : undefined;
    if (prev && prev.msg.epoch === msg.epoch) {
      this.heldBytes += bytes(msg) - bytes(prev.msg);
      prev.msg = msg;
    } else {
      if (prev) {
        // Another epoch: the old entry keeps its place before the new one.
        held.delete(id);
        held.set(`#${++this.heldN}`, prev);
      }
      held.set(id, { msg, from: msg.seq });
      this.heldBytes += bytes(msg);
    }
    if (held.size > MAX_HELD || this.heldBytes + this.outbox.queuedBytes > this.host.opts.queueBytesCap) this.host.slowConsumer(this);
  }

  /** Delivers a live message; `from` < msg.seq when it stands for a contiguous run from..seq (held state). */
  private forward(msg: BusMessage, from = msg.seq): void {
    if (this.unprimed.delete(msg.key)) return this.restartFrom(msg, 'unknown_position');
    const pos = this.streams.get(msg.key);
    let first = from;
    if (pos && pos.epoch === msg.epoch) {
      if (msg.seq <= pos.seq) return; // covered by a snapshot or recovery already sent
      first = Math.max(from, pos.seq + 1);
      pos.seq = msg.seq;
    } else if (pos && from !== 1) {
      // The stream's epoch changed under a live subscription and its start was missed: start over.
      return this.restartFrom(msg, 'epoch_changed');
    } else {
      this.streams.set(msg.key, { seq: msg.seq, epoch: msg.epoch });
    }
    this.outbox.update(msg, first);
  }

  /** Starts a stream over from a live message: reset, then that message as the snapshot. */
  private restartFrom(msg: BusMessage, reason: ResetMsg['reason']): void {
    this.outbox.dropStream(msg.key);
    this.sendReset(msg.key, reason, msg.epoch);
    this.streams.set(msg.key, { seq: msg.seq, epoch: msg.epoch });
    if (msg.kind === 'state') this.outbox.stateSnapshot(msg);
    else this.outbox.eventSnapshot(msg.key, eventSnapshotFrame(msg.channel, msg.key, msg.seq, msg.epoch, [msg]), msg.channel);
  }

  close(code: number, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.clearExpiry();
    this.held = null;
    this.heldBytes = 0;
    this.outbox.close();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    if (this.host.opts.closeGraceMs >= 0) {
      // A client that does not read never completes the close handshake.
      setTimeout(() => this.ws.terminate(), this.host.opts.closeGraceMs).unref();
    }
  }

  terminate(): void {
    this.closed = true;
    this.clearExpiry();
    this.outbox.close();
    this.ws.terminate();
  }

  // ---------- ops ----------

  private enqueueOp(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (++this.pendingOps > MAX_PENDING_OPS && !this.ws.isPaused) this.ws.pause();
    this.chain = this.chain
      .then(() => this.handle(data, isBinary))
      .catch((err: unknown) => {
        this.host.opts.log.error({ err, conn: this.ctx.id }, 'ws op failed');
        this.error('INTERNAL');
      })
      .finally(() => {
        if (--this.pendingOps === 0 && this.ws.isPaused) this.ws.resume();
      });
  }

  private async handle(data: RawData, isBinary: boolean): Promise<void> {
    if (this.closed) return;
    if (isBinary) return this.error('BAD_REQUEST', 'Binary frames are not supported; send JSON text.');
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) return this.error(parsed.code, parsed.message, parsed.details, parsed.id);
    const msg = parsed.msg;
    switch (msg.op) {
      case 'subscribe':
        return this.subscribe(msg);
      case 'unsubscribe':
        return this.unsubscribe(msg);
      case 'ping':
        return this.outbox.control(controlFrame({ type: 'pong', id: msg.id, ts: Date.now() }));
      case 'auth':
        return this.auth(msg.token, msg.id);
    }
  }

  private error(code: ErrorCode, message?: string, details?: ErrorDetail[], id?: string): void {
    if (this.closed) return;
    this.host.protocolError(code);
    const body = controlFrame({
      type: 'error',
      id,
      code,
      message: message ?? code,
      request_id: `${this.ctx.id}-${++this.requests}`,
      ...(details && details.length > 0 ? { details } : {}),
    });
    this.outbox.control(body);
    if (++this.errors > this.host.opts.maxProtocolErrors) this.close(WS_CLOSE.PROTOCOL_ERROR, 'too many protocol errors');
  }

  private needsUser(): boolean {
    return this.ctx.channel === 'alerts' || this.ctx.channel === 'trading' || this.host.opts.authRequired.includes(this.ctx.channel);
  }

  /**
   * Keys named by `symbols` on this channel. Market symbols expand to the
   * trades key too when `trades` is set; explicit `SYM:trades` keys are
   * accepted (clients re-request a single trades stream after a gap).
   */
  private expand(symbols: string[], trades: boolean): { keys: string[]; bad: ErrorDetail[] } {
    const keys: string[] = [];
    const bad: ErrorDetail[] = [];
    symbols.forEach((s, i) => {
      const [sym, suffix] = s.split(':', 2);
      if (this.ctx.channel === 'market' && suffix === 'trades' && SYMBOL_RE.test(sym)) keys.push(s);
      else if (suffix === undefined && SYMBOL_RE.test(s)) {
        keys.push(s);
        if (trades && this.ctx.channel === 'market') keys.push(tradesKey(s));
      } else bad.push({ path: `/symbols/${i}`, issue: `not a ${this.ctx.channel} key` });
    });
    return { keys: [...new Set(keys)], bad };
  }

  private async subscribe(op: SubscribeOp): Promise<void> {
    const { channel } = this.ctx;
    const user = this.ctx.user;
    if (this.needsUser() && !user) return this.error('UNAUTHORIZED', 'Authenticate first (`auth` op or credentials on the upgrade).', undefined, op.id);
    let wild = !op.symbols || op.symbols.includes('*');
    let keys: string[] = [];
    if (channel === 'alerts') {
      const own = alertsKey(user!.userId);
      const others = (op.symbols ?? []).map((s, i) => ({ s, i })).filter(({ s }) => s !== '*' && s !== own && s !== SYSTEM_ALERTS_KEY);
      if (others.length > 0) {
        const details = others.slice(0, 10).map(({ i }) => ({ path: `/symbols/${i}`, issue: 'only your own alerts stream' }));
        return this.error('FORBIDDEN', `Only ${own} can be subscribed on this connection.`, details, op.id);
      }
      // Notices for every user (stale feed) travel with the user's own alerts; naming one key (after a gap) asks for just that one.
      const named = (op.symbols ?? []).filter((s) => s !== '*');
      keys = named.length > 0 && !(op.symbols ?? []).includes('*') ? [...new Set(named)] : [own, SYSTEM_ALERTS_KEY];
      wild = false;
    } else if (channel === 'trading') {
      // The user's own streams only (trading/ws-keys.ts).
      const r = tradingKeys(user!.userId, op.symbols);
      if (!r.ok) return this.error('FORBIDDEN', 'Only your own trading streams can be subscribed on this connection.', r.details, op.id);
      keys = r.keys;
      wild = false;
    } else if (!wild) {
      const { keys: k, bad } = this.expand(op.symbols!, op.trades === true);
      if (bad.length > 0) return this.error('VALIDATION_FAILED', 'Invalid keys for this channel.', bad.slice(0, 10), op.id);
      keys = k;
    }

    const before = this.subscriptionCount;
    const added = keys.filter((k) => !this.explicit.has(k));
    const after = this.explicit.size + added.length + (this.wildcard || wild ? 1 : 0);
    if (after > this.host.opts.maxSubscriptions) {
      const detail = { path: '/symbols', issue: `limit is ${this.host.opts.maxSubscriptions}, this would make ${after}` };
      return this.error('TOO_MANY_SUBSCRIPTIONS', undefined, [detail], op.id);
    }

    this.held = new Map();
    try {
      for (const k of added) {
        this.explicit.add(k);
        this.host.index(this, k, true);
      }
      for (const k of keys) this.excluded.delete(k);
      if (wild) {
        this.excluded.clear();
        if (op.trades) this.wildcardTrades = true;
        if (!this.wildcard) {
          this.wildcard = true;
          this.host.setWildcard(this, true);
        }
      }
      this.host.subscriptionsChanged(this.subscriptionCount - before);

      // Positions are honoured only for keys this request primes: explicit keys (counted against the
      // limit above) and, under a wildcard, keys that exist on the bus. A `since` key the server does
      // not know is ignored: it cannot open a stream, cost a bus read or stay in this connection's state.
      // At most `maxSubscriptions` positions are resumed; other keys get a plain snapshot.
      let resumable = new Set(keys);
      if (wild) {
        const known = await this.host.bus.keys(channel);
        resumable = new Set(known);
        keys = [...new Set([...keys, ...known])].filter((k) => this.explicit.has(k) || this.wantsWildcard(k));
      }
      const resumed = new Set<string>();
      if (op.since) {
        for (const k of Object.keys(op.since)) {
          if (resumed.size >= this.host.opts.maxSubscriptions) break;
          if (resumable.has(k)) resumed.add(k);
        }
      }
      this.outbox.control(controlFrame({ type: 'subscribed', channel, id: op.id, keys }));
      const sinceOf = (key: string) => (resumed.has(key) ? op.since![key] : undefined);
      // Every plain state snapshot is asked for at once: one bus round trip (see RedisBus.latest), not one per key.
      const snapshots = new Map<string, Promise<BusMessage | null>>();
      for (const key of keys) if (!isEventKey(channel, key) && !sinceOf(key)) snapshots.set(key, this.host.bus.latest(channel, key));
      for (const p of snapshots.values()) p.catch(() => {}); // awaited below; a failure surfaces there, once
      for (const [i, key] of keys.entries()) {
        // Prime at the pace the client reads: a reader that stopped never gets thousands of snapshots built for it.
        if (!(await this.outbox.room()) || this.closed) return;
        try {
          await this.prime(key, sinceOf(key), snapshots.get(key));
        } catch (err) {
          // The bus could not answer (Redis down mid-subscribe). The keys left unprimed stay
          // subscribed and restart explicitly (reset + snapshot) from their next live message,
          // rather than continuing from a position the client never got: no silent seq jump.
          for (const k of keys.slice(i)) this.unprimed.add(k);
          this.host.opts.log.warn({ err, conn: this.ctx.id, channel, unprimed: keys.length - i }, 'ws subscribe: snapshot/resume read failed');
          return this.error('SERVICE_UNAVAILABLE', `Snapshots are unavailable right now; ${keys.length - i} key(s) will start with a reset and a snapshot on their next update.`, undefined, op.id);
        }
      }
    } finally {
      const held = this.held;
      this.held = null;
      this.heldBytes = 0;
      if (held && !this.closed) for (const h of held.values()) this.forward(h.msg, h.from);
    }
  }

  /** First delivery for a key: recovery from history when possible, else (reset +) snapshot. */
  private async prime(key: string, since: StreamPos | undefined, latest?: Promise<BusMessage | null>): Promise<void> {
    const { channel } = this.ctx;
    const bus = this.host.bus;
    this.outbox.dropStream(key); // whatever was queued for this key is superseded
    this.unprimed.delete(key);
    if (since) {
      const head = await bus.head(channel, key);
      let reason: ResetMsg['reason'];
      if (!head) reason = 'unknown_position';
      else if (head.epoch !== since.epoch) reason = 'epoch_changed';
      else if (since.seq > head.seq) reason = 'unknown_position';
      else {
        const missed = await bus.history(channel, key, since.seq, since.epoch);
        if (missed) {
          const to = missed.length > 0 ? missed[missed.length - 1].seq : since.seq;
          this.outbox.control(controlFrame({ type: 'recovered', channel, key, from: since.seq + 1, to, epoch: since.epoch }), key);
          this.streams.set(key, { seq: since.seq, epoch: since.epoch });
          for (const m of missed) this.forward(m);
          return;
        }
        reason = 'history_exceeded';
      }
      this.sendReset(key, reason, head?.epoch ?? (await bus.currentEpoch()) ?? '');
    }
    await this.snapshot(key, latest);
  }

  /** `prefetched`: the state stream's latest message, already asked for (same semantics as reading it now). */
  private async snapshot(key: string, prefetched?: Promise<BusMessage | null>): Promise<void> {
    const { channel } = this.ctx;
    const bus = this.host.bus;
    if (!isEventKey(channel, key)) {
      const latest = await (prefetched ?? bus.latest(channel, key));
      if (!latest) {
        this.streams.delete(key); // no state yet: its first update starts the stream
        return;
      }
      this.streams.set(key, { seq: latest.seq, epoch: latest.epoch });
      this.outbox.stateSnapshot(latest);
      return;
    }
    const recent = this.host.opts.historyEvents > 0 ? await bus.recent(channel, key, this.host.opts.historyEvents) : [];
    const last = recent[recent.length - 1];
    const pos: StreamPos = last
      ? { seq: last.seq, epoch: last.epoch }
      : ((await bus.head(channel, key)) ?? { seq: 0, epoch: (await bus.currentEpoch()) ?? '' });
    this.streams.set(key, { ...pos });
    this.outbox.eventSnapshot(key, eventSnapshotFrame(channel, key, pos.seq, pos.epoch, recent), channel);
  }

  private sendReset(key: string, reason: ResetMsg['reason'], epoch: string): void {
    this.outbox.control(controlFrame({ type: 'reset', channel: this.ctx.channel, key, reason, epoch }), key);
  }

  private unsubscribe(op: UnsubscribeOp): void {
    const before = this.subscriptionCount;
    let removed: string[];
    if (!op.symbols || op.symbols.includes('*')) {
      removed = [...new Set([...this.explicit, ...this.streams.keys()])];
      for (const k of this.explicit) this.host.index(this, k, false);
      this.explicit.clear();
      if (this.wildcard) this.host.setWildcard(this, false);
      this.wildcard = false;
      this.wildcardTrades = false;
      this.excluded.clear();
      this.unprimed.clear();
    } else {
      const { keys, bad } = this.expand(op.symbols, true);
      if (bad.length > 0) return this.error('VALIDATION_FAILED', 'Invalid keys for this channel.', bad.slice(0, 10), op.id);
      removed = keys.filter((k) => this.explicit.has(k) || this.streams.has(k));
      for (const k of keys) {
        this.unprimed.delete(k);
        if (this.explicit.delete(k)) this.host.index(this, k, false);
        // Only keys the wildcard actually delivered are remembered, so this set stays bounded.
        if (this.wildcard && this.streams.has(k)) this.excluded.add(k);
      }
    }
    for (const k of removed) {
      this.streams.delete(k);
      this.unprimed.delete(k);
      this.outbox.dropStream(k);
    }
    this.host.subscriptionsChanged(this.subscriptionCount - before);
    this.outbox.control(controlFrame({ type: 'unsubscribed', channel: this.ctx.channel, id: op.id, keys: removed }));
  }

  private async auth(token: string, id: string | undefined): Promise<void> {
    const authenticate = this.host.opts.authenticate;
    if (!authenticate) return this.error('BAD_REQUEST', 'Authentication is not enabled on this server.', undefined, id);
    let user: AuthUser | null;
    try {
      user = await authenticate(this.ctx.req, token);
    } catch (err) {
      if (!(err instanceof AppError && (err.status === 401 || err.status === 403))) {
        // The token could not be checked (session store down): not the client's fault. Keep the
        // connection and its current identity; the client retries the `auth` op later.
        this.host.opts.log.warn({ err, conn: this.ctx.id }, 'ws auth: token verification failed');
        return this.error('SERVICE_UNAVAILABLE', 'The token cannot be verified right now; retry shortly.', undefined, id);
      }
      user = null;
    }
    if (!user) {
      this.error('INVALID_TOKEN', undefined, undefined, id);
      this.close(WS_CLOSE.UNAUTHORIZED, 'invalid token');
      return;
    }
    const previous = this.ctx.user;
    if ((this.ctx.channel === 'alerts' || this.ctx.channel === 'trading') && previous && previous.userId !== user.userId) {
      // Another user on the same socket must not keep receiving the previous user's alerts.
      this.unsubscribe({ op: 'unsubscribe' });
    }
    this.ctx.user = user;
    this.watchExpiry();
  }

  // ---------- credential expiry ----------

  /** (Re)arms the timer for the current user's credential; a fresh `auth` op moves it. */
  private watchExpiry(): void {
    this.clearExpiry();
    const at = this.ctx.user?.expiresAt;
    if (at === undefined || this.closed) return;
    // setTimeout holds at most 2^31-1 ms; a later expiry re-arms when that fires.
    const wait = Math.min(2 ** 31 - 1, Math.max(0, at - Date.now()));
    this.expiry = setTimeout(() => (Date.now() >= at ? this.expired() : this.watchExpiry()), wait);
    this.expiry.unref();
  }

  private clearExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
  }

  /** The credential expired without a fresh `auth` op: drop the user; a channel that needs one closes with 4001. */
  private expired(): void {
    this.expiry = null;
    if (this.closed) return;
    this.ctx.user = null;
    if (!this.needsUser()) return; // public data keeps flowing to an anonymous connection
    this.outbox.control(
      controlFrame({ type: 'error', code: 'INVALID_TOKEN', message: 'The access token expired; reconnect with a fresh one.', request_id: `${this.ctx.id}-${++this.requests}` }),
    );
    this.close(WS_CLOSE.UNAUTHORIZED, 'token expired');
  }
}
