/** What a StreamClient delivers, recorded per key the way an application would apply it (gateway resume tests). */
import type { ConnectionState, StreamClient } from '@stock-tracker/client';
import type { ResetMsg, SnapshotMsg, UpdateMsg } from '@stock-tracker/protocol';

export type StreamLog = ReturnType<typeof recordStream>;

export function recordStream(c: StreamClient) {
  const log = {
    states: [] as ConnectionState[],
    /** The seq of each key's first snapshot: where contiguity checks start. */
    start: {} as Record<string, number>,
    updates: [] as UpdateMsg[],
    data: {} as Record<string, unknown>,
    last: {} as Record<string, number>,
    resets: [] as ResetMsg[],
    snapshots: [] as SnapshotMsg[],
    recovered: 0,
    gaps: 0,
  };
  c.on('state', (s) => log.states.push(s));
  c.on('snapshot', (m) => {
    log.snapshots.push(m);
    log.start[m.key] ??= m.seq;
    log.last[m.key] = m.seq;
    log.data[m.key] = m.data;
  });
  c.on('update', (m) => {
    log.updates.push(m);
    log.last[m.key] = m.seq;
    log.data[m.key] = m.data;
  });
  c.on('reset', (m) => log.resets.push(m));
  c.on('recovered', () => log.recovered++);
  c.on('gap', () => log.gaps++);
  return log;
}
