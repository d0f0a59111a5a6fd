/**
 * StorageWriter behaviour: what it stores, idempotence, sample throttling,
 * backpressure, retry through outages, poison rows, metrics, shutdown.
 * Faults are injected with FaultyDb over a real database (PGlite unless
 * stated; the COPY path runs on real PostgreSQL).
 */
import { Registry } from 'prom-client';
import type { Bar, ClassifiedTrade, EngineOutput, ForeignState, IndexState } from '@stock-tracker/protocol';
import { backoffDelay, StorageWriter, type StorageWriterOptions } from '../src/storage/writer.ts';
import { COPY_MIN_ROWS } from '../src/storage/tables.ts';
import { openTestStorage, type TestStorage } from '../../../test/helpers/storage.ts';
import { FaultyDb } from '../../../test/helpers/faulty-db.ts';

const P = `W${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
const T0 = Date.UTC(2024, 6, 2, 2, 15);
let seq = 0;

function trade(over: Partial<ClassifiedTrade> = {}): ClassifiedTrade {
  const n = seq++;
  return { id: `${P}-${n}`, symbol: `${P}A`, ts: T0 + n, price: 70_000, volume: 100, side: 'buy', sideSource: 'quote', phase: 'continuous', ...over };
}

function foreign(symbol: string, ts: number, buyVolume: number): ForeignState {
  return { symbol, ts, buyVolume, sellVolume: 0, buyValue: buyVolume * 10, sellValue: 0, netVolume: buyVolume, netValue: buyVolume * 10, totalRoom: 1e6, currentRoom: 1e6 - buyVolume, roomUsagePct: buyVolume / 1e4 };
}

function indexState(id: string, ts: number, value: number): IndexState {
  return { id, name: id, ts, value, prevClose: 1000, change: value - 1000, changePct: (value - 1000) / 10, volume: 0, valueTraded: 0, breadth: { advances: 0, declines: 0, unchanged: 0, ceilings: 0, floors: 0 }, computed: true };
}

const countTrades = async (db: TestStorage['db'], where = "id LIKE $1", params: unknown[] = [`${P}-%`]) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM trades WHERE ${where}`, params)).rows[0]!.n;

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  if (!m) throw new Error(`metric ${name} not registered`);
  const values = (m as unknown as { values: { value: number; labels: Record<string, string>; metricName?: string }[] }).values;
  const v = values.find((x) => (x.metricName === undefined || x.metricName === name) && Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('backoffDelay', () => {
  it('doubles from the base, caps, and jitters between 50 % and 100 %', () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, 100, 10_000, () => 1))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(20, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(1_000, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(3, 100, 10_000, () => 0)).toBe(400);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4, 100, 10_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1_600);
    }
  });
});

