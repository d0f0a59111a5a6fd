/**
 * The one polling helper of the tests: wait until a condition holds (or a probe
 * yields a value), checking every `everyMs`, and fail with a message naming what
 * was awaited after `timeoutMs`. Bounded waits that only fail with a message:
 * never a measure of speed (a loaded machine only makes them take longer).
 */
export interface WaitOptions {
  timeoutMs?: number;
  everyMs?: number;
  /** Appended to the timeout message: the state that was seen last. */
  describe?: () => string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function timeout(what: string, describe?: () => string): Error {
  return new Error(`timed out waiting for ${what}${describe ? `: ${describe()}` : ''}`);
}

/** Resolves once `cond()` is true; rejects with "timed out waiting for <what>" after `timeoutMs` (default 5 s). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, opts: WaitOptions | number = {}): Promise<void> {
  const { timeoutMs = 5_000, everyMs = 10, describe } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw timeout(what, describe);
    await sleep(everyMs);
  }
}

/** Resolves with the first value `probe()` yields that is not undefined, null or false. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, opts: WaitOptions | number = {}): Promise<T> {
  const { timeoutMs = 5_000, everyMs = 10, describe } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw timeout(what, describe);
    await sleep(everyMs);
  }
}
