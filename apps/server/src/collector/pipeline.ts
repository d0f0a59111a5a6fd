/**
 * The collector pipeline: feed → engine → (bus, storage writer).
 *
 * Live data never waits for storage. Every feed event is applied at once and
 * every output is published at once; storage gets the outputs through
 * `writer.offer`. The writer absorbs a database outage in memory and then in
 * its durable spill (storage/spill.ts), so normally it never refuses. When it
 * does (spill full, unwritable or not configured), the refused output and
 * every storage output after it are held here, in order, and offered again
 * as capacity returns. The hold is bounded (`maxHeldOutputs`); past it:
 *   - a feed that can pause (the simulator; `pause` is optional on Feed) is
 *     paused until the hold drains: nothing is lost, the tape waits;
 *   - a feed that cannot (SSI, Alpaca: the vendor pushes regardless) keeps
 *     flowing live and new storage outputs are DROPPED, counted
 *     (`collector_storage_dropped_total`) and logged — bounded memory and live
 *     data win over the completeness of history once disk is exhausted too.
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
  /** Whether the writer stores this output at all (those it ignores need not wait behind refused ones). Default: yes. */
  stores?(out: EngineOutput): boolean;
}

export interface PipelineOptions {
  feed: Feed;
  engine: MarketEngine;
  publisher: StreamPublisher;
  writer: OutputWriter;
  /** Sees every output as it is produced, with publishing (the live side, e.g. the collector's live view). */
  onOutput?: (out: EngineOutput) => void;
  clock?: Clock;
  /** How often the engine is advanced without events (ms of clock time). Default 1000. */
  advanceIntervalMs?: number;
  /** Storage outputs held while the writer refuses before a feed is paused or, when it cannot pause, new ones are dropped. Default 100,000. */
  maxHeldOutputs?: number;
  registry?: Registry;
  log?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
}

export interface PipelineStatus {
  running: boolean;
  events: number;
  rejected: number;
  /** Storage outputs the writer refused, held in order until it has capacity. */
  blockedOutputs: number;
  /** The feed is paused because the hold is full. */
  paused: boolean;
  backpressureWaits: number;
  /** Storage outputs dropped because the hold was full and the feed cannot pause. */
  droppedOutputs: number;
}

/** Optional flow control some feeds offer (duck-typed; wrappers say `pausable: false` when what they wrap cannot). */
interface Pausable {
  pause(): void;
  resume(): void;
  readonly pausable?: boolean;
}
export const isPausable = (f: unknown): f is Pausable =>
  typeof (f as Pausable).pause === 'function' && typeof (f as Pausable).resume === 'function' && (f as Pausable).pausable !== false;

interface PipelineMetrics {
  feed: FeedMetrics;
  held: Gauge;
  backpressure: Counter;
  dropped: Counter;
}

function pipelineMetrics(registry: Registry): PipelineMetrics {
  return {
    feed: feedMetrics(registry),
    held: getOrCreate(registry, 'collector_held_outputs', () =>
      new PromGauge({ name: 'collector_held_outputs', help: 'Storage outputs held because the storage writer refused them (spill full or off)', registers: [registry] }),
    ),
    backpressure: getOrCreate(registry, 'collector_backpressure_waits_total', () =>
      new PromCounter({ name: 'collector_backpressure_waits_total', help: 'Times the storage writer refused an output and the pipeline started holding', registers: [registry] }),
    ),
    dropped: getOrCreate(registry, 'collector_storage_dropped_total', () =>
      new PromCounter({ name: 'collector_storage_dropped_total', help: 'Storage outputs dropped: the writer and the hold were full and the feed cannot pause (live data kept flowing)', registers: [registry] }),
    ),
  };
}

/**
 * The feed → engine → outputs pipeline. Named apart from the `collector` role
 * (roles/collector.ts), which runs one of these behind the leader lock; the
 * `all` role runs one in-process.
 */
export class MarketPipeline {
  private readonly feed: Feed;
  private readonly engine: MarketEngine;
  private readonly publisher: StreamPublisher;
  private readonly writer: OutputWriter;
  private readonly onOutput: ((out: EngineOutput) => void) | undefined;
  private readonly clock: Clock;
  private readonly advanceMs: number;
  private readonly maxHeld: number;
  private readonly log: PipelineOptions['log'];
  private readonly metrics: PipelineMetrics | undefined;

