/**
 * Collector side of the Redis Streams bus.
 *
 * `publish()` never blocks: it numbers the message (seq per stream, under the
 * current epoch), serializes its data once and queues it. One worker loop
 * sends the queue in order, in batches (one EVALSHA per batch, see
 * scripts.ts PUBLISH); while a batch is in flight new messages accumulate, so
 * batches grow with load and latency stays at one round trip when idle.
 *
 * Life cycle (driven by the leader lock, or by `activate()` alone for a
 * single collector):
 *   standby     not leading: messages are dropped (state is still cached)
 *   activating  reading the epoch and every stream's head from Redis; new
 *               messages queue and are renumbered once the heads are known
 *   leading     flushing
 *   suspended   lease lapsed or Redis unreachable while leading: messages
 *               queue (bounded) and go out in order if this collector leads
 *               again and nobody published in between
 *
 * Epochs. The epoch lives in Redis (`<p>epoch`). A new leader continues it
 * (seq goes on from each stream's head). A new epoch starts when
 *   - Redis has no epoch (first start, or Redis restarted without its data),
 *   - the queue overflowed while Redis was unreachable (messages were
 *     dropped: continuing the old numbering would hide that), or
 *   - a stream's head in Redis is behind what this publisher numbered
 *     (part of Redis' data was lost).
 * Starting one restarts every state stream at seq 1 with its latest state,
 * so gateways answer resumes with `reset` + snapshot instead of a silent gap.
 *
 * The publisher keeps the last state of every state stream it has seen; after
 * a new epoch or a takeover it publishes each one whose data differs from
 * what Redis holds (reconciliation), so the board is complete again at once.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Channel, ChannelData } from '@stock-tracker/protocol';
import { CHANNELS } from '@stock-tracker/protocol';
import type { BusMessage, StreamKind, StreamPublisher } from '../types.ts';
import { closeClient, createRedisClient, errorMessage, silentLogger, type BusLogger, type RedisConnectionOptions } from './connection.ts';
import type { Fence, FenceProvider } from './fence.ts';
import { kindCode, parseHead, redisBusKeys, type RedisBusKeys } from './keys.ts';
import { PUBLISH, ROLLOVER, TRIM_AGE, runScript } from './scripts.ts';

export interface RedisHistoryOptions {
  /** Key prefix; one deployment (or one test) per prefix. Default `st:`. */
  prefix?: string;
  /** Messages kept per state stream (resume window). Default 200. */
  historyState?: number;
  /** Messages kept per event stream (resume window, snapshot source). Default 1000. */
  historyEvents?: number;
  /** Messages kept per channel in the live stream the gateways read. Default 100,000. */
  liveMaxLen?: number;
  /** Entries older than this leave the history and live streams (latest states stay). 0 disables. Default 15 min. */
  maxAgeMs?: number;
  /** How often age trimming runs (leader only). Default 10 s. */
  trimIntervalMs?: number;
  /** `approx` (`MAXLEN ~`, cheap: whole radix nodes, may keep ~100 more) or `exact`. Default approx. */
  trim?: 'approx' | 'exact';
}

export type PublisherState = 'standby' | 'activating' | 'leading' | 'suspended' | 'closed';
export type EpochReason = 'first' | 'redis_lost_data' | 'overflow' | 'gap';

export interface RedisStreamPublisherOptions extends RedisConnectionOptions, RedisHistoryOptions {
  /** Messages per EVALSHA. Default 500. */
  batchSize?: number;
  /** Messages queued while Redis is unreachable; past this the queue is dropped and a new epoch follows. Default 200,000. */
  maxBuffered?: number;
  /** Pause before retrying after a Redis error. Default 200 ms. */
  retryMs?: number;
  /** Epoch generator (tests). */
  newId?: () => string;
  log?: BusLogger;
  onEpoch?: (epoch: string, reason: EpochReason) => void;
  /** Redis refused a write: another holder owns the lock (holder) or nobody does (''). */
  onFenced?: (holder: string) => void;
}

export interface PublisherStatus {
  state: PublisherState;
  epoch: string;
  connected: boolean;
  /** Messages queued, not yet acknowledged by Redis. */
  buffered: number;
  /** Messages acknowledged by Redis. */
  published: number;
  /** Messages never sent: published while standby, or dropped by an overflow or a lost lease. */
  dropped: number;
  overflows: number;
  epochsStarted: number;
  fenced: number;
  lastError: string | null;
}

