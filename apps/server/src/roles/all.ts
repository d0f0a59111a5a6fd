/**
 * Role `all` (ARCHITECTURE §3): collector + API + WebSocket gateway + SPA in
 * one process on one port, embedded PGlite storage unless DATABASE_URL is set.
 *
 * Start order: storage (open, migrate) → engine loaded with stored alert rules
 * and reference data → bus, writer, collector → HTTP app + WS gateway → listen
 * → feed. Shutdown runs the reverse: stop the feed, close WebSockets with 1001,
 * let in-flight requests finish, flush the writer, close the database.
 */
import type { FastifyInstance } from 'fastify';
import { MarketEngine } from '@stock-tracker/engine';
import { systemClock, type Clock, type Feed } from '@stock-tracker/feeds';
import { WS_CLOSE } from '@stock-tracker/protocol';
import type { Config } from '../config.ts';
import { openDatabase, type Db } from '../storage/db.ts';
import { migrate, migrationStatus } from '../storage/migrate.ts';
import { createRepositories } from '../storage/repositories.ts';
import { StorageWriter, storageWriterCheck } from '../storage/writer.ts';
import { openSpill } from '../storage/spill.ts';
import { createInMemoryBus } from '../bus/index.ts';
import { createWsGateway, SessionRevocations } from '../ws/index.ts';
import { MarketPipeline } from '../collector/index.ts';
import { buildApp } from '../http/app.ts';
import { databaseCheck, feedCheck, migrationsCheck } from '../http/readiness.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createRegistry } from '../observability/metrics.ts';
import { monitorEventLoop } from '../observability/event-loop.ts';
import { createFeed } from './feed-factory.ts';
import { displayUrl, gatewaySettings, httpSettings } from './shared.ts';
import { createAuth } from '../auth/index.ts';
import { feedFreshnessCheck } from '../feed-health/index.ts';
import { configuredWatchdog } from '../feed-health/configured-watchdog.ts';
import { startEmbeddedTrading, type EmbeddedTrading } from '../trading/embedded.ts';

export interface StartOptions {
  config: Config;
  log?: Logger;
  clock?: Clock;
  /** Use this feed instead of the configured one (tests). */
  feed?: Feed;
}

export interface RunningServer {
  /** Base URL clients can use (loopback when listening on every interface). */
  url: string;
  port: number;
  app: FastifyInstance;
  collector: MarketPipeline;
  /** Paper trading (null with TRADING_ENABLED=false). */
  trading?: EmbeddedTrading | null;
  /** Graceful shutdown; safe to call twice. */
  close(): Promise<void>;
}

export { displayUrl };