describe('StorageWriter (PGlite)', () => {
  let st: TestStorage;
  let fdb: FaultyDb;
  const writers: StorageWriter[] = [];
  const make = (opts: StorageWriterOptions = {}) => {
    const w = new StorageWriter(fdb, { flushIntervalMs: 5, retry: { baseMs: 5, maxMs: 40 }, ...opts });
    writers.push(w);
    return w;
  };

  beforeAll(async () => {
    st = await openTestStorage('pglite');
    fdb = new FaultyDb(st.db);
  });
  afterEach(async () => {
    fdb.down = false;
    fdb.refuse = null;
    fdb.failNext = 0;
    for (const w of writers.splice(0)) await w.close({ timeoutMs: 5_000 }).catch(() => {});
  });
  afterAll(async () => {
    await st?.cleanup();
  });

  it('stores what is history and ignores what is not', async () => {
    const registry = new Registry();
    const w = make({ registry });
    const sym = `${P}S`;
    const bar: Bar = { symbol: sym, interval: '1m', ts: T0, open: 1, high: 2, low: 1, close: 2, volume: 100, value: 150, vwap: 1.5, buyVolume: 100, sellVolume: 0, unknownVolume: 0, trades: 2, closed: true };
    const outs: EngineOutput[] = [
      { type: 'trade', trade: trade({ symbol: sym }) },
      { type: 'bar', bar },
      { type: 'bar', bar: { ...bar, ts: T0 + 60_000, closed: false } }, // still open
      { type: 'bar', bar: { ...bar, interval: '5m', ts: T0 + 300_000 } }, // derived interval
      { type: 'quote', state: {} as never },
      { type: 'foreign_top', top: { ts: T0, buyers: [], sellers: [] } },
      { type: 'session', summary: { symbol: sym, tradingDate: '2024-07-02', phase: 'day', open: 1, high: 2, low: 1, close: 2, volume: 100, value: 150, vwap: 1.5, buyVolume: 100, sellVolume: 0, unknownVolume: 0, trades: 2 } },
      { type: 'foreign', state: foreign(sym, T0, 100) },
      { type: 'index', state: indexState(`${P}I`, T0, 1001) },
      { type: 'alert', alert: { id: `${P}-al`, ruleId: 'r', userId: 'local', symbol: sym, kind: 'price_above', ts: T0, value: 2, threshold: 1, message: 'm' } },
      { type: 'reference', ref: { symbol: sym, exchange: 'HOSE', market: 'VN', tradingDate: '2024-07-02', reference: 1, ceiling: 2, floor: 1, lotSize: 100, indices: [], sharesOutstanding: 0 } },
    ];
    for (const o of outs) expect(w.offer(o)).toBe(true);
    await w.flush();
    expect(w.status()).toMatchObject({
      buffered: 0,
      failing: false,
      stored: { trades: 1, bars_1m: 1, session_summaries: 1, foreign_flows: 1, index_values: 1, alert_events: 1, symbols: 1 },
    });
    const bars = await st.db.query<{ n: number }>('SELECT count(*)::int AS n FROM bars_1m WHERE symbol = $1', [sym]);
    expect(bars.rows[0]!.n).toBe(1);
    expect(await metricValue(registry, 'storage_rows_stored_total', { table: 'trades' })).toBe(1);
    expect(await metricValue(registry, 'storage_buffered_rows')).toBe(0);
    expect(w.status().lastFlushTs).not.toBeNull();
  });

  it('stores a trade once however often it is offered (same batch or later batches)', async () => {
    const w = make();
    const t = trade({ id: `${P}-dup` });
    w.offer({ type: 'trade', trade: t });
    w.offer({ type: 'trade', trade: { ...t } });
    await w.flush();
    w.offer({ type: 'trade', trade: { ...t } });
    await w.flush();
    expect(await countTrades(st.db, 'id = $1', [`${P}-dup`])).toBe(1);
  });

  it('throttles foreign and index samples per key in event time, keeping the last state of each window', async () => {
    const w = make({ foreignThrottleMs: 60_000, indexThrottleMs: 60_000 });
    const sym = `${P}F`;
    const base = Math.ceil(T0 / 60_000) * 60_000;
    for (let i = 0; i < 12; i++) {
      w.offer({ type: 'foreign', state: foreign(sym, base + i * 10_000, 100 * (i + 1)) });
      w.offer({ type: 'foreign', state: foreign(`${sym}2`, base + i * 10_000, 7 * (i + 1)) });
      w.offer({ type: 'index', state: indexState(`${P}IX`, base + i * 10_000, 1000 + i) });
    }
    await w.flush();
    const rows = await st.db.query<{ ts: number; buy_volume: number }>(
      'SELECT (extract(epoch from ts) * 1000)::float8 AS ts, buy_volume FROM foreign_flows WHERE symbol = $1 ORDER BY ts',
      [sym],
    );
    expect(rows.rows).toEqual([
      { ts: base + 50_000, buy_volume: 600 },
      { ts: base + 110_000, buy_volume: 1200 },
    ]);
    const other = await st.db.query<{ n: number }>('SELECT count(*)::int AS n FROM foreign_flows WHERE symbol = $1', [`${sym}2`]);
    expect(other.rows[0]!.n).toBe(2);
    const ix = await st.db.query<{ value: number }>('SELECT value FROM index_values WHERE index_id = $1 ORDER BY ts', [`${P}IX`]);
    expect(ix.rows.map((r) => r.value)).toEqual([1005, 1011]);
  });

  it('stores a coalesced sample once event time has moved past its window, without an explicit flush', async () => {
    const w = make({ foreignThrottleMs: 60_000 });
    const sym = `${P}G`;
    const base = Math.ceil(T0 / 60_000) * 60_000;
    w.offer({ type: 'foreign', state: foreign(sym, base + 1_000, 5) });
    w.offer({ type: 'trade', trade: trade({ ts: base + 61_000 }) }); // event time moves on
    await vi.waitFor(
      async () => {
        const r = await st.db.query<{ n: number }>('SELECT count(*)::int AS n FROM foreign_flows WHERE symbol = $1', [sym]);
        expect(r.rows[0]!.n).toBe(1);
      },
      { timeout: 10_000, interval: 10 },
    );
  });

  it('applies backpressure when full: refuses, then accepts again once rows are stored', async () => {
    const registry = new Registry();
    const w = make({ maxBufferedRows: 10, maxBatchRows: 4, registry });
    const release = fdb.hold();
    const batch = Array.from({ length: 10 }, () => trade());
    for (const t of batch) expect(w.offer({ type: 'trade', trade: t })).toBe(true);
    const extra = trade();
    expect(w.offer({ type: 'trade', trade: extra })).toBe(false);
    expect(w.status()).toMatchObject({ buffered: 10, backpressure: 1 });
    expect(await metricValue(registry, 'storage_backpressure_total')).toBe(1);
    let freed = false;
    const waiting = w.waitForCapacity().then(() => (freed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(freed).toBe(false); // the database is stalled: nothing can be freed
    release();
    await waiting;
    expect(w.offer({ type: 'trade', trade: extra })).toBe(true);
    await w.flush();
    expect(await countTrades(st.db, 'id = ANY($1)', [[...batch, extra].map((t) => t.id)])).toBe(11);
  });

  it('never grows past the bound with coalescing samples, and a waiting producer is not deadlocked by them', async () => {
    const w = make({ maxBufferedRows: 5, foreignThrottleMs: 3_600_000 });
    const release = fdb.hold();
    const syms = Array.from({ length: 8 }, (_, i) => `${P}H${i}`);
    const refused: ForeignState[] = [];
    for (const s of syms) if (!w.offer({ type: 'foreign', state: foreign(s, T0, 1) })) refused.push(foreign(s, T0, 1));
    expect(refused).toHaveLength(3);
    expect(w.status().buffered).toBe(5);
    // same window: replaces in place, accepted even when full
    expect(w.offer({ type: 'foreign', state: foreign(syms[0]!, T0 + 1, 2) })).toBe(true);
    release();
    for (const s of refused) {
      while (!w.offer({ type: 'foreign', state: s })) await w.waitForCapacity();
    }
    await w.flush();
    const r = await st.db.query<{ symbol: string; buy_volume: number }>('SELECT symbol, buy_volume FROM foreign_flows WHERE symbol = ANY($1) ORDER BY symbol', [syms]);
    expect(r.rows.map((x) => x.symbol)).toEqual(syms);
    expect(r.rows[0]!.buy_volume).toBe(2);
  });

  it('retries through an outage with backoff and stores everything exactly once', async () => {
    const registry = new Registry();
    const w = make({ registry, random: () => 0 });
    fdb.down = true;
    const trades = Array.from({ length: 300 }, () => trade({ symbol: `${P}O` }));
    for (const t of trades.slice(0, 150)) w.offer({ type: 'trade', trade: t });
    await vi.waitFor(() => expect(w.status().retries).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 5 });
    expect(w.status()).toMatchObject({ failing: true, lastError: expect.stringContaining('ECONNREFUSED') });
    expect(w.status().buffered).toBe(150);
    for (const t of trades.slice(150)) w.offer({ type: 'trade', trade: t });
    fdb.down = false;
    await w.flush();
    expect(w.status()).toMatchObject({ failing: false, buffered: 0 });
    expect(await countTrades(st.db, 'symbol = $1', [`${P}O`])).toBe(300);
    expect(await metricValue(registry, 'storage_flush_retries_total')).toBeGreaterThanOrEqual(3);
    expect(await metricValue(registry, 'storage_flush_failures_total', { kind: 'transient' })).toBeGreaterThanOrEqual(3);
  });

  it('survives a commit whose acknowledgement was lost: the retry stores nothing twice', async () => {
    const w = make();
    const trades = Array.from({ length: 20 }, () => trade({ symbol: `${P}L` }));
    // The first attempt commits, then the connection "fails" before the writer learns of it.
    let lost = false;
    const original = fdb.transaction.bind(fdb);
    fdb.transaction = async (fn) => {
      const r = await original(fn);
      if (!lost) {
        lost = true;
        throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      }
      return r;
    };
    try {
      for (const t of trades) w.offer({ type: 'trade', trade: t });
      await w.flush();
    } finally {
      fdb.transaction = original;
    }
    expect(lost).toBe(true);
    expect(w.status().retries).toBe(1);
    expect(await countTrades(st.db, 'symbol = $1', [`${P}L`])).toBe(20);
  });

  it('drops only the rows the database refuses for their data, counted and in order', async () => {
    const registry = new Registry();
    const w = make({ registry });
    fdb.refuse = (_sql, params) => JSON.stringify(params ?? []).includes('POISON');
    const trades = Array.from({ length: 20 }, (_, i) => (i === 7 ? trade({ symbol: `${P}P`, id: `${P}-POISON` }) : trade({ symbol: `${P}P` })));
    for (const t of trades) w.offer({ type: 'trade', trade: t });
    await w.flush();
    expect(await countTrades(st.db, 'symbol = $1', [`${P}P`])).toBe(19);
    expect(w.status()).toMatchObject({ dropped: 1, failing: false });
    expect(await metricValue(registry, 'storage_rows_rejected_total', { table: 'trades', reason: 'refused' })).toBe(1);
  });

  it('counts and skips malformed outputs without blocking the producer', async () => {
    const registry = new Registry();
    const w = make({ registry });
    const bad: EngineOutput[] = [
      { type: 'trade', trade: { ...trade(), price: Number.NaN } },
      { type: 'trade', trade: { ...trade(), id: '' } },
      { type: 'trade', trade: { ...trade(), ts: 1e300 } },
      { type: 'trade', trade: { symbol: `${P}X` } as unknown as ClassifiedTrade },
      { type: 'session', summary: { symbol: `${P}X`, tradingDate: '02/07/2024' } as never },
      { type: 'trade', trade: null as unknown as ClassifiedTrade },
    ];
    for (const o of bad) expect(w.offer(o)).toBe(true);
    const good = trade({ symbol: `${P}X` });
    w.offer({ type: 'trade', trade: good });
    await w.flush();
    expect(w.status().rejected).toBe(bad.length);
    expect(await metricValue(registry, 'storage_rows_rejected_total', { table: 'trades', reason: 'malformed' })).toBe(5);
    expect(await countTrades(st.db, 'symbol = $1', [`${P}X`])).toBe(1);
  });

  it('close() with a timeout gives up on a down database and reports the unsaved rows', async () => {
    const w = new StorageWriter(fdb, { flushIntervalMs: 5, retry: { baseMs: 5, maxMs: 20 } });
    fdb.down = true;
    for (let i = 0; i < 5; i++) w.offer({ type: 'trade', trade: trade() });
    await expect(w.close({ timeoutMs: 100 })).rejects.toThrow(/5 rows unsaved/);
    expect(w.status().buffered).toBe(5);
    expect(w.offer({ type: 'trade', trade: trade() })).toBe(false);
    await expect(w.waitForCapacity()).rejects.toThrow(/closed/);
  });

  it('registers its metrics on the given registry (and a rebuilt writer takes the names over)', async () => {
    const registry = new Registry();
    make({ registry });
    const w2 = make({ registry });
    w2.offer({ type: 'trade', trade: trade() });
    await w2.flush();
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    for (const n of ['storage_buffered_rows', 'storage_lag_seconds', 'storage_batch_rows', 'storage_flush_duration_seconds', 'storage_flush_retries_total', 'storage_flush_failures_total', 'storage_backpressure_total', 'storage_rows_stored_total', 'storage_rows_rejected_total']) {
      expect(names).toContain(n);
    }
    const text = await registry.metrics();
    expect(text).toMatch(/storage_batch_rows_count 1\b/);
    expect(text).toMatch(/storage_rows_stored_total\{table="trades"\} 1\b/);
  });
});

describe('StorageWriter (PostgreSQL)', () => {
  let st: TestStorage;
  beforeAll(async () => {
    st = await openTestStorage('postgres');
  });
  afterAll(async () => {
    await st?.cleanup();
  });

  it('large batches go through COPY, falling back to a staging table when rows are already stored', async () => {
    const fdb = new FaultyDb(st.db);
    const w = new StorageWriter(fdb, { maxBatchRows: 5_000, flushIntervalMs: 1_000 });
    const unique = Array.from({ length: COPY_MIN_ROWS + 1_500 }, () => trade({ symbol: `${P}C`, id: `${P}-c${seq}` }));
    for (const t of unique) w.offer({ type: 'trade', trade: t });
    for (const t of unique.slice(0, 1_000)) w.offer({ type: 'trade', trade: { ...t } }); // duplicates in the same batch
    await w.flush();
    expect(fdb.copies).toBe(1); // straight COPY: nothing was stored yet
    for (const t of unique.slice(0, COPY_MIN_ROWS)) w.offer({ type: 'trade', trade: { ...t } }); // a batch of rows already stored
    await w.flush();
    await w.close();
    expect(fdb.copies).toBe(3); // the straight COPY hit the key, the staged COPY + ON CONFLICT skipped them
    expect(await countTrades(st.db, 'symbol = $1', [`${P}C`])).toBe(unique.length);
  });

  it('small batches use unnest on PostgreSQL too', async () => {
    const fdb = new FaultyDb(st.db);
    const w = new StorageWriter(fdb, { flushIntervalMs: 5 });
    for (let i = 0; i < 50; i++) w.offer({ type: 'trade', trade: trade({ symbol: `${P}U` }) });
    await w.close();
    expect(fdb.copies).toBe(0);
    expect(await countTrades(st.db, 'symbol = $1', [`${P}U`])).toBe(50);
  });
});
