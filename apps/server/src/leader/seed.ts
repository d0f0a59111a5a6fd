/**
 * Seeding a new collector leader's engine from the shared state (issue 12 §6).
 *
 * A leader that takes over (kill -9 of the previous one, a graceful hand-off
 * during a rolling upgrade) used to start with reference data only: the day's
 * volume, high/low and buy/sell split restarted from the first trade it
 * received, and its partial bars/summaries overwrote the stored ones. Before
 * its feed starts (so before it publishes anything) it now rebuilds the day:
 *
 *   trades    today's stored trades (PostgreSQL) ∪ the trades still in the
 *             bus history (Redis `s:market:<SYM>:trades`: what the previous
 *             leader published but had not flushed to storage when it died),
 *             de-duplicated by (symbol, id, ts), replayed in time order with
 *             their recorded side and phase (`MarketEngine.replay`): totals,
 *             split, high/low, bars, phase/day summaries and the dedup ids
 *             come out as the previous leader had them;
 *   book      the latest quote row per symbol (Redis `latest:market`): the
 *             order book, so trade classification continues with a quote;
 *   foreign   the latest foreign state per symbol (Redis `latest:foreign`);
 *   day       a quote row of a later trading date than the stored reference
 *             moves the symbol to that day first;
 *   gaps      the `trade_gap` system alerts still in the bus: volume already
 *             reported missing is not reported again.
 *
 * Trades only the bus had are handed to the storage writer (the dead
 * leader's unflushed rows: stored once, ON CONFLICT), with the bars closed
 * and the summaries emitted along the way (monotonic upserts: never smaller
 * than what is stored). Nothing is published: the bus already has all of it.
 *
 * Not seeded: the session phase (it follows the exchange schedule until the
 * feed's next status message — seeding it as a status would freeze it for
 * feeds that send none) and alert rule state (re-armed by the next quote).
 * Seeding from a trade the previous leader produced but neither published nor
 * stored is impossible; the feed's catch-up brings it, or the vendor's
 * cumulative volume reports it as a gap.
 */
import type { Redis } from 'ioredis';
import type { MarketEngine } from '@stock-tracker/engine';
import type { ClassifiedTrade, EngineOutput, ForeignState, QuoteState, SymbolRef, SystemAlert } from '@stock-tracker/protocol';
import { FOREIGN_TOP_KEY, SYSTEM_ALERTS_KEY, isTradesKey } from '@stock-tracker/protocol';
import { rulesFor, tradingDateOf, daySchedule } from '@stock-tracker/rules';
import type { Db } from '../storage/db.ts';
import { parseEntry, parseHead, parseLatest, redisBusKeys } from '../bus/redis/keys.ts';

const SIDES = new Set(['buy', 'sell', 'unknown']);

export interface SeedData {
  /** From storage (today's, by the earliest trading day among the references). */
  stored: ClassifiedTrade[];
  /** From the bus history, per symbol in publish order. */
  published: ClassifiedTrade[];
  quotes: QuoteState[];
  foreign: ForeignState[];
  /** Per `symbol|tradingDate`: volume already reported missing (the previous leaders' trade_gap alerts still in the bus). */
  gaps: Map<string, number>;
  /** Newest stored closed bar per symbol (ms): replayed bars before it are not written again. */
  barHorizon: Map<string, number>;
  /** What could not be read (the seed is then partial; each part is optional). */
  problems: string[];
}

export interface SeedStats {
  trades: number;
  storedTrades: number;
  publishedTrades: number;
  /** Published but not stored: handed to the storage writer. */
  busOnlyTrades: number;
  /** Rejected by the engine (another trading day, out of limits, duplicates within the inputs). */
  skipped: number;
  quotes: number;
  foreign: number;
  /** Rows handed to the storage writer (trades, closed bars, summaries). */
  written: number;
  loadMs: number;
  replayMs: number;
  problems: string[];
}

const ms = (v: unknown) => Math.round(Number(v));

/**
 * Start (epoch ms) of the current trading day: per exchange the latest
 * trading date its references name (a delisted symbol's old reference must
 * not pull in months of trades), local midnight; the earliest of those.
 */
export function dayStartOf(refs: readonly SymbolRef[], fallbackNow: number): number {
  const latest = new Map<string, SymbolRef>();
  for (const r of refs) {
    const k = `${r.exchange}|${r.market}`;
    const cur = latest.get(k);
    if (cur === undefined || r.tradingDate > cur.tradingDate) latest.set(k, r);
  }
  let start = Infinity;
  for (const r of latest.values()) {
    // Noon UTC of the date lies inside that local date for every exchange time zone in use (UTC−5 .. UTC+7).
    const s = daySchedule(rulesFor(r.exchange, r.market), Date.parse(`${r.tradingDate}T12:00:00Z`)).start;
    if (s < start) start = s;
  }
  return Number.isFinite(start) ? start : fallbackNow - 86_400_000;
}

