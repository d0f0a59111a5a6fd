/**
 * Per-key stream positions on the client: decides for each message whether it
 * continues the stream, repeats what was seen (dropped) or leaves a gap.
 * Contiguity: (msg.from ?? msg.seq) must not exceed last + 1.
 */
import type { SnapshotMsg, StreamPos, UpdateMsg } from '@stock-tracker/protocol';

export type UpdateVerdict = 'accept' | 'duplicate' | 'gap';

export interface Gap {
  key: string;
  /** Seq the client expected next. */
  expected: number;
  /** First seq the update covers. */
  got: number;
  epoch: string;
}

export class StreamPositions {
  private readonly pos = new Map<string, StreamPos>();

  get(key: string): StreamPos | undefined {
    return this.pos.get(key);
  }

  snapshot(msg: Pick<SnapshotMsg, 'key' | 'seq' | 'epoch'>): void {
    this.pos.set(msg.key, { seq: msg.seq, epoch: msg.epoch });
  }

  /** Classifies an update and, when accepted, advances the position. */
  update(msg: Pick<UpdateMsg, 'key' | 'seq' | 'epoch' | 'from'>): UpdateVerdict {
    const p = this.pos.get(msg.key);
    const first = msg.from ?? msg.seq;
    if (!p) {
      // Nothing seen yet: a stream that had no state when we subscribed starts here.
      this.pos.set(msg.key, { seq: msg.seq, epoch: msg.epoch });
      return 'accept';
    }
    if (p.epoch !== msg.epoch) {
      // A new epoch is only continuous when we see it from its very first message.
      if (first !== 1) return 'gap';
      this.pos.set(msg.key, { seq: msg.seq, epoch: msg.epoch });
      return 'accept';
    }
    if (msg.seq <= p.seq) return 'duplicate';
    if (first > p.seq + 1) return 'gap';
    p.seq = msg.seq;
    return 'accept';
  }

  gapOf(msg: Pick<UpdateMsg, 'key' | 'seq' | 'epoch' | 'from'>): Gap {
    const p = this.pos.get(msg.key);
    return { key: msg.key, expected: (p?.seq ?? 0) + 1, got: msg.from ?? msg.seq, epoch: msg.epoch };
  }

  delete(key: string): void {
    this.pos.delete(key);
  }

  has(key: string): boolean {
    return this.pos.has(key);
  }

  keys(): string[] {
    return [...this.pos.keys()];
  }

  toRecord(filter?: (key: string) => boolean): Record<string, StreamPos> {
    const out: Record<string, StreamPos> = {};
    for (const [k, p] of this.pos) if (!filter || filter(k)) out[k] = { seq: p.seq, epoch: p.epoch };
    return out;
  }
}
