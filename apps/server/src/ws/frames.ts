/**
 * Server frames. A bus message is serialized once, however many connections
 * receive it: its `data` JSON and its plain `update` frame (as a Buffer, so ws
 * does not re-encode the string per client) are cached per message object.
 * Rarer variants (conflated `from`, snapshots) reuse the cached data JSON.
 */
import type { Channel, ServerMessage } from '@stock-tracker/protocol';
import type { BusMessage } from '../bus/types.ts';

interface Cached {
  data?: string;
  update?: Buffer;
  snapshot?: Buffer;
}
const cache = new WeakMap<BusMessage, Cached>();

function cached(msg: BusMessage): Cached {
  let c = cache.get(msg);
  if (!c) {
    c = {};
    cache.set(msg, c);
  }
  return c;
}

export function dataJson(msg: BusMessage): string {
  const c = cached(msg);
  return (c.data ??= msg.dataJson ?? JSON.stringify(msg.data));
}

const head = (type: 'update' | 'snapshot', channel: Channel, key: string, seq: number, epoch: string) =>
  `{"type":"${type}","channel":"${channel}","key":${JSON.stringify(key)},"seq":${seq},"epoch":${JSON.stringify(epoch)}`;

/** `update` frame shared by every receiver of this message. */
export function updateFrame(msg: BusMessage): Buffer {
  const c = cached(msg);
  return (c.update ??= Buffer.from(`${head('update', msg.channel, msg.key, msg.seq, msg.epoch)},"data":${dataJson(msg)}}`));
}

/** `update` that also stands for seqs from..msg.seq-1 (conflated state). */
export function conflatedUpdateFrame(msg: BusMessage, from: number): string {
  return `${head('update', msg.channel, msg.key, msg.seq, msg.epoch)},"from":${from},"data":${dataJson(msg)}}`;
}

/** `snapshot` of a state stream from its latest message. */
export function stateSnapshotFrame(msg: BusMessage): Buffer {
  const c = cached(msg);
  return (c.snapshot ??= Buffer.from(`${head('snapshot', msg.channel, msg.key, msg.seq, msg.epoch)},"data":${dataJson(msg)}}`));
}

/** `snapshot` of an event stream: the most recent events, oldest first. */
export function eventSnapshotFrame(channel: Channel, key: string, seq: number, epoch: string, events: readonly BusMessage[]): string {
  return `${head('snapshot', channel, key, seq, epoch)},"data":[${events.map(dataJson).join(',')}]}`;
}

export function controlFrame(msg: Exclude<ServerMessage, { type: 'update' | 'snapshot' }>): string {
  return JSON.stringify(msg);
}
