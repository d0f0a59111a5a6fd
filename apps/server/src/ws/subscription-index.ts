/**
 * Which connections want which stream, per channel: an exact-key index plus the
 * connections subscribed to everything (`*`). The gateway holds one and routes
 * each bus message through it; it only routes (centrifuge's hub, docs/architecture.md).
 */
import type { Channel } from '@stock-tracker/protocol';
import type { BusMessage } from '../bus/types.ts';

/** What the index needs of a connection. */
export interface Subscriber {
  deliver(msg: BusMessage): void;
  /** Whether a wildcard subscriber wants `key` (it may have excluded it, or not asked for trades). */
  wantsWildcard(key: string): boolean;
}

interface ChannelIndex<S> {
  keyed: Map<string, Set<S>>;
  wildcard: Set<S>;
}

export class SubscriptionIndex<S extends Subscriber> {
  private readonly channels = new Map<Channel, ChannelIndex<S>>();

  private channel(c: Channel): ChannelIndex<S> {
    let i = this.channels.get(c);
    if (!i) this.channels.set(c, (i = { keyed: new Map(), wildcard: new Set() }));
    return i;
  }

  /** Adds (or removes) `sub` under an exact key. */
  setKey(channel: Channel, key: string, sub: S, add: boolean): void {
    const keyed = this.channel(channel).keyed;
    let set = keyed.get(key);
    if (add) {
      if (!set) keyed.set(key, (set = new Set()));
      set.add(sub);
    } else if (set) {
      set.delete(sub);
      if (set.size === 0) keyed.delete(key);
    }
  }

  setWildcard(channel: Channel, sub: S, on: boolean): void {
    const w = this.channel(channel).wildcard;
    if (on) w.add(sub);
    else w.delete(sub);
  }

  /** Delivers `msg` once to every subscriber of its key and every wildcard subscriber that wants it. */
  route(msg: BusMessage): void {
    const idx = this.channels.get(msg.channel);
    if (!idx) return;
    const keyed = idx.keyed.get(msg.key);
    if (keyed) for (const s of keyed) s.deliver(msg);
    if (idx.wildcard.size > 0) for (const s of idx.wildcard) if (!keyed?.has(s) && s.wantsWildcard(msg.key)) s.deliver(msg);
  }
}