export const REDIS_BUS_DEFAULTS = {
  prefix: 'st:',
  historyState: 200,
  historyEvents: 1_000,
  liveMaxLen: 100_000,
  maxAgeMs: 15 * 60_000,
  trimIntervalMs: 10_000,
  batchSize: 500,
  maxBuffered: 200_000,
  retryMs: 200,
} as const;

/** Mutable on purpose: renumbering (new epoch, takeover) updates the object publish() returned. */
interface Pending {
  channel: Channel;
  key: string;
  kind: StreamKind;
  seq: number;
  epoch: string;
  data: ChannelData[Channel];
  dataJson: string;
}

const streamId = (channel: string, key: string) => `${channel}\u0000${key}`;
const randomEpoch = () => randomBytes(9).toString('base64url');
const NO_LOCK_KEY = '\u0000no-lock';

export class RedisStreamPublisher implements StreamPublisher {
  private readonly redis: Redis;
  private readonly keys: RedisBusKeys;
  private readonly o: Required<Omit<RedisHistoryOptions, 'prefix'>> & { batchSize: number; maxBuffered: number; retryMs: number };
  private readonly trimOp: '~' | '=';
  private readonly newId: () => string;
  private readonly log: BusLogger;
  private readonly onEpoch?: RedisStreamPublisherOptions['onEpoch'];
  private readonly onFenced?: RedisStreamPublisherOptions['onFenced'];

  private stateName: PublisherState = 'standby';
  private currentEpoch = '';
  private fenceProvider: FenceProvider | null = null;
  /** Last seq assigned per stream (including queued messages). */
  private seqs = new Map<string, number>();
  /** Last seq Redis acknowledged per stream (in the current epoch), to notice Redis losing data. */
  private acked = new Map<string, number>();
  /** Queue: entries [qHead, queue.length) are pending, oldest first. */
  private queue: Pending[] = [];
  private qHead = 0;
  /** Entries before this index were queued before the current activation (held from an earlier lease). */
  private heldUntil = 0;
  /** Bumped whenever the queue is replaced, so an in-flight batch never acknowledges entries of another queue. */
  private generation = 0;
  private rolloverPending: EpochReason | null = null;
  /** Last data of every state stream seen, for reconciliation. */
  private readonly states = new Map<string, { channel: Channel; key: string; json: string }>();
  private lastTrimAt = 0;

  private wake: (() => void) | null = null;
  private sleepTimer: ReturnType<typeof setTimeout> | null = null;
  private loopDone: Promise<void> | null = null;
  private activationWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private drainWaiters: Array<() => void> = [];

  private published = 0;
  private dropped = 0;
  private overflows = 0;
  private epochsStarted = 0;
  private fencedCount = 0;
  private lastError: string | null = null;

