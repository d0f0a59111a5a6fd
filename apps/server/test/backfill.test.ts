/**
 * `stock-tracker backfill` against the fake vendor servers' REST endpoints,
 * with real storage: paging, 429 + Retry-After, interruption and resume,
 * idempotency (row counts equal after a second run), progress output.
 */
import { openDatabase, type Db } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { createBackfillStore } from '../src/storage/bars-import.ts';
import { run, type BackfillDeps } from '../src/cli/backfill.ts';
import {
  BackfillProgressPrinter,
  runBackfill,
  SsiHistorySource,
  SsiRestClient,
  SsiTokenProvider,
  type BackfillStore,
} from '@stock-tracker/feeds';
import { FAKE_SSI_ID, FAKE_SSI_SECRET, FakeSsiServer, makeDailyRows, makeIntradayRows } from '../../../test/fakes/ssi-server.ts';
import { FAKE_ALPACA_KEY, FAKE_ALPACA_SECRET, FakeAlpacaServer, makeAlpacaDailyBars, makeAlpacaMinuteBars } from '../../../test/fakes/alpaca-server.ts';
import { createIsolatedDatabase, tempDir, type IsolatedDatabase } from '../../../test/helpers/database.ts';
import { seedPgliteDataDir } from '../../../test/helpers/storage.ts';

const FAST = { backoff: { initialMs: 5, maxMs: 20 } };

interface Captured {
  out: string;
  err: string;
}

async function backfill(argv: string[], env: Record<string, string>, extra: Partial<BackfillDeps> = {}): Promise<Captured & { code: number }> {
  const c: Captured = { out: '', err: '' };
  const code = await run(argv, {
    env,
    stdout: { write: (s: string) => (c.out += s) },
    stderr: { write: (s: string) => (c.err += s) },
    signal: extra.signal ?? new AbortController().signal,
    request: { ...FAST, ...extra.request },
  });
  return { code, ...c };
}

