/**
 * Every repository method on both engines: PGlite (temp dir) and PostgreSQL
 * (the per-run database, shared with other test files, hence the unique
 * symbol prefix and users per run).
 */
import { AppError, type AlertEvent, type Bar, type BarInterval, type ClassifiedTrade, type SessionSummary, type SymbolRef } from '@stock-tracker/protocol';
import { createRepositories, type Repositories } from '../src/storage/repositories.ts';
import { StorageWriter } from '../src/storage/writer.ts';
import { openTestStorage, STORAGE_KINDS, type TestStorage } from '../../../test/helpers/storage.ts';

const P = `R${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
const VN = `${P}VNM`;
const US = `${P}AAPL`;
const OTHER = `${P}FPT`;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function ref(symbol: string, tradingDate: string, reference: number, extra: Partial<SymbolRef> = {}): SymbolRef {
  return {
    symbol,
    exchange: 'HOSE',
    market: 'VN',
    tradingDate,
    reference,
    ceiling: Math.round(reference * 1.07),
    floor: Math.round(reference * 0.93),
    lotSize: 100,
    indices: ['VNINDEX'],
    sharesOutstanding: 1_000_000,
    ...extra,
  };
}

/** Deterministic pseudo-random sequence (test data only). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function minuteBars(symbol: string, starts: number[], seed: number): Bar[] {
  const rnd = lcg(seed);
  return starts.map((ts) => {
    const open = 1000 + Math.floor(rnd() * 100) * 10;
    const close = 1000 + Math.floor(rnd() * 100) * 10;
    const high = Math.max(open, close) + Math.floor(rnd() * 5) * 10;
    const low = Math.min(open, close) - Math.floor(rnd() * 5) * 10;
    const buy = Math.floor(rnd() * 50) * 100;
    const sell = Math.floor(rnd() * 50) * 100;
    const unknown = Math.floor(rnd() * 5) * 100;
    const volume = buy + sell + unknown;
    const value = volume * close; // integers: sums are exact in any order
    return { symbol, interval: '1m', ts, open, high, low, close, volume, value, vwap: volume ? value / volume : null, buyVolume: buy, sellVolume: sell, unknownVolume: unknown, trades: 1 + Math.floor(rnd() * 20), closed: true };
  });
}

/** Independent aggregation of 1m bars: bucketOf gives the bucket start of a timestamp. */
function aggregate(bars: Bar[], interval: BarInterval, bucketOf: (ts: number) => number): Bar[] {
  const groups = new Map<number, Bar[]>();
  for (const b of [...bars].sort((a, c) => a.ts - c.ts)) {
    const k = bucketOf(b.ts);
    groups.set(k, [...(groups.get(k) ?? []), b]);
  }
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([ts, g]) => {
      const volume = g.reduce((s, b) => s + b.volume, 0);
      const value = g.reduce((s, b) => s + b.value, 0);
      return {
        symbol: g[0]!.symbol,
        interval,
        ts,
        open: g[0]!.open,
        high: Math.max(...g.map((b) => b.high)),
        low: Math.min(...g.map((b) => b.low)),
        close: g.at(-1)!.close,
        volume,
        value,
        vwap: volume ? value / volume : null,
        buyVolume: g.reduce((s, b) => s + b.buyVolume, 0),
        sellVolume: g.reduce((s, b) => s + b.sellVolume, 0),
        unknownVolume: g.reduce((s, b) => s + b.unknownVolume, 0),
        trades: g.reduce((s, b) => s + b.trades, 0),
        closed: true, // all test data is in the past
      };
    });
}

const floorTo = (ms: number) => (ts: number) => Math.floor(ts / ms) * ms;
// Asia/Ho_Chi_Minh is UTC+7 all year; New York is UTC-4 in July (EDT).
const vnDay = (ts: number) => Math.floor((ts + 7 * HOUR) / DAY) * DAY - 7 * HOUR;
const nyJulyDay = (ts: number) => Math.floor((ts - 4 * HOUR) / DAY) * DAY + 4 * HOUR;

function summary(symbol: string, tradingDate: string, phase: SessionSummary['phase'], volume: number, open: number, close: number): SessionSummary {
  return { symbol, tradingDate, phase, open, high: Math.max(open, close) + 10, low: Math.min(open, close) - 10, close, volume, value: volume * close, vwap: close, buyVolume: volume / 2, sellVolume: volume / 4, unknownVolume: volume / 4, trades: volume / 100 };
}

describe.each(STORAGE_KINDS)('repositories on %s', (kind) => {
  let st: TestStorage;
  let repos: Repositories;
  let writer: StorageWriter;

  beforeAll(async () => {
    st = await openTestStorage(kind);
    repos = createRepositories(st.db);
    writer = new StorageWriter(st.db, { flushIntervalMs: 5, foreignThrottleMs: 1, indexThrottleMs: 1 });
  });
  afterAll(async () => {
    await writer?.close();
    await st?.cleanup();
  });

  describe('symbols', () => {
    it('upserts the latest reference per symbol and never lets an older day overwrite it', async () => {
      await repos.symbols.upsert([ref(VN, '2024-07-02', 70_000, { name: 'Vinamilk', foreignLimit: 500_000, indices: ['VNINDEX', 'VN30'] }), ref(OTHER, '2024-07-02', 100_000)]);
      await repos.symbols.upsert([ref(VN, '2024-07-03', 71_000, { name: 'Vinamilk', indices: ['VNINDEX', 'VN30'] })]);
      await repos.symbols.upsert([ref(VN, '2024-07-01', 69_000)]); // late, older day
      const got = await repos.symbols.get(VN);
      expect(got).toMatchObject({ symbol: VN, tradingDate: '2024-07-03', reference: 71_000, ceiling: Math.round(71_000 * 1.07), name: 'Vinamilk', indices: ['VNINDEX', 'VN30'], lotSize: 100 });
      expect(got).not.toHaveProperty('foreignLimit'); // cleared by the newer reference
      const mine = (await repos.symbols.list()).filter((s) => s.symbol.startsWith(P));
      expect(mine.map((s) => s.symbol)).toEqual([OTHER, VN].sort());
      expect(await repos.symbols.get(`${P}NOPE`)).toBeUndefined();
      // the per-day history keeps every day, including the late one
      const days = await st.db.query<{ d: string; reference: number }>(
        `SELECT to_char(trading_date, 'YYYY-MM-DD') AS d, reference FROM symbol_daily_refs WHERE symbol = $1 ORDER BY trading_date`,
        [VN],
      );
      expect(days.rows).toEqual([
        { d: '2024-07-01', reference: 69_000 },
        { d: '2024-07-02', reference: 70_000 },
        { d: '2024-07-03', reference: 71_000 },
      ]);
    });

    it('stores reference outputs offered to the writer', async () => {
      expect(writer.offer({ type: 'reference', ref: ref(`${P}HPG`, '2024-07-03', 25_000, { exchange: 'HNX' }) })).toBe(true);
      await writer.flush();
      expect(await repos.symbols.get(`${P}HPG`)).toMatchObject({ exchange: 'HNX', reference: 25_000 });
    });
  });

  describe('trades', () => {
    const t0 = Date.UTC(2024, 6, 2, 2, 15);
    // 250 trades with many identical timestamps: the id breaks ties.
    const trades: ClassifiedTrade[] = Array.from({ length: 250 }, (_, i) => ({
      id: `T${String((i * 7919) % 1000).padStart(4, '0')}`,
      symbol: VN,
      ts: t0 + Math.floor(i / 3) * 1000,
      price: 70_000 + (i % 7) * 100,
      volume: 100 * (1 + (i % 5)),
      side: (['buy', 'sell', 'unknown'] as const)[i % 3]!,
      sideSource: (['quote', 'tick', 'auction'] as const)[i % 3]!,
      phase: 'continuous',
    }));

    beforeAll(async () => {
      for (const trade of trades) writer.offer({ type: 'trade', trade });
      writer.offer({ type: 'trade', trade: { ...trades[0]!, symbol: OTHER } });
      for (const trade of trades.slice(0, 50)) writer.offer({ type: 'trade', trade }); // duplicates
      await writer.flush();
    });

    it('pages newest first through every trade exactly once with opaque cursors', async () => {
      const expected = [...trades].sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const seen: ClassifiedTrade[] = [];
      let before: string | undefined;
      let pages = 0;
      do {
        const page = await repos.trades.recent(VN, 100, before);
        seen.push(...page.items);
        before = page.next ?? undefined;
        pages++;
        if (page.next) expect(page.items).toHaveLength(100);
      } while (before && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
    });

    it('clamps the limit and rejects a forged cursor as a validation error', async () => {
      const page = await repos.trades.recent(VN, 5_000);
      expect(page.items).toHaveLength(250);
      expect(page.next).toBeNull();
      const tiny = await repos.trades.recent(VN, 0);
      expect(tiny.items).toHaveLength(1);
      expect(tiny.next).not.toBeNull();
      const err = await repos.trades.recent(VN, 10, 'not-a-cursor!').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('VALIDATION_FAILED');
      const forged = Buffer.from(JSON.stringify(['x', 1])).toString('base64url');
      await expect(repos.trades.recent(VN, 10, forged)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('counts stored trades (duplicates stored once)', async () => {
      const { rows } = await st.db.query<{ n: number }>('SELECT count(*)::int AS n FROM trades WHERE symbol = $1', [VN]);
      expect(rows[0]!.n).toBe(250);
      expect(await repos.trades.count()).toBeGreaterThanOrEqual(251);
    });
  });

  describe('bars', () => {
    // VN: two trading days of session minutes (09:00–14:45 local = 02:00–07:45 UTC), with gaps.
    const vnStarts: number[] = [];
    for (const day of [Date.UTC(2024, 6, 2), Date.UTC(2024, 6, 3)]) {
      for (let m = 0; m < 345; m++) if (m % 7 !== 3) vnStarts.push(day + 2 * HOUR + m * MIN);
    }
    // US: evening minutes crossing UTC midnight (18:00–21:00 EDT = 22:00–01:00 UTC) on two days.
    const usStarts: number[] = [];
    for (const day of [Date.UTC(2024, 6, 8), Date.UTC(2024, 6, 9)]) for (let m = 0; m < 180; m += 2) usStarts.push(day + 22 * HOUR + m * MIN);
    const vnBars = minuteBars(VN, vnStarts, 7);
    const usBars = minuteBars(US, usStarts, 11);

    beforeAll(async () => {
      await repos.symbols.upsert([ref(US, '2024-07-08', 200, { exchange: 'NASDAQ', market: 'US', ceiling: null, floor: null, lotSize: 1 })]);
      for (const bar of [...vnBars, ...usBars]) writer.offer({ type: 'bar', bar });
      // open bars and non-1m bars are not history: ignored
      writer.offer({ type: 'bar', bar: { ...vnBars[0]!, ts: vnBars[0]!.ts - DAY, closed: false } });
      await writer.flush();
    });

    it('returns 1m bars as stored, oldest first', async () => {
      const got = await repos.bars.range(VN, '1m', { limit: 1000 });
      expect(got).toEqual(vnBars);
    });

    it.each([
      ['5m', floorTo(5 * MIN)],
      ['15m', floorTo(15 * MIN)],
      ['1h', floorTo(HOUR)],
      ['1d', vnDay],
    ] as const)('aggregates %s from 1m rows in SQL like an independent computation', async (interval, bucketOf) => {
      const expected = aggregate(vnBars, interval, bucketOf);
      const got = await repos.bars.range(VN, interval, { limit: 1000 });
      expect(got).toEqual(expected);
      if (interval === '1d') expect(got).toHaveLength(2);
    });

    it('buckets days by the exchange time zone (New York evening bars stay in one day)', async () => {
      const got = await repos.bars.range(US, '1d', { limit: 10 });
      expect(got).toEqual(aggregate(usBars, '1d', nyJulyDay));
      expect(got).toHaveLength(2);
      // a UTC-day split would have produced three buckets
      expect(new Set(usBars.map((b) => floorTo(DAY)(b.ts))).size).toBe(3);
    });

    it('fills days without minute data from backfilled daily bars; a day built from minutes wins', async () => {
      const built = aggregate(vnBars, '1d', vnDay);
      const firstDay = built[0]!.ts;
      const olderDay = firstDay - 3 * DAY;
      await st.db.query(
        `INSERT INTO bars_1d (symbol, ts, open, high, low, close, volume, value, trades) VALUES
           ($1, to_timestamp($2 / 1000.0), 60000, 61000, 59000, 60500, 12345, NULL, 10),
           ($1, to_timestamp($3 / 1000.0), 1, 1, 1, 1, 1, 1, 1)`,
        [VN, olderDay, firstDay],
      );
      const got = await repos.bars.range(VN, '1d', { limit: 1000 });
      expect(got.map((b) => b.ts)).toEqual([olderDay, ...built.map((b) => b.ts)]);
      expect(got[0]).toMatchObject({ interval: '1d', open: 60000, close: 60500, volume: 12345, unknownVolume: 12345, buyVolume: 0, closed: true });
      expect(got.slice(1)).toEqual(built); // the minute-built day is not replaced by the vendor row
      expect(await repos.bars.range(VN, '1d', { limit: 1 })).toEqual(built.slice(-1));
      expect((await repos.bars.range(VN, '1d', { from: olderDay, limit: 1 }))[0]!.ts).toBe(olderDay);
      await st.db.query('DELETE FROM bars_1d WHERE symbol = $1', [VN]);
    });

    it('applies from/to (inclusive, on bar start) and limit: latest N, or first N from `from`', async () => {
      const all = aggregate(vnBars, '15m', floorTo(15 * MIN));
      const from = all[5]!.ts;
      const to = all[20]!.ts;
      expect(await repos.bars.range(VN, '15m', { from, to, limit: 1000 })).toEqual(all.slice(5, 21));
      expect(await repos.bars.range(VN, '15m', { from, limit: 4 })).toEqual(all.slice(5, 9));
      expect(await repos.bars.range(VN, '15m', { to, limit: 4 })).toEqual(all.slice(17, 21));
      expect(await repos.bars.range(VN, '15m', { limit: 3 })).toEqual(all.slice(-3));
      // a `from` in the middle of a bucket excludes that (partial) bucket
      expect((await repos.bars.range(VN, '15m', { from: from + MIN, limit: 1 }))[0]!.ts).toBe(all[6]!.ts);
      const ones = await repos.bars.range(VN, '1m', { from: vnBars[10]!.ts, to: vnBars[12]!.ts, limit: 100 });
      expect(ones).toEqual(vnBars.slice(10, 13));
      expect(await repos.bars.range(`${P}NONE`, '1h', { limit: 10 })).toEqual([]);
    });
  });

  describe('sessions', () => {
    beforeAll(async () => {
      const outs: SessionSummary[] = [
        summary(VN, '2024-07-02', 'atc', 1000, 71_000, 71_500),
        summary(VN, '2024-07-02', 'ato', 2000, 70_000, 70_100),
        summary(VN, '2024-07-02', 'continuous', 50_000, 70_100, 71_000),
        summary(VN, '2024-07-02', 'day', 53_000, 70_000, 71_500),
        // the next day has phases but its `day` row never came
        summary(VN, '2024-07-03', 'ato', 1000, 72_000, 72_100),
        summary(VN, '2024-07-03', 'continuous', 3000, 72_100, 71_900),
      ];
      for (const s of outs) writer.offer({ type: 'session', summary: s });
      // an update of the same phase replaces it
      writer.offer({ type: 'session', summary: summary(VN, '2024-07-03', 'continuous', 4000, 72_100, 71_800) });
      await writer.flush();
    });

    it('returns a given day with phases in session order', async () => {
      const s = await repos.sessions.get(VN, '2024-07-02');
      expect(s?.tradingDate).toBe('2024-07-02');
      expect(s?.day).toEqual(summary(VN, '2024-07-02', 'day', 53_000, 70_000, 71_500));
      expect(s?.phases.map((p) => p.phase)).toEqual(['ato', 'continuous', 'atc']);
    });

    it('defaults to the latest day and rebuilds a missing day row from its phases', async () => {
      const s = await repos.sessions.get(VN);
      expect(s?.tradingDate).toBe('2024-07-03');
      expect(s?.phases.map((p) => [p.phase, p.volume])).toEqual([
        ['ato', 1000],
        ['continuous', 4000],
      ]);
      expect(s?.day).toMatchObject({ phase: 'day', volume: 5000, open: 72_000, close: 71_800, trades: 50, value: 1000 * 72_100 + 4000 * 71_800 });
      expect([s?.day.high, s?.day.low]).toEqual([72_110, 71_790]);
    });

    it('answers undefined for unknown symbols, days and malformed dates', async () => {
      expect(await repos.sessions.get(VN, '2024-07-09')).toBeUndefined();
      expect(await repos.sessions.get(VN, '2024-02-30')).toBeUndefined();
      expect(await repos.sessions.get(VN, "2024-07-02'; DROP TABLE trades;--")).toBeUndefined();
      expect(await repos.sessions.get(`${P}NONE`)).toBeUndefined();
    });
  });

  describe('foreign flows and indices', () => {
    const f0 = Date.UTC(2024, 6, 2, 3, 0);
    beforeAll(async () => {
      for (let i = 0; i < 10; i++) {
        const buy = 1000 * (i + 1);
        const sell = 400 * (i + 1);
        writer.offer({
          type: 'foreign',
          state: { symbol: VN, ts: f0 + i * MIN, buyVolume: buy, sellVolume: sell, buyValue: buy * 70_000, sellValue: sell * 70_000, netVolume: buy - sell, netValue: (buy - sell) * 70_000, totalRoom: 1e6, currentRoom: 1e6 - buy, roomUsagePct: i === 0 ? null : (buy / 1e6) * 100 },
        });
        writer.offer({
          type: 'index',
          state: { id: `${P}IDX`, name: 'Test index', ts: f0 + i * MIN, value: 1250 + i, prevClose: 1250, change: i, changePct: (i / 1250) * 100, volume: 1e6 * i, valueTraded: 1e9 * i, breadth: { advances: i, declines: 10 - i, unchanged: 0, ceilings: 0, floors: 0 }, computed: true },
        });
      }
      await writer.flush();
    });

    it('returns foreign snapshots oldest first within the window', async () => {
      const all = await repos.foreign.history(VN, { limit: 100 });
      expect(all.map((f) => f.ts)).toEqual(Array.from({ length: 10 }, (_, i) => f0 + i * MIN));
      expect(all[0]!.roomUsagePct).toBeNull();
      expect(all[3]).toMatchObject({ symbol: VN, buyVolume: 4000, sellVolume: 1600, netVolume: 2400, currentRoom: 1e6 - 4000, roomUsagePct: 0.4 });
      expect((await repos.foreign.history(VN, { from: f0 + 2 * MIN, to: f0 + 4 * MIN, limit: 100 })).map((f) => f.ts)).toEqual([f0 + 2 * MIN, f0 + 3 * MIN, f0 + 4 * MIN]);
      expect((await repos.foreign.history(VN, { limit: 2 })).map((f) => f.ts)).toEqual([f0 + 8 * MIN, f0 + 9 * MIN]);
      expect((await repos.foreign.history(VN, { from: f0 + 7 * MIN, limit: 2 })).map((f) => f.ts)).toEqual([f0 + 7 * MIN, f0 + 8 * MIN]);
    });

    it('returns index values oldest first within the window', async () => {
      expect(await repos.indices.history(`${P}IDX`, { to: f0 + 2 * MIN, limit: 2 })).toEqual([
        { ts: f0 + MIN, value: 1251 },
        { ts: f0 + 2 * MIN, value: 1252 },
      ]);
      expect(await repos.indices.history(`${P}NOIDX`, { limit: 5 })).toEqual([]);
    });
  });

  describe('per-user data and ownership', () => {
    let alice: string;
    let bob: string;

    beforeAll(async () => {
      alice = (await repos.users.create({ username: `${P}-alice-${kind}`, passwordHash: 'argon2-hash' })).id;
      bob = (await repos.users.create({ username: `${P}-bob-${kind}` })).id;
    });

    it('ensures the default local user idempotently and finds users', async () => {
      const a = await repos.users.ensureDefault();
      const b = await repos.users.ensureDefault();
      expect(a).toEqual({ id: 'local', username: 'local' });
      expect(b).toEqual(a);
      expect(await repos.users.findByUsername(`${P}-alice-${kind}`)).toEqual({ id: alice, username: `${P}-alice-${kind}`, passwordHash: 'argon2-hash' });
      expect(await repos.users.get(bob)).toEqual({ id: bob, username: `${P}-bob-${kind}` });
      expect(await repos.users.get('nobody')).toBeUndefined();
      await expect(repos.users.create({ username: `${P}-alice-${kind}` })).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it('alert rules: CRUD with defaults, and another user sees nothing', async () => {
      const r1 = await repos.alertRules.create(alice, { symbol: VN, kind: 'price_above', threshold: 75_000 });
      expect(r1).toMatchObject({ userId: alice, symbol: VN, kind: 'price_above', threshold: 75_000, cooldownMs: 60_000, enabled: true });
      expect(r1).not.toHaveProperty('period');
      expect(r1).not.toHaveProperty('note');
      expect(Math.abs(r1.createdAt - Date.now())).toBeLessThan(10 * 60_000);
      const r2 = await repos.alertRules.create(alice, { symbol: VN, kind: 'rsi_cross_above', threshold: 70, period: 14, cooldownMs: 0, enabled: false, note: 'overbought' });
      expect(r2).toMatchObject({ period: 14, cooldownMs: 0, enabled: false, note: 'overbought' });

      expect((await repos.alertRules.list(alice)).map((r) => r.id)).toEqual([r1.id, r2.id]);
      expect(await repos.alertRules.list(bob)).toEqual([]);
      expect(await repos.alertRules.get(alice, r2.id)).toEqual(r2);
      expect(await repos.alertRules.get(bob, r2.id)).toBeUndefined();
      expect((await repos.alertRules.listAll()).filter((r) => r.userId === alice)).toHaveLength(2);

      expect(await repos.alertRules.update(bob, r1.id, { threshold: 1 })).toBeUndefined();
      const u = await repos.alertRules.update(alice, r1.id, { threshold: 76_000, enabled: false });
      expect(u).toEqual({ ...r1, threshold: 76_000, enabled: false });
      expect(await repos.alertRules.get(alice, r1.id)).toEqual(u);

      expect(await repos.alertRules.remove(bob, r1.id)).toBe(false);
      expect(await repos.alertRules.remove(alice, r1.id)).toBe(true);
      expect(await repos.alertRules.remove(alice, r1.id)).toBe(false);
      expect((await repos.alertRules.list(alice)).map((r) => r.id)).toEqual([r2.id]);
    });

    it('watchlists: CRUD, and another user sees nothing', async () => {
      const w = await repos.watchlists.create(alice, { name: 'Banks', symbols: ['VCB', 'TCB'] });
      expect(w).toMatchObject({ name: 'Banks', symbols: ['VCB', 'TCB'] });
      const empty = await repos.watchlists.create(alice, { name: 'Empty' });
      expect(empty.symbols).toEqual([]);
      expect((await repos.watchlists.list(alice)).map((x) => x.id)).toEqual([w.id, empty.id]);
      expect(await repos.watchlists.list(bob)).toEqual([]);
      expect(await repos.watchlists.get(bob, w.id)).toBeUndefined();
      expect(await repos.watchlists.update(bob, w.id, { name: 'stolen' })).toBeUndefined();
      const u = await repos.watchlists.update(alice, w.id, { symbols: ['VCB', 'TCB', 'MBB'] });
      expect(u).toMatchObject({ id: w.id, name: 'Banks', symbols: ['VCB', 'TCB', 'MBB'], createdAt: w.createdAt });
      expect(u!.updatedAt).toBeGreaterThanOrEqual(w.updatedAt);
      expect(await repos.watchlists.get(alice, w.id)).toEqual(u);
      expect(await repos.watchlists.remove(bob, w.id)).toBe(false);
      expect(await repos.watchlists.remove(alice, w.id)).toBe(true);
      expect(await repos.watchlists.get(alice, w.id)).toBeUndefined();
    });

    it('alert events: newest first, cursor pages, symbol filter, only the owner', async () => {
      const e0 = Date.UTC(2024, 6, 2, 4, 0);
      const events: AlertEvent[] = Array.from({ length: 25 }, (_, i) => ({
        id: `${P}-ev-${kind}-${String(i).padStart(2, '0')}`,
        ruleId: 'r1',
        userId: i % 5 === 4 ? bob : alice,
        symbol: i % 2 ? VN : OTHER,
        kind: 'price_above',
        ts: e0 + Math.floor(i / 2) * 1000,
        value: 75_000 + i,
        threshold: 75_000,
        message: `price above 75,000 (${i})`,
      }));
      for (const alert of events) writer.offer({ type: 'alert', alert });
      writer.offer({ type: 'alert', alert: events[0]! }); // stored once
      await writer.flush();
      const mine = events.filter((e) => e.userId === alice).sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1));
      const pages: AlertEvent[][] = [];
      let before: string | undefined;
      do {
        const page = await repos.alertEvents.list(alice, { limit: 7, before });
        pages.push(page.items);
        before = page.next ?? undefined;
      } while (before && pages.length < 10);
      expect(pages.map((p) => p.length)).toEqual([7, 7, 6]);
      expect(pages.flat()).toEqual(mine);
      const vnOnly = await repos.alertEvents.list(alice, { limit: 100, symbol: VN });
      expect(vnOnly.items).toEqual(mine.filter((e) => e.symbol === VN));
      expect(vnOnly.next).toBeNull();
      const bobs = await repos.alertEvents.list(bob, { limit: 100 });
      expect(bobs.items.map((e) => e.userId)).toEqual(Array(5).fill(bob));
      expect(bobs.items.every((e) => !mine.some((m) => m.id === e.id))).toBe(true);
      await expect(repos.alertEvents.list(alice, { limit: 5, before: 'garbage!' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });
});
