/**
 * Reconnect delays: exponential growth capped at `maxMs`, with jitter so that
 * thousands of browsers dropped by one restart do not reconnect in lockstep.
 * The delay for attempt n lies in [(1 - jitter) * d, d] with
 * d = min(maxMs, initialMs * factor^n).
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay that is randomized, 0..1. */
  jitter?: number;
}

export const BACKOFF_DEFAULTS: Required<BackoffOptions> = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialMs, maxMs, factor, jitter } = { ...BACKOFF_DEFAULTS, ...opts };
  const j = Math.min(1, Math.max(0, jitter));
  const ceiling = Math.min(maxMs, initialMs * Math.pow(factor, Math.max(0, attempt)));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling * (1 - j + j * r));
}