const count = async (db: Db, table: string, symbols: string[]) =>
  Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE symbol = ANY($1::text[])`, [symbols])).rows[0]!.n);

describe('backfill --feed ssi (PostgreSQL)', () => {
  let iso: IsolatedDatabase;
  let db: Db;
  let fake: FakeSsiServer;
  let env: Record<string, string>;
  const FROM = '2024-01-01';
  const TO = '2024-03-29';
  const daily = [...makeDailyRows('BFVNM', FROM, TO, 70_000), ...makeDailyRows('BFFPT', FROM, TO, 100_000)];

  beforeAll(async () => {
    iso = await createIsolatedDatabase('st_backfill');
    db = await openDatabase({ databaseUrl: iso.url, dataDir: tempDir().path });
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    await iso.drop();
  });
  beforeEach(async () => {
    fake = await FakeSsiServer.start({ data: { daily, listing: [{ symbol: 'BFVNM', exchange: 'HOSE' }, { symbol: 'BFFPT', exchange: 'HOSE' }] } });
    env = { SSI_CONSUMER_ID: FAKE_SSI_ID, SSI_CONSUMER_SECRET: FAKE_SSI_SECRET, SSI_REST_URL: fake.restUrl, DATABASE_URL: iso.url };
    await db.exec('TRUNCATE bars_1d, bars_1m, backfill_checkpoints');
  });
  afterEach(async () => {
    await fake.close();
  });

  it('pages through DailyOhlc, waits out a 429 for exactly its Retry-After, and stores every day once', async () => {
    fake.failNext('DailyOhlc', [{ status: 429, retryAfter: 1 }]);
    const r = await backfill(['--feed', 'ssi', '--from', FROM, '--to', TO, '--symbols', 'BFVNM,BFFPT', '--page-size', '20'], env);
    expect(r.code).toBe(0);
    const perSymbol = daily.length / 2;
    expect(await count(db, 'bars_1d', ['BFVNM'])).toBe(perSymbol);
    expect(await count(db, 'bars_1d', ['BFFPT'])).toBe(perSymbol);

    // The request shape the vendor documents: lookupRequest.*, dd/mm/yyyy dates, pages of the asked size.
    const calls = fake.calls('DailyOhlc').filter((c) => c.status === 200);
    expect(calls[0]!.query.get('lookupRequest.symbol')).toBe('BFVNM');
    expect(calls[0]!.query.get('lookupRequest.fromDate')).toBe('01/01/2024');
    expect(calls[0]!.query.get('lookupRequest.toDate')).toBe('29/03/2024');
    expect(calls[0]!.headers.authorization).toMatch(/^Bearer /);
    const pagesPerSymbol = Math.ceil(perSymbol / 20);
    expect(calls.filter((c) => c.query.get('lookupRequest.symbol') === 'BFVNM').map((c) => c.query.get('lookupRequest.pageIndex'))).toEqual(
      Array.from({ length: pagesPerSymbol }, (_, i) => String(i + 1)),
    );
    // The 429 was retried after the server's Retry-After (1 s), not the 5 ms backoff.
    expect(r.err).toMatch(/HTTP 429; retry 1 in 1\.0 s/);

    // Stored as given: local (Vietnam) midnight, the vendor's numbers.
    const first = daily.find((d) => d.symbol === 'BFVNM')!;
    const { rows } = await db.query<{ ts: Date; open: number; close: number; volume: number; value: number }>(
      "SELECT ts, open, close, volume, value FROM bars_1d WHERE symbol = 'BFVNM' ORDER BY ts LIMIT 1",
    );
    expect(rows[0]!.ts.getTime()).toBe(Date.parse(`${first.date}T00:00:00+07:00`));
    expect([rows[0]!.open, rows[0]!.close, rows[0]!.volume, rows[0]!.value]).toEqual([first.open, first.close, first.volume, first.value]);

    const summary = JSON.parse(r.out.trim()) as { rows: number; stored: number; pages: number; interrupted: boolean };
    expect(summary).toMatchObject({ rows: daily.length, stored: daily.length, pages: 2 * pagesPerSymbol, interrupted: false });
    // Not a terminal: one plain line per symbol.
    expect(r.err).toMatch(/backfill: 1\/2 symbols \(BFVNM: 65 rows\), 65 rows, ETA /);
    expect(r.err).not.toContain('\r');
  });

  it('is idempotent: a re-run fetches nothing, a --fresh run fetches everything and stores nothing twice', async () => {
    const args = ['--feed', 'ssi', '--from', FROM, '--to', TO, '--symbols', 'BFVNM,BFFPT', '--page-size', '50'];
    expect((await backfill(args, env)).code).toBe(0);
    const rows = await count(db, 'bars_1d', ['BFVNM', 'BFFPT']);
    expect(rows).toBe(daily.length);
    const callsAfterFirst = fake.calls('DailyOhlc').length;

    const again = await backfill(args, env);
    expect(again.code).toBe(0);
    expect(fake.calls('DailyOhlc').length).toBe(callsAfterFirst);
    expect(JSON.parse(again.out)).toMatchObject({ skipped: 2, rows: 0, stored: 0 });

    const fresh = await backfill([...args, '--fresh'], env);
    expect(fresh.code).toBe(0);
    expect(fake.calls('DailyOhlc').length).toBe(2 * callsAfterFirst);
    expect(JSON.parse(fresh.out)).toMatchObject({ skipped: 0, rows: daily.length, stored: 0 });
    expect(await count(db, 'bars_1d', ['BFVNM', 'BFFPT'])).toBe(rows);
  });

  it('resumes an interrupted run from the last stored page', async () => {
    const tokens = new SsiTokenProvider({ restUrl: fake.restUrl, consumerId: FAKE_SSI_ID, consumerSecret: FAKE_SSI_SECRET });
    const source = new SsiHistorySource(new SsiRestClient({ restUrl: fake.restUrl, tokens, request: FAST }), { pageSize: 20 });
    const real = createBackfillStore(db, { market: 'VN' });
    const ac = new AbortController();
    let saved = 0;
    // Interrupted right after the second stored page (Ctrl-C between requests).
    const store: BackfillStore = {
      ...real,
      savePage: async (...a) => {
        const n = await real.savePage(...a);
        if (++saved === 2) ac.abort();
        return n;
      },
    };
    const o = { source, symbols: ['BFVNM', 'BFFPT'], interval: '1d' as const, range: { from: FROM, to: TO } };
    const first = await runBackfill({ ...o, store, signal: ac.signal });
    expect(first).toMatchObject({ interrupted: true, pages: 2, rows: 40 });
    expect(await count(db, 'bars_1d', ['BFVNM', 'BFFPT'])).toBe(40);
    const before = fake.calls('DailyOhlc').length;

    const second = await runBackfill({ ...o, store: real });
    expect(second.interrupted).toBe(false);
    const resumed = fake.calls('DailyOhlc').slice(before);
    // BFVNM continues at page 3: pages 1 and 2 are not fetched again.
    expect(resumed[0]!.query.get('lookupRequest.symbol')).toBe('BFVNM');
    expect(resumed[0]!.query.get('lookupRequest.pageIndex')).toBe('3');
    expect(await count(db, 'bars_1d', ['BFVNM', 'BFFPT'])).toBe(daily.length);
    expect(second.rows + first.rows).toBe(daily.length);
  });

  it('exits 130 when interrupted and completes on the next run', async () => {
    const ac = new AbortController();
    const poll = setInterval(() => {
      if (fake.calls('DailyOhlc').length >= 2) ac.abort();
    }, 2);
    const r1 = await backfill(['--feed', 'ssi', '--from', FROM, '--to', TO, '--symbols', 'BFVNM,BFFPT', '--page-size', '10'], env, { signal: ac.signal });
    clearInterval(poll);
    expect(r1.code).toBe(130);
    expect(r1.err).toMatch(/run the same command again to resume/);
    expect(await count(db, 'bars_1d', ['BFVNM', 'BFFPT'])).toBeLessThan(daily.length);
    const r2 = await backfill(['--feed', 'ssi', '--from', FROM, '--to', TO, '--symbols', 'BFVNM,BFFPT', '--page-size', '10'], env);
    expect(r2.code).toBe(0);
    expect(await count(db, 'bars_1d', ['BFVNM', 'BFFPT'])).toBe(daily.length);
  });

  it('imports 1-minute bars into bars_1m, without overwriting a minute the live collector stored', async () => {
    const day = '2024-03-05';
    fake.data.intraday = makeIntradayRows('BFVNM', day, 30, 70_000);
    // 09:20 Vietnam time, already stored by the live engine with its buy/sell split.
    const live = Date.parse(`${day}T02:20:00Z`);
    await db.query(
      `INSERT INTO bars_1m (symbol, ts, open, high, low, close, volume, value, vwap, buy_volume, sell_volume, unknown_volume, trades)
       VALUES ('BFVNM', $1, 1, 1, 1, 1, 5, 5, 1, 3, 2, 0, 2)`,
      [new Date(live).toISOString()],
    );
    const r = await backfill(['--feed', 'ssi', '--interval', '1m', '--from', day, '--to', day, '--symbols', 'BFVNM', '--page-size', '10'], env);
    expect(r.code).toBe(0);
    const call = fake.calls('IntradayOhlc')[0]!;
    expect(call.query.get('lookupRequest.fromDate')).toBe('05/03/2024');
    expect(await count(db, 'bars_1m', ['BFVNM'])).toBe(30);
    const kept = await db.query<{ buy_volume: number; volume: number }>('SELECT buy_volume, volume FROM bars_1m WHERE symbol = $1 AND ts = $2', ['BFVNM', new Date(live).toISOString()]);
    expect(kept.rows[0]).toEqual({ buy_volume: 3, volume: 5 });
    const imported = await db.query<{ unknown_volume: number; volume: number; ts: Date }>('SELECT unknown_volume, volume, ts FROM bars_1m WHERE symbol = $1 ORDER BY ts LIMIT 1', ['BFVNM']);
    expect(imported.rows[0]!.ts.toISOString()).toBe(`${day}T02:15:00.000Z`);
    expect(imported.rows[0]!.unknown_volume).toBe(imported.rows[0]!.volume);
  });

  it('fails with a clear message when SSI refuses the credentials, and on bad arguments', async () => {
    const bad = await backfill(['--feed', 'ssi', '--from', FROM, '--to', TO, '--symbols', 'BFVNM'], { ...env, SSI_CONSUMER_SECRET: 'nope' });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/rejected the consumer ID\/secret.*SSI_CONSUMER_SECRET/);
    const missing = await backfill(['--feed', 'ssi', '--from', FROM, '--to', TO], { DATABASE_URL: iso.url });
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/SSI_CONSUMER_ID and SSI_CONSUMER_SECRET must be set/);
    for (const argv of [
      ['--feed', 'bloomberg', '--from', FROM, '--to', TO],
      ['--feed', 'ssi', '--from', '2024-02-30', '--to', TO],
      ['--feed', 'ssi', '--from', TO, '--to', FROM],
      ['--feed', 'ssi', '--from', FROM, '--to', TO, '--interval', '5m'],
      ['--feed', 'ssi', '--from', FROM, '--to', TO, '--page-size', '30'],
    ]) {
      const r = await backfill(argv, env);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/usage: stock-tracker backfill/);
    }
  });
});

describe('backfill --feed alpaca (PGlite)', () => {
  it('pages with page_token, stores 1-minute bars, lists the US symbol so its days follow New York time', async () => {
    const day = '2024-07-02';
    const fake = await FakeAlpacaServer.start({ bars: { '1Min': { BFAAPL: makeAlpacaMinuteBars(day, 120, 190), BFMSFT: makeAlpacaMinuteBars(day, 90, 400) } } });
    const dir = tempDir('st-backfill-');
    try {
      await seedPgliteDataDir(dir.path);
      const env = { ALPACA_KEY_ID: FAKE_ALPACA_KEY, ALPACA_SECRET_KEY: FAKE_ALPACA_SECRET, ALPACA_DATA_URL: fake.restUrl, ALPACA_FEED: 'iex', DATA_DIR: dir.path };
      fake.failNext('bars', [{ status: 503 }]);
      const r = await backfill(['--feed', 'alpaca', '--interval', '1m', '--from', day, '--to', day, '--symbols', 'BFAAPL,BFMSFT', '--page-size', '50'], env);
      expect(r.err).toMatch(/HTTP 503; retry 1/);
      expect(r.code).toBe(0);
      const calls = fake.calls('/v2/stocks/bars').filter((c) => c.status === 200);
      expect(calls.filter((c) => c.query.get('symbols') === 'BFAAPL').map((c) => c.query.get('page_token') !== null)).toEqual([false, true, true]);
      expect(calls[0]!.query.get('timeframe')).toBe('1Min');
      expect(calls[0]!.query.get('feed')).toBe('iex');
      expect(calls[0]!.query.get('start')).toBe('2024-07-02T04:00:00.000Z');
      expect(calls[0]!.headers['apca-api-key-id']).toBe(FAKE_ALPACA_KEY);

      const again = await backfill(['--feed', 'alpaca', '--interval', '1m', '--from', day, '--to', day, '--symbols', 'BFAAPL,BFMSFT', '--page-size', '50', '--fresh'], env);
      expect(JSON.parse(again.out)).toMatchObject({ rows: 210, stored: 0 });

      const db = await openDatabase({ dataDir: dir.path });
      try {
        expect(await count(db, 'bars_1m', ['BFAAPL'])).toBe(120);
        expect(await count(db, 'bars_1m', ['BFMSFT'])).toBe(90);
        const repos = createRepositories(db);
        expect(await repos.symbols.get('BFAAPL')).toMatchObject({ market: 'US', exchange: 'US', ceiling: null, floor: null, lotSize: 1, tradingDate: day });
        // The API's daily view of the imported minutes: one New York day holding all of them.
        const days = await repos.bars.range('BFAAPL', '1d', { from: Date.parse(`${day}T00:00:00Z`), limit: 10 });
        expect(days).toHaveLength(1);
        expect(days[0]!.ts).toBe(Date.parse(`${day}T04:00:00Z`));
        const src = makeAlpacaMinuteBars(day, 120, 190);
        expect(days[0]!.volume).toBe(src.reduce((s, b) => s + b.v, 0));
        expect(days[0]!.open).toBe(src[0]!.o);
        expect(days[0]!.close).toBe(src.at(-1)!.c);
      } finally {
        await db.close();
      }
    } finally {
      await fake.close();
      dir.remove();
    }
  });

  it('imports daily bars at New York midnight, and reports refused keys clearly', async () => {
    const fake = await FakeAlpacaServer.start({ bars: { '1Day': { BFSPY: makeAlpacaDailyBars('2024-06-03', '2024-06-28', 500) } } });
    const iso = await createIsolatedDatabase('st_backfill_a');
    try {
      const env = { ALPACA_KEY_ID: FAKE_ALPACA_KEY, ALPACA_SECRET_KEY: FAKE_ALPACA_SECRET, ALPACA_DATA_URL: fake.restUrl, DATABASE_URL: iso.url };
      const r = await backfill(['--feed', 'alpaca', '--from', '2024-06-03', '--to', '2024-06-28', '--symbols', 'BFSPY'], env);
      expect(r.code).toBe(0);
      expect(fake.calls('/v2/stocks/bars')[0]!.query.get('feed')).toBeNull();
      const db = await openDatabase({ databaseUrl: iso.url, dataDir: tempDir().path });
      try {
        const { rows } = await db.query<{ ts: Date; close: number; trades: number }>("SELECT ts, close, trades FROM bars_1d WHERE symbol = 'BFSPY' ORDER BY ts");
        expect(rows).toHaveLength(20);
        expect(rows[0]!.ts.toISOString()).toBe('2024-06-03T04:00:00.000Z');
        expect(rows[0]).toMatchObject({ close: 501, trades: 5_000 });
      } finally {
        await db.close();
      }
      const refused = await backfill(['--feed', 'alpaca', '--from', '2024-06-03', '--to', '2024-06-28', '--symbols', 'BFSPY', '--fresh'], { ...env, ALPACA_SECRET_KEY: 'nope' });
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/HTTP 401.*check the credentials/);
    } finally {
      await fake.close();
      await iso.drop();
    }
  });
});

describe('BackfillProgressPrinter', () => {
  it('redraws one line with a bar and ETA on a terminal, and prints plain lines otherwise', () => {
    let t = 0;
    let tty = '';
    const term = new BackfillProgressPrinter({ isTTY: true, write: (s: string) => (tty += s) }, () => t, 0);
    term.update({ symbolsTotal: 4, symbolsDone: 0, rows: 10, stored: 10, etaMs: null, event: 'page', current: 'VNM' });
    t = 1000;
    term.update({ symbolsTotal: 4, symbolsDone: 1, rows: 1234, stored: 1234, etaMs: 3_000, event: 'symbol_done', current: 'VNM', symbolRows: 1234 });
    term.note('backfill: HTTP 429; retry 1 in 2.0 s');
    term.finish({ job: 'j', symbols: 4, skipped: 0, rows: 1234, stored: 1234, pages: 2, malformed: 0, interrupted: true });
    expect(tty).toContain('\r\x1b[2K[------------------------] 0/4 symbols · 10 rows · VNM');
    expect(tty).toContain('[######------------------] 1/4 symbols · 1,234 rows · ETA 0:03');
    expect(tty).toContain('\r\x1b[2Kbackfill: HTTP 429; retry 1 in 2.0 s\n');
    expect(tty).toMatch(/backfill interrupted \(run the same command again to resume\): 4 symbols/);

    let plain = '';
    const log = new BackfillProgressPrinter({ write: (s: string) => (plain += s) });
    log.update({ symbolsTotal: 2, symbolsDone: 0, rows: 5, stored: 5, etaMs: null, event: 'page', current: 'VNM' });
    log.update({ symbolsTotal: 2, symbolsDone: 1, rows: 5, stored: 5, etaMs: 65_000, event: 'symbol_done', current: 'VNM', symbolRows: 5 });
    log.update({ symbolsTotal: 2, symbolsDone: 2, rows: 5, stored: 5, etaMs: 0, event: 'symbol_skipped', symbolRows: 0 });
    expect(plain.split('\n').filter(Boolean)).toEqual(['backfill: 1/2 symbols (VNM: 5 rows), 5 rows, ETA 1:05', 'backfill: 2/2 symbols (already complete, skipped), 5 rows, ETA 0:00']);
  });
});
