/**
 * What a new leader must not publish again.
 *
 * A collector that takes over starts its feed from scratch: the simulator
 * regenerates the current day from its start, a replay restarts its tape,
 * a vendor may send a snapshot. Storage de-duplicates that by key, but the
 * bus would not: subscribers would see old trades again under new seqs, and
 * price rows going back in time. The guard wraps the publisher and, per
 * stream, drops what the previous leader already published:
 *
 *   state streams   a state older than the one Redis holds (by its `ts`);
 *   event streams   an event whose id is still in the stream's history in
 *                   Redis, or older than its newest entry (or, when Redis
 *                   lost the stream, older than the newest stored row).
 *
 * Each stream's filter retires at the first message past the overlap, so
 * after the catch-up the guard costs one map lookup per message.
 *
 * `hold()` .. `release()` brackets a synchronous catch-up (the simulator
 * replays the day inside `feed.start()`): states are held back and only the
 * last one per stream goes out, instead of the whole day's progression.
 */
import type { Redis } from 'ioredis';
import type { Channel, ChannelData } from '@stock-tracker/protocol';
import { CHANNELS } from '@stock-tracker/protocol';
import type { BusMessage, StreamKind, StreamPublisher } from '../bus/types.ts';
import { parseEntry, parseHead, parseLatest, redisBusKeys } from '../bus/redis/keys.ts';

interface EventFilter {
  ids: Set<string>;
  /** Newest ts published (or stored) on the stream. */
  horizon: number;
}

export interface TakeoverBaseline {
  /** `channel\0key` -> ts of the state Redis holds. */
  states: Map<string, number>;
  /** `channel\0key` -> what is already out on the event stream. */
  events: Map<string, EventFilter>;
}

export interface TakeoverGuardStats {
  skippedStates: number;
  skippedEvents: number;
  /** Filters still active (streams whose overlap has not passed yet). */
  activeFilters: number;
  held: number;
}

