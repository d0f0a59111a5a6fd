/**
 * Real market data end to end: the real server (`stock-tracker all` as a
 * child process, embedded PGlite in a temporary DATA_DIR, the built SPA) fed
 * by the fake SSI FastConnect and Alpaca servers over real sockets.
 *
 * - what the fake market broadcasts shows up in /api/symbols, /api/quotes,
 *   on /ws/market and on the board in headless Chromium;
 * - the vendor drops the connection: /readyz degrades and recovers, and no
 *   trade is stored twice although the vendor resends its snapshots;
 * - the vendor stays connected (keep-alives) but stops sending data while the
 *   market trades: the stale-feed system alert reaches /ws/alerts and the
 *   page, /readyz and /metrics name it, and it clears when data flows again;
 * - the vendor refuses the credentials: a clear error in the log, /readyz
 *   says the feed failed and why, and the process keeps running without
 *   hammering the vendor.
 *
 * Events are stamped with the wall clock (these are live feeds). "During
 * trading" does not depend on the time the suite runs: the fake sends the
 * exchange's session status (continuous), as SSI's F channel does.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { tradingDateOf } from '@stock-tracker/rules';
import {
  SYSTEM_ALERTS_KEY,
  type ClassifiedTrade,
  type MarketEvent,
  type QuoteState,
  type QuotesResponse,
  type SymbolRef,
  type SymbolsResponse,
  type SystemAlert,
  type TradeEvent,
  type TradesResponse,
} from '@stock-tracker/protocol';
import { FAKE_SSI_ID, FAKE_SSI_SECRET, FakeSsiServer, type FakeSsiData } from '../../../test/fakes/ssi-server.ts';
import { FAKE_ALPACA_KEY, FAKE_ALPACA_SECRET, FakeAlpacaServer } from '../../../test/fakes/alpaca-server.ts';
import { ensureWebBuild, startServer, type ServerHandle } from '../../../test/helpers/server.ts';
import { launchBrowser, openPage } from '../../web/test/e2e/browser.ts';
import { RawClient } from './ws-test-helpers.ts';

const VN = 'Asia/Ho_Chi_Minh';
const NY = 'America/New_York';
/** Short, so the stale scenario takes seconds; long enough that ordinary pauses between steps do not trip it. */
const STALE_AFTER_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** SSI times have second resolution. */
const nowSec = () => Math.floor(Date.now() / 1000) * 1000;

