/**
 * The Fastify application: REST under /api (every endpoint of the protocol's
 * ENDPOINTS table, validated with its TypeBox schemas), health and metrics,
 * OpenAPI docs, CORS, rate limits, accounts (auth routes, bearer tokens on
 * owned data, see http/auth.ts), security headers and — in embedded mode —
 * the SPA. Everything it reads is injected (see deps.ts), so tests build it
 * against any engine/storage and drive it with `inject` or a real socket.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import type { AppDeps } from './deps.ts';
import { frameworkErrors, installErrorHandler } from './errors.ts';
import { installNotFound, RouteTable, type SpaFallback } from './not-found.ts';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.ts';
import { installSecurityHeaders } from './security.ts';
import { assertFinite } from './finite.ts';
import { validatorCompiler } from './validation.ts';
import { hasWebBuild, registerWebApp } from './static.ts';
import { registerOpenApi } from './openapi.ts';
import { httpMetrics } from '../observability/metrics.ts';
import { marketRoutes } from './routes/market.ts';
import { alertRoutes } from './routes/alerts.ts';
import { watchlistRoutes } from './routes/watchlists.ts';
import { tradingRoutes } from './routes/trading.ts';
import { healthRoutes } from './routes/health.ts';
import { authRoutes } from './routes/auth.ts';
import { createRequestAuth } from './auth.ts';
import { canonicalPathGuard, installRateLimits } from './rate-limits.ts';
import { DEFAULT_BOARD_MEMO_MS, memoBoard } from './board-memo.ts';

export const DEFAULT_BODY_LIMIT = 64 * 1024;
const QUIET_PATHS = /^\/(healthz|readyz|metrics|api\/health)(\?|$)/;

const trustHops = (hops: number) => (_addr: string, hop: number) => hop < hops;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { settings } = deps;
  const dev = settings.appEnv === 'development';
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    genReqId: requestIdFor,
    requestIdHeader: false,
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      // Probes and scrapes every few seconds would drown the request log.
      disableRequestLogging: (req) => QUIET_PATHS.test(req.url ?? ''),
    }),
    // A hop count becomes proxy-addr's per-hop predicate (Fastify's types only name the other forms).
    // `true` means "behind one proxy": its appended entry is the client. Fastify's own `true` would take the
    // left-most entry, which the client writes itself, and let anyone choose the address rate limits count.
    trustProxy: settings.trustProxy === true ? trustHops(1) : typeof settings.trustProxy === 'number' ? trustHops(settings.trustProxy) : settings.trustProxy,
    bodyLimit: settings.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Fastify's built-in 503 while closing has its own body; requests still arriving on open
    // keep-alive connections are served instead (storage closes only after HTTP).
    return503OnClosing: false,
    frameworkErrors: frameworkErrors(dev),
  });

  app.setValidatorCompiler(validatorCompiler());

  const routes = new RouteTable();
  app.addHook('onRoute', (r) => routes.add(r.method as string | string[], r.url));
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  // After every onRequest hook, so the rate limits (keyed on the matched route) count the refused
  // request too: a flood of non-canonical spellings meets 429 like the plain path.
  app.addHook('preParsing', async (request, _reply, payload) => {
    canonicalPathGuard(request);
    return payload;
  });

  // Responses finished during shutdown close their connection: otherwise an idle
  // keep-alive socket would hold server.close() open for the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  const { requestDuration } = httpMetrics(deps.registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requestDuration.observe({ method: request.method, route: reply.statusCode === 404 && route.includes('*') ? 'unmatched' : route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.addHook('preHandler', async (request) => {
    assertFinite({ params: request.params, query: request.query, body: request.body });
  });

  // Only JSON bodies: anything else is a 415, not a confusing validation error.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app, dev);
  if (settings.securityHeaders) installSecurityHeaders(app);

  const wildcard = settings.corsOrigins.includes('*');
  await app.register(cors, {
    origin: (origin, cb) => cb(null, !origin || wildcard || settings.corsOrigins.includes(origin)),
    credentials: !wildcard,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
    // A bare OPTIONS (no Origin / Access-Control-Request-Method) would otherwise get a text/plain 400 outside the error contract.
    strictPreflight: false,
  });

  app.decorateRequest('principal', null);
  const auth = createRequestAuth(deps);
  const limits = await installRateLimits(app, settings, (request) => request.principal?.userId ?? 'local');

  await registerOpenApi(app);
  healthRoutes(app, deps);

  // Market data is public unless the deployment says otherwise; owned data always needs its user.
  const boardMarket = memoBoard(deps.market, settings.boardMemo ?? { ttlMs: DEFAULT_BOARD_MEMO_MS });
  const marketGuard = auth.mode === 'accounts' && settings.auth?.publicMarketData === false ? auth.requireUser : undefined;
  await app.register(
    async (api) => {
      await api.register(async (market) => {
        if (marketGuard) market.addHook('onRequest', marketGuard);
        marketRoutes(market, { ...deps, market: boardMarket });
      });
      await api.register(async (owned) => {
        owned.addHook('onRequest', auth.requireUser);
        alertRoutes(owned, deps, auth.owner, { beforeCreate: limits.alertRuleCreate });
        watchlistRoutes(owned, deps, auth.owner);
        if (deps.trading) tradingRoutes(owned, deps, auth.owner, deps.trading);
      });
      authRoutes(api, deps, auth);
    },
    { prefix: '/api' },
  );

  let spa: SpaFallback | undefined;
  if (hasWebBuild(settings.webDist)) spa = await registerWebApp(app, settings.webDist);
  installNotFound(app, routes, spa);
  return app;
}
