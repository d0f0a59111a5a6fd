/**
 * Collector side of the bus: numbers every stream's messages consecutively
 * under one epoch. The epoch is random per publisher instance, so a restarted
 * collector can never be mistaken for the old one by a resuming client.
 */
import { randomBytes } from 'node:crypto';
import type { Channel, ChannelData } from '@stock-tracker/protocol';
import type { BusMessage, BusSink, StreamKind, StreamPublisher } from './types.ts';

export interface PublisherOptions {
  /** Epoch generator; injected by tests for stable ids. */
  newId?: () => string;
}

export const randomEpoch = (): string => randomBytes(9).toString('base64url');

export class SeqStreamPublisher implements StreamPublisher {
  readonly epoch: string;
  private readonly seqs = new Map<string, number>();

  constructor(
    private readonly sink: BusSink,
    opts: PublisherOptions = {},
  ) {
    this.epoch = (opts.newId ?? randomEpoch)();
  }

  publish<C extends Channel>(channel: C, key: string, kind: StreamKind, data: ChannelData[C]): BusMessage<C> {
    const id = `${channel}\u0000${key}`;
    const seq = (this.seqs.get(id) ?? 0) + 1;
    this.seqs.set(id, seq);
    const msg: BusMessage<C> = { channel, key, kind, seq, epoch: this.epoch, data };
    this.sink.append(msg);
    return msg;
  }
}
