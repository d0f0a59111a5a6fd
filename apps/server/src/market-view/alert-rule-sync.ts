/**
 * Alert rules are edited through api replicas but evaluated by the leading
 * collector's AlertEngine. A rule change is stored first (the route does
 * that), then announced on a Redis pub/sub channel; the collector applies it
 * at once.
 *
 * Pub/sub is fire-and-forget: a message published while the collector was
 * disconnected is lost. So the collector also reloads every rule from storage
 * whenever its subscription (re)connects, periodically, and when it becomes
 * leader — storage is the source of truth, the channel only makes it fast.
 */
import type { Redis } from 'ioredis';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { AlertRule } from '@stock-tracker/protocol';
import type { AlertRuleSink } from '../http/deps.ts';
import { createRedisClient, type RedisConnectionOptions } from '../bus/redis/connection.ts';

export type AlertRuleChange = { op: 'upsert'; rule: AlertRule } | { op: 'remove'; id: string };

const checkRule = TypeCompiler.Compile(AlertRule);

/** Parses a channel message; null when malformed. */
export function parseAlertRuleChange(raw: string): AlertRuleChange | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  const m = v as Partial<{ op: string; rule: unknown; id: unknown }>;
  if (m?.op === 'upsert' && checkRule.Check(m.rule)) return { op: 'upsert', rule: m.rule };
  if (m?.op === 'remove' && typeof m.id === 'string' && m.id.length > 0 && m.id.length <= 200) return { op: 'remove', id: m.id };
  return null;
}

interface SinkLogger {
  warn(obj: object, msg?: string): void;
}

/** Api side: the AlertRuleSink that announces changes (the collector applies them). */
export class AlertRulePublisher implements AlertRuleSink {
  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly log?: SinkLogger,
  ) {}

  upsert(rule: AlertRule): void {
    this.send({ op: 'upsert', rule });
  }

  remove(ruleId: string): void {
    this.send({ op: 'remove', id: ruleId });
  }

  private send(change: AlertRuleChange): void {
    // The rule is already stored: a lost announcement only delays it until the collector's next reload.
    this.redis.publish(this.channel, JSON.stringify(change)).catch((err: unknown) => {
      this.log?.warn({ err: err instanceof Error ? err.message : String(err), op: change.op }, 'alert rule change not announced; the collector picks it up at its next reload');
    });
  }
}

/** The part of AlertEngine the follower drives. */
export interface AlertRuleTarget {
  upsert(rule: AlertRule): void;
  remove(ruleId: string): unknown;
  list(): AlertRule[];
}

/** Makes `target` hold exactly `rules`; unchanged rules are left alone (their edge and cooldown state survive). Returns what changed. */
export function applyAlertRules(target: AlertRuleTarget, rules: readonly AlertRule[]): { upserted: number; removed: number; invalid: number } {
  const current = new Map(target.list().map((r) => [r.id, JSON.stringify(r)]));
  const wanted = new Set<string>();
  let upserted = 0;
  let removed = 0;
  let invalid = 0;
  for (const rule of rules) {
    wanted.add(rule.id);
    if (current.get(rule.id) === JSON.stringify(rule)) continue;
    try {
      target.upsert(rule);
      upserted++;
    } catch {
      invalid++; // a stored rule that no longer validates must not stop the others
    }
  }
  for (const id of current.keys()) {
    if (!wanted.has(id)) {
      target.remove(id);
      removed++;
    }
  }
  return { upserted, removed, invalid };
}

export interface AlertRuleFollowerOptions {
  redis: RedisConnectionOptions;
  channel: string;
  target: () => AlertRuleTarget | null;
  loadAll: () => Promise<AlertRule[]>;
  reloadMs: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** Collector side: applies announced changes and reloads from storage to cover lost announcements. */
export class AlertRuleFollower {
  private readonly sub: Redis;
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private started = false;
  readonly counts = { applied: 0, malformed: 0, reloads: 0, reloadFailures: 0 };

  constructor(private readonly opts: AlertRuleFollowerOptions) {
    // A subscriber connection of its own (a subscribed connection cannot run other commands).
    this.sub = createRedisClient(opts.redis, 'st-alert-rules', () => {});
    this.sub.on('message', (channel: string, raw: string) => {
      if (channel === opts.channel) this.onMessage(raw);
    });
    // (Re)connected: whatever was announced meanwhile is lost, storage has it.
    this.sub.on('ready', () => {
      if (this.started) void this.reload();
    });
  }

  start(): this {
    if (this.started) return this;
    this.started = true;
    // ioredis re-subscribes by itself after a reconnect.
    const subscribe = () => this.sub.subscribe(this.opts.channel).catch(() => this.sub.once('ready', subscribe));
    if (this.sub.status === 'ready') void subscribe();
    else this.sub.once('ready', subscribe);
    this.timer = setInterval(() => void this.reload(), this.opts.reloadMs);
    this.timer.unref();
    return this;
  }

  /** Replaces the engine's rules with storage's; concurrent calls share one load. */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        const rules = await this.opts.loadAll();
        const target = this.opts.target();
        if (!target) return;
        const r = applyAlertRules(target, rules);
        this.counts.reloads++;
        if (r.upserted + r.removed + r.invalid > 0) this.opts.log?.info({ ...r, rules: rules.length }, 'alert rules reloaded from storage');
      } catch (err) {
        this.counts.reloadFailures++;
        this.opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'alert rule reload failed; retrying at the next period');
      }
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reloading;
    this.sub.disconnect(false);
  }

  private onMessage(raw: string): void {
    const change = parseAlertRuleChange(raw);
    const target = this.opts.target();
    if (!change) {
      this.counts.malformed++;
      return;
    }
    if (!target) return; // not leading: the next leader loads every rule from storage
    try {
      if (change.op === 'upsert') target.upsert(change.rule);
      else target.remove(change.id);
      this.counts.applied++;
    } catch {
      this.counts.malformed++;
    }
  }
}
