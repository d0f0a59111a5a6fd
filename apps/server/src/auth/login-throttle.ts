/**
 * Login throttling, per account and per client address: a few free failures,
 * then an exponentially growing wait (1 s, 2 s, 4 s … capped) before the next
 * attempt is even checked. A wait, not a permanent lockout, so an attacker
 * cannot lock a victim out for long; a success clears the account's record.
 * Unknown user names are throttled exactly like real ones (no enumeration).
 *
 * Attempts are RESERVED before the password hash is awaited: `reserve` checks
 * and counts the attempt as a failure in one step, and `succeeded` gives it
 * back. Checking first and counting after the (slow) hash let 40 concurrent
 * guesses all through a limit of 5 (issue 12 §7).
 *
 * Two stores: this in-memory one (one process; bounded, and eviction spares
 * the records with the most failures so a spray of junk names cannot flush a
 * victim's record), and RedisLoginThrottle (redis-throttle.ts), shared by every
 * process and replica when REDIS_URL is configured.
 */
export interface ThrottleOptions {
  now?: () => number;
  /** Failures per account before waits start. Default 5. */
  accountFreeFailures?: number;
  /** Failures per address before waits start. Default 20. */
  ipFreeFailures?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A record with no failure for this long is forgotten. Default 15 min. */
  windowMs?: number;
  /** Records kept per kind; the oldest go first. Default 10,000. */
  maxEntries?: number;
}

interface Entry {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number; scope: 'account' | 'ip' };

/** What AuthService needs from a throttle (memory or Redis). */
export interface Throttle {
  /** Refuses when the account or the address must wait; otherwise counts this attempt as a failure (reserved) and allows it, atomically. */
  reserve(account: string, ip: string): Promise<ThrottleDecision>;
  /** The reserved attempt succeeded: the account's record is cleared and the address gets its reservation back. */
  succeeded(account: string, ip: string): Promise<void>;
  /** Records held in this process (for the memory bound in tests; 0 when the state lives in Redis). */
  readonly size: { accounts: number; ips: number };
}

/** Defaults shared by both stores. */
export const THROTTLE_DEFAULTS = { accountFreeFailures: 5, ipFreeFailures: 20, baseDelayMs: 1_000, maxDelayMs: 15 * 60_000, windowMs: 15 * 60_000, maxEntries: 10_000 } as const;

/** The wait after `failures` failures with `free` free ones (0 while still free). */
export const throttleDelayMs = (failures: number, free: number, baseDelayMs: number, maxDelayMs: number): number =>
  failures > free ? Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(30, failures - free - 1)) : 0;

/** Records looked at when the store is full: the one with the fewest failures among the oldest of them goes. */
const EVICTION_SAMPLE = 64;

class Counter {
  private readonly map = new Map<string, Entry>();
  constructor(
    private readonly free: number,
    private readonly o: Required<Omit<ThrottleOptions, 'now' | 'accountFreeFailures' | 'ipFreeFailures'>>,
  ) {}

  private live(key: string, now: number): Entry | undefined {
    const e = this.map.get(key);
    if (e && now >= e.lockedUntil && now - e.lastFailure > this.o.windowMs) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  waitMs(key: string, now: number): number {
    const e = this.live(key, now);
    return e ? Math.max(0, e.lockedUntil - now) : 0;
  }

  fail(key: string, now: number): void {
    const e = this.live(key, now) ?? { failures: 0, lastFailure: now, lockedUntil: 0 };
    e.failures++;
    e.lastFailure = now;
    if (e.failures > this.free) e.lockedUntil = now + throttleDelayMs(e.failures, this.free, this.o.baseDelayMs, this.o.maxDelayMs);
    this.map.delete(key); // re-insert: Map order is the age order
    this.map.set(key, e);
    while (this.map.size > this.o.maxEntries) this.evictOne(now);
  }

  /**
   * Drops one record: among the oldest few, a forgotten one or else the one with
   * the fewest failures. Plain LRU would let a spray of fresh junk names push a
   * victim's half-used or waiting record out and restart its count.
   */
  private evictOne(now: number): void {
    let victim: string | undefined;
    let fewest = Infinity;
    let n = 0;
    for (const [key, e] of this.map) {
      if (now >= e.lockedUntil && now - e.lastFailure > this.o.windowMs) {
        victim = key;
        break;
      }
      if (e.failures < fewest) {
        fewest = e.failures;
        victim = key;
      }
      if (++n >= EVICTION_SAMPLE) break;
    }
    this.map.delete(victim!);
  }

  /** Gives back one counted failure (a reservation that turned out to be a success); any wait already started stays. */
  refund(key: string, now: number): void {
    const e = this.live(key, now);
    if (!e) return;
    e.failures = Math.max(0, e.failures - 1);
    if (e.failures === 0 && now >= e.lockedUntil) this.map.delete(key);
  }

  clear(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}

export class LoginThrottle implements Throttle {
  private readonly now: () => number;
  private readonly accounts: Counter;
  private readonly ips: Counter;

  constructor(opts: ThrottleOptions = {}) {
    this.now = opts.now ?? Date.now;
    const d = THROTTLE_DEFAULTS;
    const common = {
      baseDelayMs: opts.baseDelayMs ?? d.baseDelayMs,
      maxDelayMs: opts.maxDelayMs ?? d.maxDelayMs,
      windowMs: opts.windowMs ?? d.windowMs,
      maxEntries: opts.maxEntries ?? d.maxEntries,
    };
    this.accounts = new Counter(opts.accountFreeFailures ?? d.accountFreeFailures, common);
    this.ips = new Counter(opts.ipFreeFailures ?? d.ipFreeFailures, common);
  }

  /** check + failure in one synchronous step: nothing can run in between on this thread. */
  async reserve(account: string, ip: string): Promise<ThrottleDecision> {
    const d = this.check(account, ip);
    if (d.allowed) this.failure(account, ip);
    return d;
  }

  async succeeded(account: string, ip: string): Promise<void> {
    this.accounts.clear(account);
    this.ips.refund(ip, this.now());
  }

  check(account: string, ip: string): ThrottleDecision {
    const now = this.now();
    const a = this.accounts.waitMs(account, now);
    const i = this.ips.waitMs(ip, now);
    if (a === 0 && i === 0) return { allowed: true };
    return a >= i ? { allowed: false, retryAfterMs: a, scope: 'account' } : { allowed: false, retryAfterMs: i, scope: 'ip' };
  }

  failure(account: string, ip: string): void {
    const now = this.now();
    this.accounts.fail(account, now);
    this.ips.fail(ip, now);
  }

  success(account: string): void {
    this.accounts.clear(account);
  }

  /** Records held (for the memory bound in tests and metrics). */
  get size(): { accounts: number; ips: number } {
    return { accounts: this.accounts.size, ips: this.ips.size };
  }
}
