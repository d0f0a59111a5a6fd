/**
 * An external store of values by key (symbol, index id) for
 * `useSyncExternalStore`. Writes are queued and applied once per animation
 * frame: a burst of 500 updates for one symbol costs one render of one row,
 * and listeners are per key so an update to VNM never wakes the FPT row.
 */
export type Scheduler = (flush: () => void) => void;

/** Next animation frame in browsers; a 16 ms timer where there is none (Node, hidden tabs keep rAF paused). */
export const frameScheduler: Scheduler = (flush) => {
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && document.visibilityState !== 'hidden') {
    requestAnimationFrame(() => flush());
  } else {
    setTimeout(flush, 16);
  }
};

export interface KeyedStoreOptions<T> {
  schedule?: Scheduler;
  /** Whether `next` may replace `prev` (e.g. drop a REST snapshot older than a streamed update). */
  accept?: (prev: T | undefined, next: T) => boolean;
}

export class KeyedStore<T> {
  private readonly values = new Map<string, T>();
  private readonly pending = new Map<string, T>();
  private readonly keyListeners = new Map<string, Set<() => void>>();
  private readonly keysListeners = new Set<() => void>();
  private readonly flushListeners = new Set<(changed: readonly string[]) => void>();
  private keyList: readonly string[] = [];
  private scheduled = false;
  private readonly schedule: Scheduler;
  private readonly accept: (prev: T | undefined, next: T) => boolean;
  /** Increases on every flush that changed something. */
  version = 0;

  constructor(opts: KeyedStoreOptions<T> = {}) {
    this.schedule = opts.schedule ?? frameScheduler;
    this.accept = opts.accept ?? (() => true);
  }

  get(key: string): T | undefined {
    return this.values.get(key);
  }

  /** The newest value including one queued for the next flush (for writers that build on it). */
  latest(key: string): T | undefined {
    return this.pending.has(key) ? this.pending.get(key) : this.values.get(key);
  }

  /** All keys in insertion order; the same array until a key is added or removed. */
  keys(): readonly string[] {
    return this.keyList;
  }

  get size(): number {
    return this.values.size;
  }

  /** Queues a value; it becomes visible at the next flush. Judged against the newest value, queued or not. */
  set(key: string, value: T): void {
    const cur = this.latest(key);
    if (cur === value || !this.accept(cur, value)) return;
    this.pending.set(key, value);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Applies queued values now and notifies listeners of the keys that changed. Returns how many changed. */
  flush(): number {
    this.scheduled = false;
    if (this.pending.size === 0) return 0;
    const changed: string[] = [];
    let added = false;
    for (const [key, next] of this.pending) {
      const prev = this.values.get(key);
      if (prev === next) continue;
      if (prev === undefined) added = true;
      this.values.set(key, next);
      changed.push(key);
    }
    this.pending.clear();
    if (changed.length === 0) return 0;
    this.version++;
    if (added) {
      this.keyList = [...this.values.keys()];
      for (const fn of [...this.keysListeners]) fn();
    }
    for (const key of changed) {
      const set = this.keyListeners.get(key);
      if (set) for (const fn of [...set]) fn();
    }
    for (const fn of [...this.flushListeners]) fn(changed);
    return changed.length;
  }

  /** Listener for one key; returns the unsubscribe function. */
  subscribe(key: string, fn: () => void): () => void {
    let set = this.keyListeners.get(key);
    if (!set) this.keyListeners.set(key, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.keyListeners.delete(key);
    };
  }

  /** Listener for the key set (a new symbol appears). */
  subscribeKeys(fn: () => void): () => void {
    this.keysListeners.add(fn);
    return () => this.keysListeners.delete(fn);
  }

  /** Listener called after each flush with the changed keys (for aggregates such as live sorting). */
  onFlush(fn: (changed: readonly string[]) => void): () => void {
    this.flushListeners.add(fn);
    return () => this.flushListeners.delete(fn);
  }

  /** Number of listeners on one key (tests and the benchmark check there are no leaks). */
  listenerCount(key: string): number {
    return this.keyListeners.get(key)?.size ?? 0;
  }
}
