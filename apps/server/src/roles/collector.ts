/**
 * Role `collector` (docs/scaling.md): feed → engine → Redis bus + storage
 * writer, run by exactly one process at a time — the holder of the leader
 * lock. Every other collector is a hot standby: connected to Redis and
 * PostgreSQL, campaigning every LEADER_RENEW_MS, and taking over within
 * LEADER_TTL_MS + LEADER_RENEW_MS when the leader dies.
 *
 * Becoming leader: the publisher activates (it continues the epoch and every
 * stream's seq from Redis), then the pipeline starts — reference data and
 * alert rules loaded from storage, a fresh engine, the feed. The takeover
 * guard (takeover-guard.ts) keeps the feed's catch-up from publishing again
 * what the previous leader published.
 *
 * Losing it: the publisher stops at once (fenced writes, leader/). When
 * another collector took the lock the pipeline stops too; when the lease
 * only lapsed (Redis unreachable) it keeps running — storage keeps ingesting,
 * bus messages queue — and continues if this process leads again.
 *
 * Also here: the live view for api replicas (market-view/view-writer.ts),
 * alert rule changes from api replicas (market-view/alert-rule-sync.ts), and
 * /healthz, /readyz, /metrics on PORT.
 */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { MarketEngine } from '@stock-tracker/engine';
import { systemClock, type Clock, type Feed, type FeedStatus } from '@stock-tracker/feeds';
import type { EngineOutput, MarketEvent, TradeGap } from '@stock-tracker/protocol';
import type { StreamPublisher } from '../bus/types.ts';
import type { Config } from '../config.ts';
import { openDatabase, type Db } from '../storage/db.ts';
import { migrationStatus } from '../storage/migrate.ts';
import { createRepositories, type Repositories } from '../storage/repositories.ts';
import { StorageWriter, storageWriterCheck } from '../storage/writer.ts';
import { openSpill } from '../storage/spill.ts';
import { RedisStreamPublisher } from '../bus/index.ts';
import { closeClient, createRedisClient, whenReady } from '../bus/redis/connection.ts';
import { LeaderLock, type LostReason } from '../leader/index.ts';
import { applySeed, loadSeed } from '../leader/seed.ts';
import { publishSystemAlert } from '../feed-health/system-alerts.ts';
import { MarketPipeline, type OutputWriter } from '../collector/index.ts';
import { databaseCheck, feedCheck, migrationsCheck, type ReadinessCheck } from '../http/readiness.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createRegistry, getOrCreate } from '../observability/metrics.ts';
import { monitorEventLoop } from '../observability/event-loop.ts';
import { LiveViewWriter } from '../market-view/view-writer.ts';
import { viewKeys } from '../market-view/keys.ts';
import { AlertRuleFollower } from '../market-view/alert-rule-sync.ts';
import { TRADING_DEFAULTS } from '../config.ts';
import { createTradingRepo, type TradingRepo } from '../storage/trading-repo.ts';
import { TradingRunner } from '../trading/runner.ts';
import { TradingFollower, tradingChannel } from '../trading/sync.ts';
import { FEED_FRESHNESS_CHECK, FeedWatchdog, feedFreshnessCheck } from '../feed-health/index.ts';
import { configuredWatchdog } from '../feed-health/configured-watchdog.ts';
import { createFeed } from './feed-factory.ts';
import { TakeoverGuard, loadTakeoverBaseline, type TakeoverBaseline, type TakeoverGuardStats } from './takeover-guard.ts';
import { ChunkedFeed } from './chunked-feed.ts';
import { boundPort, buildProbeApp, Cleanups, displayUrl, storedEventHorizons } from './shared.ts';

export interface CollectorRoleOptions {
  config: Config;
  log?: Logger;
  clock?: Clock;
  /** Builds the feed each time this process becomes leader (tests); default from the configuration. */
  feedFactory?: () => Feed;
}

export interface CollectorRoleStatus {
  id: string;
  leader: boolean;
  /** The current holder when standing by (null when unknown). */
  holder: string | null;
  pipeline: boolean;
  publisher: ReturnType<RedisStreamPublisher['status']>;
  /** Trades the engine produced and the storage writer accepted since this process started (all leaderships). */
  trades: number;
  lastEventTs: number | null;
  guard: TakeoverGuardStats | null;
}

