/**
 * The simulator as a live `Feed`: every `tickMs` it advances the simulation
 * to the clock's now and pushes the new events to the sink.
 */
import type { MarketEvent } from '@stock-tracker/protocol';
import { systemClock, type Clock, type Feed, type FeedStatus } from '../feed.ts';
import { DEFAULT_DAY_MS, Simulator, type SimulatorOptions } from './simulator.ts';

export interface SimulatorFeedOptions extends Partial<SimulatorOptions> {
  clock?: Clock;
  /** Pacing interval; default 100 ms. */
  tickMs?: number;
  name?: string;
}

export class SimulatorFeed implements Feed {
  readonly name: string;
  readonly simulator: Simulator;
  private readonly clock: Clock;
  private readonly tickMs: number;
  private timer: unknown = null;
  private sink: ((ev: MarketEvent) => void) | null = null;
  private events = 0;
  private lastEventTs: number | null = null;
  private readonly errors: Record<string, number> = {};
  private paused = false;

  /**
   * Without `startTs`, day loops are aligned to multiples of `dayMs` since the
   * epoch, and the feed first catches up from the start of the current loop.
   * A restart within the same loop therefore regenerates the very same events
   * (same trade ids, which storage de-duplicates) instead of a different day.
   */
  constructor(opts: SimulatorFeedOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.tickMs = opts.tickMs ?? 100;
    this.name = opts.name ?? 'simulator';
    const dayMs = opts.dayMs ?? DEFAULT_DAY_MS;
    const startTs = opts.startTs ?? Math.floor(this.clock.now() / dayMs) * dayMs;
    this.simulator = new Simulator({ ...opts, dayMs, startTs });
  }

  async start(sink: (ev: MarketEvent) => void): Promise<void> {
    if (this.sink) throw new Error(`feed ${this.name} already started`);
    this.sink = sink;
    this.pump();
    this.timer = this.clock.setInterval(() => this.pump(), this.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) this.clock.clearInterval(this.timer);
    this.timer = null;
    this.sink = null;
  }

  /** Backpressure from the consumer: stop advancing; simulated time keeps its place. */
  pause(): void {
    this.paused = true;
  }

  /** Catch up on everything simulated while paused (nothing is skipped), then continue. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  status(): FeedStatus {
    return {
      name: this.name,
      connected: this.sink !== null,
      lastEventTs: this.lastEventTs,
      events: this.events,
      malformed: 0,
      errors: { ...this.errors },
    };
  }

  private pump(): void {
    const sink = this.sink;
    if (!sink || this.paused) return;
    this.simulator.advanceTo(this.clock.now(), (ev) => {
      this.events++;
      this.lastEventTs = ev.ts;
      // A failing consumer must not stall the market: count it and carry on.
      try {
        sink(ev);
      } catch {
        this.errors.sink = (this.errors.sink ?? 0) + 1;
      }
    });
  }
}
