/**
 * The login throttle shared by every process and replica through Redis (used
 * when REDIS_URL is configured): the same rules as the in-memory LoginThrottle
 * (login-throttle.ts), so a guesser can neither spread attempts over replicas
 * nor reset them by hitting another process. Each check-and-reserve is one Lua
 * script, atomic across all of them.
 *
 * Bounded without eviction: a record is a small hash that expires on its own
 * after the quiet window (plus its wait), so junk user names cost memory only
 * for the window and never push a victim's record out. Names are hashed into
 * the key (fixed length whatever the input).
 *
 * Redis unreachable: the attempt is refused with 503 SERVICE_UNAVAILABLE
 * rather than let through unthrottled (failing open would make an outage a
 * guessing window).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '@stock-tracker/protocol';
import { THROTTLE_DEFAULTS, type Throttle, type ThrottleDecision, type ThrottleOptions } from './login-throttle.ts';

/**
 * KEYS: account record, address record. ARGV: now, account free failures, address
 * free failures, base delay, max delay, window. Records: hash { f: failures, l: locked until }.
 * Returns {1} (reserved) or {0, account wait ms, address wait ms}.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local base, maxd, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local function wait(k)
  local l = tonumber(redis.call('HGET', k, 'l') or '0')
  if l > now then return l - now end
  return 0
end
local wa, wi = wait(KEYS[1]), wait(KEYS[2])
if wa > 0 or wi > 0 then return {0, wa, wi} end
local function fail(k, free)
  local f = redis.call('HINCRBY', k, 'f', 1)
  local d = 0
  if f > free then
    d = math.min(maxd, base * 2 ^ math.min(30, f - free - 1))
    redis.call('HSET', k, 'l', now + d)
  end
  redis.call('PEXPIRE', k, window + d)
end
fail(KEYS[1], tonumber(ARGV[2]))
fail(KEYS[2], tonumber(ARGV[3]))
return {1}
`;

/** KEYS: account record, address record. Clears the account, gives the address its reservation back. */
const SUCCEEDED = `
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  local f = redis.call('HINCRBY', KEYS[2], 'f', -1)
  if f <= 0 and redis.call('HEXISTS', KEYS[2], 'l') == 0 then redis.call('DEL', KEYS[2]) end
end
return 1
`;

type ThrottleRedis = Redis & {
  stReserve(a: string, i: string, ...argv: (string | number)[]): Promise<[number, number?, number?]>;
  stSucceeded(a: string, i: string): Promise<number>;
};

export interface RedisThrottleOptions extends Omit<ThrottleOptions, 'maxEntries'> {
  /** Key prefix of the deployment (REDIS_PREFIX). */
  prefix: string;
}

export class RedisLoginThrottle implements Throttle {
  private readonly redis: ThrottleRedis;
  private readonly now: () => number;
  private readonly argv: number[];
  readonly size = { accounts: 0, ips: 0 };

  constructor(redis: Redis, private readonly opts: RedisThrottleOptions) {
    const d = THROTTLE_DEFAULTS;
    this.now = opts.now ?? Date.now;
    this.argv = [opts.accountFreeFailures ?? d.accountFreeFailures, opts.ipFreeFailures ?? d.ipFreeFailures, opts.baseDelayMs ?? d.baseDelayMs, opts.maxDelayMs ?? d.maxDelayMs, opts.windowMs ?? d.windowMs];
    if (!(redis as unknown as Partial<ThrottleRedis>).stReserve) {
      redis.defineCommand('stReserve', { numberOfKeys: 2, lua: RESERVE });
      redis.defineCommand('stSucceeded', { numberOfKeys: 2, lua: SUCCEEDED });
    }
    this.redis = redis as unknown as ThrottleRedis;
  }

  private keys(account: string, ip: string): [string, string] {
    const h = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);
    return [`${this.opts.prefix}throttle:a:${h(account)}`, `${this.opts.prefix}throttle:i:${h(ip)}`];
  }

  async reserve(account: string, ip: string): Promise<ThrottleDecision> {
    let r: [number, number?, number?];
    try {
      r = await this.redis.stReserve(...this.keys(account, ip), this.now(), ...this.argv);
    } catch {
      throw new AppError('SERVICE_UNAVAILABLE', 'Logins are paused while the throttle store is unreachable; try again shortly.', undefined, { 'Retry-After': '5' });
    }
    if (r[0] === 1) return { allowed: true };
    const [a, i] = [Number(r[1] ?? 0), Number(r[2] ?? 0)];
    return a >= i ? { allowed: false, retryAfterMs: a, scope: 'account' } : { allowed: false, retryAfterMs: i, scope: 'ip' };
  }

  async succeeded(account: string, ip: string): Promise<void> {
    // Best effort: a lost give-back only costs the address one of its free failures.
    await this.redis.stSucceeded(...this.keys(account, ip)).catch(() => undefined);
  }
}
