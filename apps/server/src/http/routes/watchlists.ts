/** Watchlists (CRUD), owned by the calling user. Symbols must be known; duplicates collapse. */
import type { FastifyInstance } from 'fastify';
import { AppError, IdParams, Watchlist, WatchlistCreate, WatchlistsResponse, WatchlistUpdate } from '@stock-tracker/protocol';
import type { AppDeps } from '../deps.ts';
import { resolveSymbol } from '../params.ts';
import { errorResponses, type Owner } from './common.ts';
import { QUOTA_DEFAULTS } from '../../config.ts';

const notFound = (id: string) => new AppError('NOT_FOUND', `No watchlist '${id}'.`, [{ path: 'params.id', issue: 'no such watchlist' }]);

export function watchlistRoutes(app: FastifyInstance, deps: AppDeps, owner: Owner): void {
  const { repos, market } = deps;
  const tags = ['watchlists'];
  const perUser = (deps.settings.quotas ?? QUOTA_DEFAULTS).watchlistsPerUser;

  async function knownSymbols(symbols: string[] | undefined): Promise<string[] | undefined> {
    if (symbols === undefined) return undefined;
    const out: string[] = [];
    for (const [i, s] of symbols.entries()) {
      const ref = await resolveSymbol(market, repos, s, `body.symbols.${i}`);
      if (!out.includes(ref.symbol)) out.push(ref.symbol);
    }
    return out;
  }

  app.get('/watchlists', { schema: { tags, summary: 'List your watchlists', response: { 200: WatchlistsResponse, ...errorResponses } } }, async (req) => {
    const user = await owner(req);
    return { items: await repos.watchlists.list(user.id), next: null };
  });

  app.post<{ Body: WatchlistCreate }>(
    '/watchlists',
    { schema: { tags, summary: 'Create a watchlist', body: WatchlistCreate, response: { 201: Watchlist, ...errorResponses } } },
    async (req, reply) => {
      const user = await owner(req);
      const symbols = await knownSymbols(req.body.symbols);
      const wl = await repos.watchlists.create(user.id, { name: req.body.name, symbols: symbols ?? [] }, { perUser });
      return reply.code(201).send(wl);
    },
  );

  app.get<{ Params: IdParams }>('/watchlists/:id', { schema: { tags, summary: 'One watchlist', params: IdParams, response: { 200: Watchlist, ...errorResponses } } }, async (req) => {
    const user = await owner(req);
    const wl = await repos.watchlists.get(user.id, req.params.id);
    if (!wl) throw notFound(req.params.id);
    return wl;
  });

  app.patch<{ Params: IdParams; Body: WatchlistUpdate }>(
    '/watchlists/:id',
    { schema: { tags, summary: 'Rename a watchlist or replace its symbols', params: IdParams, body: WatchlistUpdate, response: { 200: Watchlist, ...errorResponses } } },
    async (req) => {
      const user = await owner(req);
      const patch: WatchlistUpdate = { ...req.body };
      if (patch.symbols !== undefined) patch.symbols = await knownSymbols(patch.symbols);
      const wl = await repos.watchlists.update(user.id, req.params.id, patch);
      if (!wl) throw notFound(req.params.id);
      return wl;
    },
  );

  app.delete<{ Params: IdParams }>(
    '/watchlists/:id',
    { schema: { tags, summary: 'Delete a watchlist', params: IdParams, response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses } } },
    async (req, reply) => {
      const user = await owner(req);
      if (!(await repos.watchlists.remove(user.id, req.params.id))) throw notFound(req.params.id);
      return reply.code(204).send();
    },
  );
}
