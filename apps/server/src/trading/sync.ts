/**
 * How a request reaches the trading runner (docs/trading.md, "Where it runs").
 * The request's command or configuration change is stored first (storage is
 * the source of truth); then the runner is told to look:
 *
 * - embedded (`all`): LocalTradingNotifier calls the in-process runner, and
 *   the request waits for the command's stored outcome through a callback;
 * - scaled out: api replicas publish `{accountId}` on a Redis pub/sub channel
 *   (TradingAnnouncer) and wait by reading the command's row; the collector
 *   leader's TradingFollower reloads that account from storage. Pub/sub is
 *   fire-and-forget, so the follower also reloads everything when its
 *   subscription (re)connects, periodically, and when this process becomes
 *   leader — exactly the alert-rule scheme (market-view/alert-rule-sync.ts).
 */
import type { Redis } from 'ioredis';
import { createRedisClient, type RedisConnectionOptions } from '../bus/redis/connection.ts';
import type { TradingRepo } from '../storage/trading-repo.ts';
import type { TradingRunner } from './runner.ts';

/** The Redis pub/sub channel api replicas announce trading changes on. */
export const tradingChannel = (redisPrefix: string) => `${redisPrefix}trading:changes`;

export interface TradingNotifier {
  /** Something of this account changed in storage (a command, strategies, risk limits). */
  announce(accountId: string): void;
  /** Resolves when the command (of this user) left 'pending' or after `ms` (whichever first). */
  waitSettled(userId: string, commandId: string, ms: number): Promise<void>;
}

/** Embedded: the runner is in this process. */
export class LocalTradingNotifier implements TradingNotifier {
  private readonly waiters = new Map<string, Set<() => void>>();
  runner: TradingRunner | null = null;

  announce(accountId: string): void {
    void this.runner?.reload(accountId);
  }

  /** The runner's onCommandSettled. */
  settled = (commandId: string): void => {
    const set = this.waiters.get(commandId);
    if (!set) return;
    this.waiters.delete(commandId);
    for (const f of set) f();
  };

  waitSettled(_userId: string, commandId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(commandId);
      if (!set) this.waiters.set(commandId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set!.delete(done);
        if (set!.size === 0 && this.waiters.get(commandId) === set) this.waiters.delete(commandId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }
}

interface SyncLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Api side: announce over Redis; wait by polling the command row (the leader may be elsewhere). */
export class TradingAnnouncer implements TradingNotifier {
  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly repo: TradingRepo,
    private readonly log?: SyncLogger,
    private readonly pollMs = 50,
  ) {}

  announce(accountId: string): void {
    // Already stored: a lost announcement only delays it until the leader's next reload.
    this.redis.publish(this.channel, JSON.stringify({ accountId })).catch((err: unknown) => {
      this.log?.warn({ err: err instanceof Error ? err.message : String(err), accountId }, 'trading change not announced; the collector picks it up at its next reload');
    });
  }

  async waitSettled(userId: string, commandId: string, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const c = await this.repo.commands.get(userId, commandId).catch(() => undefined);
      if (c && c.status !== 'pending') return;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}

/** Parses an announcement: an account id, or null when malformed. */
export function parseAnnouncement(raw: string): string | null {
  try {
    const v = JSON.parse(raw) as { accountId?: unknown };
    return typeof v?.accountId === 'string' && v.accountId.length > 0 && v.accountId.length <= 64 ? v.accountId : null;
  } catch {
    return null;
  }
}

export interface TradingFollowerOptions {
  redis: RedisConnectionOptions;
  channel: string;
  /** The leader's runner; null while standing by. */
  runner: () => TradingRunner | null;
  reloadMs: number;
  log?: SyncLogger;
}

/** Collector side: reloads the announced account; everything on (re)connect and periodically. */
export class TradingFollower {
  private readonly sub: Redis;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  readonly counts = { announcements: 0, malformed: 0, reloads: 0 };

  constructor(private readonly o: TradingFollowerOptions) {
    this.sub = createRedisClient(o.redis, 'st-trading-sync', () => {});
    this.sub.on('message', (channel: string, raw: string) => {
      if (channel !== o.channel) return;
      const accountId = parseAnnouncement(raw);
      if (!accountId) {
        this.counts.malformed++;
        return;
      }
      this.counts.announcements++;
      void o.runner()?.reload(accountId);
    });
    this.sub.on('ready', () => {
      if (this.started) this.reloadAll();
    });
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    const subscribe = () => this.sub.subscribe(this.o.channel).catch(() => this.sub.once('ready', subscribe));
    if (this.sub.status === 'ready') void subscribe();
    else this.sub.once('ready', subscribe);
    this.timer = setInterval(() => this.reloadAll(), this.o.reloadMs);
    this.timer.unref();
    return this;
  }

  reloadAll(): void {
    const runner = this.o.runner();
    if (!runner) return;
    this.counts.reloads++;
    runner.reload().catch((err: unknown) => this.o.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'trading reload failed; retrying at the next period'));
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sub.disconnect(false);
  }
}
