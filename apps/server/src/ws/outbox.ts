/**
 * Per-connection send queue with bounded memory.
 *
 * While the socket keeps up (its buffered bytes stay under `highWaterBytes`)
 * frames are written straight through. Otherwise they wait here:
 * - state streams keep ONE slot per key: a newer update replaces the queued
 *   one and the slot remembers `from`, the first seq it stands for; a queued
 *   snapshot absorbs later updates (a snapshot resets the client's position);
 * - event snapshots keep one slot per key as well, at most
 *   `maxQueuedSnapshots` of them;
 * - event updates, control frames and heartbeat pings queue in order.
 *
 * EVERY queued entry counts its frame size towards `queueBytesCap`: a state
 * slot at the size of the frame it will send, an event snapshot at its full
 * size (these are built per connection, so they are the dominant cost of a
 * reader that stopped reading), a ping at its payload. Past the cap, or past
 * the snapshot-slot bound, `onOverflow` fires (the gateway closes with 4008).
 * So what one connection holds is at most its socket buffer (high-water mark
 * plus one frame) plus `queueBytesCap` plus one frame, whatever it subscribed.
 *
 * The heartbeat ping goes through the queue too: it leaves only after what was
 * queued before it, so its pong proves the client read all of that. A queue
 * that makes no progress (no frame handed to the kernel) is visible through
 * `stalledMs`, which the gateway bounds whatever pongs arrive.
 */
import type { BusMessage } from '../bus/types.ts';
import { conflatedUpdateFrame, stateSnapshotFrame, updateFrame } from './frames.ts';

export interface OutboxSink {
  readonly bufferedAmount: number;
  send(data: string | Buffer, cb: (err?: Error) => void): void;
  /** A WebSocket ping control frame (heartbeat). */
  ping?(data: Buffer, cb: (err?: Error) => void): void;
}

export type SentKind = 'update' | 'snapshot' | 'control';

export interface OutboxOptions {
  highWaterBytes: number;
  /** Bytes of everything queued (slots, snapshots, events, control, pings) before `onOverflow`. */
  queueBytesCap: number;
  /** Event snapshot slots queued at once before `onOverflow`. Default: unbounded (the byte cap still applies). */
  maxQueuedSnapshots?: number;
  onOverflow: () => void;
  /** A queued state update was replaced by a newer one. */
  onConflate?: (msg: BusMessage) => void;
  onSent?: (kind: SentKind, channel: string | undefined) => void;
  /** Clock for `stalledMs` (tests). Default Date.now. */
  now?: () => number;
}

type Entry =
  | { t: 'state'; key: string; msg: BusMessage; from?: number; snapshot: boolean; bytes: number }
  | { t: 'frame'; key?: string; data: string | Buffer; bytes: number; kind: SentKind; channel?: string; eventSnapshot?: boolean }
  | { t: 'ping'; key?: undefined; data: Buffer; bytes: number };

/** `from` adds `,"from":<seq>` to a conflated update: counted generously. */
const FROM_BYTES = 24;

function stateBytes(msg: BusMessage, snapshot: boolean, conflated: boolean): number {
  // The frame Buffers are cached per message and shared by every connection, so measuring them is cheap.
  return snapshot ? stateSnapshotFrame(msg).length : updateFrame(msg).length + (conflated ? FROM_BYTES : 0);
}

export class Outbox {
  private readonly q = new Map<string, Entry>();
  private n = 0;
  private bytes = 0;
  private snapshots = 0;
  private closed = false;
  private readonly now: () => number;
  /** When the queue last made progress (a write completed) or started to fill. */
  private progressAt = 0;
  private roomWaiters: Array<(ok: boolean) => void> = [];

