/**
 * Shared by the backup tests: real market data in a database (simulator →
 * engine → StorageWriter, plus users, alert rules and watchlists through the
 * repositories), independent ways to look at a database's content, and an
 * in-process runner for the CLI commands.
 */
import { setImmediate as tick } from 'node:timers/promises';
import pg from 'pg';
import type { EngineOutput } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';
import type { Db } from '../src/storage/db.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { StorageWriter } from '../src/storage/writer.ts';

export { runCli } from './cli-runner.ts';

/** Fills `db` (migrated) with a compressed trading day of simulated market data; returns the number of trades produced. */
export async function produceMarketData(db: Db, opts: { seed?: number; steps?: number; symbols?: number } = {}): Promise<{ trades: number; alerts: number }> {
  const repos = createRepositories(db);
  await repos.users.ensureDefault();
  const trader = await repos.users.create({ username: `trader_${opts.seed ?? 1}` });
  await repos.watchlists.create(trader.id, { name: 'banks', symbols: ['VCB', 'BID', 'CTG'] });
  await repos.watchlists.create('local', { name: 'default', symbols: ['VNM'] });

  const startTs = Date.UTC(2024, 6, 2, 1, 0);
  const sim = new Simulator({ seed: opts.seed ?? 11, startTs, dayMs: 60_000, symbols: opts.symbols ?? 30, intensity: 1_500 });
  // Rules that fire on any symbol's first trades, so alert_events holds rows too.
  const symbols = new Set<string>();
  sim.advanceTo(startTs + 1, (ev) => {
    if (ev.type === 'reference') symbols.add(ev.ref.symbol);
  });
  const rules = [];
  for (const symbol of [...symbols].slice(0, 4)) {
    rules.push(await repos.alertRules.create(trader.id, { symbol, kind: 'price_above', threshold: 1, cooldownMs: 0 }));
    rules.push(await repos.alertRules.create(trader.id, { symbol, kind: 'change_pct_above', threshold: -100, cooldownMs: 0 }));
  }
  const engine = new MarketEngine({ alertRules: rules });
  const writer = new StorageWriter(db, { flushIntervalMs: 10, foreignThrottleMs: 1_000, indexThrottleMs: 1_000 });
  const outs: EngineOutput[] = [];
  const collect = (o: EngineOutput) => outs.push(o);
  let trades = 0;
  let alerts = 0;
  let t = startTs;
  for (let step = 0; step < (opts.steps ?? 150); step++) {
    t += 500;
    sim.advanceTo(t, (ev) => engine.apply(ev, collect));
    engine.advance(t, collect);
    for (const o of outs) {
      if (o.type === 'trade') trades++;
      if (o.type === 'alert') alerts++;
      while (!writer.offer(o)) await writer.waitForCapacity();
    }
    outs.length = 0;
    await tick();
  }
  await writer.flush();
  await writer.close();
  return { trades, alerts };
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Row count of every base table in `public`, read through information_schema (independent of the code under test). */
export function publicTableCounts(url: string): Promise<Record<string, number>> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ t: string }>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    const out: Record<string, number> = {};
    for (const { t } of rows) out[t] = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM public."${t}"`)).rows[0]!.n);
    return out;
  });
}

/** md5 over every trade's (symbol, id), in byte order, and over the users/rules/watchlists. */
export function contentFingerprint(url: string): Promise<{ trades: string; users: string; rules: string; watchlists: string; version: number }> {
  return withClient(url, async (c) => {
    const one = async (sql: string) => (await c.query<{ v: string }>(sql)).rows[0]!.v;
    return {
      trades: await one(`SELECT md5(string_agg(symbol || ':' || id, ',' ORDER BY symbol COLLATE "C", id COLLATE "C")) AS v FROM trades`),
      users: await one(`SELECT md5(string_agg(id || ':' || username, ',' ORDER BY id COLLATE "C")) AS v FROM users`),
      rules: await one(`SELECT md5(string_agg(id || ':' || symbol || ':' || kind || ':' || threshold, ',' ORDER BY id COLLATE "C")) AS v FROM alert_rules`),
      watchlists: await one(`SELECT md5(string_agg(id || ':' || name || ':' || array_to_string(symbols, ','), ';' ORDER BY id COLLATE "C")) AS v FROM watchlists`),
      version: Number(await one('SELECT max(version)::text AS v FROM schema_migrations')),
    };
  });
}

export function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withClient(adminUrl, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}
