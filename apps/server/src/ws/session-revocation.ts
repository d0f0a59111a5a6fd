/**
 * Ended login sessions (logout, password change or reset, refresh-token
 * reuse) close the WebSockets acting for them at once, on every replica.
 *
 * The AuthService calls `onSessionsRevoked` on the replica that ended the
 * session: the local gateways close their connections for it (4001), and the
 * ids are announced on a Redis pub/sub channel so the other api replicas (and
 * the other workers of this one) do the same. Without Redis (the embedded
 * `all` role) it is in-process only, which is the whole deployment.
 *
 * Pub/sub is fire-and-forget, like the alert-rule channel: an announcement
 * made while a replica is disconnected from Redis is lost there. That replica
 * still refuses the session's token on the next `auth` op or upgrade (the
 * session store is the source of truth), and the connection loses the user at
 * the access token's expiry at the latest.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisClient, closeClient, type RedisConnectionOptions } from '../bus/redis/connection.ts';

export interface RevocationTarget {
  revokeSessions(sessionIds: Iterable<string>): number;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SessionRevocationsOptions {
  /** Announce to and listen on this Redis pub/sub channel (several replicas). */
  redis?: RedisConnectionOptions & { channel: string };
  log?: Logger;
}

const MAX_IDS = 10_000;
const ID_RE = /^[A-Za-z0-9-]{1,100}$/;

/** Parses an announcement; null when malformed. */
export function parseRevocation(raw: string): { origin: string; sessionIds: string[] } | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  const m = v as { origin?: unknown; sessionIds?: unknown };
  if (typeof m?.origin !== 'string' || !Array.isArray(m.sessionIds) || m.sessionIds.length > MAX_IDS) return null;
  if (!m.sessionIds.every((id) => typeof id === 'string' && ID_RE.test(id))) return null;
  return { origin: m.origin, sessionIds: m.sessionIds as string[] };
}

export class SessionRevocations {
  private readonly targets = new Set<RevocationTarget>();
  private readonly origin = randomUUID();
  private readonly pub: Redis | null = null;
  private readonly sub: Redis | null = null;
  readonly counts = { announced: 0, received: 0, malformed: 0, closed: 0 };

  constructor(private readonly opts: SessionRevocationsOptions = {}) {
    const r = opts.redis;
    if (!r) return;
    this.pub = createRedisClient(r, 'st-session-revocations-pub', () => {});
    // A subscribed connection cannot run other commands: one of its own.
    this.sub = createRedisClient(r, 'st-session-revocations', () => {});
    this.sub.on('message', (channel: string, raw: string) => {
      if (channel === r.channel) this.onMessage(raw);
    });
    // ioredis re-subscribes by itself after a reconnect.
    const subscribe = () => this.sub!.subscribe(r.channel).catch(() => this.sub!.once('ready', subscribe));
    if (this.sub.status === 'ready') void subscribe();
    else this.sub.once('ready', subscribe);
  }

  /** Resolves once the Redis subscription is active (immediately without Redis). */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    if (!this.sub || !this.opts.redis) return true;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        if (this.sub.status === 'ready') {
          const [, n] = (await this.pub!.pubsub('NUMSUB', this.opts.redis.channel)) as [string, number];
          if (Number(n) > 0) return true;
        }
      } catch {
        // not connected yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /** A gateway whose connections follow revocations; returns the detach function. */
  attach(target: RevocationTarget): () => void {
    this.targets.add(target);
    return () => {
      this.targets.delete(target);
    };
  }

  /** The AuthService hook (`onSessionsRevoked`). */
  readonly onSessionsRevoked = (sessionIds: string[]): void => {
    if (sessionIds.length === 0) return;
    this.apply(sessionIds);
    if (!this.pub || !this.opts.redis) return;
    this.counts.announced++;
    this.pub.publish(this.opts.redis.channel, JSON.stringify({ origin: this.origin, sessionIds })).catch((err: unknown) => {
      // The session is already revoked in storage: other replicas refuse its token on the next check.
      this.opts.log?.warn({ err: err instanceof Error ? err.message : String(err), sessions: sessionIds.length }, 'session revocation not announced to other replicas');
    });
  };

  async close(): Promise<void> {
    this.targets.clear();
    await Promise.all([this.pub && closeClient(this.pub), this.sub && closeClient(this.sub)]);
  }

  private onMessage(raw: string): void {
    const m = parseRevocation(raw);
    if (!m) {
      this.counts.malformed++;
      return;
    }
    if (m.origin === this.origin) return; // applied locally when announced
    this.counts.received++;
    this.apply(m.sessionIds);
  }

  private apply(ids: string[]): void {
    for (const t of this.targets) this.counts.closed += t.revokeSessions(ids);
  }
}
