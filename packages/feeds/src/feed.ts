/**
 * The adapter interface every feed implements (simulator, replay, SSI, Alpaca),
 * and the clock feeds use to pace themselves. Feeds never read the wall clock
 * directly: they get a `Clock`, so tests drive them with `ManualClock`.
 */
import type { MarketEvent } from '@stock-tracker/protocol';

/** Connection lifecycle of a vendor feed (local feeds leave it out). */
export type FeedConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped' | 'failed';

export interface FeedStatus {
  name: string;
  connected: boolean;
  lastEventTs: number | null;
  events: number;
  malformed: number;
  errors: Record<string, number>;
  /** Vendor feeds: where the connection stands. */
  state?: FeedConnectionState;
  /** Vendor feeds: ms since the last vendor message of any kind (keep-alives included); null before the first. */
  lastMessageAgeMs?: number | null;
  /** Vendor feeds: vendor messages per second over the last few seconds. */
  messagesPerSecond?: number;
  /** Vendor feeds: connections re-established after a loss. */
  reconnects?: number;
  /** Vendor feeds: the last problem, human readable (why it is not connected, or why it stopped). */
  lastError?: string | null;
}

export interface Feed {
  readonly name: string;
  /** Begins emitting; resolves once the feed is running (connected or first batch delivered). */
  start(sink: (ev: MarketEvent) => void): Promise<void>;
  stop(): Promise<void>;
  status(): FeedStatus;
  /** Optional backpressure: stop delivering until `resume` (used when storage falls behind). */
  pause?(): void;
  resume?(): void;
}

export interface Clock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(h: unknown): void;
}

/** The only place that reads the wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

interface Timer {
  fn: () => void;
  every: number;
  due: number;
}

/**
 * A clock that only moves when told to; `advance` fires due interval callbacks
 * in time order, with `now()` reading the instant each one was due.
 */
export class ManualClock implements Clock {
  private t: number;
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setInterval(fn: () => void, ms: number): unknown {
    const every = Math.max(1, ms);
    const id = this.nextId++;
    this.timers.set(id, { fn, every, due: this.t + every });
    return id;
  }

  clearInterval(h: unknown): void {
    this.timers.delete(h as number);
  }

  /** Moves time forward by `ms`, running every callback that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let next: Timer | undefined;
      for (const [id, timer] of this.timers) if (!next || timer.due < next.due) [nextId, next] = [id, timer];
      if (!next || next.due > end) break;
      this.t = next.due;
      next.due += next.every;
      if (this.timers.has(nextId)) next.fn();
    }
    this.t = end;
  }

  /** Number of live interval timers (lets tests check that `stop` cleans up). */
  get pending(): number {
    return this.timers.size;
  }
}