async function get<T = unknown>(base: string, path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls `probe` until it returns a value (not undefined/false); fails with `what` and the last value seen. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 500)})`);
    await sleep(everyMs);
  }
}

interface Readiness {
  status?: string;
  checks: Record<string, { ok: boolean; detail?: string }>;
  details?: { path: string; issue: string }[];
}
const readyz = (base: string) => get<Readiness>(base, '/readyz');

/** Every stored trade of a symbol, following the cursor. */
async function storedTrades(base: string, symbol: string): Promise<ClassifiedTrade[]> {
  const out: ClassifiedTrade[] = [];
  let before: string | null = null;
  do {
    const page: { status: number; body: TradesResponse } = await get<TradesResponse>(base, `/api/trades/${symbol}?limit=500${before ? `&before=${encodeURIComponent(before)}` : ''}`);
    expect(page.status).toBe(200);
    out.push(...page.body.items);
    before = page.body.next ?? null;
  } while (before);
  return out;
}

async function quote(base: string, symbol: string): Promise<QuoteState | undefined> {
  const r = await get<QuotesResponse>(base, `/api/quotes?symbols=${symbol}`);
  return r.status === 200 ? r.body.items[0] : undefined;
}

function dumpOnFailure(server: () => ServerHandle | undefined) {
  afterEach((ctx) => {
    const s = server();
    if (ctx.task.result?.state === 'fail' && s) console.error(`[vendor-e2e] server ${s.running() ? 'running' : 'NOT running'}; last output:\n${s.output().split('\n').slice(-30).join('\n')}`);
  });
}

// ------------------------------------------------------------------ fake markets

const vnToday = tradingDateOf(Date.now(), VN);
const nyToday = tradingDateOf(Date.now(), NY);

const SSI_DATA: FakeSsiData = {
  listing: [
    { symbol: 'VNM', exchange: 'HOSE', name: 'Vinamilk', listedShare: 2_090_000_000 },
    { symbol: 'FPT', exchange: 'HOSE', name: 'FPT Corporation' },
    { symbol: 'SHS', exchange: 'HNX', name: 'SHS Securities' },
  ],
  prices: [
    { symbol: 'VNM', date: vnToday, ref: 70_000, ceiling: 74_900, floor: 65_100 },
    { symbol: 'FPT', date: vnToday, ref: 120_000, ceiling: 128_400, floor: 111_600 },
    { symbol: 'SHS', date: vnToday, ref: 15_000, ceiling: 16_500, floor: 13_500 },
  ],
  indexComponents: { VN30: ['VNM', 'FPT'] },
};
const dailyBar = (c: number) => ({ t: `${nyToday}T13:30:00Z`, o: c, h: c, l: c, c, v: 1e6 });

interface Setup {
  browser: Browser;
  ssiFake: FakeSsiServer;
  ssi: ServerHandle;
  alpacaFake: FakeAlpacaServer;
  alpaca: ServerHandle;
  refusingSsiFake: FakeSsiServer;
  refusedSsi: ServerHandle;
  refusingAlpacaFake: FakeAlpacaServer;
  refusedAlpaca: ServerHandle;
}
let setup: Setup;
const started: ServerHandle[] = [];
const fakes: { close(): Promise<void> }[] = [];

// Server starts dominate the run time (PGlite, migrations), so all four start at once.
beforeAll(async () => {
  await ensureWebBuild((m) => console.info(`[vendor-e2e] ${m}`));
  // Keep-alives every second, as SSI's hub sends them: the connection stays up when data stops.
  const [ssiFake, alpacaFake, refusingSsiFake, refusingAlpacaFake] = await Promise.all([
    FakeSsiServer.start({ data: SSI_DATA, keepAliveIntervalMs: 1_000 }),
    FakeAlpacaServer.start({ snapshots: { AAPL: { prevDailyBar: dailyBar(190), dailyBar: dailyBar(191) }, MSFT: { prevDailyBar: dailyBar(404), dailyBar: dailyBar(405) } } }),
    FakeSsiServer.start({ data: SSI_DATA }),
    FakeAlpacaServer.start(),
  ]);
  fakes.push(ssiFake, alpacaFake, refusingSsiFake, refusingAlpacaFake);
  refusingSsiFake.credentialsValid = false;
  const stale = { FEED_STALE_AFTER_MS: String(STALE_AFTER_MS) };
  const launch = async (opts: Parameters<typeof startServer>[0]) => {
    const s = await startServer({ readyTimeoutMs: 90_000, ...opts });
    started.push(s);
    return s;
  };
  const [browser, ssi, alpaca, refusedSsi, refusedAlpaca] = await Promise.all([
    launchBrowser(),
    launch({ env: { ...stale, FEED: 'ssi', SSI_CONSUMER_ID: FAKE_SSI_ID, SSI_CONSUMER_SECRET: FAKE_SSI_SECRET, SSI_REST_URL: ssiFake.restUrl, SSI_STREAM_URL: ssiFake.streamUrl } }),
    launch({
      env: {
        ...stale,
        FEED: 'alpaca',
        ALPACA_KEY_ID: FAKE_ALPACA_KEY,
        ALPACA_SECRET_KEY: FAKE_ALPACA_SECRET,
        ALPACA_FEED: 'iex',
        ALPACA_STREAM_URL: alpacaFake.streamUrl('iex'),
        ALPACA_DATA_URL: alpacaFake.restUrl,
        ALPACA_SYMBOLS: 'AAPL,MSFT',
      },
    }),
    // Unready by design: only wait for the listening line.
    launch({ waitReady: false, env: { ...stale, FEED: 'ssi', SSI_CONSUMER_ID: 'wrong-id', SSI_CONSUMER_SECRET: 'wrong-secret', SSI_REST_URL: refusingSsiFake.restUrl, SSI_STREAM_URL: refusingSsiFake.streamUrl } }),
    launch({
      waitReady: false,
      env: { ...stale, FEED: 'alpaca', ALPACA_KEY_ID: FAKE_ALPACA_KEY, ALPACA_SECRET_KEY: 'wrong-secret', ALPACA_STREAM_URL: refusingAlpacaFake.streamUrl('iex'), ALPACA_DATA_URL: refusingAlpacaFake.restUrl, ALPACA_SYMBOLS: 'AAPL' },
    }),
  ]);
  setup = { browser, ssiFake, ssi, alpacaFake, alpaca, refusingSsiFake, refusedSsi, refusingAlpacaFake, refusedAlpaca };
}, 240_000);

afterAll(async () => {
  await setup?.browser.close();
  await Promise.all(started.map((s) => s.close()));
  await Promise.all(fakes.map((f) => f.close()));
});

// ------------------------------------------------------------------ SSI

describe('FEED=ssi against the fake FastConnect server', () => {
  /** Every trade the fake broadcast, per symbol. */
  const sent = new Map<string, TradeEvent[]>();
  let n = 0;
  const trade = (symbol: string, price: number, volume: number): TradeEvent => {
    const t: TradeEvent = { type: 'trade', ts: nowSec(), symbol, id: `e2e-${++n}`, price, volume };
    sent.set(symbol, [...(sent.get(symbol) ?? []), t]);
    return t;
  };
  const emit = (events: MarketEvent[]) => setup.ssiFake.emit(events);
  const url = () => setup.ssi.url;
  const today = vnToday;
  let fake: FakeSsiServer;
  let server: ServerHandle;

  beforeAll(async () => {
    fake = setup.ssiFake;
    server = setup.ssi;
    await fake.waitFor(() => fake.switches.length >= 5, 'the server to switch its channels', 20_000);
  });
  dumpOnFailure(() => setup?.ssi);

  it('shows the fake market: reference data in /api/symbols, broadcast prices in /api/quotes, updates on /ws/market', async () => {
    const ts = nowSec();
    emit([
      { type: 'quote', ts, symbol: 'VNM', bids: [{ price: 71_100, volume: 1_000 }], asks: [{ price: 71_300, volume: 800 }] },
      trade('VNM', 71_000, 500),
      trade('VNM', 71_200, 300),
      trade('FPT', 121_500, 1_000),
      trade('SHS', 15_300, 2_000),
      { type: 'foreign', ts, symbol: 'VNM', buyVolume: 5_000, sellVolume: 1_000, buyValue: 355_000_000, sellValue: 71_000_000, totalRoom: 1_000_000_000, currentRoom: 400_000_000 },
    ]);

    const symbols = (await get<SymbolsResponse>(url(), '/api/symbols')).body.items;
    const bySym = new Map<string, SymbolRef>(symbols.map((s) => [s.symbol, s]));
    expect([...bySym.keys()].sort()).toEqual(['FPT', 'SHS', 'VNM']);
    expect(bySym.get('VNM')).toMatchObject({ name: 'Vinamilk', exchange: 'HOSE', market: 'VN', reference: 70_000, ceiling: 74_900, floor: 65_100, tradingDate: today, sharesOutstanding: 2_090_000_000 });
    expect(bySym.get('VNM')!.indices).toContain('VN30');
    expect(bySym.get('SHS')).toMatchObject({ exchange: 'HNX', reference: 15_000, ceiling: 16_500 });
    expect(bySym.get('SHS')!.indices).not.toContain('VN30');

    const vnm = await until('VNM to show the broadcast trades', async () => {
      const q = await quote(url(), 'VNM');
      return q && q.totalVolume === 800 && q.foreign !== null ? q : undefined;
    });
    expect(vnm).toMatchObject({ last: 71_200, open: 71_000, high: 71_200, low: 71_000, reference: 70_000, change: 1_200, bids: [{ price: 71_100, volume: 1_000 }], asks: [{ price: 71_300, volume: 800 }] });
    expect(vnm.foreign).toMatchObject({ buyVolume: 5_000, sellVolume: 1_000, currentRoom: 400_000_000 });
    const all = (await get<QuotesResponse>(url(), '/api/quotes')).body.items;
    expect(Object.fromEntries(all.map((q) => [q.symbol, q.last]))).toEqual({ FPT: 121_500, SHS: 15_300, VNM: 71_200 });

    const ws = await RawClient.open(`${url().replace('http', 'ws')}/ws/market`);
    try {
      ws.send({ op: 'subscribe', id: 's', symbols: ['VNM'], trades: true });
      const snap = await ws.next((m) => m.type === 'snapshot' && m.key === 'VNM', 10_000);
      expect((snap.data as QuoteState).last).toBe(71_200);
      emit([trade('VNM', 71_300, 200)]);
      const upd = await ws.next((m) => m.type === 'update' && m.key === 'VNM' && (m.data as QuoteState).last === 71_300, 10_000);
      expect(upd.data).toMatchObject({ totalVolume: 1_000, lastVolume: 200 });
      const t = await ws.next((m) => m.type === 'update' && m.key === 'VNM:trades', 10_000);
      expect(t.data).toMatchObject({ symbol: 'VNM', price: 71_300, volume: 200 });
    } finally {
      ws.close();
    }
  }, 60_000);

  it('the board in Chromium shows a row for a fake symbol with the fake price', async () => {
    const { page, context, problems } = await openPage(setup.browser, `${url()}/`);
    try {
      const row = page.locator('.board tbody tr[data-symbol="VNM"]');
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      // The last match as the board prints VND prices (thousands separators).
      await page.waitForFunction(() => document.querySelector('.board tbody tr[data-symbol="VNM"]')?.textContent?.includes('71,300'), undefined, { timeout: 15_000 });
      const last = page.locator('.board tbody tr[data-symbol="VNM"] td.col-last');
      if ((await last.count()) > 0) expect((await last.textContent())?.trim()).toBe('71,300');
      expect(await page.locator('.board tbody tr[data-symbol]').count()).toBe(3);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('the vendor drops the connection: /readyz degrades then recovers, and no trade is stored twice', async () => {
    expect((await readyz(url())).body.checks['feed']!.ok).toBe(true);
    const connectsBefore = fake.connects;
    // The first reconnect attempts are refused, so the outage lasts long enough to be seen.
    fake.failNext('negotiate', [{ status: 503 }, { status: 503 }]);
    fake.dropConnections();

    const degraded = await until(
      '/readyz to report the lost feed',
      async () => {
        const r = await readyz(url());
        return r.status === 503 && !r.body.checks['feed']!.ok ? r.body : undefined;
      },
      15_000,
      25,
    );
    expect(degraded.checks['feed']!.detail).toMatch(/feed 'ssi' is not connected \((reconnecting|connecting)\)/);
    expect(degraded.details!.map((d) => d.path)).toContain('feed');

    await until('the feed to reconnect', async () => (await readyz(url())).body.checks['feed']!.ok, 30_000, 100);
    expect(fake.connects).toBe(connectsBefore + 1);
    // The vendor resent its latest X-TRADE snapshots on SwitchChannels; new trades follow.
    emit([trade('VNM', 71_400, 100), trade('VNM', 71_500, 400), trade('FPT', 121_600, 500)]);
    await until('/readyz to be fully ready again', async () => (await readyz(url())).status === 200, 20_000);

    for (const symbol of ['VNM', 'FPT', 'SHS']) {
      const expected = sent.get(symbol)!;
      const stored = await until(`${symbol}'s trades to be stored`, async () => {
        const t = await storedTrades(url(), symbol);
        return t.length >= expected.length ? t : undefined;
      });
      expect(stored.length, `${symbol}: stored = sent`).toBe(expected.length);
      expect(new Set(stored.map((t) => t.id)).size).toBe(stored.length);
      // Same-second trades have no defined order in storage: compare as sets of (price, volume).
      const key = (t: { price: number; volume: number }) => `${t.price}x${t.volume}`;
      expect(stored.map(key).sort()).toEqual(expected.map(key).sort());
    }
    const vnm = await quote(url(), 'VNM');
    expect(vnm).toMatchObject({ last: 71_500, totalVolume: sent.get('VNM')!.reduce((s, t) => s + t.volume, 0) });
  }, 90_000);

  it('the vendor stops sending during trading: the stale alert reaches /ws/alerts and the page, /readyz names it, and it clears', async () => {
    const ws = await RawClient.open(`${url().replace('http', 'ws')}/ws/alerts`);
    let page: Page | undefined;
    let context: BrowserContext | undefined;
    try {
      ws.send({ op: 'subscribe', id: 'a', symbols: ['*'] });
      const sub = await ws.next((m) => m.type === 'subscribed');
      expect(sub.keys).toContain(SYSTEM_ALERTS_KEY);
      await ws.next((m) => m.type === 'snapshot' && m.key === SYSTEM_ALERTS_KEY);

      // Trading by the vendor's word, whatever the wall clock says; then nothing but keep-alives.
      const ts = nowSec();
      emit([
        { type: 'status', ts, exchange: 'HOSE', phase: 'continuous', halted: false },
        { type: 'status', ts, exchange: 'HNX', phase: 'continuous', halted: false },
        trade('VNM', 71_600, 100),
      ]);
      // Fresh now (an earlier episode, e.g. during real trading hours, has been cleared by this data).
      await until('a fresh feed', async () => (await readyz(url())).status === 200, 20_000, 50);
      await sleep(300); // let a clearing notice of an earlier episode land first
      const systemSeqs = () => ws.messages.filter((m) => (m.type === 'update' || m.type === 'snapshot') && m.key === SYSTEM_ALERTS_KEY).map((m) => m.seq as number);
      const mark = Math.max(0, ...systemSeqs());
      const noticesAfterMark = () =>
        ws.messages.filter((m) => m.type === 'update' && m.key === SYSTEM_ALERTS_KEY && (m.seq as number) > mark).map((m) => m.data as SystemAlert);

      const opened = await openPage(setup.browser, `${url()}/`);
      page = opened.page;
      context = opened.context;
      await page.locator('.board tbody tr[data-symbol="VNM"]').waitFor({ timeout: 30_000 });

      await until('the feed_stale notice on /ws/alerts', async () => noticesAfterMark().length > 0, 20_000, 50);
      const alert = noticesAfterMark()[0]!;
      expect(alert).toMatchObject({ kind: 'feed_stale', severity: 'error', feed: 'ssi' });
      expect(alert.silentMs).toBeGreaterThanOrEqual(STALE_AFTER_MS);
      expect(alert.message).toMatch(/no market data from 'ssi'.*HOSE continuous.*connection is alive/);

      const r = await readyz(url());
      expect(r.status).toBe(503);
      expect(r.body.details!.map((d) => d.path)).toContain('feed_freshness');
      expect(r.body.checks['feed_freshness']!.detail).toMatch(/no market data from 'ssi' for \d+(\.\d)? s while trading/);
      expect(r.body.checks['feed']!.ok).toBe(true); // connected all along: this is about data, not the socket
      expect(await fetch(`${url()}/metrics`).then((m) => m.text())).toMatch(/^feed_stale\{[^}]*feed="ssi"[^}]*\} 1$/m);
      // The page got it live or, if it connected after, from the snapshot: either way the notice shows.
      await page.locator('.toast-system[data-kind="feed_stale"]').waitFor({ timeout: 15_000 });
      expect(server.output()).toMatch(/feed stale: no market data from 'ssi'/);

      emit([trade('VNM', 71_700, 100)]);
      await until('the feed_recovered notice', async () => noticesAfterMark().length > 1, 15_000, 50);
      const back = noticesAfterMark()[1]!;
      expect(back).toMatchObject({ kind: 'feed_recovered', severity: 'info', feed: 'ssi' });
      expect(back.silentMs).toBeGreaterThanOrEqual(STALE_AFTER_MS);
      await until('/readyz ready again', async () => (await readyz(url())).status === 200);
      expect(await fetch(`${url()}/metrics`).then((m) => m.text())).toMatch(/^feed_stale\{[^}]*feed="ssi"[^}]*\} 0$/m);
      await page.locator('.toast-system').waitFor({ state: 'detached', timeout: 15_000 });
      // One notice per episode: no repeats while it lasted.
      expect(noticesAfterMark().map((a) => a.kind)).toEqual(['feed_stale', 'feed_recovered']);
      expect(opened.problems).toEqual([]);
    } finally {
      ws.close();
      await context?.close();
    }
  }, 90_000);
});

