/**
 * Alpaca accounts end to end inside the server: a real app, real storage
 * (PGlite), a real TradingRunner (the embedded wiring: LocalTradingNotifier,
 * TradingService) and the protocol-faithful fake Alpaca Trading API
 * (test/fakes/alpaca-trading-server.ts). An order submitted over REST goes to
 * Alpaca; the fake fills it partially then fully; the fills come back over the
 * trade_updates stream and are stored once; a cancel goes to Alpaca; a broker
 * rejection surfaces with its catalogue code; and a new runner on the same
 * storage reconciles a fill made while no runner was up, exactly once.
 */
import type { FastifyInstance } from 'fastify';
import { MarketEngine } from '@stock-tracker/engine';
import { AppError, type MarketEvent, type SymbolRef } from '@stock-tracker/protocol';
import { buildApp } from '../src/http/app.ts';
import { TRADING_DEFAULTS, type AlpacaTradingSettings } from '../src/config.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { createTradingRepo, type TradingRepo } from '../src/storage/trading-repo.ts';
import { createRegistry } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { TradingRunner } from '../src/trading/runner.ts';
import { LocalTradingNotifier } from '../src/trading/sync.ts';
import { TradingService } from '../src/trading/service.ts';
import { BacktestService } from '../src/trading/backtests.ts';
import { openTestStorage, type TestStorage } from '../../../test/helpers/storage.ts';
import { FAKE_TRADING_KEY, FAKE_TRADING_SECRET, FakeAlpacaTradingServer } from '../../../test/fakes/alpaca-trading-server.ts';
import type { StreamPublisher } from '../src/bus/types.ts';
import { TEST_SETTINGS } from './http-fixture.ts';