  constructor(
    private readonly sink: OutboxSink,
    private readonly opts: OutboxOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Entries waiting (slots + queued frames). */
  get size(): number {
    return this.q.size;
  }

  /** Bytes of everything queued: state slots at their frame size, snapshots, events, control frames, pings. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Event snapshot slots queued. */
  get queuedSnapshots(): number {
    return this.snapshots;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** How long entries have been waiting without any write completing (0 when nothing waits). */
  stalledMs(now = this.now()): number {
    return this.q.size === 0 ? 0 : Math.max(0, now - this.progressAt);
  }

  /** Whether a producer that can wait (a subscribe priming many keys) may add more now. */
  hasRoom(): boolean {
    const maxSnap = this.opts.maxQueuedSnapshots ?? Infinity;
    return !this.closed && this.bytes < this.opts.highWaterBytes && this.snapshots < maxSnap;
  }

  /**
   * Resolves true once `hasRoom()` (at once if it already holds), false if the
   * outbox closed first. Lets a subscribe prime thousands of keys at the pace
   * the client reads instead of building every snapshot up front.
   */
  room(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.hasRoom()) return Promise.resolve(true);
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private canWrite(): boolean {
    return this.q.size === 0 && this.sink.bufferedAmount < this.opts.highWaterBytes;
  }

  /** Control frame (subscribed, recovered, reset, error, pong); `key` ties it to a stream for dropStream. */
  control(data: string, key?: string): void {
    this.frame(data, 'control', undefined, key);
  }

  /** Heartbeat ping, behind whatever is queued. */
  ping(data: Buffer): void {
    if (this.closed) return;
    if (this.canWrite()) return this.writePing(data);
    this.enqueue(`#${++this.n}`, { t: 'ping', data, bytes: data.length });
  }

  /** Event snapshot frame (trades/alerts); replaces a queued snapshot of the same key. */
  eventSnapshot(key: string, data: string, channel: string): void {
    if (this.closed) return;
    if (this.canWrite()) return this.write(data, 'snapshot', channel);
    const id = `e\u0000${key}`;
    this.remove(id);
    this.enqueue(id, { t: 'frame', key, data, bytes: data.length, kind: 'snapshot', channel, eventSnapshot: true });
  }

  stateSnapshot(msg: BusMessage): void {
    if (this.closed) return;
    if (this.canWrite()) return this.write(stateSnapshotFrame(msg), 'snapshot', msg.channel);
    const id = `s\u0000${msg.key}`;
    this.remove(id); // re-insert at the end: after any reset queued just before it
    this.enqueue(id, { t: 'state', key: msg.key, msg, snapshot: true, bytes: stateBytes(msg, true, false) });
  }

  /** A live update; `from` < msg.seq (state only) when it already stands for seqs from..msg.seq. */
  update(msg: BusMessage, from = msg.seq): void {
    if (this.closed) return;
    if (msg.kind === 'event') return this.frame(updateFrame(msg), 'update', msg.channel, msg.key);
    const covers = from < msg.seq ? from : undefined;
    if (this.canWrite()) return this.write(covers === undefined ? updateFrame(msg) : conflatedUpdateFrame(msg, covers), 'update', msg.channel);
    const id = `s\u0000${msg.key}`;
    const slot = this.q.get(id);
    if (slot && slot.t === 'state' && slot.msg.epoch === msg.epoch) {
      if (!slot.snapshot) slot.from ??= slot.msg.seq;
      slot.msg = msg;
      this.resize(slot, stateBytes(msg, slot.snapshot, slot.from !== undefined));
      this.opts.onConflate?.(msg);
      return;
    }
    this.enqueue(id, { t: 'state', key: msg.key, msg, from: covers, snapshot: false, bytes: stateBytes(msg, false, covers !== undefined) });
  }

  /** Forget everything queued for a key (unsubscribe, or a fresh snapshot supersedes it). */
  dropStream(key: string): void {
    for (const [id, e] of this.q) if (e.key === key) this.remove(id);
    this.wakeRoom();
  }

  close(): void {
    this.closed = true;
    this.q.clear();
    this.bytes = 0;
    this.snapshots = 0;
    this.wakeRoom();
  }

  private frame(data: string | Buffer, kind: SentKind, channel: string | undefined, key?: string): void {
    if (this.closed) return;
    if (this.canWrite()) return this.write(data, kind, channel);
    this.enqueue(`#${++this.n}`, { t: 'frame', key, data, bytes: data.length, kind, channel });
  }

  private enqueue(id: string, e: Entry): void {
    if (this.q.size === 0) this.progressAt = this.now(); // the stall clock starts when something first waits
    this.q.set(id, e);
    this.bytes += e.bytes;
    if (e.t === 'frame' && e.eventSnapshot) this.snapshots++;
    this.checkBounds();
  }

  private resize(e: Entry, bytes: number): void {
    this.bytes += bytes - e.bytes;
    e.bytes = bytes;
    this.checkBounds();
  }

  private remove(id: string): Entry | undefined {
    const e = this.q.get(id);
    if (!e) return undefined;
    this.q.delete(id);
    this.bytes -= e.bytes;
    if (e.t === 'frame' && e.eventSnapshot) this.snapshots--;
    return e;
  }

  private checkBounds(): void {
    if (this.closed) return;
    if (this.bytes > this.opts.queueBytesCap || this.snapshots > (this.opts.maxQueuedSnapshots ?? Infinity)) {
      this.close();
      this.opts.onOverflow();
    }
  }

  /** Writes queued entries while the socket has room. */
  flush(): void {
    while (!this.closed && this.q.size > 0 && this.sink.bufferedAmount < this.opts.highWaterBytes) {
      const id = this.q.keys().next().value as string;
      const e = this.remove(id)!;
      if (e.t === 'ping') this.writePing(e.data);
      else if (e.t === 'frame') this.write(e.data, e.kind, e.channel);
      else if (e.snapshot) this.write(stateSnapshotFrame(e.msg), 'snapshot', e.msg.channel);
      else this.write(e.from === undefined ? updateFrame(e.msg) : conflatedUpdateFrame(e.msg, e.from), 'update', e.msg.channel);
    }
    this.wakeRoom();
  }

  private wakeRoom(): void {
    if (this.roomWaiters.length === 0 || (!this.closed && !this.hasRoom())) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    const ok = !this.closed;
    for (const w of waiters) w(ok);
  }

  private readonly afterWrite = (err?: Error) => {
    if (err) return;
    // The socket handed a frame to the kernel: the client is reading. There may be room for what is waiting.
    this.progressAt = this.now();
    if (this.q.size > 0) this.flush();
  };

  private write(data: string | Buffer, kind: SentKind, channel: string | undefined): void {
    this.sink.send(data, this.afterWrite);
    this.opts.onSent?.(kind, channel);
  }

  private writePing(data: Buffer): void {
    if (this.sink.ping) this.sink.ping(data, this.afterWrite);
  }
}
