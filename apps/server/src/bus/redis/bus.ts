/**
 * Gateway side of the Redis Streams bus: the same `Bus` the WebSocket gateway
 * reads in the embedded role, fed from Redis (written by RedisStreamPublisher,
 * see publisher.ts and keys.ts beside it for the layout).
 *
 * Live messages: one blocking reader per process (`XREAD BLOCK` over the four
 * per-channel live streams), whatever the number of connections or keys.
 * Snapshots and resumes read Redis (`latest`, `recent`, `history`), so every
 * replica answers the same and a replica restart loses nothing.
 *
 * Delivery. Per stream, messages are handed to subscribers in seq order
 * without duplicates. The reader remembers the last seq it delivered per
 * stream; a hole (the live stream was trimmed past this reader, e.g. after a
 * long disconnection) is filled from the stream's history before the message
 * that revealed it. After a reconnect the reader continues from the last entry
 * id it delivered; if entries after it were trimmed meanwhile it catches up
 * every stream from its history (or its latest state) first.
 *
 * Redis down: the bus stays up, `ready()` is false, reads reject quickly
 * (no offline queue) and the reader reconnects with backoff.
 */
import type { Redis } from 'ioredis';
import type { Channel, StreamPos } from '@stock-tracker/protocol';
import { CHANNELS } from '@stock-tracker/protocol';
import type { Bus, BusHandler, BusMessage } from '../types.ts';
import { closeClient, createRedisClient, errorMessage, silentLogger, whenReady, type BusLogger, type RedisConnectionOptions } from './connection.ts';
import { compareIds, fieldsOf, parseEntry, parseHead, parseLatest, redisBusKeys, type RedisBusKeys } from './keys.ts';
import { HISTORY, runScript } from './scripts.ts';

export * from './publisher.ts';
export type { Fence, FenceProvider } from './fence.ts';
export { redisBusKeys, type RedisBusKeys } from './keys.ts';
export type { BusLogger, RedisConnectionOptions } from './connection.ts';

/** Keys per HMGET of a batched `latest` read. */
const LATEST_BATCH = 1_000;

export interface RedisBusOptions extends RedisConnectionOptions {
  /** Key prefix, as given to the publisher. Default `st:`. */
  prefix?: string;
  /** XREAD BLOCK timeout; also bounds how long close() waits for the reader. Default 1000 ms. */
  blockMs?: number;
  /** Entries per XREAD per channel. Default 1000. */
  readCount?: number;
  /** How long a snapshot/history read waits for a (re)connecting Redis before failing. Default 1000 ms. */
  connectWaitMs?: number;
  /** A throwing subscriber must not stop the reader; its error lands here. */
  onHandlerError?: (err: unknown) => void;
  log?: BusLogger;
}

export interface RedisBusStatus {
  ready: boolean;
  /** Command connection (snapshots, history) and reader connection. */
  connected: boolean;
  readerConnected: boolean;
  /** Epoch in Redis when the reader last synchronised. */
  epoch: string | null;
  delivered: number;
  duplicates: number;
  /** Holes in a live stream filled from history. */
  gapsFilled: number;
  /** Holes history no longer covered (subscribers see the seq jump; clients re-snapshot). */
  gapsUnfilled: number;
  malformed: number;
  reconnects: number;
  lastError: string | null;
}

interface XInfo {
  lastGeneratedId: string;
  /** Oldest entry still in the stream; null when empty. */
  firstId: string | null;
}

/**
 * Whether entries after `cursor` may have been trimmed away. Trimming does
 * not update `max-deleted-entry-id`, so this is judged from the oldest
 * remaining entry: past the cursor means at least the cursor's own entry is
 * gone, and possibly some after it (conservative: catching up is idempotent).
 */
function trimmedPast(i: XInfo, cursor: string): boolean {
  return i.firstId !== null ? compareIds(i.firstId, cursor) > 0 : compareIds(i.lastGeneratedId, cursor) > 0;
}

