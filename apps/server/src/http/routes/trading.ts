/**
 * /api/trading (docs/trading.md, "Paper trading: REST, WebSocket and where it
 * runs"): paper accounts, orders, fills, positions, P&L, risk limits,
 * strategies and backtests, owned by the calling user exactly like alert rules
 * (another user's anything is 404 NOT_FOUND). The work is in trading/service.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  AccountOrderParams,
  AccountParams,
  DEFAULT_PAGE,
  IdParams,
  Order,
  RiskLimits,
  TradingAccount,
  TradingAccountCreate,
  TradingAccountsResponse,
  TradingBacktest,
  TradingBacktestCreate,
  TradingBacktestsQuery,
  TradingBacktestsResponse,
  TradingBuiltinStrategiesResponse,
  TradingCommandAccepted,
  TradingFillsQuery,
  TradingFillsResponse,
  TradingOrderReplace,
  TradingOrdersQuery,
  TradingOrdersResponse,
  TradingOrderSubmit,
  TradingPnlQuery,
  TradingPnlResponse,
  TradingPositionsResponse,
  TradingRiskResponse,
  TradingStrategiesQuery,
  TradingStrategiesResponse,
  TradingStrategy,
  TradingStrategyCreate,
  TradingTapesResponse,
  AppError,
  type Fill,
  type OrderReplace,
} from '@stock-tracker/protocol';
import { BUILTIN_STRATEGIES } from '@stock-tracker/trading';
import type { AppDeps } from '../deps.ts';
import { normalizeSymbol, resolveSymbol } from '../params.ts';
import { errorResponses, type Owner } from './common.ts';
import { toTradingStrategy, type TradingService, type OrderAnswer } from '../../trading/service.ts';
import { toTradingBacktest, type BacktestService } from '../../trading/backtests.ts';

export interface TradingRouteDeps {
  service: TradingService;
  backtests: BacktestService;
}

const tags = ['trading'];
const deleted = { 204: { type: 'null', description: 'deleted' }, ...errorResponses };

function sendOrder(reply: FastifyReply, a: OrderAnswer) {
  return a.status === 202 ? reply.code(202).send(a.pending) : reply.code(a.status).send(a.order);
}

export function tradingRoutes(app: FastifyInstance, deps: AppDeps, owner: Owner, t: TradingRouteDeps): void {
  const { service, backtests } = t;
  const repo = service.repo;
  const orderAnswers = { 200: Order, 201: Order, 202: TradingCommandAccepted, ...errorResponses };

  // ---------- accounts ----------
  app.get('/trading/accounts', { schema: { tags, summary: 'Your paper trading accounts', response: { 200: TradingAccountsResponse, ...errorResponses } } }, async (req) => {
    const user = await owner(req);
    return { items: await service.listAccounts(user.id), next: null };
  });

  app.post<{ Body: TradingAccountCreate }>(
    '/trading/accounts',
    { schema: { tags, summary: 'Open a paper trading account', body: TradingAccountCreate, response: { 201: TradingAccount, ...errorResponses } } },
    async (req, reply) => reply.code(201).send(await service.createAccount((await owner(req)).id, req.body)),
  );

  app.get<{ Params: AccountParams }>(
    '/trading/accounts/:accountId',
    { schema: { tags, summary: 'One paper account with its current state', params: AccountParams, response: { 200: TradingAccount, ...errorResponses } } },
    async (req) => service.account((await owner(req)).id, req.params.accountId),
  );

  app.delete<{ Params: AccountParams }>(
    '/trading/accounts/:accountId',
    { schema: { tags, summary: 'Close a paper account (its orders, fills and strategies go too)', params: AccountParams, response: deleted } },
    async (req, reply) => {
      await service.removeAccount((await owner(req)).id, req.params.accountId);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: AccountParams }>(
    '/trading/accounts/:accountId/reset',
    { schema: { tags, summary: 'Reset to the starting cash (no orders, fills, positions)', params: AccountParams, response: { 200: TradingAccount, 202: TradingCommandAccepted, ...errorResponses } } },
    async (req, reply) => {
      const r = await service.resetAccount((await owner(req)).id, req.params.accountId);
      return r.status === 202 ? reply.code(202).send(r.pending) : r.account;
    },
  );

  // ---------- orders ----------
  app.get<{ Params: AccountParams; Querystring: TradingOrdersQuery }>(
    '/trading/accounts/:accountId/orders',
    { schema: { tags, summary: 'Orders, newest first (cursor pagination)', params: AccountParams, querystring: TradingOrdersQuery, response: { 200: TradingOrdersResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      await service.owned(user.id, req.params.accountId);
      const q = req.query;
      const page = await repo.orders.list(user.id, req.params.accountId, {
        limit: q.limit ?? DEFAULT_PAGE,
        before: q.before,
        open: q.status === 'open' ? true : undefined,
        symbol: q.symbol !== undefined ? normalizeSymbol(q.symbol) : undefined,
      });
      return { items: page.items.map((o) => o.data), next: page.next };
    },
  );

  app.post<{ Params: AccountParams; Body: TradingOrderSubmit }>(
    '/trading/accounts/:accountId/orders',
    {
      schema: {
        tags,
        summary: 'Submit an order (idempotent per clientOrderId)',
        description:
          '201 with the order as the trading core decided it; 200 with the first order when clientOrderId was already used with the same fields (409 CONFLICT with different ones); 202 when the core has not answered within TRADING_COMMAND_WAIT_MS (the order is stored and will be applied). A refusal is an error with the core\'s code (ORDER_REJECTED_LOT, RISK_MAX_ORDER_VALUE, …).',
        params: AccountParams,
        body: TradingOrderSubmit,
        response: orderAnswers,
      },
    },
    async (req, reply) => {
      const user = await owner(req);
      await service.owned(user.id, req.params.accountId);
      const ref = await resolveSymbol(deps.market, deps.repos, req.body.symbol, 'body.symbol');
      return sendOrder(reply, await service.submit(user.id, req.params.accountId, { ...req.body, symbol: ref.symbol }));
    },
  );

  app.get<{ Params: AccountOrderParams }>(
    '/trading/accounts/:accountId/orders/:orderId',
    { schema: { tags, summary: 'One order (by id or clientOrderId)', params: AccountOrderParams, response: { 200: Order, ...errorResponses } } },
    async (req) => service.order((await owner(req)).id, req.params.accountId, req.params.orderId),
  );

  app.delete<{ Params: AccountOrderParams }>(
    '/trading/accounts/:accountId/orders/:orderId',
    { schema: { tags, summary: 'Cancel an open order', params: AccountOrderParams, response: orderAnswers } },
    async (req, reply) => sendOrder(reply, await service.cancel((await owner(req)).id, req.params.accountId, req.params.orderId)),
  );

  app.patch<{ Params: AccountOrderParams; Body: OrderReplace }>(
    '/trading/accounts/:accountId/orders/:orderId',
    { schema: { tags, summary: 'Replace (change) an open order', params: AccountOrderParams, body: TradingOrderReplace, response: orderAnswers } },
    async (req, reply) => sendOrder(reply, await service.replace((await owner(req)).id, req.params.accountId, req.params.orderId, req.body)),
  );

  // ---------- fills, positions, P&L ----------
  app.get<{ Params: AccountParams; Querystring: TradingFillsQuery }>(
    '/trading/accounts/:accountId/fills',
    { schema: { tags, summary: 'Fills, newest first (cursor pagination)', params: AccountParams, querystring: TradingFillsQuery, response: { 200: TradingFillsResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      await service.owned(user.id, req.params.accountId);
      const q = req.query;
      const page = await repo.fills.list(user.id, req.params.accountId, { limit: q.limit ?? DEFAULT_PAGE, before: q.before, symbol: q.symbol !== undefined ? normalizeSymbol(q.symbol) : undefined });
      return { items: page.items.map((f) => f.data as unknown as Fill), next: page.next };
    },
  );

  app.get<{ Params: AccountParams }>(
    '/trading/accounts/:accountId/positions',
    { schema: { tags, summary: 'Open positions as of the last stored event', params: AccountParams, response: { 200: TradingPositionsResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      await service.owned(user.id, req.params.accountId);
      const state = await service.state(user.id, req.params.accountId);
      return { accountId: req.params.accountId, ts: state?.ts ?? null, items: state?.positions ?? [] };
    },
  );

  app.get<{ Params: AccountParams; Querystring: TradingPnlQuery }>(
    '/trading/accounts/:accountId/pnl',
    { schema: { tags, summary: 'Cash, equity, realised/unrealised P&L and the per-minute equity curve', params: AccountParams, querystring: TradingPnlQuery, response: { 200: TradingPnlResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      const { accountId } = req.params;
      await service.owned(user.id, accountId);
      const q = req.query;
      if (q.from !== undefined && q.to !== undefined && q.from > q.to) throw new AppError('VALIDATION_FAILED', '`from` is after `to`.', [{ path: 'query.from', issue: 'must not be after to' }]);
      const [account, equity] = await Promise.all([service.state(user.id, accountId), repo.equity.list(user.id, accountId, { from: q.from, to: q.to, limit: q.limit ?? DEFAULT_PAGE })]);
      return { accountId, account, equity };
    },
  );

  // ---------- risk ----------
  app.get<{ Params: AccountParams }>(
    '/trading/accounts/:accountId/risk',
    { schema: { tags, summary: 'Risk limits and the kill switch', params: AccountParams, response: { 200: TradingRiskResponse, ...errorResponses } } },
    async (req) => service.risk((await owner(req)).id, req.params.accountId),
  );

  app.put<{ Params: AccountParams; Body: RiskLimits }>(
    '/trading/accounts/:accountId/risk',
    { schema: { tags, summary: 'Replace the risk limits (absent or null = off)', params: AccountParams, body: RiskLimits, response: { 200: TradingRiskResponse, ...errorResponses } } },
    async (req) => service.setRisk((await owner(req)).id, req.params.accountId, req.body),
  );

  app.post<{ Params: AccountParams }>(
    '/trading/accounts/:accountId/risk/reset',
    { schema: { tags, summary: 'Turn the kill switch off (manual reset)', params: AccountParams, response: { 200: TradingRiskResponse, ...errorResponses } } },
    async (req) => service.resetRisk((await owner(req)).id, req.params.accountId),
  );

  // ---------- strategies ----------
  app.get('/trading/strategies/builtin', { schema: { tags, summary: 'Built-in strategies and their parameters', response: { 200: TradingBuiltinStrategiesResponse, ...errorResponses } } }, async (req) => {
    await owner(req);
    return { items: BUILTIN_STRATEGIES };
  });

  app.get<{ Querystring: TradingStrategiesQuery }>(
    '/trading/strategies',
    { schema: { tags, summary: 'Your strategies', querystring: TradingStrategiesQuery, response: { 200: TradingStrategiesResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      return { items: (await repo.strategies.list(user.id, req.query.accountId)).map(toTradingStrategy), next: null };
    },
  );

  app.post<{ Body: TradingStrategyCreate }>(
    '/trading/strategies',
    { schema: { tags, summary: 'Create a strategy (stopped) from a built-in name, params and symbols', body: TradingStrategyCreate, response: { 201: TradingStrategy, ...errorResponses } } },
    async (req, reply) => {
      const user = await owner(req);
      const symbols: string[] = [];
      for (const [i, s] of req.body.symbols.entries()) symbols.push((await resolveSymbol(deps.market, deps.repos, s, `body.symbols.${i}`)).symbol);
      return reply.code(201).send(await service.createStrategy(user.id, { ...req.body, symbols: [...new Set(symbols)] }));
    },
  );

  app.get<{ Params: IdParams }>('/trading/strategies/:id', { schema: { tags, summary: 'One strategy', params: IdParams, response: { 200: TradingStrategy, ...errorResponses } } }, async (req) =>
    service.strategy((await owner(req)).id, req.params.id),
  );

  app.post<{ Params: IdParams }>('/trading/strategies/:id/start', { schema: { tags, summary: 'Start a strategy on its account', params: IdParams, response: { 200: TradingStrategy, ...errorResponses } } }, async (req) =>
    service.setStrategyState((await owner(req)).id, req.params.id, 'running'),
  );

  app.post<{ Params: IdParams }>('/trading/strategies/:id/stop', { schema: { tags, summary: 'Stop a strategy (its open orders stay)', params: IdParams, response: { 200: TradingStrategy, ...errorResponses } } }, async (req) =>
    service.setStrategyState((await owner(req)).id, req.params.id, 'stopped'),
  );

  app.delete<{ Params: IdParams }>('/trading/strategies/:id', { schema: { tags, summary: 'Delete a strategy', params: IdParams, response: deleted } }, async (req, reply) => {
    await service.removeStrategy((await owner(req)).id, req.params.id);
    return reply.code(204).send();
  });

  // ---------- backtests ----------
  app.get('/trading/tapes', { schema: { tags, summary: 'Tapes a backtest can run over (TRADING_TAPES_DIR)', response: { 200: TradingTapesResponse, ...errorResponses } } }, async (req) => {
    await owner(req);
    return { items: backtests.tapes() };
  });

  app.post<{ Body: TradingBacktestCreate }>(
    '/trading/backtests',
    { schema: { tags, summary: 'Run a backtest (202; one at a time per user; bounded time)', body: TradingBacktestCreate, response: { 202: TradingBacktest, ...errorResponses } } },
    async (req, reply) => reply.code(202).send(await backtests.start((await owner(req)).id, req.body)),
  );

  app.get<{ Querystring: TradingBacktestsQuery }>(
    '/trading/backtests',
    { schema: { tags, summary: 'Your backtests, newest first (without their reports)', querystring: TradingBacktestsQuery, response: { 200: TradingBacktestsResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      const page = await repo.backtests.list(user.id, { limit: req.query.limit ?? DEFAULT_PAGE, before: req.query.before });
      return { items: page.items.map((b) => toTradingBacktest(b, false)), next: page.next };
    },
  );

  app.get<{ Params: IdParams }>('/trading/backtests/:id', { schema: { tags, summary: 'One backtest with its report', params: IdParams, response: { 200: TradingBacktest, ...errorResponses } } }, async (req) => {
    const b = await repo.backtests.get((await owner(req)).id, req.params.id);
    if (!b) throw new AppError('NOT_FOUND', `No backtest '${req.params.id}'.`, [{ path: 'params.id', issue: 'no such backtest' }]);
    return toTradingBacktest(b, true);
  });
}
