/**
 * Leader election for the collector on Redis: `SET key token NX PX ttl` to
 * acquire, a compare-and-extend script to renew, compare-and-delete to release.
 *
 * Why Redis and not a PostgreSQL advisory lock: what the leader must be kept
 * from writing is the Redis bus, and a Redis lock lets the bus check the
 * lock *inside the same atomic script as the writes* (redis/fence.ts). An
 * advisory lock lives in a database session the bus cannot see, so a paused
 * leader could still write to Redis after PostgreSQL handed the lock on.
 *
 * The token is `<id>:<random>`, unique per acquisition: it is the fencing
 * token. Each holder also keeps a local lease (`isLeader`), valid until
 * ttl·(1 − drift) after the renewal that extended it was *sent* — so a process
 * that was paused, or cannot reach Redis, considers itself deposed no later
 * than Redis does, even before any timer had a chance to run.
 *
 * Standbys retry every `renewMs`; after a leader dies without releasing
 * (kill -9), a standby takes over within ttl + renewMs.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Fence, FenceProvider } from '../bus/redis/fence.ts';
import { closeClient, createRedisClient, errorMessage, silentLogger, type BusLogger, type RedisConnectionOptions } from '../bus/redis/connection.ts';

/** Why leadership ended: `taken` another holder has the lock; `absent` the key vanished (expired, or Redis lost it); `expired` no renewal confirmed in time (Redis unreachable or the process paused); `released` stop(). */
export type LostReason = 'taken' | 'absent' | 'expired' | 'released';

export interface LeaderLockOptions {
  /** Connection for the lock's own client (kept apart from the bus, so a busy publisher cannot delay renewals). */
  redis: RedisConnectionOptions;
  /** Lock key, e.g. `st:leader:collector`. */
  key: string;
  /** Holder name for logs and the token (e.g. hostname:pid). */
  id: string;
  /** Lease length in Redis. Default 5000 ms. */
  ttlMs?: number;
  /** Renewal (and standby retry) period; must be well below ttlMs. Default ttlMs / 3. */
  renewMs?: number;
  /** Share of the ttl the local lease gives up to clock drift. Default 0.01. */
  drift?: number;
  onElected?: (fence: Fence) => void;
  onLost?: (reason: LostReason) => void;
  /** A campaign found the lock held by someone else (once per new holder): this process is a standby. */
  onStandby?: (holder: string) => void;
  log?: BusLogger;
}

export interface LeaderLockStatus {
  leader: boolean;
  id: string;
  token: string | null;
  /** Milliseconds left on the local lease (0 when not leading). */
  leaseLeftMs: number;
  elections: number;
  losses: Partial<Record<LostReason, number>>;
  lastError: string | null;
}

