/**
 * The bus between the collector (publisher) and the WebSocket gateway
 * (subscriber). Transport-neutral: the in-process implementation lives in
 * memory-bus.ts; a Redis Streams one implements the same interfaces, which is
 * why every gateway-side read is async.
 */
import type { Channel, ChannelData, StreamPos } from '@stock-tracker/protocol';

/** State streams carry a full state per message (conflatable); event streams carry one event each. */
export type StreamKind = 'state' | 'event';

export interface BusMessage<C extends Channel = Channel> {
  readonly channel: C;
  readonly key: string;
  readonly kind: StreamKind;
  /** Consecutive per (channel, key) within one epoch, starting at 1. */
  readonly seq: number;
  /** The publisher's epoch; a new publisher (collector restart) means new epoch. */
  readonly epoch: string;
  readonly data: ChannelData[C];
  /** `data` already serialized (e.g. read from Redis), so the gateway need not stringify it again. */
  readonly dataJson?: string;
}

export type BusHandler = (msg: BusMessage) => void;

/** Where a publisher hands its messages (in-process bus, Redis XADD, ...). */
export interface BusSink {
  append(msg: BusMessage): void;
}

/** Collector side. */
export interface StreamPublisher {
  readonly epoch: string;
  publish<C extends Channel>(channel: C, key: string, kind: StreamKind, data: ChannelData[C]): BusMessage<C>;
}

/** Gateway side. */
export interface Bus {
  /** Live messages, in publish order per stream. Returns the unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  /** Last message of a state stream: the snapshot source. */
  latest(channel: Channel, key: string): Promise<BusMessage | null>;
  /** Last `n` messages of an event stream, oldest first: the snapshot source for event streams. */
  recent(channel: Channel, key: string, n: number): Promise<BusMessage[]>;
  /**
   * Messages with seq > afterSeq (oldest first), or null when the retained
   * history does not reach back to afterSeq+1, the epoch differs or the
   * position is beyond the stream's head.
   */
  history(channel: Channel, key: string, afterSeq: number, epoch: string): Promise<BusMessage[] | null>;
  /** Current position of a stream, null when the bus has never seen it. */
  head(channel: Channel, key: string): Promise<StreamPos | null>;
  /** Every key the bus knows on a channel (state and event keys). */
  keys(channel: Channel): Promise<string[]>;
  /** Epoch of the most recent message on any stream (for empty-stream snapshots), null before the first. */
  currentEpoch(): Promise<string | null>;
}
