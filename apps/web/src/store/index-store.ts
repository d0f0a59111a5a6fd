/**
 * Index states (VN-Index, VN30, …) and the session's values per index for
 * the sparklines: REST history seeds the series, streamed updates extend it.
 */
import type { IndexState } from '@stock-tracker/protocol';
import { KeyedStore, type Scheduler } from './keyed-store.ts';

export interface SparkPoint {
  ts: number;
  value: number;
}
export const MAX_SPARK_POINTS = 600;

export class IndexStore {
  readonly states: KeyedStore<IndexState>;
  readonly series: KeyedStore<readonly SparkPoint[]>;

  constructor(schedule?: Scheduler) {
    this.states = new KeyedStore<IndexState>({ schedule, accept: (prev, next) => !prev || next.ts >= prev.ts });
    this.series = new KeyedStore<readonly SparkPoint[]>({ schedule });
  }

  update(state: IndexState): void {
    this.states.set(state.id, state);
    this.append(state.id, { ts: state.ts, value: state.value });
  }

  /** Seeds the sparkline from history, keeping any live points newer than it. */
  seed(id: string, points: readonly SparkPoint[]): void {
    const live = this.series.latest(id) ?? [];
    const lastSeeded = points.length ? points[points.length - 1]!.ts : -Infinity;
    const merged = [...points, ...live.filter((p) => p.ts > lastSeeded)];
    this.series.set(id, merged.slice(-MAX_SPARK_POINTS));
  }

  private append(id: string, p: SparkPoint): void {
    const cur = this.series.latest(id) ?? [];
    const last = cur[cur.length - 1];
    if (last && p.ts < last.ts) return;
    // Same timestamp: replace the point rather than draw a vertical step.
    const base = last && last.ts === p.ts ? cur.slice(0, -1) : cur;
    this.series.set(id, [...base, p].slice(-MAX_SPARK_POINTS));
  }
}