/**
 * 1 acquired, otherwise the current holder. ARGV[3] is this process's own
 * previous token (or ''): a key still holding it means Redis applied a renewal
 * whose reply we never saw; nobody else leads, so we take it back at once
 * instead of standing by for our own ghost (and dropping a held queue).
 */
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if (not v) or (ARGV[3] ~= '' and v == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return v`;
/** 1 extended, 0 the key is gone, -1 someone else holds it. */
const RENEW = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v then return -1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class LeaderLock implements FenceProvider {
  readonly key: string;
  readonly id: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly drift: number;
  private readonly redis: Redis;
  private readonly log: BusLogger;
  private readonly onElected?: (fence: Fence) => void;
  private readonly onLost?: (reason: LostReason) => void;
  private readonly onStandby?: (holder: string) => void;
  private lastHolder: string | null = null;

  private token: string | null = null;
  /** Our token before the last lease lapse (not after `taken`/`released`): see ACQUIRE. */
  private previousToken = '';
  /** performance.now() until which the lease is valid locally. */
  private leaseUntil = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private busy = false;
  private elections = 0;
  private readonly losses: Partial<Record<LostReason, number>> = {};
  private lastError: string | null = null;

  constructor(opts: LeaderLockOptions) {
    this.key = opts.key;
    this.id = opts.id;
    this.ttlMs = opts.ttlMs ?? 5_000;
    this.renewMs = opts.renewMs ?? Math.floor(this.ttlMs / 3);
    this.drift = opts.drift ?? 0.01;
    if (!(this.ttlMs > 0) || !(this.renewMs > 0) || this.renewMs >= this.ttlMs) {
      throw new RangeError(`leader lock needs 0 < renewMs (${this.renewMs}) < ttlMs (${this.ttlMs})`);
    }
    this.log = opts.log ?? silentLogger;
    this.onElected = opts.onElected;
    this.onLost = opts.onLost;
    this.onStandby = opts.onStandby;
    // Renewals must not wait behind a slow command: a socket timeout below the ttl.
    this.redis = createRedisClient({ socketTimeoutMs: Math.max(200, Math.floor(this.ttlMs / 2)), ...opts.redis }, `st-leader-${opts.id}`, (err) => {
      this.lastError = err.message;
    });
  }

  /** Holding a lease that is still valid locally (time-checked: a process waking from a pause sees false at once). */
  get isLeader(): boolean {
    return this.token !== null && performance.now() < this.leaseUntil;
  }

  currentFence(): Fence | null {
    return this.isLeader ? { key: this.key, token: this.token! } : null;
  }

  status(): LeaderLockStatus {
    return {
      leader: this.isLeader,
      id: this.id,
      token: this.isLeader ? this.token : null,
      leaseLeftMs: this.isLeader ? Math.round(this.leaseUntil - performance.now()) : 0,
      elections: this.elections,
      losses: { ...this.losses },
      lastError: this.lastError,
    };
  }

  /** Starts campaigning (and renewing once elected). */
  start(): this {
    if (this.running) return this;
    this.running = true;
    this.schedule(0);
    return this;
  }

  /** Stops; releases the lock when held (compare-and-delete, so never someone else's). */
  async stop(): Promise<void> {
    if (!this.running) {
      await closeClient(this.redis);
      return;
    }
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const token = this.token;
    if (token !== null) {
      this.lose('released');
      try {
        await this.redis.eval(RELEASE, 1, this.key, token);
      } catch (err) {
        this.lastError = errorMessage(err); // it expires by itself
      }
    }
    await closeClient(this.redis);
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.running || this.busy) return;
    this.busy = true;
    try {
      if (this.token === null) await this.tryAcquire();
      else await this.renew();
    } catch (err) {
      this.lastError = errorMessage(err);
    } finally {
      this.busy = false;
      this.schedule(this.renewMs);
    }
  }

  private async tryAcquire(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const token = `${this.id}:${randomBytes(8).toString('hex')}`;
    const sentAt = performance.now();
    const r = await this.redis.eval(ACQUIRE, 1, this.key, token, this.ttlMs, this.previousToken);
    if (!this.running) return;
    if (r !== 1) {
      if (typeof r === 'string' && r !== this.lastHolder) {
        this.lastHolder = r;
        this.onStandby?.(r);
      }
      return;
    }
    this.lastHolder = null;
    this.previousToken = '';
    this.token = token;
    this.extend(sentAt);
    this.elections++;
    this.log.info({ id: this.id, key: this.key }, 'leader: elected');
    this.onElected?.({ key: this.key, token });
  }

  private async renew(): Promise<void> {
    const token = this.token!;
    const sentAt = performance.now();
    let r: unknown;
    try {
      r = await this.redis.eval(RENEW, 1, this.key, token, this.ttlMs);
    } catch (err) {
      // Unknown outcome: the local lease runs out on its own (expiry timer).
      this.lastError = errorMessage(err);
      return;
    }
    if (this.token !== token) return;
    if (r === 1) this.extend(sentAt);
    else this.lose(r === -1 ? 'taken' : 'absent');
  }

  private extend(sentAt: number): void {
    this.leaseUntil = sentAt + this.ttlMs * (1 - this.drift);
    this.armExpiry();
  }

  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const token = this.token;
    this.expiryTimer = setTimeout(() => {
      if (this.token !== token) return;
      // Timers may fire a little early against performance.now(): re-arm until the lease is really over.
      if (this.isLeader) this.armExpiry();
      else this.lose('expired');
    }, Math.max(0, this.leaseUntil - performance.now()) + 1);
  }

  private lose(reason: LostReason): void {
    if (this.token === null) return;
    this.previousToken = reason === 'expired' || reason === 'absent' ? this.token : '';
    this.token = null;
    this.leaseUntil = 0;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.losses[reason] = (this.losses[reason] ?? 0) + 1;
    this.log.warn({ id: this.id, key: this.key, reason }, 'leader: lost leadership');
    this.onLost?.(reason);
    // Campaign again right away when the key is free (our own lease lapsed).
    if (reason !== 'released') this.schedule(reason === 'taken' ? this.renewMs : 0);
  }
}