const streamId = (channel: string, key: string) => `${channel}\u0000${key}`;
const tsOf = (data: unknown): number | undefined => {
  const ts = (data as { ts?: unknown } | null)?.ts;
  return typeof ts === 'number' && Number.isFinite(ts) ? ts : undefined;
};
const idOf = (data: unknown): string | undefined => {
  const id = (data as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
};

export class TakeoverGuard implements StreamPublisher {
  private holding = false;
  private readonly held = new Map<string, { channel: Channel; key: string; data: ChannelData[Channel] }>();
  private skippedStates = 0;
  private skippedEvents = 0;

  constructor(
    private readonly inner: StreamPublisher,
    private readonly baseline: TakeoverBaseline = { states: new Map(), events: new Map() },
  ) {}

  get epoch(): string {
    return this.inner.epoch;
  }

  stats(): TakeoverGuardStats {
    return {
      skippedStates: this.skippedStates,
      skippedEvents: this.skippedEvents,
      activeFilters: this.baseline.states.size + this.baseline.events.size,
      held: this.held.size,
    };
  }

  hold(): void {
    this.holding = true;
  }

  /** Publishes the last held state of each stream, in the order the streams were first held. */
  release(): void {
    this.holding = false;
    const held = [...this.held.values()];
    this.held.clear();
    for (const h of held) this.inner.publish(h.channel, h.key, 'state', h.data);
  }

  publish<C extends Channel>(channel: C, key: string, kind: StreamKind, data: ChannelData[C]): BusMessage<C> {
    const id = streamId(channel, key);
    if (kind === 'state') {
      if (this.stale(id, data)) {
        this.skippedStates++;
        return this.skipped(channel, key, kind, data);
      }
      if (this.holding) {
        this.held.set(id, { channel, key, data });
        return this.skipped(channel, key, kind, data);
      }
    } else if (this.seen(id, data)) {
      this.skippedEvents++;
      return this.skipped(channel, key, kind, data);
    }
    return this.inner.publish(channel, key, kind, data);
  }

  private stale(id: string, data: unknown): boolean {
    const floor = this.baseline.states.get(id);
    if (floor === undefined) return false;
    const ts = tsOf(data);
    if (ts === undefined) return false;
    if (ts < floor) return true;
    this.baseline.states.delete(id); // caught up: this stream's filter retires
    return false;
  }

  private seen(id: string, data: unknown): boolean {
    const f = this.baseline.events.get(id);
    if (!f) return false;
    const eventId = idOf(data);
    const ts = tsOf(data);
    if ((eventId !== undefined && f.ids.has(eventId)) || (ts !== undefined && ts < f.horizon)) return true;
    if (ts === undefined || ts > f.horizon) this.baseline.events.delete(id);
    return false;
  }

  private skipped<C extends Channel>(channel: C, key: string, kind: StreamKind, data: ChannelData[C]): BusMessage<C> {
    return { channel, key, kind, seq: 0, epoch: this.inner.epoch, data };
  }
}

/**
 * Reads what Redis holds for every stream: the latest state's ts, and the ids
 * and newest ts of each event stream's history. `storedHorizons` (newest
 * stored row per event stream, e.g. from the trades table) covers event
 * streams Redis no longer has.
 */
export async function loadTakeoverBaseline(
  redis: Redis,
  prefix: string,
  opts: { historyEvents: number; storedHorizons?: () => Promise<Map<string, number>>; log?: { warn(obj: object, msg?: string): void } },
): Promise<TakeoverBaseline> {
  const k = redisBusKeys(prefix);
  const m = redis.multi();
  m.get(k.epoch);
  for (const c of CHANNELS) m.hgetall(k.head(c));
  for (const c of CHANNELS) m.hgetall(k.latest(c));
  const res = await m.exec();
  if (!res) throw new Error('MULTI aborted');
  for (const [err] of res) if (err) throw err;
  const epoch = (res[0]![1] as string | null) ?? '';
  const states = new Map<string, number>();
  const eventKeys: Array<{ channel: Channel; key: string }> = [];
  CHANNELS.forEach((channel, i) => {
    for (const [key, raw] of Object.entries(res[1 + i]![1] as Record<string, string>)) {
      const h = parseHead(raw);
      if (h && h.kind === 'event' && h.epoch === epoch && h.seq > 0) eventKeys.push({ channel, key });
    }
    for (const [key, raw] of Object.entries(res[1 + CHANNELS.length + i]![1] as Record<string, string>)) {
      try {
        const ts = tsOf(parseLatest(channel, key, raw)?.data);
        if (ts !== undefined) states.set(streamId(channel, key), ts);
      } catch {
        // a malformed latest state filters nothing
      }
    }
  });

  const events = new Map<string, EventFilter>();
  const p = redis.pipeline();
  for (const { channel, key } of eventKeys) p.xrevrange(k.stream(channel, key), '+', '-', 'COUNT', opts.historyEvents);
  const ranges = eventKeys.length > 0 ? ((await p.exec()) ?? []) : [];
  eventKeys.forEach(({ channel, key }, i) => {
    const [err, entries] = ranges[i] ?? [null, []];
    if (err) throw err;
    const f: EventFilter = { ids: new Set(), horizon: -Infinity };
    for (const [, flat] of entries as [string, string[]][]) {
      try {
        const data = parseEntry(channel, key, flat)?.data;
        const id = idOf(data);
        const ts = tsOf(data);
        if (id !== undefined) f.ids.add(id);
        if (ts !== undefined && ts > f.horizon) f.horizon = ts;
      } catch {
        // skipped: the filter is only ever narrower for it
      }
    }
    if (f.ids.size > 0 || Number.isFinite(f.horizon)) events.set(streamId(channel, key), f);
  });

  if (opts.storedHorizons) {
    try {
      for (const [id, ts] of await opts.storedHorizons()) if (!events.has(id)) events.set(id, { ids: new Set(), horizon: ts });
    } catch (err) {
      opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'takeover: stored horizons unavailable (database down); streams Redis lost are published from the feed as is');
    }
  }
  return { states, events };
}