  private blocked: EngineOutput[] = [];
  private bHead = 0;
  private draining: Promise<void> | null = null;
  private timer: unknown = null;
  private running = false;
  private feedPaused = false;
  private events = 0;
  private rejected = 0;
  private backpressureWaits = 0;
  private dropped = 0;
  /** Drops of the current episode (logged when it starts and when it ends). */
  private droppingSince: number | null = null;
  /** Wall time at which the engine's event time last moved forward. */
  private engineMovedAt = 0;
  private lastEngineTime = -Infinity;

  constructor(opts: PipelineOptions) {
    this.feed = opts.feed;
    this.engine = opts.engine;
    this.publisher = opts.publisher;
    this.writer = opts.writer;
    this.onOutput = opts.onOutput;
    this.clock = opts.clock ?? systemClock;
    this.advanceMs = opts.advanceIntervalMs ?? 1_000;
    this.maxHeld = Math.max(1, opts.maxHeldOutputs ?? 100_000);
    this.log = opts.log;
    this.metrics = opts.registry ? pipelineMetrics(opts.registry) : undefined;
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
    await this.feed.start((ev) => this.process(ev));
  }

  /** Stops the feed and the timer, then hands every held output to the writer. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    await this.feed.stop();
    await this.idle();
  }

  /** Resolves once nothing is held (every output offered to the writer). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  status(): PipelineStatus {
    return {
      running: this.running,
      events: this.events,
      rejected: this.rejected,
      blockedOutputs: this.held(),
      paused: this.feedPaused,
      backpressureWaits: this.backpressureWaits,
      droppedOutputs: this.dropped,
    };
  }

  private held(): number {
    return this.blocked.length - this.bHead;
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
    this.onOutput?.(out);
    if (this.held() === 0) {
      if (this.writer.offer(out)) return;
    } else if (this.writer.stores && !this.writer.stores(out)) {
      return; // not stored: nothing to keep in order
    }
    this.hold(out);
  };

  private hold(out: EngineOutput): void {
    if (this.held() >= this.maxHeld) {
      if (isPausable(this.feed)) {
        // Events already on their way still arrive; the hold overshoots by those at most.
        if (!this.feedPaused) {
          this.feedPaused = true;
          this.feed.pause();
          this.log?.warn({ held: this.held() }, 'storage cannot take more (spill full or off): feed paused until it catches up');
        }
      } else {
        this.dropped++;
        this.metrics?.dropped.inc();
        if (this.droppingSince === null) {
          this.droppingSince = this.dropped;
          this.log?.error(
            { held: this.held(), feed: this.feed.name },
            'storage cannot take more (spill full or off) and the feed cannot pause: dropping stored rows, live data continues (collector_storage_dropped_total)',
          );
        }
        return;
      }
    }
    this.blocked.push(out);
    this.metrics?.held.set(this.held());
    this.startDrain();
  }

  private startDrain(): void {
    if (this.draining) return;
    this.backpressureWaits++;
    this.metrics?.backpressure.inc();
    this.draining = this.drain()
      .catch((err: unknown) => this.log?.error({ err }, 'collector drain failed'))
      .finally(() => {
        this.draining = null;
        // An error above leaves work behind: try again rather than stall.
        if (this.held() > 0) queueMicrotask(() => this.startDrain());
      });
  }

  private async drain(): Promise<void> {
    while (this.bHead < this.blocked.length) {
      if (this.writer.offer(this.blocked[this.bHead]!)) {
        this.bHead++;
        if (this.bHead > 4096 && this.bHead * 2 > this.blocked.length) {
          this.blocked = this.blocked.slice(this.bHead);
          this.bHead = 0;
        }
      } else {
        this.metrics?.held.set(this.held());
        await this.writer.waitForCapacity();
      }
    }
    this.blocked = [];
    this.bHead = 0;
    this.metrics?.held.set(0);
    if (this.droppingSince !== null) {
      this.log?.warn({ dropped: this.dropped - this.droppingSince + 1, total: this.dropped }, 'storage caught up: stored rows no longer dropped');
      this.droppingSince = null;
    }
    if (this.feedPaused) {
      this.feedPaused = false;
      if (isPausable(this.feed)) this.feed.resume();
      this.log?.info('storage caught up: feed resumed');
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

  /** Timer: move event time forward (see the header comment). */
  private tick(): void {
    if (!Number.isFinite(this.lastEngineTime)) return;
    const target = this.marketTime();
    if (target > this.engine.now()) this.engine.advance(target, this.emit);
  }
}
