/**
 * Reconnect delays: exponential growth capped at maxMs, with jitter so that a
 * fleet of collectors dropped by one vendor restart does not come back in
 * lockstep. Attempt n waits a value in [(1 - jitter) * d, d] with
 * d = min(maxMs, initialMs * factor^n).
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Share of the delay that is random, 0..1. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly o: Required<BackoffOptions>;

  constructor(opts: BackoffOptions = {}) {
    this.o = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5, random: Math.random, ...opts };
  }

  /** The delay before the next attempt; each call grows the following one. */
  next(): number {
    const { initialMs, maxMs, factor, jitter, random } = this.o;
    const ceiling = Math.min(maxMs, initialMs * Math.pow(factor, this.attempt));
    this.attempt += 1;
    const j = Math.min(1, Math.max(0, jitter));
    return Math.round(ceiling * (1 - j + j * Math.min(1, Math.max(0, random()))));
  }

  /** Back to the first delay (after a connection that worked). */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