export interface RunningCollector {
  url: string;
  port: number;
  app: FastifyInstance;
  status(): CollectorRoleStatus;
  /** Graceful shutdown: stop the feed, flush, publish the final state, release the lock. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * One stable Feed for the Collector (and the metrics it registers once),
 * delegating to the feed of the current leadership.
 */
class ActiveFeed implements Feed {
  current: Feed | null = null;
  constructor(readonly name: string) {}
  start(sink: (ev: MarketEvent) => void): Promise<void> {
    return this.current ? this.current.start(sink) : Promise.reject(new Error('no feed: not leading'));
  }
  async stop(): Promise<void> {
    await this.current?.stop();
  }
  status(): FeedStatus {
    return this.current?.status() ?? { name: this.name, connected: false, lastEventTs: null, events: 0, malformed: 0, errors: {} };
  }
  get pausable(): boolean {
    const c = this.current as (Feed & { pausable?: boolean }) | null;
    return !!c && typeof c.pause === 'function' && typeof c.resume === 'function' && c.pausable !== false;
  }
  pause(): void {
    this.current?.pause?.();
  }
  resume(): void {
    this.current?.resume?.();
  }
}

interface Pipeline {
  engine: MarketEngine;
  guard: TakeoverGuard;
  view: LiveViewWriter;
  watchdog: FeedWatchdog | null;
  /** Paper trading's cores: run here, on the leader only (docs/trading.md). */
  trading: TradingRunner | null;
  stop(): Promise<void>;
}

export async function startCollector(opts: CollectorRoleOptions): Promise<RunningCollector> {
  const { config } = opts;
  const s = config.scale;
  if (!config.redisUrl || !config.databaseUrl) throw new Error('the collector role needs REDIS_URL and DATABASE_URL');
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ level: config.log.level, pretty: config.log.pretty, base: { role: 'collector' } });
  const id = `${os.hostname()}:${process.pid}`;
  const registry = createRegistry({ defaultLabels: { role: 'collector' } });
  const eventLoop = monitorEventLoop(registry);
  const cleanups = new Cleanups(log);
  cleanups.add('event loop monitor', () => eventLoop.stop());

  try {
    const db: Db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
    cleanups.add('database', () => db.close());
    const schema = await migrationStatus(db);
    if (schema.current !== schema.expected) log.warn(schema, 'database schema is not current; run `stock-tracker migrate` (readiness fails until then)');
    const repos = createRepositories(db);
    const redis = { url: config.redisUrl };
    const keys = viewKeys(s.redisPrefix);

    const publisher = new RedisStreamPublisher({
      ...redis,
      prefix: s.redisPrefix,
      historyState: s.busHistoryState,
      historyEvents: s.busHistoryEvents,
      maxAgeMs: s.busMaxAgeMs,
      log,
      onEpoch: (epoch, reason) => {
        log.warn({ epoch, reason }, 'bus: new epoch (subscribers resynchronise)');
        leadership.pipeline?.view.markAll();
      },
    });
    cleanups.add('bus publisher', () => publisher.close());
    const viewRedis = createRedisClient(redis, 'st-collector-view');
    cleanups.add('view redis client', () => closeClient(viewRedis));
    // Past its memory buffer the writer spills to disk (and drains what a crashed run left there), so a database
    // outage never stops live data (docs/storage.md#spill).
    const spill = await openSpill({ dir: config.storage.spillDir, maxBytes: config.storage.spillMaxBytes, database: config.databaseUrl, log });
    const writer = new StorageWriter(db, { registry, log, maxBufferedRows: config.storage.bufferRows, spill });
    cleanups.add('storage writer', () => writer.close({ timeoutMs: Math.floor(config.shutdownTimeoutMs * 0.3) }));

    const tradingRepo = (config.trading ?? TRADING_DEFAULTS).enabled ? createTradingRepo(db) : null;
    const leadership = new Leadership({ config, id, log, clock, db, repos, publisher, viewRedis, writer, registry, feedFactory: opts.feedFactory, trading: tradingRepo });
    cleanups.add('leadership', () => leadership.shutdown());
    const follower = new AlertRuleFollower({
      redis,
      channel: keys.alertRules,
      target: () => leadership.pipeline?.engine.alerts ?? null,
      loadAll: () => repos.alertRules.listAll(),
      reloadMs: s.alertRulesReloadMs,
      log,
    }).start();
    cleanups.add('alert rule follower', () => follower.stop());
    if (tradingRepo) {
      // Orders and configuration changes accepted by api replicas (stored first, then announced here).
      const tradingFollower = new TradingFollower({
        redis,
        channel: tradingChannel(s.redisPrefix),
        runner: () => leadership.pipeline?.trading ?? null,
        reloadMs: (config.trading ?? TRADING_DEFAULTS).reloadMs,
        log,
      }).start();
      cleanups.add('trading follower', () => tradingFollower.stop());
    }
    registerCollectorMetrics(registry, leadership, publisher);

    const readiness: ReadinessCheck[] = [
      {
        name: 'leadership',
        async run() {
          const st = leadership.status();
          if (st.leader) return { ok: true, detail: `leader (${id}), bus ${st.publisher.state}` };
          return { ok: true, detail: `standby${st.holder ? `; leader: ${st.holder}` : ''}` };
        },
      },
      {
        name: 'redis',
        async run() {
          const p = publisher.status();
          return p.connected ? { ok: true } : { ok: false, detail: `redis unreachable${p.lastError ? `: ${p.lastError}` : ''}` };
        },
      },
      databaseCheck(db),
      migrationsCheck(() => migrationStatus(db)),
      {
        name: 'feed',
        run: () => (leadership.status().pipeline ? feedCheck(() => leadership.feed.status()).run() : Promise.resolve({ ok: true, detail: 'standby: not running' })),
      },
      {
        name: FEED_FRESHNESS_CHECK,
        run: () => {
          const watchdog = leadership.pipeline?.watchdog;
          return watchdog ? feedFreshnessCheck(watchdog).run() : Promise.resolve({ ok: true, detail: leadership.pipeline ? 'not watched (FEED_STALE_AFTER_MS=0)' : 'standby: not running' });
        },
      },
      storageWriterCheck(() => writer.status()),
    ];
    const app = await buildProbeApp({ readiness, registry, eventLoop }, log);
    cleanups.add('http', () => app.close());
    await app.listen({ port: config.port, host: config.host });
    const port = boundPort(app, config.port);

    leadership.start();
    log.info({ id, lock: keys.leaderLock }, 'collector started; campaigning for leadership');

    let closing: Promise<void> | undefined;
    return {
      url: displayUrl(config.host, port),
      port,
      app,
      status: () => leadership.status(),
      close: () => {
        closing ??= (async () => {
          log.info('collector shutting down');
          await cleanups.run();
          log.info({ trades: leadership.trades, lastEventTs: leadership.lastEventTs }, 'collector stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await cleanups.run();
    throw err;
  }
}

interface LeadershipDeps {
  config: Config;
  id: string;
  log: Logger;
  clock: Clock;
  db: Db;
  repos: Repositories;
  publisher: RedisStreamPublisher;
  viewRedis: Redis;
  writer: StorageWriter;
  registry: Registry;
  feedFactory?: () => Feed;
  trading: TradingRepo | null;
}

/** The leader state machine: every transition runs on one chain, so starts and stops never interleave. */
class Leadership {
  readonly lock: LeaderLock;
  readonly feed: ActiveFeed;
  pipeline: Pipeline | null = null;
  holder: string | null = null;
  trades = 0;
  lastEventTs: number | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closing = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: LeadershipDeps) {
    const s = d.config.scale;
    this.feed = new ActiveFeed(d.config.feed.kind);
    this.lock = new LeaderLock({
      redis: { url: d.config.redisUrl! },
      key: viewKeys(s.redisPrefix).leaderLock,
      id: d.id,
      ttlMs: s.leaderTtlMs,
      renewMs: s.leaderRenewMs,
      log: d.log,
      onElected: () => this.onElected(),
      onLost: (reason) => this.onLost(reason),
      onStandby: (holder) => this.onStandby(holder),
    });
  }

  start(): void {
    this.lock.start();
  }

  status(): CollectorRoleStatus {
    return {
      id: this.d.id,
      leader: this.lock.isLeader,
      holder: this.lock.isLeader ? this.d.id : this.holder,
      pipeline: this.pipeline !== null,
      publisher: this.d.publisher.status(),
      trades: this.trades,
      lastEventTs: this.lastEventTs,
      guard: this.pipeline?.guard.stats() ?? null,
    };
  }

  /** SIGTERM: stop the feed, flush, publish the final state, then release the lock (the standby takes over at once). */
  async shutdown(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Stopped and flushed before the lock goes, but not at any price: a database that stays down (the
    // pipeline waits for writer capacity) must not keep the lock from the standby, which writes the same
    // rows idempotently; writer.close() later reports what is left unsaved.
    const budgetMs = Math.floor(this.d.config.shutdownTimeoutMs * 0.25);
    await withinBudget(this.run(() => this.stopPipeline('shutdown')), budgetMs);
    await withinBudget(this.d.writer.flush().catch(() => {}), budgetMs);
    await this.lock.stop();
  }

  private run(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(fn).catch((err: unknown) => this.d.log.error({ err }, 'collector: leadership transition failed'));
    return this.chain;
  }

  private onElected(): void {
    this.holder = this.d.id;
    // Activate synchronously: from here on publishes queue under this lease.
    const activation = this.d.publisher.activate(this.lock);
    void this.run(async () => {
      try {
        await activation;
      } catch {
        return; // the lease ended before activation finished; onLost has dealt with it
      }
      if (this.closing || !this.lock.isLeader) return;
      if (this.pipeline) {
        this.d.log.info('collector: leading again; the pipeline kept running');
        this.pipeline.view.markAll();
        return;
      }
      await this.startPipeline();
    });
  }

  private onLost(reason: LostReason): void {
    // At once, not on the chain: a deposed leader must not publish another batch.
    this.d.publisher.deactivate(reason === 'taken' ? 'drop' : 'hold');
    if (reason === 'taken') void this.run(() => this.stopPipeline('another collector took the lock'));
    else if (reason !== 'released') this.d.log.warn({ reason }, 'collector: lease lapsed; ingest continues, bus messages queue until leadership returns');
  }

  private onStandby(holder: string): void {
    // Our own earlier token: the lease lapsed locally (a long pause) but nobody took over; we re-acquire once it expires.
    if (holder.startsWith(`${this.d.id}:`)) return;
    this.holder = holder.slice(0, holder.lastIndexOf(':')) || holder; // host:pid, without the token's random part
    // Whatever a lapsed lease left queued, the new leader publishes itself.
    if (this.d.publisher.state === 'suspended') this.d.publisher.deactivate('drop');
    void this.run(() => this.stopPipeline(`collector ${holder} leads`));
  }

  private async startPipeline(): Promise<void> {
    const { config, log, repos, publisher, writer, clock, registry, viewRedis } = this.d;
    const s = config.scale;
    const [refs, rules] = await Promise.all([
      repos.symbols.list().catch((err: unknown) => (log.warn({ err }, 'collector: reference data not loaded (database); the feed provides it'), [])),
      repos.alertRules.listAll().catch((err: unknown) => (log.warn({ err }, 'collector: alert rules not loaded (database); retried by the periodic reload'), [])),
    ]);
    const baseline = await this.readBaseline();
    if (this.closing || !this.lock.isLeader) return;
    const engine = new MarketEngine({ alertRules: rules });
    const guard = new TakeoverGuard(publisher, baseline);
    const view = new LiveViewWriter({
      redis: viewRedis,
      prefix: s.redisPrefix,
      source: engine,
      fence: this.lock,
      status: () => {
        const f = this.feed.status();
        return { leader: this.d.id, feed: { name: f.name, connected: f.connected, lastEventTs: f.lastEventTs } };
      },
      statusTtlMs: Math.max(3 * s.liveViewIntervalMs, s.leaderTtlMs),
      log,
    });
    const tap: OutputWriter = {
      offer: (out: EngineOutput) => {
        const ok = writer.offer(out);
        if (ok && out.type === 'trade') this.trades++;
        return ok;
      },
      waitForCapacity: () => writer.waitForCapacity(),
      stores: (out: EngineOutput) => writer.stores(out),
    };
    // Paper trading: every account's core restored from storage before any market data reaches it. Only the
    // leader publishes; stored rows are idempotent (fill ids, one snapshot per account).
    const trading = this.d.trading ? new TradingRunner({ repo: this.d.trading, publisher: () => (this.lock.isLeader ? publisher : null), market: () => engine, log, alpaca: config.alpacaTrading }) : null;
    if (trading) await trading.start();
    // Sliced: the simulator replays the day so far inside start(); in one go that could outlast the lease.
    const feed = new ChunkedFeed((this.d.feedFactory ?? (() => createFeed(config.feed, clock, log)))());
    this.feed.current = feed;
    // The live view sees every output as it is published, whatever storage is doing.
    const collector = new MarketPipeline({ feed: this.feed, engine, publisher: guard, writer: tap, onOutput: (out) => {
        view.note(out);
        trading?.onMarket(out);
        if (out.type === 'gap') this.onGap(out.gap, guard);
      }, clock, registry, log });
    // Stale-feed notices, as in the `all` role; published through the guard like every other message.
    const watchdog = configuredWatchdog(config.feed, {
      feed: this.feed,
      quotes: () => engine.quotes(),
      marketTime: () => collector.marketTime(),
      clock,
      registry,
      log,
      publisher: guard,
    });
    guard.hold();
    try {
      collector.preload(refs);
      // The day so far, from storage and the bus, before the feed (and anything this leader publishes).
      await this.seed(engine);
      await collector.start();
      // The catch-up is whatever the feed delivered at start: states go out once it is through.
      await feed.idle();
      await collector.idle();
    } catch (err) {
      guard.release();
      this.feed.current = null;
      await collector.stop().catch(() => {});
      await trading?.stop().catch(() => {});
      log.error({ err }, 'collector: feed did not start; retrying while leader');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (!this.closing && this.lock.isLeader && !this.pipeline) void this.run(() => this.startPipeline());
      }, 5_000);
      return;
    }
    guard.release();
    await view.write();
    view.start(s.liveViewIntervalMs);
    watchdog?.start();
    this.pipeline = {
      engine,
      guard,
      view,
      watchdog,
      trading,
      stop: async () => {
        watchdog?.stop();
        await collector.stop();
        await trading?.stop();
        this.lastEventTs = feed.status().lastEventTs;
        // The final state: the last view write and every queued bus message.
        await view.write();
        await view.stop();
        if (this.lock.isLeader) await publisher.drained(2_000);
        this.feed.current = null;
      },
    };
    // Clients of /ws/trading see the restored accounts at once.
    trading?.publishAll();
    log.info({ symbols: engine.references().length, rules: rules.length, guard: guard.stats(), epoch: publisher.epoch }, 'collector: leading; pipeline started');
  }

  /**
   * Seeds the fresh engine with the day so far (leader/seed.ts): without it a
   * takeover restarted the day's volume, high/low and split from zero and
   * overwrote stored aggregates with partial ones. Rows storage lacks (the
   * dead leader's unflushed trades) are handed to the writer, waiting for
   * capacity rather than dropping any.
   */
  private async seed(engine: MarketEngine): Promise<void> {
    const { config, log, db, viewRedis, writer, clock } = this.d;
    // The simulator and replays regenerate their day from its start (the catch-up): the engine rebuilds it itself.
    if (config.feed.kind === 'simulator' || config.feed.kind === 'replay') return;
    const t0 = performance.now();
    const data = await loadSeed(db, viewRedis, config.scale.redisPrefix, engine.references(), clock.now());
    const t1 = performance.now();
    const rows: EngineOutput[] = [];
    const stats = await applySeed(engine, data, (out) => rows.push(out));
    const t2 = performance.now();
    for (const out of rows) while (!writer.offer(out)) await writer.waitForCapacity();
    const seed = { ...stats, loadMs: Math.round(t1 - t0), replayMs: Math.round(t2 - t1) };
    if (seed.problems.length > 0) log.warn(seed, 'collector: engine seeded from part of the shared state only (the rest could not be read)');
    else log.info(seed, 'collector: engine seeded from the shared state');
  }

  /** A gap the engine found (vendor cumulative volume ahead of the trades received): metric, log, system alert. */
  private onGap(gap: TradeGap, publisher: StreamPublisher): void {
    const { config, log, clock, registry } = this.d;
    const counter = (name: string, help: string) => getOrCreate(registry, name, () => new Counter({ name, help, registers: [registry] }));
    counter('collector_trade_gaps_total', 'Gaps in the trade stream found from the vendor cumulative volume').inc();
    counter('collector_trade_gap_volume_total', 'Volume the vendor reported that no received trade accounts for').inc(gap.missingVolume);
    log.warn({ gap }, 'collector: trades missed (vendor cumulative volume ahead of the trades received)');
    publishSystemAlert(publisher, {
      id: `gap:${gap.symbol}:${gap.tradingDate}:${gap.tradeId}`,
      kind: 'trade_gap',
      severity: 'error',
      ts: clock.now(), // when it was raised (the trade's own time is in the message)
      feed: config.feed.kind,
      silentMs: 0,
      message: `${gap.symbol}: ${gap.missingVolume} shares traded before ${new Date(gap.ts).toISOString()} were never received (vendor volume ${gap.expectedVolume}, received ${gap.seenVolume}); the day's volume is short by that much`,
      symbol: gap.symbol,
      expectedVolume: gap.expectedVolume,
      seenVolume: gap.seenVolume,
      missingVolume: gap.missingVolume,
    });
  }

  /** What the previous leader published (takeover-guard.ts); a couple of tries, Redis having just answered the publisher. */
  private async readBaseline(): Promise<TakeoverBaseline | undefined> {
    const { config, log, db, viewRedis } = this.d;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(await whenReady(viewRedis, 5_000))) throw new Error(`redis not connected (${viewRedis.status})`);
        return await loadTakeoverBaseline(viewRedis, config.scale.redisPrefix, { historyEvents: config.scale.busHistoryEvents, storedHorizons: () => storedEventHorizons(db), log });
      } catch (err) {
        if (attempt >= 3 || this.closing || !this.lock.isLeader) {
          log.warn({ err }, 'collector: could not read what the previous leader published; the catch-up is published as is');
          return undefined;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async stopPipeline(why: string): Promise<void> {
    const p = this.pipeline;
    if (!p) return;
    this.pipeline = null;
    this.d.log.info({ why }, 'collector: stopping the pipeline');
    await p.stop();
  }
}

/** Waits for `p`, at most `ms`. */
async function withinBudget(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function registerCollectorMetrics(registry: Registry, leadership: Leadership, publisher: RedisStreamPublisher): void {
  const gauge = (name: string, help: string, read: () => number) =>
    getOrCreate(registry, name, () =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      }),
    );
  gauge('collector_leader', '1 while this collector holds the leader lock', () => (leadership.lock.isLeader ? 1 : 0));
  gauge('collector_leader_elections', 'Times this collector became leader', () => leadership.lock.status().elections);
  gauge('collector_trades', 'Trades produced and handed to storage since start', () => leadership.trades);
  gauge('bus_published_messages', 'Bus messages acknowledged by Redis since start', () => publisher.status().published);
  gauge('bus_buffered_messages', 'Bus messages queued, not yet acknowledged by Redis', () => publisher.status().buffered);
  gauge('bus_dropped_messages', 'Bus messages never sent (standby, overflow, lost lease)', () => publisher.status().dropped);
  gauge('bus_epochs_started', 'New epochs this collector started', () => publisher.status().epochsStarted);
  gauge('bus_fenced_writes', 'Writes Redis refused because the lock had moved on', () => publisher.status().fenced);
  gauge('takeover_skipped_messages', 'Catch-up messages not published again after a takeover', () => {
    const g = leadership.pipeline?.guard.stats();
    return g ? g.skippedEvents + g.skippedStates : 0;
  });
}
