/**
 * Connection state of the live data, as the StreamClient reports it, plus
 * when the data stopped being live: the board marks itself stale from that
 * moment and never presents old numbers as live.
 */
import type { ConnectionState } from '@stock-tracker/client';
import { ValueStore } from './value-store.ts';

export type { ConnectionState };

export interface ConnectionSnapshot {
  state: ConnectionState;
  /** Wall-clock ms since when the data is not live; null while live. */
  staleSince: number | null;
}

/**
 * States in which updates flow: `resumed` (reconnected, every missed update
 * replayed) and `reset` (reconnected, history lost, fresh snapshots) are both
 * connected with current data.
 */
export function isLiveState(s: ConnectionState): boolean {
  return s === 'live' || s === 'resumed' || s === 'reset';
}

export class ConnectionStore extends ValueStore<ConnectionSnapshot> {
  private readonly now: () => number;
  constructor(now: () => number = Date.now) {
    super({ state: 'connecting', staleSince: now() });
    this.now = now;
  }
  setState(state: ConnectionState): void {
    const cur = this.get();
    if (cur.state === state) return;
    const staleSince = isLiveState(state) ? null : (cur.staleSince ?? this.now());
    this.set({ state, staleSince });
  }
}