// Market time near the wall clock: the broker's fills carry Alpaca's (the fake's) wall-clock times.
const T0 = Math.floor((Date.now() - 120_000) / 60_000) * 60_000;
const DAY = new Date(T0).toISOString().slice(0, 10);
const AAPL: SymbolRef = { symbol: 'AAPL', exchange: 'NASDAQ', market: 'US', tradingDate: DAY, reference: 190, ceiling: null, floor: null, lotSize: 1, indices: [], sharesOutstanding: null } as unknown as SymbolRef;

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Alpaca accounts (embedded runner, fake Alpaca Trading API)', () => {
  let storage: TestStorage;
  let app: FastifyInstance;
  let fake: FakeAlpacaTradingServer;
  let repo: TradingRepo;
  let runner: TradingRunner;
  const notifier = new LocalTradingNotifier();
  const engine = new MarketEngine();
  const feed = (ev: MarketEvent) => engine.apply(ev, (out) => runner.onMarket(out));
  let alpaca: AlpacaTradingSettings;
  // What /ws/trading would carry: the runner's published events (the gateway's part is tested elsewhere).
  const published: { type: string; fill?: { id: string } }[] = [];
  const publisher = {
    epoch: 'test',
    publish: (_channel: string, _key: string, kind: string, data: unknown) => {
      if (kind === 'event') published.push(data as { type: string; fill?: { id: string } });
      return {} as never;
    },
  } as unknown as StreamPublisher;

  const newRunner = async () => {
    runner = new TradingRunner({
      repo,
      publisher: () => publisher,
      market: () => engine,
      onCommandSettled: notifier.settled,
      flushDelayMs: 5,
      alpaca,
      alpacaOptions: { stream: { backoff: { initialMs: 20, maxMs: 200 } } },
    });
    notifier.runner = runner;
    await runner.start();
  };

  beforeAll(async () => {
    fake = await FakeAlpacaTradingServer.start({ cash: 100_000, prices: { AAPL: 190 } });
    alpaca = { keyId: FAKE_TRADING_KEY, secretKey: FAKE_TRADING_SECRET, baseUrl: fake.baseUrl, streamUrl: fake.streamUrl, live: false };
    storage = await openTestStorage('pglite');
    const repos = createRepositories(storage.db);
    await repos.users.ensureDefault();
    repo = createTradingRepo(storage.db);
    await newRunner();
    feed({ type: 'reference', ts: T0, ref: AAPL });
    feed({ type: 'trade', ts: T0 + 1_000, symbol: 'AAPL', id: 't1', price: 190, volume: 100 });
    const settings = { ...TRADING_DEFAULTS, commandWaitMs: 5_000 };
    app = await buildApp({
      settings: TEST_SETTINGS,
      log: silentLogger(),
      market: engine,
      alertSink: engine.alerts,
      repos,
      trading: { service: new TradingService(repo, notifier, settings, { alpaca: true }), backtests: new BacktestService(repo, settings) },
      feedStatus: () => ({ name: 'test', connected: true, lastEventTs: engine.now() }),
      readiness: [],
      registry: createRegistry({ processMetrics: false }),
    });
    await app.ready();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await runner?.stop();
    await fake?.close();
    await storage?.cleanup();
  });

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const r = await app.inject({ method, url: `/api${url}`, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };
  const fills = async (id: string) => (await call('GET', `/trading/accounts/${id}/fills?limit=100`)).body.items as { id: string; orderId: string; qty: number; price: number }[];
  const order = async (id: string, orderId: string) => (await call('GET', `/trading/accounts/${id}/orders/${orderId}`)).body as { id: string; status: string; filledQty: number; code: string | null };

  it('is refused with BROKER_NOT_CONFIGURED when the server has no Alpaca keys', async () => {
    const plain = new TradingService(repo, notifier, TRADING_DEFAULTS);
    const err = await plain.createAccount('local', { name: 'x', broker: 'alpaca' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('BROKER_NOT_CONFIGURED');
    expect((await call('POST', '/trading/accounts', { name: 'vn', broker: 'alpaca', market: 'VN' })).body.code).toBe('VALIDATION_FAILED');
  });

  it('sends orders to Alpaca, stores its fills once, cancels there, surfaces its rejections, and reconciles after a restart', async () => {
    // The core's own ledger is generous: the refusal below must come from Alpaca (the fake holds $100,000).
    const a = await call('POST', '/trading/accounts', { name: 'alpaca', broker: 'alpaca', startingCash: 1_000_000 });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(a.body).toMatchObject({ market: 'US', broker: 'alpaca' });
    const id = a.body.id as string;
    await until('the trade_updates stream', async () => fake.listening.length > 0);

    // Market buy, filled by Alpaca in two parts.
    const buy = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'b1', symbol: 'AAPL', side: 'buy', type: 'market', qty: 10 });
    expect(buy.status, JSON.stringify(buy.body)).toBe(201);
    const at = fake.byClientId('b1');
    expect(at, 'the order reached Alpaca').toBeDefined();
    fake.fill(at!.id, 4, 190);
    await until('the partial fill', async () => (await fills(id)).length === 1);
    expect((await order(id, buy.body.id)).status).toBe('partially_filled');
    fake.fill(at!.id, 6, 191);
    await until('the order filled', async () => (await order(id, buy.body.id)).status === 'filled');
    const got = await fills(id);
    expect(got.map((f) => [f.id, f.qty, f.price]).sort()).toEqual([
      [`${buy.body.id}-f10`, 6, 191],
      [`${buy.body.id}-f4`, 4, 190],
    ]);

    // A resting limit order, cancelled at Alpaca; the core's order follows the stream's `canceled`.
    const rest = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'c1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: 5, limitPrice: 150 });
    expect(rest.status, JSON.stringify(rest.body)).toBe(201);
    expect((await call('DELETE', `/trading/accounts/${id}/orders/${rest.body.id}`)).status).toBe(200);
    expect(fake.byClientId('c1')!.status).toBe('canceled');
    await until('the cancel to reach the core', async () => (await order(id, rest.body.id)).status === 'cancelled');
    expect((await call('DELETE', `/trading/accounts/${id}/orders/${rest.body.id}`)).body.code).toBe('ORDER_NOT_OPEN');

    // Alpaca refuses (insufficient buying power): the REST answer carries the catalogue code, the order is rejected.
    const posts = fake.callsTo('POST', '/v2/orders').length;
    const big = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'big', symbol: 'AAPL', side: 'buy', type: 'market', qty: 1_000 });
    expect(big.status).toBe(422);
    expect(big.body.code).toBe('INSUFFICIENT_BUYING_POWER');
    expect(fake.callsTo('POST', '/v2/orders').length).toBe(posts + 1);
    const stored = (await call('GET', `/trading/accounts/${id}/orders?limit=100`)).body.items as { clientOrderId: string; status: string; code: string | null }[];
    expect(stored.find((o) => o.clientOrderId === 'big')).toMatchObject({ status: 'rejected', code: 'INSUFFICIENT_BUYING_POWER' });

    // An order Alpaca already has under this client_order_id (an earlier attempt whose outcome was never stored):
    // taken over instead of refused, and its fill arrives.
    const pre = await fetch(`${fake.baseUrl}/v2/orders`, {
      method: 'POST',
      headers: { 'APCA-API-KEY-ID': FAKE_TRADING_KEY, 'APCA-API-SECRET-KEY': FAKE_TRADING_SECRET, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'day', qty: '2', limit_price: '185', client_order_id: 'dup1' }),
    });
    expect(pre.status).toBe(200);
    const dup = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'dup1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: 2, limitPrice: 185 });
    expect(dup.status, JSON.stringify(dup.body)).toBe(201);
    fake.fill(fake.byClientId('dup1')!.id, 2, 185);
    await until('the taken-over order filled', async () => (await order(id, dup.body.id)).status === 'filled');

    // Restart: an open order fills while no runner runs; the new runner reconciles that fill exactly once.
    const r1 = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'r1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: 5, limitPrice: 180 });
    expect(r1.status, JSON.stringify(r1.body)).toBe(201);
    await runner.stop();
    await until('the old stream to close', async () => fake.listening.length === 0);
    fake.fill(fake.byClientId('r1')!.id, 5, 179);
    await newRunner();
    await until('the fill made while down', async () => (await fills(id)).some((f) => f.orderId === r1.body.id));
    await until('r1 filled', async () => (await order(id, r1.body.id)).status === 'filled');
    // Once more from storage (a reload, and a further reconnect's reconciliation): nothing new.
    await runner.reload();
    fake.dropConnections();
    await until('the stream back', async () => fake.listening.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    await runner.reload();
    const all = await fills(id);
    expect(all.filter((f) => f.orderId === r1.body.id).map((f) => [f.id, f.qty, f.price])).toEqual([[`${r1.body.id}-f5`, 5, 179]]);
    expect(all).toHaveLength(4);
    expect(new Set(all.map((f) => f.id)).size).toBe(4);
    expect(runner.core(id)!.account().positions).toEqual([expect.objectContaining({ symbol: 'AAPL', qty: 17 })]);
    const pos = (await call('GET', `/trading/accounts/${id}/positions`)).body;
    expect(JSON.stringify(pos)).toContain('"qty":17');
    // Published once each, as stored.
    expect(published.filter((e) => e.type === 'fill').map((e) => e.fill!.id).sort()).toEqual(all.map((f) => f.id).sort());

    // An order the core cancels on its own (the drawdown kill switch, engaged by a falling mark) is cancelled at Alpaca too.
    const k1 = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'k1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: 1, limitPrice: 150 });
    expect(k1.status, JSON.stringify(k1.body)).toBe(201);
    expect((await call('PUT', `/trading/accounts/${id}/risk`, { maxDrawdownPct: 0.01 })).status).toBe(200);
    await until('the new risk limits in the core', async () => runner.core(id)!.riskLimits().maxDrawdownPct === 0.01);
    feed({ type: 'trade', ts: Date.now(), symbol: 'AAPL', id: 't2', price: 150, volume: 100 });
    expect(runner.core(id)!.account().killSwitch.active, 'the kill switch engaged').toBe(true);
    await until('the order cancelled at Alpaca', async () => fake.byClientId('k1')!.status === 'canceled');
    await until('the order closed in the core', async () => (await order(id, k1.body.id)).status === 'cancelled');
  }, 30_000);
});
