/**
 * One-shot timers and sleeps on a feed Clock. The Clock only offers intervals
 * (so ManualClock can drive everything); a one-shot is an interval cleared on
 * its first tick.
 */
import type { Clock } from '../feed.ts';

/** Runs fn once after ms; returns a cancel function (safe to call twice). */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown = clock.setInterval(() => {
    cancel();
    fn();
  }, Math.max(1, ms));
  function cancel(): void {
    if (handle === undefined) return;
    clock.clearInterval(handle);
    handle = undefined;
  }
  return cancel;
}

/** Resolves after ms, or early (without error) when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = after(clock, ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}
