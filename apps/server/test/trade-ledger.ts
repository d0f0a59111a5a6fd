/**
 * "Trades stored = trades produced, exactly once": the produced set is
 * re-derived by replaying the same seeded simulator range through the engine
 * (the simulator is deterministic: a collector restarted within a loop
 * regenerates the very same trades), and compared with the trades table by
 * count and by an md5 over the sorted trade keys.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';

export interface Ledger {
  count: number;
  md5: string;
  /** Newest trade ts. */
  lastTs: number;
}

const md5 = (keys: string[]) => createHash('md5').update(keys.join(',')).digest('hex');

/** Trades the engine accepts from the simulator (seed, dayMs, intensity) from the loop starting at `startTs` up to `untilTs` (inclusive). */
export function producedTrades(opts: { seed: number; dayMs: number; intensity: number; startTs: number; untilTs: number }): Ledger {
  // The server's simulator stamps events on the exchange clock (docs/feeds.md, "Simulator"): untilTs is such a stamp.
  const sim = new Simulator({ seed: opts.seed, dayMs: opts.dayMs, intensity: opts.intensity, startTs: opts.startTs, clock: 'exchange' });
  const engine = new MarketEngine();
  const keys: string[] = [];
  let lastTs = -Infinity;
  sim.advanceTo(opts.untilTs, (ev) => {
    engine.apply(ev, (out) => {
      if (out.type !== 'trade') return;
      keys.push(`${out.trade.symbol}:${out.trade.id}`);
      lastTs = Math.max(lastTs, out.trade.ts);
    });
  });
  keys.sort();
  return { count: keys.length, md5: md5(keys), lastTs };
}

/** The same figures from the trades table, plus the number of distinct keys (a second copy of a trade would show). */
export async function storedTrades(databaseUrl: string): Promise<Ledger & { distinct: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query<{ count: string; distinct: string; keys: string | null; last: number | null }>(
      `SELECT count(*) AS count, count(DISTINCT (symbol, id)) AS distinct,
              string_agg(symbol || ':' || id, ',' ORDER BY (symbol || ':' || id) COLLATE "C") AS keys,
              (extract(epoch from max(ts)) * 1000)::float8 AS last
         FROM trades`,
    );
    const row = r.rows[0]!;
    return { count: Number(row.count), distinct: Number(row.distinct), md5: md5(row.keys ? row.keys.split(',') : []), lastTs: row.last ?? -Infinity };
  } finally {
    await client.end();
  }
}