/** Reads what the seed needs; each source may fail on its own (reported in `problems`). */
export async function loadSeed(db: Db, redis: Redis, prefix: string, refs: readonly SymbolRef[], now: number): Promise<SeedData> {
  const data: SeedData = { stored: [], published: [], quotes: [], foreign: [], gaps: new Map(), barHorizon: new Map(), problems: [] };
  const k = redisBusKeys(prefix);
  try {
    const [head, latestMarket, latestForeign] = await Promise.all([redis.hgetall(k.head('market')), redis.hgetall(k.latest('market')), redis.hgetall(k.latest('foreign'))]);
    for (const [key, raw] of Object.entries(latestMarket)) {
      if (isTradesKey(key)) continue;
      const q = parseLatest('market', key, raw)?.data as QuoteState | undefined;
      if (q && typeof q.symbol === 'string' && typeof q.ts === 'number') data.quotes.push(q);
    }
    for (const [key, raw] of Object.entries(latestForeign)) {
      if (key === FOREIGN_TOP_KEY) continue;
      const f = parseLatest('foreign', key, raw)?.data as ForeignState | undefined;
      if (f && typeof f.symbol === 'string' && typeof f.ts === 'number') data.foreign.push(f);
    }
    const keys = Object.entries(head)
      .filter(([key, raw]) => isTradesKey(key) && parseHead(raw)?.kind === 'event')
      .map(([key]) => key);
    // Gaps already reported today (ids `gap:<symbol>:<date>:<trade>`): expected − seen is the day's missing total then.
    for (const [, flat] of await redis.xrange(k.stream('alerts', SYSTEM_ALERTS_KEY), '-', '+')) {
      try {
        const a = parseEntry('alerts', SYSTEM_ALERTS_KEY, flat)?.data as SystemAlert | undefined;
        const m = a?.kind === 'trade_gap' ? /^gap:([^:]+):(\d{4}-\d{2}-\d{2}):/.exec(a.id) : null;
        if (!m || a!.expectedVolume === undefined || a!.seenVolume === undefined) continue;
        const key = `${m[1]}|${m[2]}`;
        data.gaps.set(key, Math.max(data.gaps.get(key) ?? 0, a!.expectedVolume - a!.seenVolume));
      } catch {
        // a malformed alert seeds nothing
      }
    }
    const p = redis.pipeline();
    for (const key of keys) p.xrange(k.stream('market', key), '-', '+');
    const res = keys.length > 0 ? ((await p.exec()) ?? []) : [];
    keys.forEach((key, i) => {
      const [err, entries] = res[i] ?? [null, []];
      if (err) throw err;
      for (const [, flat] of entries as [string, string[]][]) {
        try {
          const t = parseEntry('market', key, flat)?.data as ClassifiedTrade | undefined;
          if (isTrade(t)) data.published.push(t);
        } catch {
          // a malformed entry seeds nothing
        }
      }
    });
  } catch (err) {
    data.problems.push(`redis: ${(err as Error).message}`);
  }
  const since = new Date(dayStartOf(refs, now)).toISOString();
  try {
    const rows = await db.query<{ symbol: string; ms: number; id: string; price: number; volume: number; side: string; side_source: string; phase: string }>(
      `SELECT symbol, (extract(epoch from ts) * 1000)::float8 AS ms, id, price, volume, side, side_source, phase
         FROM trades WHERE ts >= $1 ORDER BY ts, length(id), id`,
      [since],
    );
    for (const r of rows.rows) {
      const t = { id: r.id, symbol: r.symbol, ts: ms(r.ms), price: Number(r.price), volume: Number(r.volume), side: r.side, sideSource: r.side_source, phase: r.phase } as ClassifiedTrade;
      if (isTrade(t)) data.stored.push(t);
    }
    const bars = await db.query<{ symbol: string; ms: number }>(`SELECT symbol, (extract(epoch from max(ts)) * 1000)::float8 AS ms FROM bars_1m WHERE ts >= $1 GROUP BY symbol`, [since]);
    for (const r of bars.rows) data.barHorizon.set(r.symbol, ms(r.ms));
  } catch (err) {
    data.problems.push(`database: ${(err as Error).message}`);
  }
  return data;
}

function isTrade(t: unknown): t is ClassifiedTrade {
  const x = t as ClassifiedTrade | undefined;
  return (
    x !== undefined &&
    x !== null &&
    typeof x.symbol === 'string' &&
    typeof x.id === 'string' &&
    Number.isFinite(x.ts) &&
    Number.isFinite(x.price) &&
    Number.isFinite(x.volume) &&
    SIDES.has(x.side) &&
    typeof x.phase === 'string'
  );
}

