/**
 * In-process bus for the embedded (`all`) role: the collector and the gateway
 * share one process. Keeps a bounded history per stream (by count) and an
 * overall bound on retained messages so memory stays flat however many
 * streams or updates there are.
 */
import type { Channel, StreamPos } from '@stock-tracker/protocol';
import { CHANNELS } from '@stock-tracker/protocol';
import { Ring } from './ring.ts';
import type { Bus, BusHandler, BusMessage, BusSink, StreamKind } from './types.ts';
import { SeqStreamPublisher, type PublisherOptions } from './publisher.ts';

export interface InMemoryBusOptions {
  /** Messages kept per state stream (resume window for quotes, indices, foreign). */
  historyState?: number;
  /** Messages kept per event stream (resume window and snapshot source for trades, alerts). */
  historyEvents?: number;
  /** Upper bound on messages retained across all streams; the oldest go first. */
  maxRetainedMessages?: number;
  /** A throwing subscriber must not break publishing; its error lands here. */
  onHandlerError?: (err: unknown) => void;
}

export const BUS_DEFAULTS = {
  historyState: 200,
  historyEvents: 1_000,
  maxRetainedMessages: 250_000,
} as const;

interface Stream {
  kind: StreamKind;
  epoch: string;
  seq: number;
  ring: Ring<BusMessage>;
  /** Kept apart from the ring so global eviction never loses a state stream's snapshot. */
  latest: BusMessage | null;
}

export class InMemoryBus implements Bus, BusSink {
  private readonly streams = new Map<Channel, Map<string, Stream>>(CHANNELS.map((c) => [c, new Map()]));
  private readonly retained: Ring<BusMessage>;
  private readonly handlers = new Set<BusHandler>();
  private readonly historyState: number;
  private readonly historyEvents: number;
  private readonly onHandlerError: (err: unknown) => void;
  private lastEpoch: string | null = null;

  constructor(opts: InMemoryBusOptions = {}) {
    this.historyState = opts.historyState ?? BUS_DEFAULTS.historyState;
    this.historyEvents = opts.historyEvents ?? BUS_DEFAULTS.historyEvents;
    this.retained = new Ring(opts.maxRetainedMessages ?? BUS_DEFAULTS.maxRetainedMessages);
    this.onHandlerError = opts.onHandlerError ?? ((err) => console.error('bus handler failed', err));
  }

  /** A publisher writing to this bus, with its own epoch. */
  publisher(opts?: PublisherOptions): SeqStreamPublisher {
    return new SeqStreamPublisher(this, opts);
  }

  append(msg: BusMessage): void {
    const byKey = this.streams.get(msg.channel);
    if (!byKey) throw new Error(`unknown channel ${String(msg.channel)}`);
    let s = byKey.get(msg.key);
    if (!s) {
      s = { kind: msg.kind, epoch: msg.epoch, seq: 0, ring: new Ring(msg.kind === 'state' ? this.historyState : this.historyEvents), latest: null };
      byKey.set(msg.key, s);
    }
    if (s.epoch !== msg.epoch) {
      // New publisher: the old epoch's history cannot serve resumes any more.
      s.epoch = msg.epoch;
      s.ring.clear();
    } else if (msg.seq <= s.seq) {
      return; // duplicate delivery (e.g. a transport retry): already seen
    } else if (msg.seq !== s.seq + 1) {
      s.ring.clear(); // a hole: history is only contiguous from here on
    }
    s.seq = msg.seq;
    s.kind = msg.kind;
    if (msg.kind === 'state') s.latest = msg;
    s.ring.push(msg);
    this.lastEpoch = msg.epoch;
    this.retain(msg);
    for (const h of this.handlers) {
      try {
        h(msg);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }

  /** Global bound: once full, the oldest retained message leaves its stream's history. */
  private retain(msg: BusMessage): void {
    const old = this.retained.push(msg);
    if (!old) return;
    const s = this.streams.get(old.channel)?.get(old.key);
    // Only when it is still that stream's oldest entry (it may already be gone by the per-stream cap).
    if (s && s.ring.first() === old) s.ring.shift();
  }

  subscribe(handler: BusHandler): () => void {
    this.handlers.add(handler);
    return () => {
      this.handlers.delete(handler);
    };
  }

  private stream(channel: Channel, key: string): Stream | undefined {
    return this.streams.get(channel)?.get(key);
  }

  async latest(channel: Channel, key: string): Promise<BusMessage | null> {
    return this.stream(channel, key)?.latest ?? null;
  }

  async recent(channel: Channel, key: string, n: number): Promise<BusMessage[]> {
    const s = this.stream(channel, key);
    if (!s || n <= 0) return [];
    return s.ring.sliceFrom(s.ring.size - n);
  }

  async history(channel: Channel, key: string, afterSeq: number, epoch: string): Promise<BusMessage[] | null> {
    const s = this.stream(channel, key);
    if (!s || s.epoch !== epoch || afterSeq > s.seq || afterSeq < 0) return null;
    if (afterSeq === s.seq) return [];
    const first = s.ring.first();
    if (!first || first.seq > afterSeq + 1) return null;
    return s.ring.sliceFrom(afterSeq + 1 - first.seq);
  }

  async head(channel: Channel, key: string): Promise<StreamPos | null> {
    const s = this.stream(channel, key);
    return s ? { seq: s.seq, epoch: s.epoch } : null;
  }

  async keys(channel: Channel): Promise<string[]> {
    return [...(this.streams.get(channel)?.keys() ?? [])];
  }

  async currentEpoch(): Promise<string | null> {
    return this.lastEpoch;
  }

  /** Messages currently retained across all streams (for tests and metrics). */
  retainedCount(): number {
    let n = 0;
    for (const byKey of this.streams.values()) for (const s of byKey.values()) n += s.ring.size;
    return n;
  }
}

export function createInMemoryBus(opts?: InMemoryBusOptions): InMemoryBus {
  return new InMemoryBus(opts);
}
