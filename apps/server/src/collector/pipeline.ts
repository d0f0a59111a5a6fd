/**
 * The collector pipeline: feed → engine → (bus, storage writer).
 *
 * Backpressure. Publishing to the bus never blocks. The storage writer may
 * refuse an output when its buffer is full (database slow or down); nothing is
 * ever dropped: the refused output and every output after it wait, in order,
 * and intake pauses — new feed events queue here (bounded by
 * `maxPendingEvents`; past that the feed is asked to pause when it can, and the
 * overflow is counted) until the writer has capacity again.
 *
 * Time. A timer advances the engine (closing 1m bars and recomputing indices
 * when no trade arrives). The target is *event* time extrapolated by the wall
 * time elapsed since the engine last moved: equal to the wall clock for live
 * feeds and the simulator, and correct for a replay of an old tape, where
 * advancing to the wall clock would close every bar of the tape at once.
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { Counter as PromCounter, Gauge as PromGauge } from 'prom-client';
import type { EngineOutput, MarketEvent, SymbolRef } from '@stock-tracker/protocol';
import type { MarketEngine } from '@stock-tracker/engine';
import { systemClock, type Clock, type Feed } from '@stock-tracker/feeds';
import { publishEngineOutput, type StreamPublisher } from '../bus/index.ts';
import { feedMetrics, feedStatusGauges, getOrCreate, type FeedMetrics } from '../observability/metrics.ts';
import type { Logger } from '../observability/logger.ts';

/** The part of StorageWriter the pipeline uses. */
export interface OutputWriter {
  offer(out: EngineOutput): boolean;
  waitForCapacity(): Promise<void>;
}

export interface CollectorOptions {
  feed: Feed;
  engine: MarketEngine;
  publisher: StreamPublisher;
  writer: OutputWriter;
  clock?: Clock;
  /** How often the engine is advanced without events (ms of clock time). Default 1000. */
  advanceIntervalMs?: number;
  /** Feed events queued while the writer is full before the feed is asked to pause. Default 200,000. */
  maxPendingEvents?: number;
  registry?: Registry;
  log?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
}

export interface CollectorStatus {
  running: boolean;
  events: number;
  rejected: number;
  /** Feed events waiting for the writer. */
  pendingEvents: number;
  /** Engine outputs the writer refused, waiting for capacity. */
  blockedOutputs: number;
  paused: boolean;
  backpressureWaits: number;
  overflow: number;
}

/** Optional flow control some feeds offer (duck-typed: not part of the Feed interface). */
interface Pausable {
  pause(): void;
  resume(): void;
}
const isPausable = (f: unknown): f is Pausable =>
  typeof (f as Pausable).pause === 'function' && typeof (f as Pausable).resume === 'function';

interface CollectorMetrics {
  feed: FeedMetrics;
  pending: Gauge;
  backpressure: Counter;
}

function collectorMetrics(registry: Registry): CollectorMetrics {
  return {
    feed: feedMetrics(registry),
    pending: getOrCreate(registry, 'collector_pending_events', () =>
      new PromGauge({ name: 'collector_pending_events', help: 'Feed events queued while the storage writer is full', registers: [registry] }),
    ),
    backpressure: getOrCreate(registry, 'collector_backpressure_waits_total', () =>
      new PromCounter({ name: 'collector_backpressure_waits_total', help: 'Times intake paused because the storage writer was full', registers: [registry] }),
    ),
  };
}

export class Collector {
  private readonly feed: Feed;
  private readonly engine: MarketEngine;
  private readonly publisher: StreamPublisher;
  private readonly writer: OutputWriter;
  private readonly clock: Clock;
  private readonly advanceMs: number;
  private readonly maxPending: number;
  private readonly log: CollectorOptions['log'];
  private readonly metrics: CollectorMetrics | undefined;

  private queue: MarketEvent[] = [];
  private qHead = 0;
  private blocked: EngineOutput[] = [];
  private bHead = 0;
  private draining: Promise<void> | null = null;
  private timer: unknown = null;
  private running = false;
  private feedPaused = false;
  private events = 0;
  private rejected = 0;
  private backpressureWaits = 0;
  private overflow = 0;
  /** Wall time at which the engine's event time last moved forward. */
  private engineMovedAt = 0;
  private lastEngineTime = -Infinity;

  constructor(opts: CollectorOptions) {
    this.feed = opts.feed;
    this.engine = opts.engine;
    this.publisher = opts.publisher;
    this.writer = opts.writer;
    this.clock = opts.clock ?? systemClock;
    this.advanceMs = opts.advanceIntervalMs ?? 1_000;
    this.maxPending = opts.maxPendingEvents ?? 200_000;
    this.log = opts.log;
    this.metrics = opts.registry ? collectorMetrics(opts.registry) : undefined;
    if (opts.registry) feedStatusGauges(opts.registry, this.feed, () => this.clock.now());
  }