// ------------------------------------------------------------------ Alpaca

describe('FEED=alpaca against the fake Alpaca server', () => {
  const url = () => setup.alpaca.url;
  let n = 1_000;
  const sent: TradeEvent[] = [];
  const trade = (symbol: string, price: number, volume: number): TradeEvent => {
    const t: TradeEvent = { type: 'trade', ts: Date.now(), symbol, id: String(++n), price, volume };
    sent.push(t);
    return t;
  };
  let fake: FakeAlpacaServer;

  beforeAll(async () => {
    fake = setup.alpacaFake;
    await fake.waitFor(() => fake.open.some((s) => s.authenticated && s.subs.trades.size === 2), 'the server to subscribe', 20_000);
  });
  dumpOnFailure(() => setup?.alpaca);

  it('shows the fake market in /api/symbols, /api/quotes and on /ws/market; a dropped stream resumes without duplicates', async () => {
    const symbols = (await get<SymbolsResponse>(url(), '/api/symbols')).body.items;
    expect(symbols.map((s) => [s.symbol, s.market, s.exchange, s.reference, s.ceiling])).toEqual([
      ['AAPL', 'US', 'US', 190, null],
      ['MSFT', 'US', 'US', 404, null],
    ]);

    const ws = await RawClient.open(`${url().replace('http', 'ws')}/ws/market`);
    try {
      ws.send({ op: 'subscribe', id: 's', symbols: ['AAPL', 'MSFT'] });
      await ws.next((m) => m.type === 'subscribed');
      fake.push([
        { type: 'quote', ts: Date.now(), symbol: 'AAPL', bids: [{ price: 191.2, volume: 300 }], asks: [{ price: 191.3, volume: 200 }] },
        trade('AAPL', 191.25, 50),
        trade('MSFT', 405.5, 20),
        trade('AAPL', 191.3, 10),
      ]);
      const upd = await ws.next((m) => m.key === 'AAPL' && (m.data as QuoteState).totalVolume === 60, 10_000);
      expect(upd.data).toMatchObject({ last: 191.3, reference: 190, market: 'US' });
    } finally {
      ws.close();
    }
    const all = await until('both quotes', async () => {
      const items = (await get<QuotesResponse>(url(), '/api/quotes')).body.items;
      return items.length === 2 && items.every((q) => q.last !== null) ? items : undefined;
    });
    expect(all.map((q) => [q.symbol, q.last, q.totalVolume])).toEqual([
      ['AAPL', 191.3, 60],
      ['MSFT', 405.5, 20],
    ]);
    expect(all[0]!.bids).toEqual([{ price: 191.2, volume: 300 }]);

    // Drop the stream; the server reconnects, re-authenticates and re-subscribes.
    const sessions = fake.sessions.length;
    fake.dropConnections();
    await until('a new authenticated stream', async () => fake.sessions.length > sessions && fake.open.some((s) => s.authenticated && s.subs.trades.size === 2), 20_000);
    // Alpaca resends nothing itself; a repeated trade id (a vendor replay) must still not count twice.
    fake.push([sent[0]!, trade('AAPL', 191.4, 5)]);
    await until('/readyz ready', async () => (await readyz(url())).status === 200);
    const stored = await until('AAPL trades stored', async () => {
      const t = await storedTrades(url(), 'AAPL');
      return t.length >= 3 ? t : undefined;
    });
    await sleep(300);
    const again = await storedTrades(url(), 'AAPL');
    expect(again.length).toBe(stored.length);
    expect(new Set(again.map((t) => t.id)).size).toBe(again.length);
    expect(again.map((t) => t.price).sort()).toEqual(sent.filter((t) => t.symbol === 'AAPL').map((t) => t.price).sort());
  }, 60_000);
});

