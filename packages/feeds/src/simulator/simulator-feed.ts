/**
 * The simulator as a live `Feed`: every `tickMs` it advances the simulation
 * to the clock's now and pushes the new events to the sink.
 */
import type { MarketEvent, SessionPhase } from '@stock-tracker/protocol';
import { systemClock, type Clock, type Feed, type FeedStatus } from '../feed.ts';
import { phaseChanges } from './calendar.ts';
import { DEFAULT_DAY_MS, Simulator, type SimulatorOptions } from './simulator.ts';

/** Where the first simulated day starts: a session phase, or `aligned` (loops on multiples of `dayMs` since the epoch). */
export type SimStartPhase = SessionPhase | 'aligned';
export const SIM_START_PHASES: readonly SimStartPhase[] = ['pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed', 'aligned'];

export interface SimulatorFeedOptions extends Omit<Partial<SimulatorOptions>, 'clock'> {
  clock?: Clock;
  /** Event stamps; default `exchange` (local exchange time on the simulated trading date). */
  simClock?: SimulatorOptions['clock'];
  /** Phase the first day is in at start (ignored with `startTs`); default `aligned`. */
  startPhase?: SimStartPhase;
  /** Pacing interval; default 100 ms. */
  tickMs?: number;
  name?: string;
}

export class SimulatorFeed implements Feed {
  readonly name: string;
  private sim: Simulator;
  private readonly opts: SimulatorFeedOptions;
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
   * (same trade ids, which storage de-duplicates) instead of a different day,
   * and several collectors simulate the same day.
   *
   * With a `startPhase`, that aligned loop is kept when it is in that phase
   * now (of HOSE, or the first simulated exchange); otherwise the first day
   * starts so that it enters the phase now (its earlier phases are caught up
   * at once). So a fresh start is live at any hour, and a restart or a test
   * that picked `dayMs` for a continuous session keeps the aligned day. The
   * day is laid out again when the feed starts, so a slow server start does
   * not eat into the start phase.
   */
  constructor(opts: SimulatorFeedOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.tickMs = opts.tickMs ?? 100;
    this.name = opts.name ?? 'simulator';
    this.opts = opts;
    this.sim = this.build(this.clock.now());
  }

  /** The simulation the feed runs (replaced once, at start, when the start phase needs a fresh anchor). */
  get simulator(): Simulator {
    return this.sim;
  }

  private build(now: number): Simulator {
    const opts = this.opts;
    const dayMs = opts.dayMs ?? DEFAULT_DAY_MS;
    const simOpts: SimulatorOptions = { ...opts, clock: opts.simClock ?? 'exchange', dayMs, startTs: opts.startTs ?? Math.floor(now / dayMs) * dayMs };
    const sim = new Simulator(simOpts);
    const phase = opts.startPhase ?? 'aligned';
    if (opts.startTs !== undefined || phase === 'aligned') return sim;
    const startTs = startFor(sim, phase, now);
    return startTs === sim.startTs ? sim : new Simulator({ ...simOpts, startTs });
  }

  async start(sink: (ev: MarketEvent) => void): Promise<void> {
    if (this.sink) throw new Error(`feed ${this.name} already started`);
    this.sink = sink;
    // Nothing was generated yet: anchor the start phase at the actual start.
    if (this.events === 0 && this.opts.startTs === undefined && (this.opts.startPhase ?? 'aligned') !== 'aligned') this.sim = this.build(this.clock.now());
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
    // Paced by the wall clock whatever the stamps say.
    this.sim.advanceToWall(this.clock.now(), (ev) => {
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

/**
 * Start instant of the first day for `phase` at `now`: the aligned loop's
 * start when HOSE (or the first simulated exchange) is in that phase now,
 * else `now` minus the phase's first offset in the day.
 */
function startFor(aligned: Simulator, phase: SessionPhase, now: number): number {
  const all = aligned.exchangeRules();
  const offset = now - aligned.startTs;
  const primary = phaseChanges(all[0]!, aligned.startTs, aligned.dayMs, aligned.layout);
  if (primary.findLast((c) => c.offset <= offset)?.phase === phase) return aligned.startTs;
  for (const rules of all) {
    const first = phaseChanges(rules, aligned.startTs, aligned.dayMs, aligned.layout).find((c) => c.phase === phase);
    // ceil: the first day's offset at `now` is at or just past the phase's start, never before it.
    if (first) return now - Math.ceil(first.offset);
  }
  throw new RangeError(`no simulated exchange has a '${phase}' phase`);
}
