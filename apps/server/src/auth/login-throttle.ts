/**
 * Login throttling, per account and per client address: a few free failures,
 * then an exponentially growing wait (1 s, 2 s, 4 s … capped) before the next
 * attempt is even checked. A wait, not a permanent lockout, so an attacker
 * cannot lock a victim out for long; a success clears the account's record.
 * Unknown user names are throttled exactly like real ones (no enumeration).
 *
 * In memory and per process: bounded (oldest records evicted) and forgotten
 * after a quiet window. Behind several API replicas each counts on its own;
 * the edge's limit_req and the per-IP rate limit on /api/auth bound the total.
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
    if (e.failures > this.free) {
      const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.min(30, e.failures - this.free - 1));
      e.lockedUntil = now + delay;
    }
    this.map.delete(key); // re-insert: Map order is the eviction order
    this.map.set(key, e);
    while (this.map.size > this.o.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  clear(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}

export class LoginThrottle {
  private readonly now: () => number;
  private readonly accounts: Counter;
  private readonly ips: Counter;

  constructor(opts: ThrottleOptions = {}) {
    this.now = opts.now ?? Date.now;
    const common = {
      baseDelayMs: opts.baseDelayMs ?? 1_000,
      maxDelayMs: opts.maxDelayMs ?? 15 * 60_000,
      windowMs: opts.windowMs ?? 15 * 60_000,
      maxEntries: opts.maxEntries ?? 10_000,
    };
    this.accounts = new Counter(opts.accountFreeFailures ?? 5, common);
    this.ips = new Counter(opts.ipFreeFailures ?? 20, common);
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
