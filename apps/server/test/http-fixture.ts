/**
 * A fully wired HTTP app for tests: real storage (PGlite or PostgreSQL),
 * a real MarketEngine fed by the seeded simulator for a couple of compressed
 * trading days (so storage holds past sessions, trades, bars, foreign and
 * index history and fired alerts), and the app built over them.
 */
import type { FastifyInstance } from 'fastify';
import type { EngineOutput, MarketEvent, SymbolRef } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';
import { buildApp } from '../src/http/app.ts';
import type { HttpSettings } from '../src/http/deps.ts';
import { databaseCheck, migrationsCheck, type ReadinessCheck } from '../src/http/readiness.ts';
import { migrationStatus } from '../src/storage/migrate.ts';
import { createRepositories, type Repositories } from '../src/storage/repositories.ts';
import { StorageWriter } from '../src/storage/writer.ts';
import { createRegistry } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { openTestStorage, type StorageKind, type TestStorage } from '../../../test/helpers/storage.ts';

/** Monday 2025-03-03 08:30 in Hanoi: the simulator's day 0 starts at this instant. */
export const SIM_START = Date.UTC(2025, 2, 3, 1, 30);
export const SIM_DAY_MS = 300_000;
/** Two full compressed days and most of a third: past sessions in storage, a live day in memory. */
export const SIM_END = SIM_START + 2 * SIM_DAY_MS + 0.7 * SIM_DAY_MS;

export interface Fixture {
  app: FastifyInstance;
  engine: MarketEngine;
  repos: Repositories;
  storage: TestStorage;
  userId: string;
  /** A symbol with trades, foreign flows and stored bars. */
  symbol: string;
  refs: SymbolRef[];
  outputs: Record<string, number>;
  close(): Promise<void>;
}

export const TEST_SETTINGS: HttpSettings = {
  appEnv: 'test',
  corsOrigins: ['https://allowed.example.com'],
  trustProxy: false,
  rateLimit: { max: 0, windowMs: 60_000 },
  securityHeaders: true,
  webDist: null,
};

export async function createFixture(kind: StorageKind, opts: { settings?: Partial<HttpSettings>; readiness?: ReadinessCheck[] } = {}): Promise<Fixture> {
  const storage = await openTestStorage(kind, { isolated: true });
  const { db } = storage;
  const repos = createRepositories(db);
  const user = await repos.users.ensureDefault();

  const sim = new Simulator({ seed: 20_250_303, startTs: SIM_START, dayMs: SIM_DAY_MS, intensity: 40 });
  const refs = sim.references();
  const symbol = refs.find((r) => r.symbol === 'FPT')?.symbol ?? refs[0]!.symbol;
  // Low thresholds so these rules fire during the run: stored alert events to page through.
  for (const r of refs.slice(0, 5)) {
    await repos.alertRules.create(user.id, { symbol: r.symbol, kind: 'price_above', threshold: r.reference * 0.5, cooldownMs: 0 });
    await repos.alertRules.create(user.id, { symbol: r.symbol, kind: 'change_pct_above', threshold: 0.1, cooldownMs: 1_000 });
  }
  const engine = new MarketEngine({ alertRules: await repos.alertRules.listAll() });
  const writer = new StorageWriter(db, { flushIntervalMs: 20, maxBufferedRows: 1_000_000 });
  const outputs: Record<string, number> = {};
  const emit = (out: EngineOutput) => {
    outputs[out.type] = (outputs[out.type] ?? 0) + 1;
    if (!writer.offer(out)) throw new Error('writer buffer full in the fixture');
  };
  sim.advanceTo(SIM_END, (ev: MarketEvent) => {
    engine.apply(ev, emit);
  });
  engine.advance(SIM_END, emit);
  await writer.close();

  const app = await buildApp({
    settings: { ...TEST_SETTINGS, ...opts.settings },
    log: silentLogger(),
    market: engine,
    alertSink: engine.alerts,
    repos,
    feedStatus: () => ({ name: 'simulator', connected: true, lastEventTs: engine.now() }),
    readiness: opts.readiness ?? [databaseCheck(db), migrationsCheck(() => migrationStatus(db))],
    registry: createRegistry({ processMetrics: false }),
  });
  await app.ready();
  return {
    app,
    engine,
    repos,
    storage,
    userId: user.id,
    symbol,
    refs,
    outputs,
    async close() {
      await app.close();
      await storage.cleanup();
    },
  };
}
