/**
 * REST benchmark server (a child process of bench/rest.bench.ts).
 *
 *   node --import tsx bench/lib/rest-server.ts app      the real server: startAll (role `all`),
 *                                                       simulator feed, storage, every plugin
 *   node --import tsx bench/lib/rest-server.ts hello    Fastify hello world (the baseline)
 *   node --import tsx bench/lib/rest-server.ts bare <url>
 *        bare Fastify serving a frozen copy of <url>/api/quotes with the same
 *        response schemas: the same payload and serialization without the
 *        product's hooks, plugins, logging or background work
 *
 * Replies `{type: 'ready', port, symbols}` to the parent once it answers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { QuoteState, QuotesResponse, SymbolParams } from '@stock-tracker/protocol';
import { loadConfig } from '../../apps/server/src/config.ts';
import { startAll } from '../../apps/server/src/roles/all.ts';
import { serveParent, tellParent } from './child.ts';
import { sleep } from './report.ts';

const mode = process.argv[2];

async function startApp(): Promise<{ port: number; close: () => Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'st-bench-rest-'));
  const config = loadConfig({
    ...process.env,
    APP_ENV: 'production',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    // The limiter stays on (its cost is part of every request) but never trips within a run.
    RATE_LIMIT_MAX: '10000000',
    LOG_LEVEL: process.env.REST_LOG_LEVEL ?? 'info',
  });
  const running = await startAll({ config });
  return {
    port: running.port,
    close: async () => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startHello(): Promise<{ port: number; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as { port: number }).port, close: () => app.close() };
}

async function startBare(source: string): Promise<{ port: number; close: () => Promise<void> }> {
  const board = (await (await fetch(`${source}/api/quotes`)).json()) as QuotesResponse;
  const bySymbol = new Map(board.items.map((q) => [q.symbol, q]));
  const app = Fastify({ logger: false });
  app.get('/api/quotes', { schema: { response: { 200: QuotesResponse } } }, async () => board);
  app.get<{ Params: SymbolParams }>('/api/quotes/:symbol', { schema: { params: SymbolParams, response: { 200: QuoteState } } }, async (req, reply) => {
    const q = bySymbol.get(req.params.symbol.toUpperCase());
    return q ?? reply.code(404).send({ code: 'NOT_FOUND', message: 'no quote' });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as { port: number }).port, close: () => app.close() };
}

/** Waits until the server's board has quotes (the simulator has caught up) and returns its symbols. */
async function boardSymbols(port: number): Promise<string[]> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/quotes`);
      if (res.ok) {
        const body = (await res.json()) as QuotesResponse;
        if (body.items.length > 0) return body.items.map((q) => q.symbol);
      }
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error('the server never had quotes');
}

const server = mode === 'app' ? await startApp() : mode === 'hello' ? await startHello() : mode === 'bare' ? await startBare(process.argv[3]!) : null;
if (!server) throw new Error('usage: rest-server.ts app | hello | bare <url>');

serveParent({
  stop: () => server.close(),
});
tellParent({ type: 'ready', port: server.port, symbols: mode === 'hello' ? [] : await boardSymbols(server.port) });
