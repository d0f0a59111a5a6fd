/**
 * Start/stop scaffolding shared by the reconnecting vendor feeds: one
 * background loop, the AbortController that stop() fires, and the promise
 * start() returns. That promise settles on the first connection, a fatal
 * error or stop(); after `startTimeoutMs` it resolves anyway, the feed
 * keeping on trying in the background.
 */
import type { Clock } from '../feed.ts';
import type { FeedStatusTracker } from './feed-status.ts';
import { after } from './timers.ts';

export class FeedLifecycle {
  private controller = new AbortController();
  private loop: Promise<void> | null = null;
  private startup: { resolve(): void; reject(e: Error): void } | null = null;
  private cancelStartTimer: (() => void) | null = null;

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly health: FeedStatusTracker,
  ) {}

  /** Aborted by stop() (or abort()): loops, sleeps and requests end on it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /**
   * Rejects when already started; otherwise runs `begin` (taking the sink), then
   * `run` in the background, and returns the startup promise.
   */
  start(startTimeoutMs: number, begin: () => void, run: () => Promise<void>): Promise<void> {
    if (this.loop) return Promise.reject(new Error(`${this.name}: already started`));
    begin();
    this.controller = new AbortController();
    this.health.state = 'connecting';
    const started = new Promise<void>((resolve, reject) => {
      this.startup = { resolve, reject };
    });
    this.cancelStartTimer = after(this.clock, startTimeoutMs, () => this.settle());
    this.loop = run();
    return started;
  }

  /** Settles the startup promise, once: rejected with `err`, resolved without. */
  settle(err?: Error): void {
    const s = this.startup;
    if (!s) return;
    this.startup = null;
    this.cancelStartTimer?.();
    if (err) s.reject(err);
    else s.resolve();
  }

  /** Ends the loop from inside (a failure found outside it); stop() still has to be called. */
  abort(): void {
    this.controller.abort();
  }

  /** Aborts, closes the connection with `close`, waits for the loop to end, then settles the startup promise. */
  async stop(close: () => void): Promise<void> {
    this.controller.abort();
    this.cancelStartTimer?.();
    close();
    await this.loop;
    this.loop = null;
    if (this.health.state !== 'failed') this.health.state = 'stopped';
    this.settle();
  }
}
