/**
 * Wires a LeaderLock to a RedisStreamPublisher: the publisher leads exactly
 * while the lock is held, and every batch it writes is fenced by the lock's
 * token. On a lost lease the queue is held when nobody else took over (Redis
 * unreachable or restarted: it may still go out in order) and dropped when
 * another collector leads (it publishes that period itself).
 */
import type { RedisStreamPublisher } from '../bus/redis/publisher.ts';
import { LeaderLock, type LeaderLockOptions, type LostReason } from './leader-lock.ts';

export interface ElectedPublisherOptions {
  lock: Omit<LeaderLockOptions, 'onElected' | 'onLost' | 'onStandby'>;
  publisher: RedisStreamPublisher;
  /** Leadership changes (for logs, readiness, metrics). */
  onChange?: (leading: boolean, reason?: LostReason) => void;
}

export class ElectedPublisher {
  readonly lock: LeaderLock;
  readonly publisher: RedisStreamPublisher;

  constructor(opts: ElectedPublisherOptions) {
    this.publisher = opts.publisher;
    this.lock = new LeaderLock({
      ...opts.lock,
      onElected: () => {
        // A rejection only means the lease ended before activation finished; onLost handles that.
        this.publisher.activate(this.lock).catch(() => {});
        opts.onChange?.(true);
      },
      onLost: (reason) => {
        this.publisher.deactivate(reason === 'taken' ? 'drop' : 'hold');
        opts.onChange?.(false, reason);
      },
      // A queue held after a lapsed lease is moot once another collector leads: it publishes that period.
      onStandby: () => {
        if (this.publisher.state === 'suspended') this.publisher.deactivate('drop');
      },
    });
  }

  get leading(): boolean {
    return this.lock.isLeader && this.publisher.state === 'leading';
  }

  start(): this {
    this.lock.start();
    return this;
  }

  /** Graceful hand-over: flush what is queued, then release the lock so a standby takes over at once. */
  async stop(drainTimeoutMs = 2_000): Promise<void> {
    if (this.leading) await this.publisher.drained(drainTimeoutMs);
    await this.lock.stop();
  }
}
