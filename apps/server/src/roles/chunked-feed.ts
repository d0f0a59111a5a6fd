/**
 * Delivers a feed's events in bounded slices, yielding to the event loop
 * between them. A feed may hand over a large burst at once — the simulator
 * replays the current day up to now inside `start()` — and processing it in
 * one go would block the process for seconds: long enough for the leader
 * lock's lease to lapse (and a standby to take over) and for probes to time
 * out. Order is kept; nothing is dropped; `stop()` delivers what is queued.
 */
import type { Feed, FeedStatus } from '@stock-tracker/feeds';
import type { MarketEvent } from '@stock-tracker/protocol';

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ChunkedFeed implements Feed {
  private queue: MarketEvent[] = [];
  private head = 0;
  private sink: ((ev: MarketEvent) => void) | null = null;
  private pumping: Promise<void> | null = null;
  private idleWaiters: Array<() => void> = [];
  sinkErrors = 0;

  constructor(
    private readonly inner: Feed,
    /** Events delivered per turn of the event loop. */
    private readonly sliceSize = 2_000,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  /** Events received and not yet delivered. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  async start(sink: (ev: MarketEvent) => void): Promise<void> {
    this.sink = sink;
    await this.inner.start((ev) => this.push(ev));
  }

  async stop(): Promise<void> {
    await this.inner.stop();
    await this.pumping;
    this.deliver(Infinity);
    this.sink = null;
  }

  status(): FeedStatus {
    return this.inner.status();
  }

  /** Only as pausable as the feed it wraps: a vendor feed cannot be paused, and the pipeline must know (collector/pipeline.ts). */
  get pausable(): boolean {
    return typeof this.inner.pause === 'function' && typeof this.inner.resume === 'function' && (this.inner as { pausable?: boolean }).pausable !== false;
  }

  pause(): void {
    this.inner.pause?.();
  }

  resume(): void {
    this.inner.resume?.();
  }

  /** Resolves once everything received so far has been delivered. */
  idle(): Promise<void> {
    if (this.backlog === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private push(ev: MarketEvent): void {
    this.queue.push(ev);
    this.pumping ??= this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.backlog > 0 && this.sink) {
        await yieldToLoop();
        this.deliver(this.sliceSize);
      }
    } finally {
      this.pumping = null;
    }
  }

  private deliver(max: number): void {
    const sink = this.sink;
    if (!sink) return;
    const end = Math.min(this.queue.length, this.head + max);
    while (this.head < end) {
      const ev = this.queue[this.head]!;
      this.head++;
      try {
        sink(ev);
      } catch {
        this.sinkErrors++; // a failing consumer must not stall the feed (the simulator does the same)
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    } else if (this.head > 65_536) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
