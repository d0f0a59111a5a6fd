/**
 * Per-connection send queue with bounded memory.
 *
 * While the socket keeps up (its buffered bytes stay under `highWaterBytes`)
 * frames are written straight through. Otherwise they wait here:
 * - state streams keep ONE slot per key: a newer update replaces the queued
 *   one and the slot remembers `from`, the first seq it stands for; a queued
 *   snapshot absorbs later updates (a snapshot resets the client's position);
 * - event snapshots keep one slot per key as well;
 * - event updates and control frames queue in order up to `queueBytesCap`
 *   bytes, past which `onOverflow` fires (the gateway closes with 4008).
 * So the queue holds at most (state keys + event keys) slots plus the byte cap.
 */
import type { BusMessage } from '../bus/types.ts';
import { conflatedUpdateFrame, stateSnapshotFrame, updateFrame } from './frames.ts';

export interface OutboxSink {
  readonly bufferedAmount: number;
  send(data: string | Buffer, cb: (err?: Error) => void): void;
}

export type SentKind = 'update' | 'snapshot' | 'control';

export interface OutboxOptions {
  highWaterBytes: number;
  queueBytesCap: number;
  onOverflow: () => void;
  /** A queued state update was replaced by a newer one. */
  onConflate?: (msg: BusMessage) => void;
  onSent?: (kind: SentKind, channel: string | undefined) => void;
}

type Entry =
  | { t: 'state'; key: string; msg: BusMessage; from?: number; snapshot: boolean }
  | { t: 'frame'; key?: string; data: string | Buffer; bytes: number; kind: SentKind; channel?: string };

export class Outbox {
  private readonly q = new Map<string, Entry>();
  private n = 0;
  private bytes = 0;
  private closed = false;

  constructor(
    private readonly sink: OutboxSink,
    private readonly opts: OutboxOptions,
  ) {}

  /** Entries waiting (slots + queued frames). */
  get size(): number {
    return this.q.size;
  }

  /** Bytes of queued event/control frames (state slots excluded: bounded by key count). */
  get queuedBytes(): number {
    return this.bytes;
  }

  private canWrite(): boolean {
    return this.q.size === 0 && this.sink.bufferedAmount < this.opts.highWaterBytes;
  }

  /** Control frame (subscribed, recovered, reset, error, pong); `key` ties it to a stream for dropStream. */
  control(data: string, key?: string): void {
    this.frame(data, 'control', undefined, key);
  }

  /** Event snapshot frame (trades/alerts); replaces a queued snapshot of the same key. */
  eventSnapshot(key: string, data: string, channel: string): void {
    if (this.closed) return;
    if (this.canWrite()) return this.write(data, 'snapshot', channel);
    this.q.delete(`e\u0000${key}`);
    this.q.set(`e\u0000${key}`, { t: 'frame', key, data, bytes: 0, kind: 'snapshot', channel });
  }

  stateSnapshot(msg: BusMessage): void {
    if (this.closed) return;
    if (this.canWrite()) return this.write(stateSnapshotFrame(msg), 'snapshot', msg.channel);
    const id = `s\u0000${msg.key}`;
    this.q.delete(id); // re-insert at the end: after any reset queued just before it
    this.q.set(id, { t: 'state', key: msg.key, msg, snapshot: true });
  }

  update(msg: BusMessage): void {
    if (this.closed) return;
    if (msg.kind === 'event') return this.frame(updateFrame(msg), 'update', msg.channel, msg.key);
    if (this.canWrite()) return this.write(updateFrame(msg), 'update', msg.channel);
    const id = `s\u0000${msg.key}`;
    const slot = this.q.get(id);
    if (slot && slot.t === 'state' && slot.msg.epoch === msg.epoch) {
      if (!slot.snapshot) slot.from ??= slot.msg.seq;
      slot.msg = msg;
      this.opts.onConflate?.(msg);
      return;
    }
    this.q.set(id, { t: 'state', key: msg.key, msg, snapshot: false });
  }

  /** Forget everything queued for a key (unsubscribe, or a fresh snapshot supersedes it). */
  dropStream(key: string): void {
    for (const [id, e] of this.q) {
      if (e.key !== key) continue;
      if (e.t === 'frame') this.bytes -= e.bytes;
      this.q.delete(id);
    }
  }

  close(): void {
    this.closed = true;
    this.q.clear();
    this.bytes = 0;
  }

  private frame(data: string | Buffer, kind: SentKind, channel: string | undefined, key?: string): void {
    if (this.closed) return;
    if (this.canWrite()) return this.write(data, kind, channel);
    const bytes = data.length;
    this.q.set(`#${++this.n}`, { t: 'frame', key, data, bytes, kind, channel });
    this.bytes += bytes;
    if (this.bytes > this.opts.queueBytesCap) {
      this.close();
      this.opts.onOverflow();
    }
  }

  /** Writes queued entries while the socket has room. */
  flush(): void {
    while (!this.closed && this.q.size > 0 && this.sink.bufferedAmount < this.opts.highWaterBytes) {
      const [id, e] = this.q.entries().next().value as [string, Entry];
      this.q.delete(id);
      if (e.t === 'frame') {
        this.bytes -= e.bytes;
        this.write(e.data, e.kind, e.channel);
      } else if (e.snapshot) {
        this.write(stateSnapshotFrame(e.msg), 'snapshot', e.msg.channel);
      } else {
        this.write(e.from === undefined ? updateFrame(e.msg) : conflatedUpdateFrame(e.msg, e.from), 'update', e.msg.channel);
      }
    }
  }

  private readonly afterWrite = (err?: Error) => {
    // The socket drained a frame: there may be room for what is waiting.
    if (!err && this.q.size > 0) this.flush();
  };

  private write(data: string | Buffer, kind: SentKind, channel: string | undefined): void {
    this.sink.send(data, this.afterWrite);
    this.opts.onSent?.(kind, channel);
  }
}
