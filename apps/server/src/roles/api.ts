/**
 * Role `api` (docs/scaling.md): REST + WebSocket gateway over the Redis bus,
 * with no market state of its own. Live data comes from Redis (the bus's
 * latest states and the collector's live view, market-view/), history from
 * PostgreSQL. Any number of replicas, each with WEB_CONCURRENCY workers
 * (workers.ts); this module is one worker (or the whole replica when
 * WEB_CONCURRENCY=1).
 *
 * Failures: Redis down — open WebSockets stay connected, /readyz answers 503
 * with the reason, live REST answers 503, and the bus reader resumes from the
 * streams when Redis is back. PostgreSQL down — history and account
 * endpoints answer 503 SERVICE_UNAVAILABLE, live endpoints keep working,
 * /readyz stays 200 and lists the database as degraded.
 *
 * Shutdown (SIGTERM): stop accepting, close every WebSocket with 1012
 * (service restart: clients reconnect, to another replica, and resume),
 * finish in-flight requests.
 */
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { WS_CLOSE } from '@stock-tracker/protocol';
import type { Config } from '../config.ts';
import { openDatabase } from '../storage/db.ts';
import { migrationStatus } from '../storage/migrate.ts';
import { createRepositories } from '../storage/repositories.ts';
import { createRedisBus } from '../bus/index.ts';
import { closeClient, createRedisClient } from '../bus/redis/connection.ts';
import { createWsGateway, SessionRevocations, type WsGateway } from '../ws/index.ts';
import { buildApp } from '../http/app.ts';
import { databaseCheck, migrationsCheck, type ReadinessCheck } from '../http/readiness.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createRegistry } from '../observability/metrics.ts';
import { monitorEventLoop } from '../observability/event-loop.ts';
import { createAuth, RedisLoginThrottle } from '../auth/index.ts';
import { RedisMarketView } from '../market-view/market-view.ts';
import { AlertRulePublisher } from '../market-view/alert-rule-sync.ts';
import { viewKeys } from '../market-view/keys.ts';
import { outageAwareDb } from './db-outage.ts';
import { TRADING_DEFAULTS } from '../config.ts';
import { createTradingRepo } from '../storage/trading-repo.ts';
import { TradingAnnouncer, tradingChannel } from '../trading/sync.ts';
import { TradingService } from '../trading/service.ts';
import { BacktestService } from '../trading/backtests.ts';
import { boundPort, Cleanups, displayUrl, gatewaySettings, httpSettings } from './shared.ts';

export interface ApiRoleOptions {
  config: Config;
  log?: Logger;
  /** Metrics registry (a worker passes one that answers /metrics for the whole replica). */
  registry?: Registry;
}

export interface RunningApi {
  url: string;
  port: number;
  app: FastifyInstance;
  gateway: WsGateway;
  /** Graceful shutdown; WebSockets close with `wsCloseCode` (default 1012). Safe to call twice. */
  close(wsCloseCode?: number): Promise<void>;
}