  constructor(opts: RedisStreamPublisherOptions) {
    this.keys = redisBusKeys(opts.prefix ?? REDIS_BUS_DEFAULTS.prefix);
    this.o = {
      historyState: opts.historyState ?? REDIS_BUS_DEFAULTS.historyState,
      historyEvents: opts.historyEvents ?? REDIS_BUS_DEFAULTS.historyEvents,
      liveMaxLen: opts.liveMaxLen ?? REDIS_BUS_DEFAULTS.liveMaxLen,
      maxAgeMs: opts.maxAgeMs ?? REDIS_BUS_DEFAULTS.maxAgeMs,
      trimIntervalMs: opts.trimIntervalMs ?? REDIS_BUS_DEFAULTS.trimIntervalMs,
      trim: opts.trim ?? 'approx',
      batchSize: opts.batchSize ?? REDIS_BUS_DEFAULTS.batchSize,
      maxBuffered: opts.maxBuffered ?? REDIS_BUS_DEFAULTS.maxBuffered,
      retryMs: opts.retryMs ?? REDIS_BUS_DEFAULTS.retryMs,
    };
    for (const [name, v] of Object.entries({ historyState: this.o.historyState, historyEvents: this.o.historyEvents, liveMaxLen: this.o.liveMaxLen, batchSize: this.o.batchSize, maxBuffered: this.o.maxBuffered })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
    this.trimOp = this.o.trim === 'exact' ? '=' : '~';
    this.newId = opts.newId ?? randomEpoch;
    this.log = opts.log ?? silentLogger;
    this.onEpoch = opts.onEpoch;
    this.onFenced = opts.onFenced;
    this.redis = createRedisClient(opts, 'st-publisher', (err) => {
      this.lastError = err.message;
    });
    this.redis.on('ready', () => this.kick());
    this.loopDone = this.loop();
  }

  /** The epoch messages are numbered under ('' before the first activation). */
  get epoch(): string {
    return this.currentEpoch;
  }

  get state(): PublisherState {
    return this.stateName;
  }

  /** A getter, so TypeScript does not narrow it away across awaits. */
  private get isClosed(): boolean {
    return this.stateName === 'closed';
  }

  private get pendingCount(): number {
    return this.queue.length - this.qHead;
  }

  publish<C extends Channel>(channel: C, key: string, kind: StreamKind, data: ChannelData[C]): BusMessage<C> {
    const dataJson = JSON.stringify(data);
    const id = streamId(channel, key);
    if (kind === 'state') this.states.set(id, { channel, key, json: dataJson });
    if (this.stateName === 'standby' || this.stateName === 'closed') {
      this.dropped++;
      return { channel, key, kind, seq: 0, epoch: this.currentEpoch, data, dataJson };
    }
    if (this.pendingCount >= this.o.maxBuffered) this.overflow();
    const seq = (this.seqs.get(id) ?? 0) + 1;
    this.seqs.set(id, seq);
    const msg: Pending = { channel, key, kind, seq, epoch: this.currentEpoch, data, dataJson };
    this.queue.push(msg);
    if (this.stateName === 'leading') this.kick();
    return msg as BusMessage<C>;
  }

  /**
   * Start (or resume) publishing. With a fence provider (the leader lock),
   * every batch carries its token and Redis rejects it once the lock moved on.
   * Resolves when the publisher leads; rejects if it is deactivated or closed first.
   */
  activate(fence: FenceProvider | null = null): Promise<void> {
    if (this.stateName === 'closed') return Promise.reject(new Error('publisher closed'));
    this.fenceProvider = fence;
    if (this.stateName === 'leading') return Promise.resolve();
    if (this.stateName !== 'activating') {
      // Everything queued so far was queued under an earlier lease (held).
      this.heldUntil = this.queue.length;
      this.stateName = 'activating';
    }
    const p = new Promise<void>((resolve, reject) => this.activationWaiters.push({ resolve, reject }));
    p.catch(() => {}); // a caller that does not await activation must not cause an unhandled rejection
    this.kick();
    return p;
  }

  /**
   * Stop publishing at once. `hold` keeps the queue (lease lapsed because Redis
   * was unreachable: it may go out later if nobody else published); `drop`
   * discards it (another collector leads and covers this period).
   */
  deactivate(mode: 'hold' | 'drop'): void {
    if (this.stateName === 'closed') return;
    this.stateName = mode === 'hold' ? 'suspended' : 'standby';
    if (mode === 'drop') {
      this.dropQueue();
      // Whatever this queue lost, another leader covered: no reason for a new epoch any more.
      this.rolloverPending = null;
    }
    this.settleActivation(new Error(`publisher deactivated (${mode})`));
  }

  /** Resolves once every queued message is acknowledged (or false after timeoutMs). */
  drained(timeoutMs = 5_000): Promise<boolean> {
    if (this.pendingCount === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  status(): PublisherStatus {
    return {
      state: this.stateName,
      epoch: this.currentEpoch,
      connected: this.redis.status === 'ready',
      buffered: this.pendingCount,
      published: this.published,
      dropped: this.dropped,
      overflows: this.overflows,
      epochsStarted: this.epochsStarted,
      fenced: this.fencedCount,
      lastError: this.lastError,
    };
  }

  /** Stops the loop and closes the connection; queued messages are not sent (call drained() first). */
  async close(): Promise<void> {
    if (this.stateName === 'closed') return;
    this.stateName = 'closed';
    this.settleActivation(new Error('publisher closed'));
    this.kick();
    await this.loopDone;
    await closeClient(this.redis);
  }

  // ---------- worker loop ----------

  private kick(): void {
    const w = this.wake;
    this.wake = null;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      if (Number.isFinite(ms)) {
        this.sleepTimer = setTimeout(() => this.kick(), ms);
        this.sleepTimer.unref?.();
      }
    });
  }

  private async loop(): Promise<void> {
    while (!this.isClosed) {
      let delay: number;
      try {
        delay = await this.step();
      } catch (err) {
        const message = errorMessage(err);
        // Once per distinct error: an outage retries every retryMs and must not flood the log.
        if (message !== this.lastError) this.log.warn({ err: message, state: this.stateName }, 'redis bus: publisher error; retrying');
        this.lastError = message;
        delay = this.o.retryMs;
      }
      if (this.isClosed) break;
      await this.sleep(delay);
    }
  }

  /** One unit of work; returns how long to wait before the next (Infinity: until kicked). */
  private async step(): Promise<number> {
    if (this.stateName === 'activating' || this.stateName === 'leading') {
      if (this.redis.status !== 'ready') return Infinity; // the 'ready' event kicks
      const fence = this.fence();
      // Lease not valid right now: send nothing. Either the lock confirms a late
      // renewal and we go on, or it reports the loss and deactivates us.
      if (fence === undefined) return this.o.retryMs;
      if (this.stateName === 'activating') {
        await this.sync(fence);
        return 0;
      }
      if (this.rolloverPending) {
        await this.rollover(this.rolloverPending, fence);
        return 0;
      }
      const now = Date.now();
      if (this.o.maxAgeMs > 0 && now - this.lastTrimAt >= this.o.trimIntervalMs) {
        this.lastTrimAt = now;
        await runScript(this.redis, TRIM_AGE, [], [this.keys.prefix, this.o.maxAgeMs, this.trimOp, ...CHANNELS]);
      }
      if (this.pendingCount > 0) {
        await this.flushBatch(fence);
        return 0;
      }
      this.notifyDrained();
      return this.o.maxAgeMs > 0 ? Math.max(1, this.o.trimIntervalMs - (Date.now() - this.lastTrimAt)) : Infinity;
    }
    return Infinity;
  }

  /** null: no fencing; undefined: fencing configured but the lease is not valid now. */
  private fence(): Fence | null | undefined {
    if (!this.fenceProvider) return null;
    return this.fenceProvider.currentFence() ?? undefined;
  }

  private fenceArgs(fence: Fence | null): { lockKey: string; token: string } {
    return fence ? { lockKey: fence.key, token: fence.token } : { lockKey: this.keys.prefix + NO_LOCK_KEY, token: '' };
  }

  private async flushBatch(fence: Fence | null): Promise<void> {
    const gen = this.generation;
    const state = this.stateName;
    const end = Math.min(this.queue.length, this.qHead + this.o.batchSize);
    const args: (string | number)[] = [];
    for (let i = this.qHead; i < end; i++) {
      const m = this.queue[i];
      args.push(m.channel, m.key, kindCode(m.kind), m.seq, m.dataJson);
    }
    const { lockKey, token } = this.fenceArgs(fence);
    const reply = (await runScript(this.redis, PUBLISH, [this.keys.epoch, lockKey], [
      this.keys.prefix,
      this.currentEpoch,
      token,
      this.o.liveMaxLen,
      this.o.historyState,
      this.o.historyEvents,
      this.trimOp,
      end - this.qHead,
      ...args,
    ])) as [string, ...unknown[]];
    if (gen !== this.generation) return; // the queue was dropped meanwhile
    if (reply[0] === 'OK') {
      this.ack(Number(reply[1]));
      return;
    }
    if (state !== this.stateName) return; // deactivated meanwhile: the refusal no longer matters
    switch (reply[0]) {
      case 'FENCED':
        this.fenced(String(reply[1] ?? ''));
        return;
      case 'EPOCH': {
        const current = String(reply[1] ?? '');
        if (current === '') this.rolloverPending = 'redis_lost_data';
        else {
          // Another publisher started its own epoch: it owns the streams now.
          this.log.error({ epoch: this.currentEpoch, current }, 'redis bus: another publisher owns the streams; standing by');
          this.fenced(current);
        }
        return;
      }
      case 'GAP':
        this.ack(Number(reply[1]));
        this.log.warn({ channel: reply[2], key: reply[3], head: reply[4] }, 'redis bus: stream head behind the publisher; starting a new epoch');
        this.rolloverPending = 'gap';
        return;
      default:
        throw new Error(`unexpected publish reply ${JSON.stringify(reply).slice(0, 100)}`);
    }
  }

  private ack(n: number): void {
    for (let i = this.qHead; i < this.qHead + n && i < this.queue.length; i++) {
      const m = this.queue[i];
      this.acked.set(streamId(m.channel, m.key), m.seq);
    }
    this.qHead += n;
    this.published += n;
    if (this.qHead > 4096 && this.qHead * 2 > this.queue.length) {
      // Compact the consumed prefix (indices shift, the held mark with them).
      this.queue = this.queue.slice(this.qHead);
      this.heldUntil = Math.max(0, this.heldUntil - this.qHead);
      this.qHead = 0;
    }
    if (this.pendingCount === 0) this.notifyDrained();
  }

  private fenced(holder: string): void {
    this.fencedCount++;
    this.log.warn({ holder }, 'redis bus: write fenced; this collector no longer leads');
    // Nobody holds the lock (e.g. Redis restarted): keep the queue for our next lease.
    this.deactivate(holder === '' ? 'hold' : 'drop');
    this.onFenced?.(holder);
  }

  private overflow(): void {
    this.overflows++;
    this.log.error({ dropped: this.pendingCount }, 'redis bus: publish queue overflow; dropping it, a new epoch follows');
    this.dropQueue();
    this.rolloverPending = 'overflow';
  }

  private dropQueue(): void {
    this.dropped += this.pendingCount;
    this.queue = [];
    this.qHead = 0;
    this.heldUntil = 0;
    this.generation++;
    this.notifyDrained();
  }

  private notifyDrained(): void {
    if (this.pendingCount !== 0) return;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  }

  private settleActivation(err: Error | null): void {
    const ws = this.activationWaiters;
    this.activationWaiters = [];
    for (const w of ws) err ? w.reject(err) : w.resolve();
  }

  // ---------- activation, epochs, reconciliation ----------

  /** Reads epoch, heads and latest states in one round trip. */
  private async readRedisState(fence: Fence | null): Promise<{ holder: string | null; epoch: string; heads: Map<string, number>; latest: Map<string, string> }> {
    const m = this.redis.multi();
    m.get(fence ? fence.key : this.keys.prefix + NO_LOCK_KEY);
    m.get(this.keys.epoch);
    for (const c of CHANNELS) m.hgetall(this.keys.head(c));
    for (const c of CHANNELS) m.hgetall(this.keys.latest(c));
    const res = await m.exec();
    if (!res) throw new Error('MULTI aborted');
    for (const [err] of res) if (err) throw err;
    const epoch = (res[1][1] as string | null) ?? '';
    const heads = new Map<string, number>();
    const latest = new Map<string, string>();
    CHANNELS.forEach((c, i) => {
      for (const [key, raw] of Object.entries(res[2 + i][1] as Record<string, string>)) {
        const h = parseHead(raw);
        if (h && h.epoch === epoch) heads.set(streamId(c, key), h.seq);
      }
      for (const [key, raw] of Object.entries(res[2 + CHANNELS.length + i][1] as Record<string, string>)) {
        const b = raw.indexOf('|', raw.indexOf('|') + 1);
        if (b > 0) latest.set(streamId(c, key), raw.slice(b + 1));
      }
    });
    return { holder: res[0][1] as string | null, epoch, heads, latest };
  }

  private async sync(fence: Fence | null): Promise<void> {
    const r = await this.readRedisState(fence);
    if (this.stateName !== 'activating') return;
    if (fence && r.holder !== fence.token) {
      this.fenced(r.holder ?? '');
      return;
    }
    if (r.epoch === '') return this.rollover(this.currentEpoch === '' ? 'first' : 'redis_lost_data', fence);
    if (this.rolloverPending) return this.rollover(this.rolloverPending, fence);
    // Same epoch but Redis holds less than it acknowledged to us (restored from a snapshot or an AOF that missed
    // its last fsync): continuing would reuse seqs subscribers have already seen with other data.
    if (r.epoch === this.currentEpoch && this.lostAcknowledged(r.heads)) return this.rollover('redis_lost_data', fence);

    // Continue the epoch in Redis. Held messages (queued under an earlier lease)
    // go out only if Redis is exactly where we left it; otherwise another
    // leader covered that period and they are dropped.
    let counters = new Map(r.heads);
    let keepHeld = r.epoch === this.currentEpoch;
    for (let i = this.qHead; keepHeld && i < this.heldUntil; i++) {
      const m = this.queue[i];
      const id = streamId(m.channel, m.key);
      const expected = (counters.get(id) ?? 0) + 1;
      if (m.seq !== expected) keepHeld = false;
      counters.set(id, expected);
    }
    if (!keepHeld && this.heldUntil > this.qHead) {
      this.dropped += this.heldUntil - this.qHead;
      this.log.info({ dropped: this.heldUntil - this.qHead }, 'redis bus: dropping messages held from an earlier lease (another leader published)');
      this.qHead = this.heldUntil;
    }
    counters = new Map(r.heads);
    this.currentEpoch = r.epoch;
    this.renumber(counters);
    this.reconcile(r.latest);
    this.lead();
  }

  private async rollover(reason: EpochReason, fence: Fence | null): Promise<void> {
    const epoch = this.newId();
    const { lockKey, token } = this.fenceArgs(fence);
    const reply = (await runScript(this.redis, ROLLOVER, [this.keys.epoch, lockKey], [
      this.keys.prefix,
      token,
      epoch,
      this.o.liveMaxLen,
      this.o.historyState,
      this.trimOp,
      ...CHANNELS,
    ])) as [string, unknown];
    if (reply[0] === 'FENCED') {
      this.fenced(String(reply[1] ?? ''));
      return;
    }
    const r = await this.readRedisState(fence);
    this.currentEpoch = epoch;
    this.rolloverPending = null;
    this.epochsStarted++;
    this.log.warn({ epoch, reason }, 'redis bus: new epoch');
    // Everything still queued is newer than what Redis holds: it goes out under the new epoch.
    this.renumber(r.epoch === epoch ? r.heads : new Map());
    this.reconcile(r.latest);
    if (this.stateName === 'activating') this.lead();
    this.onEpoch?.(epoch, reason);
  }

  private lead(): void {
    this.stateName = 'leading';
    this.heldUntil = this.qHead;
    this.settleActivation(null);
  }

  /** Whether some stream's head in Redis is behind what Redis acknowledged to this publisher. */
  private lostAcknowledged(heads: Map<string, number>): boolean {
    for (const [id, seq] of this.acked) if ((heads.get(id) ?? 0) < seq) return true;
    return false;
  }

  /** Renumbers the queue from the given heads under the current epoch. */
  private renumber(heads: Map<string, number>): void {
    this.seqs = new Map(heads);
    this.acked = new Map(heads);
    for (let i = this.qHead; i < this.queue.length; i++) {
      const m = this.queue[i];
      const id = streamId(m.channel, m.key);
      m.seq = (this.seqs.get(id) ?? 0) + 1;
      m.epoch = this.currentEpoch;
      this.seqs.set(id, m.seq);
    }
  }

  /** Queues the cached state of every state stream whose data Redis does not hold (and that nothing queued will replace). */
  private reconcile(latest: Map<string, string>): void {
    const queued = new Set<string>();
    for (let i = this.qHead; i < this.queue.length; i++) queued.add(streamId(this.queue[i].channel, this.queue[i].key));
    let n = 0;
    for (const [id, s] of this.states) {
      if (queued.has(id) || latest.get(id) === s.json) continue;
      const seq = (this.seqs.get(id) ?? 0) + 1;
      this.seqs.set(id, seq);
      this.queue.push({ channel: s.channel, key: s.key, kind: 'state', seq, epoch: this.currentEpoch, data: JSON.parse(s.json), dataJson: s.json });
      n++;
    }
    if (n > 0) this.log.info({ republished: n }, 'redis bus: republished states Redis did not hold');
  }
}
