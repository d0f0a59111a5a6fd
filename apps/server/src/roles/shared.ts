/**
 * Wiring shared by the roles (all, collector, api): configuration mapped
 * onto the HTTP app and the WebSocket gateway, ordered cleanup, and the small
 * HTTP server the collector exposes its probes on.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { errorBody, alertsKey, tradesKey } from '@stock-tracker/protocol';
import type { Config } from '../config.ts';
import type { HttpSettings } from '../http/deps.ts';
import type { WsGatewayOptions } from '../ws/index.ts';
import type { Logger } from '../observability/logger.ts';
import type { Db } from '../storage/db.ts';
import { requestIdFor, REQUEST_ID_HEADER } from '../http/request-id.ts';
import { healthRoutes, type HealthDeps } from '../http/routes/health.ts';

/** HTTP settings from the configuration (`auth` from createAuth). */
export function httpSettings(config: Config, auth: HttpSettings['auth'], extra: Partial<HttpSettings> = {}): HttpSettings {
  return {
    appEnv: config.appEnv,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    rateLimit: config.rateLimit,
    quotas: config.quotas,
    webDist: config.webDist,
    auth,
    ...extra,
  };
}

/** Gateway options from the configuration; the caller adds bus, auth, registry and log. */
export function gatewaySettings(config: Config): Omit<WsGatewayOptions, 'bus'> {
  return {
    // Same-origin pages are always allowed by the gateway; these are the extra cross-origin callers.
    allowedOrigins: config.corsOrigins,
    maxConnectionsPerIp: config.ws.maxConnectionsPerIp,
    // The same trust rule as REST (hops or proxy addresses), so both see the same client address.
    trustProxy: config.trustProxy,
    maxFrameBytes: config.ws.maxFrameBytes,
    maxSubscriptions: config.ws.maxSubscriptions,
    pingIntervalMs: config.ws.pingIntervalMs,
    queueBytesCap: config.ws.queueBytesCap,
    maxQueuedSnapshots: config.ws.maxQueuedSnapshots,
    stallTimeoutMs: config.ws.stallTimeoutMs,
  };
}

/** Cleanup steps run in reverse order of registration; a failing step is logged and the rest still run. */
export class Cleanups {
  private readonly steps: Array<{ name: string; run: () => Promise<unknown> | unknown }> = [];
  constructor(private readonly log: Pick<Logger, 'error'>) {}

  add(name: string, run: () => Promise<unknown> | unknown): void {
    this.steps.push({ name, run });
  }

  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        this.log.error({ err, step: step.name }, 'cleanup step failed');
      }
    }
  }
}

export function displayUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

export function boundPort(app: FastifyInstance, fallback: number): number {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : fallback;
}

/**
 * A Fastify app with only /healthz, /readyz and /metrics (the collector's
 * probes), request ids and the error contract for anything else.
 */
export async function buildProbeApp(deps: HealthDeps, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, genReqId: requestIdFor, requestIdHeader: false, disableRequestLogging: true });
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  healthRoutes(app, deps);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('ROUTE_NOT_FOUND', request.id, `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
  app.setErrorHandler((err, request, reply) => {
    log.error({ err, request_id: request.id }, 'probe request failed');
    void reply.code(500).send(errorBody('INTERNAL', request.id));
  });
  return app;
}

/**
 * Newest stored trade per symbol and alert per user, as bus stream ids
 * (`channel\0key` -> epoch ms): what a new leader must not stream again when
 * Redis lost those streams (roles/takeover-guard.ts). Index-only lookups.
 */
export async function storedEventHorizons(db: Db): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const trades = await db.query<{ symbol: string; ts: number | null }>(
    `SELECT s.symbol, (SELECT (extract(epoch from max(t.ts)) * 1000)::float8 FROM trades t WHERE t.symbol = s.symbol) AS ts FROM symbols s`,
  );
  for (const r of trades.rows) if (r.ts !== null) out.set(`market\u0000${tradesKey(r.symbol)}`, Number(r.ts));
  const alerts = await db.query<{ user_id: string; ts: number | null }>(`SELECT user_id, (extract(epoch from max(ts)) * 1000)::float8 AS ts FROM alert_events GROUP BY user_id`);
  for (const r of alerts.rows) if (r.ts !== null) out.set(`alerts\u0000${alertsKey(r.user_id)}`, Number(r.ts));
  return out;
}
