/** Storage-free dependencies for HTTP tests that exercise the framework layer (errors, headers, static files). */
import { MarketEngine } from '@stock-tracker/engine';
import type { AppDeps, HttpSettings } from '../src/http/deps.ts';
import type { Repositories } from '../src/storage/repositories.ts';
import { buildApp } from '../src/http/app.ts';
import { createRegistry } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { TEST_SETTINGS } from './http-fixture.ts';

/** Repositories that hold nothing; individual methods can be replaced. */
export function emptyRepos(overrides: Partial<{ [K in keyof Repositories]: Partial<Repositories[K]> }> = {}): Repositories {
  const base: Repositories = {
    symbols: { upsert: async () => {}, list: async () => [], get: async () => undefined },
    trades: { recent: async () => ({ items: [], next: null }), count: async () => 0 },
    bars: { range: async () => [] },
    sessions: { get: async () => undefined },
    foreign: { history: async () => [] },
    indices: { history: async () => [] },
    alertRules: {
      listAll: async () => [],
      list: async () => [],
      page: async () => ({ items: [], next: null }),
      get: async () => undefined,
      create: async () => {
        throw new Error('not stored');
      },
      update: async () => undefined,
      remove: async () => false,
    },
    alertEvents: { list: async () => ({ items: [], next: null }) },
    watchlists: {
      list: async () => [],
      get: async () => undefined,
      create: async () => {
        throw new Error('not stored');
      },
      update: async () => undefined,
      remove: async () => false,
    },
    users: {
      ensureDefault: async () => ({ id: 'local', username: 'local' }),
      create: async () => ({ id: 'x', username: 'x' }),
      get: async () => undefined,
      findByUsername: async () => undefined,
    },
  };
  for (const [k, v] of Object.entries(overrides)) Object.assign((base as unknown as Record<string, object>)[k]!, v);
  return base;
}

export async function stubApp(opts: { settings?: Partial<HttpSettings>; deps?: Partial<AppDeps> } = {}) {
  const engine = new MarketEngine();
  const registry = createRegistry({ processMetrics: false });
  const app = await buildApp({
    settings: { ...TEST_SETTINGS, ...opts.settings },
    log: silentLogger(),
    market: engine,
    alertSink: engine.alerts,
    repos: emptyRepos(),
    feedStatus: () => ({ name: 'test', connected: true, lastEventTs: null }),
    readiness: [],
    registry,
    ...opts.deps,
  });
  await app.ready();
  return { app, engine, registry };
}
