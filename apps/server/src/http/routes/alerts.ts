/**
 * Alert rules (CRUD) and fired alert events, owned by the calling user. A rule
 * change is written to storage first and then applied to the running engine,
 * so a rule exists for the engine only once it is durable.
 */
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import {
  AlertEventsQuery,
  AlertEventsResponse,
  AlertRule,
  AlertRuleCreate,
  AlertRulesQuery,
  AlertRulesResponse,
  AlertRuleUpdate,
  AppError,
  DEFAULT_PAGE,
  IdParams,
  MAX_PAGE,
} from '@stock-tracker/protocol';
import type { AppDeps } from '../deps.ts';
import { normalizeSymbol, resolveSymbol } from '../params.ts';
import { errorResponses, type Owner } from './common.ts';
import { QUOTA_DEFAULTS } from '../../config.ts';

const notFound = (id: string) => new AppError('NOT_FOUND', `No alert rule '${id}'.`, [{ path: 'params.id', issue: 'no such alert rule' }]);

export interface AlertRouteOptions {
  /** Runs before a rule is created (the per-user creation rate limit). */
  beforeCreate?: preHandlerAsyncHookHandler;
}

export function alertRoutes(app: FastifyInstance, deps: AppDeps, owner: Owner, opts: AlertRouteOptions = {}): void {
  const { repos, market, alertSink } = deps;
  const tags = ['alerts'];
  const q = deps.settings.quotas ?? QUOTA_DEFAULTS;
  const quota = { perUser: q.alertRulesPerUser, perSymbol: q.alertRulesPerSymbol };

  app.get<{ Querystring: AlertRulesQuery }>(
    '/alerts/rules',
    { schema: { tags, summary: 'Your alert rules, oldest first (cursor pagination: `after` = the previous `next`)', querystring: AlertRulesQuery, response: { 200: AlertRulesResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      // Without `limit`, a page of MAX_PAGE: under the default quota that is every rule, as before pagination.
      const page = await repos.alertRules.page(user.id, { limit: req.query.limit ?? MAX_PAGE, after: req.query.after });
      return { items: page.items, next: page.next };
    },
  );

  app.post<{ Body: AlertRuleCreate }>(
    '/alerts/rules',
    {
      schema: { tags, summary: 'Create an alert rule', body: AlertRuleCreate, response: { 201: AlertRule, ...errorResponses } },
      ...(opts.beforeCreate ? { preHandler: opts.beforeCreate } : {}),
    },
    async (req, reply) => {
      const user = await owner(req);
      const ref = await resolveSymbol(market, repos, req.body.symbol, 'body.symbol');
      const rule = await repos.alertRules.create(user.id, { ...req.body, symbol: ref.symbol }, quota);
      alertSink.upsert(rule);
      return reply.code(201).send(rule);
    },
  );

  app.get<{ Params: IdParams }>('/alerts/rules/:id', { schema: { tags, summary: 'One alert rule', params: IdParams, response: { 200: AlertRule, ...errorResponses } } }, async (req) => {
    const user = await owner(req);
    const rule = await repos.alertRules.get(user.id, req.params.id);
    if (!rule) throw notFound(req.params.id);
    return rule;
  });

  app.patch<{ Params: IdParams; Body: AlertRuleUpdate }>(
    '/alerts/rules/:id',
    { schema: { tags, summary: 'Change an alert rule', params: IdParams, body: AlertRuleUpdate, response: { 200: AlertRule, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      const patch = { ...req.body };
      if (patch.symbol !== undefined) patch.symbol = (await resolveSymbol(market, repos, patch.symbol, 'body.symbol')).symbol;
      const rule = await repos.alertRules.update(user.id, req.params.id, patch, quota);
      if (!rule) throw notFound(req.params.id);
      alertSink.upsert(rule);
      return rule;
    },
  );

  app.delete<{ Params: IdParams }>(
    '/alerts/rules/:id',
    { schema: { tags, summary: 'Delete an alert rule', params: IdParams, response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses } } },
    async (req, reply) => {
      const user = await owner(req);
      if (!(await repos.alertRules.remove(user.id, req.params.id))) throw notFound(req.params.id);
      alertSink.remove(req.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: AlertEventsQuery }>(
    '/alerts/events',
    { schema: { tags, summary: 'Fired alerts, newest first (cursor pagination)', querystring: AlertEventsQuery, response: { 200: AlertEventsResponse, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      const q = req.query;
      const page = await repos.alertEvents.list(user.id, {
        limit: q.limit ?? DEFAULT_PAGE,
        before: q.before,
        symbol: q.symbol !== undefined ? normalizeSymbol(q.symbol) : undefined,
      });
      return { items: page.items, next: page.next };
    },
  );
}
