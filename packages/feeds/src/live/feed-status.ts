/**
 * Health bookkeeping shared by the vendor feeds: the FeedStatus counters,
 * connection state, message rate and age, and "log once per kind" for
 * malformed input (a vendor sending thousands of bad messages must not flood
 * the log; the counters still see every one). Not to be confused with the
 * server's feed-health/ (stale-feed watchdog and readiness), which reads the
 * FeedStatus this produces.
 */
import type { MarketEvent } from '@stock-tracker/protocol';
import type { Clock, FeedConnectionState, FeedStatus } from '../feed.ts';
import type { FeedLogger } from './log.ts';

/** Seconds the message rate is averaged over. */
const RATE_WINDOW_S = 10;

export class FeedStatusTracker {
  state: FeedConnectionState = 'idle';
  reconnects = 0;
  lastError: string | null = null;
  private events = 0;
  private malformedCount = 0;
  private readonly errors: Record<string, number> = {};
  private lastEventTs: number | null = null;
  private lastMessageAt: number | null = null;
  private readonly logged = new Set<string>();
  /** Messages per wall-clock second, keyed by epoch second; only the last window is kept. */
  private readonly perSecond = new Map<number, number>();

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly log: FeedLogger,
  ) {}

  /** Any vendor frame arrived (data, control or keep-alive). */
  message(): void {
    const now = this.clock.now();
    this.lastMessageAt = now;
    const sec = Math.floor(now / 1000);
    this.perSecond.set(sec, (this.perSecond.get(sec) ?? 0) + 1);
    if (this.perSecond.size > RATE_WINDOW_S + 1) {
      for (const k of this.perSecond.keys()) if (k <= sec - RATE_WINDOW_S) this.perSecond.delete(k);
    }
  }

  event(ev: MarketEvent): void {
    this.events += 1;
    if (this.lastEventTs === null || ev.ts > this.lastEventTs) this.lastEventTs = ev.ts;
  }

  /** A vendor message that could not be used: counted always, logged the first time per kind. */
  malformed(kind: string, message: string): void {
    this.malformedCount += 1;
    this.count(kind);
    this.once(`malformed:${kind}`, () =>
      this.log.warn({ feed: this.name, kind, detail: message }, `${this.name}: malformed vendor message (${kind}) skipped; further ones of this kind are counted, not logged`),
    );
  }

  /** An operational error (connection, auth, vendor error message): counted and remembered as lastError. */
  error(kind: string, message: string, level: 'warn' | 'error' = 'warn'): void {
    this.count(kind);
    this.lastError = message;
    this.log[level]({ feed: this.name, kind }, `${this.name}: ${message}`);
  }

  count(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  /** Runs fn only the first time `key` is seen. */
  once(key: string, fn: () => void): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    fn();
  }

  status(): FeedStatus {
    const now = this.clock.now();
    const sec = Math.floor(now / 1000);
    let n = 0;
    // Whole seconds before the current one: the current second is still filling up.
    for (const [k, v] of this.perSecond) if (k < sec && k >= sec - RATE_WINDOW_S) n += v;
    return {
      name: this.name,
      connected: this.state === 'connected',
      lastEventTs: this.lastEventTs,
      events: this.events,
      malformed: this.malformedCount,
      errors: { ...this.errors },
      state: this.state,
      lastMessageAgeMs: this.lastMessageAt === null ? null : Math.max(0, now - this.lastMessageAt),
      messagesPerSecond: n / RATE_WINDOW_S,
      reconnects: this.reconnects,
      lastError: this.lastError,
    };
  }
}