// ------------------------------------------------------------------ refused credentials

describe('refused credentials', () => {
  dumpOnFailure(() => setup?.refusedSsi);

  it('the server logs a clear error, /readyz says the feed failed and why, and it keeps running without retrying', async () => {
    const { refusedSsi, refusedAlpaca, refusingSsiFake: ssi, refusingAlpacaFake: alpaca } = setup;
    const cases = [
      { server: refusedSsi, feed: 'ssi', reason: /SSI rejected the consumer ID\/secret.*check SSI_CONSUMER_ID and SSI_CONSUMER_SECRET/ },
      { server: refusedAlpaca, feed: 'alpaca', reason: /Alpaca error 402 \(auth failed\): check ALPACA_KEY_ID and ALPACA_SECRET_KEY/ },
    ];
    for (const c of cases) {
      const r = await until(`${c.feed}: /readyz to report the failed feed`, async () => {
        const x = await readyz(c.server.url);
        return x.status === 503 && /\(failed\)/.test(x.body.checks['feed']?.detail ?? '') ? x : undefined;
      });
      expect(r.body.checks['feed']!.detail).toMatch(new RegExp(`feed '${c.feed}' is not connected \\(failed\\): `));
      expect(r.body.checks['feed']!.detail).toMatch(c.reason);
      expect(r.body.details!.find((d) => d.path === 'feed')!.issue).toMatch(c.reason);
      // Logged as an error (JSON line, level 50), naming the reason.
      const errors = c.server.output().split('\n').filter((l) => l.includes('"level":50'));
      expect(errors.some((l) => c.reason.test(l)), c.server.output()).toBe(true);
      // The API still answers.
      expect((await get(c.server.url, '/healthz')).status).toBe(200);
      expect((await get<SymbolsResponse>(c.server.url, '/api/symbols')).status).toBe(200);
    }
    // A few seconds later: still the same process, and the vendor was not asked again.
    await sleep(3_000);
    expect(refusedSsi.running()).toBe(true);
    expect(refusedAlpaca.running()).toBe(true);
    expect(ssi.calls('AccessToken')).toHaveLength(1);
    expect(ssi.connects).toBe(0);
    expect(alpaca.authAttempts).toBe(1);
    expect((await readyz(refusedSsi.url)).status).toBe(503);
  }, 60_000);
});