const streamId = (channel: string, key: string) => `${channel}\u0000${key}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

export class RedisBus implements Bus {
  private readonly k: RedisBusKeys;
  private readonly blockMs: number;
  private readonly readCount: number;
  private readonly connectWaitMs: number;
  private readonly log: BusLogger;
  private readonly onHandlerError: (err: unknown) => void;
  private readonly cmd: Redis;
  private readonly reader: Redis;
  private readonly liveKeys: string[];
  private readonly channelByLive: Map<string, Channel>;

  private readonly handlers = new Set<BusHandler>();
  /** Last live entry id delivered per channel; undefined until the first sync. */
  private cursors = new Map<Channel, string>();
  /** Last seq delivered per stream. */
  private readonly delivered = new Map<string, StreamPos>();
  private started = false;
  private closed = false;
  private isReady = false;
  private loopDone: Promise<void> | null = null;
  private knownEpoch: string | null = null;
  private readyWaiters: Array<() => void> = [];
  private stats = { delivered: 0, duplicates: 0, gapsFilled: 0, gapsUnfilled: 0, malformed: 0, reconnects: 0 };
  private lastError: string | null = null;
  /** `latest` reads waiting for this turn's batch, per channel and key. */
  private latestWanted = new Map<Channel, Map<string, Array<{ resolve: (m: BusMessage | null) => void; reject: (err: unknown) => void }>>>();
  private latestScheduled = false;

  constructor(opts: RedisBusOptions) {
    this.k = redisBusKeys(opts.prefix ?? 'st:');
    this.blockMs = opts.blockMs ?? 1_000;
    this.readCount = opts.readCount ?? 1_000;
    this.connectWaitMs = opts.connectWaitMs ?? 1_000;
    this.log = opts.log ?? silentLogger;
    this.onHandlerError = opts.onHandlerError ?? ((err) => this.log.error({ err }, 'bus handler failed'));
    const onError = (err: Error) => {
      this.lastError = err.message;
    };
    // The reader's socket timeout must outlast one blocking read.
    this.cmd = createRedisClient(opts, 'st-bus', onError);
    this.reader = createRedisClient({ ...opts, socketTimeoutMs: this.blockMs + (opts.socketTimeoutMs ?? 5_000) }, 'st-bus-reader', onError);
    this.liveKeys = CHANNELS.map((c) => this.k.live(c));
    this.channelByLive = new Map(CHANNELS.map((c) => [this.k.live(c), c]));
  }

  /** Starts the reader. Does not wait for Redis: see waitReady(). */
  start(): this {
    if (!this.started && !this.closed) {
      this.started = true;
      this.loopDone = this.readLoop();
    }
    return this;
  }

  /** true while the reader is connected and synchronised. */
  ready(): boolean {
    return this.isReady;
  }

  /** Resolves true once ready, false after timeoutMs. */
  waitReady(timeoutMs = 5_000): Promise<boolean> {
    if (this.isReady) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.readyWaiters.push(done);
    });
  }

  status(): RedisBusStatus {
    return {
      ready: this.isReady,
      connected: this.cmd.status === 'ready',
      readerConnected: this.reader.status === 'ready',
      epoch: this.knownEpoch,
      ...this.stats,
      lastError: this.lastError,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.setReady(false);
    // Dropping the reader's socket ends a pending XREAD at once.
    this.reader.disconnect(false);
    await this.loopDone;
    await closeClient(this.cmd);
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  // ---------- snapshot and resume reads ----------

  /** The command client, once connected: a short reconnect is waited out, an outage fails fast. */
  private async client(): Promise<Redis> {
    if (this.cmd.status !== 'ready' && !(await whenReady(this.cmd, this.connectWaitMs))) {
      throw new Error(`redis bus unavailable (${this.cmd.status}${this.lastError ? `: ${this.lastError}` : ''})`);
    }
    return this.cmd;
  }

  /**
   * Batched: every `latest` asked for in one event-loop turn (a subscribe to
   * all symbols, or a reconnect storm of many connections) is answered by one
   * HMGET per channel, and each key is parsed once, so connections snapshotting
   * the same key share one message object (and with it one encoded frame,
   * see ws/frames.ts). The read is issued after every caller asked, so each
   * caller's "live messages after this point are mine" invariant still holds.
   */
  latest(channel: Channel, key: string): Promise<BusMessage | null> {
    return new Promise((resolve, reject) => {
      let byKey = this.latestWanted.get(channel);
      if (!byKey) this.latestWanted.set(channel, (byKey = new Map()));
      const waiters = byKey.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else byKey.set(key, [{ resolve, reject }]);
      if (!this.latestScheduled) {
        this.latestScheduled = true;
        setImmediate(() => void this.readLatest());
      }
    });
  }

  private async readLatest(): Promise<void> {
    const wanted = this.latestWanted;
    this.latestWanted = new Map();
    this.latestScheduled = false;
    for (const [channel, byKey] of wanted) {
      const keys = [...byKey.keys()];
      for (let i = 0; i < keys.length; i += LATEST_BATCH) {
        const chunk = keys.slice(i, i + LATEST_BATCH);
        try {
          const raw = await (await this.client()).hmget(this.k.latest(channel), ...chunk);
          chunk.forEach((key, j) => {
            const msg = parseLatest(channel, key, raw[j]);
            for (const w of byKey.get(key)!) w.resolve(msg);
          });
        } catch (err) {
          for (const key of chunk) for (const w of byKey.get(key)!) w.reject(err);
        }
      }
    }
  }

  async recent(channel: Channel, key: string, n: number): Promise<BusMessage[]> {
    if (!(n > 0)) return [];
    const entries = (await (await this.client()).xrevrange(this.k.stream(channel, key), '+', '-', 'COUNT', Math.floor(n))) as [string, string[]][];
    const out: BusMessage[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const m = parseEntry(channel, key, entries[i][1]);
      if (m) out.push(m);
      else this.stats.malformed++;
    }
    return out;
  }

  async history(channel: Channel, key: string, afterSeq: number, epoch: string): Promise<BusMessage[] | null> {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) return null;
    const reply = (await runScript(await this.client(), HISTORY, [this.k.head(channel), this.k.stream(channel, key)], [key, afterSeq, epoch])) as [string, [string, string[]][]?];
    if (reply[0] !== 'OK') return null;
    const entries = reply[1] ?? [];
    const out: BusMessage[] = [];
    // Newest first from XREVRANGE; must be exactly afterSeq+1.. in this epoch.
    for (let i = entries.length - 1; i >= 0; i--) {
      const m = parseEntry(channel, key, entries[i][1]);
      if (!m || m.epoch !== epoch || m.seq !== afterSeq + 1 + out.length) return null;
      out.push(m);
    }
    return out;
  }

  async head(channel: Channel, key: string): Promise<StreamPos | null> {
    const h = parseHead(await (await this.client()).hget(this.k.head(channel), key));
    return h ? { seq: h.seq, epoch: h.epoch } : null;
  }

  async keys(channel: Channel): Promise<string[]> {
    return (await this.client()).hkeys(this.k.head(channel));
  }

  async currentEpoch(): Promise<string | null> {
    return (await this.client()).get(this.k.epoch);
  }

  // ---------- live reader ----------

  private setReady(ready: boolean): void {
    if (this.isReady === ready) return;
    this.isReady = ready;
    this.log.info({ ready }, ready ? 'redis bus ready' : 'redis bus not ready');
    if (ready) {
      const ws = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of ws) w();
    }
  }

  private async readLoop(): Promise<void> {
    let needSync = true;
    while (!this.closed) {
      try {
        if (needSync) {
          if (!(await whenReady(this.reader, this.blockMs))) continue;
          await this.resync();
          needSync = false;
          this.setReady(true);
        }
        const ids = CHANNELS.map((c) => this.cursors.get(c) ?? '$');
        const res = (await this.reader.xread('COUNT', this.readCount, 'BLOCK', this.blockMs, 'STREAMS', ...this.liveKeys, ...ids)) as
          | [string, [string, string[]][]][]
          | null;
        if (this.closed) break;
        if (!res) continue;
        let behind = false;
        for (const [liveKey, entries] of res) {
          const channel = this.channelByLive.get(liveKey);
          if (!channel) continue;
          if (entries.length >= this.readCount) behind = true;
          for (const [id, flat] of entries) {
            this.cursors.set(channel, id);
            const msg = parseEntry(channel, undefined, flat);
            if (!msg) {
              this.stats.malformed++;
              continue;
            }
            const fill = this.offer(msg);
            if (fill) await fill;
          }
        }
        // A reader that fell behind may have been overtaken by trimming: check before reading on.
        if (behind) await this.catchUpTrimmed();
      } catch (err) {
        if (this.closed) break;
        this.lastError = errorMessage(err);
        this.setReady(false);
        if (!needSync) this.stats.reconnects++;
        needSync = true;
        await sleep(50);
      }
    }
  }

  /** Delivers a live message; returns a promise when a hole must be filled first. */
  private offer(msg: BusMessage): Promise<void> | undefined {
    const id = streamId(msg.channel, msg.key);
    const d = this.delivered.get(id);
    if (d && d.epoch === msg.epoch) {
      if (msg.seq <= d.seq) {
        this.stats.duplicates++;
        return undefined;
      }
      if (msg.seq > d.seq + 1) return this.fill(msg.channel, msg.key, d, msg.seq - 1).then(() => this.emit(msg));
    }
    this.emit(msg);
    return undefined;
  }

  private emit(msg: BusMessage): void {
    const id = streamId(msg.channel, msg.key);
    const d = this.delivered.get(id);
    if (d && d.epoch === msg.epoch && msg.seq <= d.seq) {
      this.stats.duplicates++;
      return;
    }
    this.delivered.set(id, { seq: msg.seq, epoch: msg.epoch });
    this.stats.delivered++;
    for (const h of this.handlers) {
      try {
        h(msg);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  /** Delivers d.seq+1..upTo from history; false when history no longer covers it. */
  private async fill(channel: Channel, key: string, d: StreamPos, upTo: number): Promise<boolean> {
    const missed = await this.history(channel, key, d.seq, d.epoch);
    if (!missed || missed.length === 0 || missed[0].seq !== d.seq + 1) {
      this.stats.gapsUnfilled++;
      this.log.warn({ channel, key, after: d.seq, upTo }, 'redis bus: live gap not covered by history');
      return false;
    }
    for (const m of missed) if (m.seq <= upTo) this.emit(m);
    this.stats.gapsFilled++;
    return true;
  }

  private async xinfo(channels: readonly Channel[]): Promise<{ epoch: string | null; info: Map<Channel, XInfo | null> }> {
    const m = (await this.client()).multi();
    m.get(this.k.epoch);
    for (const c of channels) m.call('XINFO', 'STREAM', this.k.live(c));
    const res = await m.exec();
    if (!res) throw new Error('MULTI aborted');
    if (res[0][0]) throw res[0][0];
    const info = new Map<Channel, XInfo | null>();
    channels.forEach((c, i) => {
      const [err, raw] = res[1 + i];
      if (err) {
        if (!/no such key/i.test(errorMessage(err))) throw err;
        info.set(c, null);
        return;
      }
      info.set(c, parseXInfo(raw));
    });
    return { epoch: res[0][1] as string | null, info };
  }

  /** After (re)connecting: position the cursors and catch up what trimming took from under them. */
  private async resync(): Promise<void> {
    const { epoch, info } = await this.xinfo(CHANNELS);
    if (this.knownEpoch !== null && epoch !== this.knownEpoch) this.log.warn({ from: this.knownEpoch, to: epoch }, 'redis bus: epoch changed');
    this.knownEpoch = epoch;
    for (const c of CHANNELS) {
      const i = info.get(c) ?? null;
      const cursor = this.cursors.get(c);
      if (cursor === undefined) {
        // First start: live from here on; snapshots come from latest/recent.
        this.cursors.set(c, i?.lastGeneratedId ?? '0-0');
        continue;
      }
      if (!i) {
        // The stream is gone (Redis lost its data): read its next incarnation from the start.
        this.cursors.set(c, '0-0');
        continue;
      }
      if (compareIds(i.lastGeneratedId, cursor) < 0) this.cursors.set(c, '0-0'); // recreated behind our cursor
      if (trimmedPast(i, this.cursors.get(c)!)) await this.catchUp(c);
    }
  }

  private async catchUpTrimmed(): Promise<void> {
    const { info } = await this.xinfo(CHANNELS);
    for (const c of CHANNELS) {
      const i = info.get(c);
      const cursor = this.cursors.get(c);
      if (i && cursor !== undefined && trimmedPast(i, cursor)) await this.catchUp(c);
    }
  }

  /**
   * Entries after our cursor were trimmed away: bring every stream of the
   * channel up to its head from history (or its latest state), then continue
   * the live stream from the position read atomically with those heads.
   */
  private async catchUp(channel: Channel): Promise<void> {
    const m = (await this.client()).multi();
    m.hgetall(this.k.head(channel));
    m.call('XINFO', 'STREAM', this.k.live(channel));
    const res = await m.exec();
    if (!res) throw new Error('MULTI aborted');
    if (res[0][0]) throw res[0][0];
    const heads = res[0][1] as Record<string, string>;
    const last = res[1][0] ? '0-0' : parseXInfo(res[1][1]).lastGeneratedId;
    this.log.warn({ channel, streams: Object.keys(heads).length }, 'redis bus: live stream trimmed past this reader; catching up from history');
    for (const [key, raw] of Object.entries(heads)) {
      const h = parseHead(raw);
      if (!h || h.seq === 0) continue;
      const d = this.delivered.get(streamId(channel, key));
      if (d && d.epoch === h.epoch) {
        if (h.seq <= d.seq) continue;
        if (await this.fill(channel, key, d, h.seq)) continue;
      } else if (d && h.kind === 'event') {
        // New epoch of an event stream: its history from seq 1 when still there.
        const all = await this.history(channel, key, 0, h.epoch);
        if (all) for (const msg of all) if (msg.seq <= h.seq) this.emit(msg);
        continue;
      }
      if (h.kind === 'state') {
        const latest = await this.latest(channel, key);
        if (latest && latest.epoch === h.epoch && latest.seq <= h.seq) this.emit(latest);
      }
    }
    this.cursors.set(channel, last);
  }
}

function parseXInfo(raw: unknown): XInfo {
  const flat = raw as unknown[];
  let lastGeneratedId = '0-0';
  let firstId: string | null = null;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === 'last-generated-id') lastGeneratedId = String(flat[i + 1]);
    else if (flat[i] === 'first-entry') {
      const e = flat[i + 1] as [string, unknown] | null;
      firstId = Array.isArray(e) ? String(e[0]) : null;
    }
  }
  return { lastGeneratedId, firstId };
}

export function createRedisBus(opts: RedisBusOptions): RedisBus {
  return new RedisBus(opts).start();
}