  /**
   * Applies stored reference data before the feed starts, so the board lists
   * every known symbol at once. Stamped ts=0: any reference from the feed is
   * newer and wins. Published, not written back (it came from storage).
   */
  preload(refs: readonly SymbolRef[]): void {
    const publishOnly = (out: EngineOutput) => {
      publishEngineOutput(this.publisher, out);
    };
    for (const ref of refs) this.engine.apply({ type: 'reference', ts: 0, ref }, publishOnly);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.engineMovedAt = this.clock.now();
    this.timer = this.clock.setInterval(() => this.tick(), this.advanceMs);
    await this.feed.start((ev) => this.onEvent(ev));
  }

  /** Stops the feed and the timer, then hands every queued event and output to the writer. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    await this.feed.stop();
    await this.idle();
  }

  /** Resolves once nothing is queued (every output offered to the writer). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  status(): CollectorStatus {
    return {
      running: this.running,
      events: this.events,
      rejected: this.rejected,
      pendingEvents: this.queue.length - this.qHead,
      blockedOutputs: this.blocked.length - this.bHead,
      paused: this.backlogged(),
      backpressureWaits: this.backpressureWaits,
      overflow: this.overflow,
    };
  }

  private backlogged(): boolean {
    return this.bHead < this.blocked.length || this.qHead < this.queue.length;
  }

  private onEvent(ev: MarketEvent): void {
    if (!this.backlogged()) {
      this.process(ev);
      return;
    }
    this.queue.push(ev);
    const pending = this.queue.length - this.qHead;
    this.metrics?.pending.set(pending);
    if (pending > this.maxPending) {
      this.overflow++;
      if (!this.feedPaused && isPausable(this.feed)) {
        this.feedPaused = true;
        this.feed.pause();
        this.log?.warn({ pending }, 'storage backlog: feed paused');
      } else if (this.overflow === 1) {
        this.log?.warn({ pending, feed: this.feed.name }, 'storage backlog beyond the intake bound and the feed cannot pause; still queueing (nothing is dropped)');
      }
    }
  }

  private process(ev: MarketEvent): void {
    this.events++;
    this.metrics?.feed.events.inc({ feed: this.feed.name, type: typeof ev?.type === 'string' ? ev.type : 'unknown' });
    if (!this.engine.apply(ev, this.emit)) {
      this.rejected++;
      this.metrics?.feed.rejected.inc({ feed: this.feed.name });
    }
    this.noteEngineTime();
  }

  private readonly emit = (out: EngineOutput): void => {
    publishEngineOutput(this.publisher, out);
    if (this.bHead < this.blocked.length || !this.writer.offer(out)) {
      this.blocked.push(out);
      this.startDrain();
    }
  };

  private startDrain(): void {
    if (this.draining) return;
    this.backpressureWaits++;
    this.metrics?.backpressure.inc();
    this.draining = this.drain()
      .catch((err: unknown) => this.log?.error({ err }, 'collector drain failed'))
      .finally(() => {
        this.draining = null;
        // An error above leaves work behind: try again rather than stall.
        if (this.backlogged()) queueMicrotask(() => this.startDrain());
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      while (this.bHead < this.blocked.length) {
        if (this.writer.offer(this.blocked[this.bHead]!)) this.bHead++;
        else await this.writer.waitForCapacity();
      }
      this.blocked = [];
      this.bHead = 0;
      if (this.qHead >= this.queue.length) break;
      // Replay queued events until the writer refuses again (then loop to wait).
      while (this.qHead < this.queue.length && this.bHead >= this.blocked.length) this.process(this.queue[this.qHead++]!);
      if (this.qHead >= this.queue.length) {
        this.queue = [];
        this.qHead = 0;
      } else if (this.qHead > 4096 && this.qHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.qHead);
        this.qHead = 0;
      }
      this.metrics?.pending.set(this.queue.length - this.qHead);
      if (this.bHead >= this.blocked.length && this.qHead >= this.queue.length) break;
    }
    this.metrics?.pending.set(0);
    if (this.feedPaused && isPausable(this.feed)) {
      this.feedPaused = false;
      this.feed.resume();
      this.log?.info('storage backlog cleared: feed resumed');
    }
  }

  private noteEngineTime(): void {
    const t = this.engine.now();
    if (t > this.lastEngineTime) {
      this.lastEngineTime = t;
      this.engineMovedAt = this.clock.now();
    }
  }

  /**
   * The market's current time: event time extrapolated by the wall time since
   * it last moved (see the header comment); the clock before the first event.
   */
  marketTime(): number {
    return Number.isFinite(this.lastEngineTime) ? this.lastEngineTime + (this.clock.now() - this.engineMovedAt) : this.clock.now();
  }

  /** Timer: move event time forward (see the header comment); skipped while events wait, to keep their order. */
  private tick(): void {
    if (this.backlogged() || !Number.isFinite(this.lastEngineTime)) return;
    const target = this.marketTime();
    if (target > this.engine.now()) this.engine.advance(target, this.emit);
  }
}
