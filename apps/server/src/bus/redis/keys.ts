/**
 * Redis key layout and value encodings of the Redis Streams bus, shared by
 * the publisher (collector), the gateway-side reader and the Lua scripts.
 *
 *   <p>epoch               string  the current epoch (gone = Redis lost its data)
 *   <p>live:<channel>      stream  every message of the channel, for the one blocking reader per gateway
 *   <p>s:<channel>:<key>   stream  one stream's bounded history (resume, `recent`)
 *   <p>head:<channel>      hash    key -> "seq|kind|epoch" (position, `keys`, the kind of each stream)
 *   <p>latest:<channel>    hash    key -> "seq|epoch|data" (state streams: the snapshot, kept even when
 *                                  age trimming empties the history)
 *
 * Epoch ids are base64url, so `|` never occurs in them; data JSON goes last.
 */
import type { Channel } from '@stock-tracker/protocol';
import type { BusMessage, StreamKind } from '../types.ts';

export const DEFAULT_PREFIX = 'st:';

export interface RedisBusKeys {
  readonly prefix: string;
  readonly epoch: string;
  live(channel: Channel): string;
  stream(channel: Channel, key: string): string;
  head(channel: Channel): string;
  latest(channel: Channel): string;
}

export function redisBusKeys(prefix = DEFAULT_PREFIX): RedisBusKeys {
  return {
    prefix,
    epoch: `${prefix}epoch`,
    live: (c) => `${prefix}live:${c}`,
    stream: (c, k) => `${prefix}s:${c}:${k}`,
    head: (c) => `${prefix}head:${c}`,
    latest: (c) => `${prefix}latest:${c}`,
  };
}

export const kindCode = (kind: StreamKind): 's' | 'e' => (kind === 'state' ? 's' : 'e');
export const kindOf = (code: string): StreamKind => (code === 's' ? 'state' : 'event');

export interface Head {
  seq: number;
  kind: StreamKind;
  epoch: string;
}

/** "seq|kind|epoch"; null when malformed (never trusted blindly: Redis is shared state). */
export function parseHead(raw: string | null | undefined): Head | null {
  if (!raw) return null;
  const a = raw.indexOf('|');
  const b = raw.indexOf('|', a + 1);
  if (a < 0 || b < 0) return null;
  const seq = Number(raw.slice(0, a));
  if (!Number.isSafeInteger(seq) || seq < 0) return null;
  return { seq, kind: kindOf(raw.slice(a + 1, b)), epoch: raw.slice(b + 1) };
}

/**
 * A BusMessage whose `data` is parsed only when someone reads it: the gateway
 * forwards `dataJson` verbatim, so most messages are never parsed at all.
 */
export function lazyMessage(channel: Channel, key: string, kind: StreamKind, seq: number, epoch: string, dataJson: string): BusMessage {
  let parsed: unknown;
  let done = false;
  return {
    channel,
    key,
    kind,
    seq,
    epoch,
    dataJson,
    get data() {
      if (!done) {
        parsed = JSON.parse(dataJson);
        done = true;
      }
      return parsed as BusMessage['data'];
    },
  };
}

/** "seq|epoch|data" from the latest hash. */
export function parseLatest(channel: Channel, key: string, raw: string | null | undefined): BusMessage | null {
  if (!raw) return null;
  const a = raw.indexOf('|');
  const b = raw.indexOf('|', a + 1);
  if (a < 0 || b < 0) return null;
  const seq = Number(raw.slice(0, a));
  if (!Number.isSafeInteger(seq) || seq < 1) return null;
  return lazyMessage(channel, key, 'state', seq, raw.slice(a + 1, b), raw.slice(b + 1));
}

/** Field list of a stream entry as ioredis returns it: [f1, v1, f2, v2, ...]. */
export function fieldsOf(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

/**
 * Entry fields (written by the publish script): k key (live streams), s seq,
 * e epoch, t kind code, d data JSON, f fencing token of the writer.
 * Null when an entry is malformed; the reader counts and skips it.
 */
export function parseEntry(channel: Channel, key: string | undefined, flat: readonly string[]): BusMessage | null {
  const f = fieldsOf(flat);
  const k = key ?? f.k;
  const seq = Number(f.s);
  if (!k || !Number.isSafeInteger(seq) || seq < 1 || !f.e || (f.t !== 's' && f.t !== 'e') || f.d === undefined) return null;
  return lazyMessage(channel, k, kindOf(f.t), seq, f.e, f.d);
}

/** Stream ids "ms-seq" compared numerically (ids are not fixed-width, so string order is wrong). */
export function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  try {
    return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
  } catch {
    return [0n, 0n];
  }
}