/**
 * The trades to replay: the union of both sources, one per (symbol, id, ts),
 * of each symbol's current trading day, in time order (ties: shorter id
 * first, then id — numeric order for ids ending in a counter such as SSI's
 * cumulative volume; the arrival order is not stored).
 */
export function seedTrades(data: Pick<SeedData, 'stored' | 'published'>, tradingDate: (symbol: string, ts: number) => boolean): { trades: ClassifiedTrade[]; busOnly: Set<ClassifiedTrade> } {
  const byKey = new Map<string, ClassifiedTrade>();
  const key = (t: ClassifiedTrade) => `${t.symbol}\u0000${t.id}\u0000${t.ts}`;
  for (const t of data.stored) if (tradingDate(t.symbol, t.ts)) byKey.set(key(t), t);
  const busOnly = new Set<ClassifiedTrade>();
  for (const t of data.published) {
    if (!tradingDate(t.symbol, t.ts) || byKey.has(key(t))) continue;
    byKey.set(key(t), t);
    busOnly.add(t);
  }
  const trades = [...byKey.values()].sort((a, b) => a.ts - b.ts || a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return { trades, busOnly };
}

/**
 * Applies a loaded seed to an engine that has its reference data. `store`
 * receives what storage may lack (bus-only trades, closed bars from the
 * newest stored one on, summaries). Yields to the event loop every
 * `sliceSize` trades so a big day does not outlast the leader's lease.
 */
export async function applySeed(engine: MarketEngine, data: SeedData, store: (out: EngineOutput) => void, opts: { sliceSize?: number } = {}): Promise<Omit<SeedStats, 'loadMs' | 'replayMs'>> {
  const slice = opts.sliceSize ?? 5_000;
  // A quote row of a later trading day than the stored reference: that day first (its references are in the row).
  for (const q of data.quotes) {
    const r = engine.reference(q.symbol);
    if (r !== undefined && q.tradingDate > r.tradingDate) {
      engine.apply({ type: 'reference', ts: 0, ref: { ...r, tradingDate: q.tradingDate, reference: q.reference, ceiling: q.ceiling, floor: q.floor } }, () => {});
    }
  }
  const dayOf = (symbol: string, ts: number): boolean => {
    const r = engine.reference(symbol);
    if (r === undefined) return true; // listed from its first trade (synthetic day): the engine decides
    return tradingDateOf(ts, rulesFor(r.exchange, r.market).timeZone) === r.tradingDate;
  };
  const { trades, busOnly } = seedTrades(data, dayOf);
  let written = 0;
  let skipped = 0;
  let current: ClassifiedTrade | undefined;
  const sink = (out: EngineOutput) => {
    if (out.type === 'trade' ? current !== undefined && busOnly.has(current) : out.type === 'session' || (out.type === 'bar' && out.bar.closed && out.bar.ts >= (data.barHorizon.get(out.bar.symbol) ?? -Infinity))) {
      store(out);
      written++;
    }
  };
  for (let i = 0; i < trades.length; i++) {
    current = trades[i]!;
    if (!engine.replay(current, sink)) skipped++;
    if ((i + 1) % slice === 0) await new Promise((r) => setImmediate(r));
  }
  current = undefined;
  for (const [key, volume] of data.gaps) {
    const [symbol, date] = key.split('|') as [string, string];
    if (engine.reference(symbol)?.tradingDate === date) engine.markGapReported(symbol, volume);
  }
  // Books and foreign figures move engine time on, which may close bars: those go to storage too (sink).
  // Only of rows of the symbol's current trading day: yesterday's book or foreign figures are not today's.
  const today = new Set<string>();
  let quotes = 0;
  for (const q of data.quotes) {
    if (engine.reference(q.symbol)?.tradingDate !== q.tradingDate) continue;
    today.add(q.symbol);
    if (q.bids.length === 0 && q.asks.length === 0) continue;
    if (engine.apply({ type: 'quote', ts: q.ts, symbol: q.symbol, bids: q.bids, asks: q.asks }, sink)) quotes++;
  }
  let foreign = 0;
  for (const f of data.foreign) {
    if (!today.has(f.symbol)) continue;
    const ev = { type: 'foreign' as const, ts: f.ts, symbol: f.symbol, buyVolume: f.buyVolume, sellVolume: f.sellVolume, buyValue: f.buyValue, sellValue: f.sellValue, totalRoom: f.totalRoom, currentRoom: f.currentRoom };
    if (engine.apply(ev, sink)) foreign++;
  }
  return {
    trades: trades.length - skipped,
    storedTrades: data.stored.length,
    publishedTrades: data.published.length,
    busOnlyTrades: busOnly.size,
    skipped,
    quotes,
    foreign,
    written,
    problems: data.problems,
  };
}