export async function startApi(opts: ApiRoleOptions): Promise<RunningApi> {
  const { config } = opts;
  const s = config.scale;
  if (!config.redisUrl || !config.databaseUrl) throw new Error('the api role needs REDIS_URL and DATABASE_URL');
  const log = opts.log ?? createLogger({ level: config.log.level, pretty: config.log.pretty, base: { role: 'api' } });
  const registry = opts.registry ?? createRegistry({ defaultLabels: { role: 'api' } });
  const eventLoop = monitorEventLoop(registry);
  const cleanups = new Cleanups(log);
  cleanups.add('event loop monitor', () => eventLoop.stop());

  try {
    const rawDb = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log });
    cleanups.add('database', () => rawDb.close());
    // Requests see a database outage as 503, never 500.
    const db = outageAwareDb(rawDb);
    const repos = createRepositories(db);
    const user = await repos.users.ensureDefault();

    const redis = { url: config.redisUrl };
    const redisClient = createRedisClient(redis, 'st-api');
    cleanups.add('redis client', () => closeClient(redisClient));
    const bus = createRedisBus({ ...redis, prefix: s.redisPrefix, log, onHandlerError: (err) => log.error({ err }, 'bus subscriber failed') });
    cleanups.add('redis bus', () => bus.close());
    const market = new RedisMarketView({ redis: redisClient, prefix: s.redisPrefix });
    const alertSink = new AlertRulePublisher(redisClient, viewKeys(s.redisPrefix).alertRules, log);

    // The login throttle lives in Redis: shared by every replica and worker (docs/security.md).
    // Paper trading: commands are stored here and announced; the collector leader's runner applies them (docs/trading.md).
    const tradingSettings = config.trading ?? TRADING_DEFAULTS;
    const tradingRepo = createTradingRepo(db);
    const trading = tradingSettings.enabled
      ? {
          service: new TradingService(tradingRepo, new TradingAnnouncer(redisClient, tradingChannel(s.redisPrefix), tradingRepo, log), tradingSettings, {
            // Alpaca accounts run on the collector leader, which holds the keys; the api holds none and follows the flag.
            alpaca: config.trading?.alpacaAccounts ?? false,
          }),
          backtests: new BacktestService(tradingRepo, tradingSettings, log),
        }
      : undefined;
    // Logout / password change closes the session's WebSockets on every replica (Redis pub/sub).
    const revocations = new SessionRevocations({ redis: { ...redis, channel: `${s.redisPrefix}session-revoked` }, log });
    cleanups.add('session revocations', () => revocations.close());
    const auth = createAuth(config, db, user.id, log, { throttle: new RedisLoginThrottle(redisClient, { prefix: s.redisPrefix }), onSessionsRevoked: revocations.onSessionsRevoked });
    const readiness: ReadinessCheck[] = [
      {
        name: 'redis',
        async run() {
          const st = bus.status();
          return st.ready ? { ok: true, detail: `epoch ${st.epoch ?? 'none yet'}` } : { ok: false, detail: `redis bus not ready${st.lastError ? `: ${st.lastError}` : ''}` };
        },
      },
      // Live data does not need PostgreSQL: a database outage degrades the replica, it does not take it out of rotation.
      { ...databaseCheck(rawDb), optional: true },
      { ...migrationsCheck(() => migrationStatus(rawDb)), optional: true },
      {
        name: 'collector',
        optional: true,
        async run() {
          const st = await market.status();
          return st ? { ok: true, detail: `leader ${st.leader}, feed ${st.feed.name}${st.feed.connected ? '' : ' (disconnected)'}` } : { ok: false, detail: 'no collector heartbeat in Redis (live data is not moving)' };
        },
      },
    ];

    const app = await buildApp({
      // The SPA is served by the web image (edge) in this topology.
      settings: httpSettings(config, auth.http, { webDist: null }),
      auth: auth.service,
      log,
      market,
      alertSink,
      repos,
      ...(trading ? { trading } : {}),
      feedStatus: () => market.feedInfo(),
      readiness,
      registry,
      eventLoop,
    });
    let httpClosed = false;
    cleanups.add('http', () => (httpClosed ? undefined : app.close()));

    const gateway = createWsGateway({ bus, ...gatewaySettings(config), ...auth.ws, registry, log });
    revocations.attach(gateway);
    app.server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));

    await app.listen({ port: config.port, host: config.host });
    const port = boundPort(app, config.port);
    if (!(await bus.waitReady(Math.min(5_000, config.shutdownTimeoutMs)))) log.warn({ lastError: bus.status().lastError }, 'redis bus not ready yet; /readyz answers 503 until it is');

    let closing: Promise<void> | undefined;
    return {
      url: displayUrl(config.host, port),
      port,
      app,
      gateway,
      close: (code = WS_CLOSE.SERVICE_RESTART) => {
        closing ??= (async () => {
          log.info({ wsCloseCode: code }, 'api shutting down');
          // Stop accepting first, so reconnecting clients land on another replica.
          app.server.close();
          // WebSockets get their close frame while in-flight requests finish.
          httpClosed = true;
          await Promise.all([gateway.close(code), app.close()]);
          await cleanups.run();
          log.info('api stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await cleanups.run();
    throw err;
  }
}