export async function startAll(opts: StartOptions): Promise<RunningServer> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ level: config.log.level, pretty: config.log.pretty, base: { role: 'all' } });
  const registry = createRegistry({ defaultLabels: { role: 'all' } });
  const eventLoop = monitorEventLoop(registry);
  const cleanups: (() => Promise<void> | void)[] = [() => eventLoop.stop()];
  const unwind = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => log.error({ err }, 'cleanup failed'));
  };

  try {
    const db: Db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
    cleanups.push(() => db.close());
    const applied = await migrate(db, log);
    log.info({ storage: db.kind, schemaVersion: applied.version, applied: applied.applied }, 'storage ready');

    const repos = createRepositories(db);
    const user = await repos.users.ensureDefault();
    const engine = new MarketEngine({ alertRules: await repos.alertRules.listAll() });
    const bus = createInMemoryBus({ onHandlerError: (err) => log.error({ err }, 'bus subscriber failed') });
    // Past its memory buffer the writer spills to disk, so a database outage never stops live data (docs/storage.md#spill).
    const spill = await openSpill({ dir: config.storage.spillDir, maxBytes: config.storage.spillMaxBytes, database: config.databaseUrl, log });
    const writer = new StorageWriter(db, { registry, log, maxBufferedRows: config.storage.bufferRows, spill });
    // Bounded: a database that stays down must not hang shutdown forever (unsaved rows are logged).
    cleanups.push(() => writer.close({ timeoutMs: Math.floor(config.shutdownTimeoutMs * 0.7) }));
    const feed = opts.feed ?? createFeed(config.feed, clock, log);
    // One publisher (one epoch) for market data and system alerts alike.
    const publisher = bus.publisher();
    // Paper trading runs here, in-process, on every engine output in the pipeline's order (docs/trading.md).
    const trading: EmbeddedTrading | null = await startEmbeddedTrading(config, db, () => publisher, () => engine, log);
    const collector = new MarketPipeline({ feed, engine, publisher, writer, clock, registry, log, ...(trading ? { onOutput: trading.onOutput } : {}) });
    const watchdog = configuredWatchdog(config.feed, {
      feed,
      quotes: () => engine.quotes(),
      marketTime: () => collector.marketTime(),
      clock,
      registry,
      log,
      publisher,
    });
    collector.preload(await repos.symbols.list());
    // Logout / password change closes the session's WebSockets (in-process: this is the whole deployment).
    const revocations = new SessionRevocations({ log });
    const auth = createAuth(config, db, user.id, log, { onSessionsRevoked: revocations.onSessionsRevoked });
    if (config.auth.mode === 'none' && config.appEnv === 'production') log.warn('AUTH_MODE=none in production: every client acts for the local user');

    const app = await buildApp({
      settings: httpSettings(config, auth.http, { securityHeaders: true }),
      auth: auth.service,
      log,
      market: engine,
      alertSink: engine.alerts,
      repos,
      ...(trading ? { trading: trading.routes } : {}),
      feedStatus: () => feed.status(),
      readiness: [
        // Reported, not deciding (as on api replicas): without its database this process still serves live data,
        // and storage catches up from the writer's spill afterwards.
        { ...databaseCheck(db), optional: true },
        { ...migrationsCheck(() => migrationStatus(db)), optional: true },
        feedCheck(() => feed.status()),
        // Degraded, not unready: this process still serves live data while storage catches up.
        storageWriterCheck(() => writer.status(), true),
        ...(watchdog ? [feedFreshnessCheck(watchdog)] : []),
      ],
      registry,
      eventLoop,
    });
    cleanups.push(() => app.close());

    const gateway = createWsGateway({
      bus,
      ...gatewaySettings(config),
      // AUTH_MODE=none: every connection acts for the local user; accounts: access tokens.
      ...auth.ws,
      registry,
      log,
    });
    cleanups.push(() => gateway.close(WS_CLOSE.GOING_AWAY));
    revocations.attach(gateway);
    app.server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));

    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    // Cleanups run in reverse: the trading runner writes what it holds after the feed stopped.
    if (trading) cleanups.push(() => trading.stop());
    cleanups.push(() => collector.stop());
    // Stopped before the feed is (cleanups run in reverse): a feed shutting down is not an outage.
    watchdog?.start();
    cleanups.push(() => watchdog?.stop());
    await collector.start().catch((err: unknown) => {
      // A vendor feed that stopped for good (credentials refused, plan without the feed) must not take the server
      // down: the supervisor would restart it into the same refusal again and again. Stored data stays served and
      // /readyz names the reason until the configuration is fixed. Anything else is still a failed start.
      if (feed.status().state !== 'failed') throw err;
      log.error({ err, feed: feed.name }, `feed '${feed.name}' failed: ${err instanceof Error ? err.message : String(err)}; serving stored data without live updates (see /readyz)`);
    });

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        log.info('shutting down');
        // Reverse start order: collector (feed) → WS (1001) → HTTP (in-flight finish) → writer flush → db.
        await unwind();
        log.info('shutdown complete');
      })();
      return closing;
    };
    return { url: displayUrl(config.host, port), port, app, collector, trading, close };
  } catch (err) {
    await unwind();
    throw err;
  }
}
