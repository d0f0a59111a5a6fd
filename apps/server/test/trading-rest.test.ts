/**
 * /api/trading over a real app, real storage (PGlite) and a real trading
 * runner fed by hand-made market data: strategies (validation, start/stop,
 * the runner picks them up), risk limits and their refusal codes, quotas,
 * REST backtests (server-side tapes only, one at a time per user, bounded,
 * result stored), the OpenAPI document and the error contract.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { MarketEngine } from '@stock-tracker/engine';
import type { MarketEvent, SymbolRef, TradingBacktest } from '@stock-tracker/protocol';
import { encodeEvent } from '@stock-tracker/feeds';
import { buildApp } from '../src/http/app.ts';
import { TRADING_DEFAULTS } from '../src/config.ts';
import { createRepositories } from '../src/storage/repositories.ts';
import { createTradingRepo } from '../src/storage/trading-repo.ts';
import { createRegistry } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { TradingRunner } from '../src/trading/runner.ts';
import { LocalTradingNotifier } from '../src/trading/sync.ts';
import { TradingService } from '../src/trading/service.ts';
import { BacktestService } from '../src/trading/backtests.ts';
import { openTestStorage, type TestStorage } from '../../../test/helpers/storage.ts';
import { TEST_SETTINGS } from './http-fixture.ts';

const T0 = Date.parse('2025-03-05T03:00:00Z'); // 10:00 in Ho Chi Minh City
const REF: SymbolRef = { symbol: 'FPT', exchange: 'HOSE', market: 'VN', tradingDate: '2025-03-05', reference: 120_000, ceiling: 128_400, floor: 111_600, lotSize: 100, indices: ['VNINDEX'], sharesOutstanding: 1_000_000_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('/api/trading', () => {
  let storage: TestStorage;
  let app: FastifyInstance;
  let runner: TradingRunner;
  let backtests: BacktestService;
  let dir: string;
  const engine = new MarketEngine();
  const feed = (ev: MarketEvent) => engine.apply(ev, (out) => runner.onMarket(out));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'st-trading-rest-'));
    // A small tape for REST backtests: a rising then falling FPT, one trade per 20 s.
    const events: MarketEvent[] = [{ type: 'reference', ts: T0, ref: REF }];
    for (let i = 0; i < 90; i++) events.push({ type: 'trade', ts: T0 + i * 20_000, symbol: 'FPT', id: `b${i}`, price: 120_000 + (i < 45 ? i : 90 - i) * 100, volume: 1_000 });
    writeFileSync(join(dir, 'fpt.tape'), events.map(encodeEvent).join('\n') + '\n');
    writeFileSync(join(dir, '.hidden'), 'x');

    storage = await openTestStorage('pglite');
    const repos = createRepositories(storage.db);
    await repos.users.ensureDefault();
    const repo = createTradingRepo(storage.db);
    const settings = { ...TRADING_DEFAULTS, maxAccounts: 2, maxStrategies: 2, tapesDir: dir, commandWaitMs: 5_000 };
    const notifier = new LocalTradingNotifier();
    runner = new TradingRunner({ repo, publisher: () => null, market: () => engine, onCommandSettled: notifier.settled, flushDelayMs: 5 });
    notifier.runner = runner;
    await runner.start();
    backtests = new BacktestService(repo, settings);
    feed({ type: 'reference', ts: T0, ref: REF });
    feed({ type: 'trade', ts: T0 + 1_000, symbol: 'FPT', id: 't1', price: 120_000, volume: 1_000 });
    app = await buildApp({
      settings: TEST_SETTINGS,
      log: silentLogger(),
      market: engine,
      alertSink: engine.alerts,
      repos,
      trading: { service: new TradingService(repo, notifier, settings), backtests },
      feedStatus: () => ({ name: 'test', connected: true, lastEventTs: engine.now() }),
      readiness: [],
      registry: createRegistry({ processMetrics: false }),
    });
    await app.ready();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await runner?.stop();
    await backtests?.idle();
    await storage?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', url: string, payload?: unknown) => {
    const r = await app.inject({ method, url: `/api${url}`, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined, headers: r.headers };
  };

  it('accounts, risk limits with their refusal codes, strategies and quotas', async () => {
    const a = await call('POST', '/trading/accounts', { name: 'main' });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ market: 'VN', startingCash: TRADING_DEFAULTS.startingCashVn, generation: 1, state: null });
    expect((await call('POST', '/trading/accounts', { name: 'second', market: 'US' })).body.startingCash).toBe(TRADING_DEFAULTS.startingCashUs);
    const over = await call('POST', '/trading/accounts', { name: 'third' });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ code: 'QUOTA_EXCEEDED', request_id: expect.any(String) });
    expect((await call('POST', '/trading/accounts', { name: 'x', bogus: 1 })).body.code).toBe('VALIDATION_FAILED');
    const id = a.body.id as string;

    // A risk limit refuses with its own code, and the refused order is stored.
    expect((await call('PUT', `/trading/accounts/${id}/risk`, { maxOrderValue: 1_000_000 })).body.limits).toEqual({ maxOrderValue: 1_000_000 });
    await sleep(50);
    const refused = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'big', symbol: 'fpt', side: 'buy', type: 'limit', qty: 100, limitPrice: 120_000 });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('RISK_MAX_ORDER_VALUE');
    // The same key again: the same refusal.
    expect((await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'big', symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 120_000 })).body.code).toBe('RISK_MAX_ORDER_VALUE');
    expect((await call('POST', `/trading/accounts/${id}/orders`, { symbol: 'NOPE', side: 'buy', type: 'market', qty: 100 })).body.code).toBe('UNKNOWN_SYMBOL');
    await call('PUT', `/trading/accounts/${id}/risk`, {});
    await sleep(50);
    const odd = await call('POST', `/trading/accounts/${id}/orders`, { symbol: 'FPT', side: 'buy', type: 'limit', qty: 150, limitPrice: 120_000 });
    expect(odd.body.code, JSON.stringify(odd.body)).toBe('ORDER_REJECTED_LOT');

    // A resting limit order: listed open, replaced, cancelled.
    const rest = await call('POST', `/trading/accounts/${id}/orders`, { clientOrderId: 'rest', symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 119_000 });
    expect(rest.status, JSON.stringify(rest.body)).toBe(201);
    const open = await call('GET', `/trading/accounts/${id}/orders?status=open`);
    expect(open.body.items.map((o: { clientOrderId: string }) => o.clientOrderId)).toEqual(['rest']);
    const replaced = await call('PATCH', `/trading/accounts/${id}/orders/${rest.body.id}`, { limitPrice: 118_000 });
    expect(replaced.body).toMatchObject({ id: rest.body.id, limitPrice: 118_000 });
    const cancelled = await call('DELETE', `/trading/accounts/${id}/orders/rest`);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await call('DELETE', `/trading/accounts/${id}/orders/rest`)).body.code).toBe('ORDER_NOT_OPEN');
    expect((await call('GET', `/trading/accounts/${id}/orders?status=open`)).body.items).toEqual([]);

    // Strategies: validated by the core, started and stopped, picked up by the runner.
    expect((await call('POST', '/trading/strategies', { accountId: id, strategy: 'no-such', symbols: ['FPT'] })).body.code).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/trading/strategies', { accountId: 'not-mine', strategy: 'sma-cross', symbols: ['FPT'] })).status).toBe(404);
    const s = await call('POST', '/trading/strategies', { accountId: id, strategy: 'sma-cross', params: { fast: 2, slow: 3 }, symbols: ['fpt'] });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    expect(s.body).toMatchObject({ state: 'stopped', symbols: ['FPT'] });
    expect((await call('POST', `/trading/strategies/${s.body.id}/start`)).body.state).toBe('running');
    await sleep(100);
    expect(runner.core(id)!.strategies().map((x) => x.id)).toEqual([s.body.id]);
    expect((await call('POST', '/trading/strategies', { accountId: id, strategy: 'sma-cross', symbols: ['FPT'] })).status).toBe(201);
    expect((await call('POST', '/trading/strategies', { accountId: id, strategy: 'sma-cross', symbols: ['FPT'] })).body.code).toBe('QUOTA_EXCEEDED');
    expect((await call('POST', `/trading/strategies/${s.body.id}/stop`)).body.state).toBe('stopped');
    await sleep(100);
    expect(runner.core(id)!.strategies()).toEqual([]);
    expect((await call('DELETE', `/trading/strategies/${s.body.id}`)).status).toBe(204);
    expect((await call('GET', `/trading/strategies/${s.body.id}`)).status).toBe(404);
    expect((await call('GET', '/trading/strategies/builtin')).body.items.map((x: { name: string }) => x.name)).toContain('sma-cross');

    // Risk and P&L read back; reset gives a fresh account.
    expect((await call('GET', `/trading/accounts/${id}/risk`)).body).toMatchObject({ accountId: id, limits: {}, killSwitch: { active: false } });
    expect((await call('POST', `/trading/accounts/${id}/risk/reset`)).status).toBe(200);
    expect((await call('GET', `/trading/accounts/${id}/pnl`)).body.account).toMatchObject({ accountId: id, cash: TRADING_DEFAULTS.startingCashVn });
    expect((await call('GET', `/trading/accounts/${id}/pnl?from=10&to=5`)).body.code).toBe('VALIDATION_FAILED');
    const reset = await call('POST', `/trading/accounts/${id}/reset`);
    expect(reset.body.generation).toBe(2);
    expect((await call('GET', `/trading/accounts/${id}/orders`)).body.items).toEqual([]);
  });

  it('runs backtests over server-side tapes only, one at a time per user, and stores the result', async () => {
    expect((await call('GET', '/trading/tapes')).body.items).toEqual([{ name: 'fpt.tape', bytes: expect.any(Number) }]);
    for (const tape of ['../fpt.tape', '.hidden', 'missing.tape']) {
      const r = await call('POST', '/trading/backtests', { tape, strategy: 'sma-cross', params: { fast: 2, slow: 3 } });
      expect([400, 404], tape).toContain(r.status);
    }
    const started = await call('POST', '/trading/backtests', { tape: 'fpt.tape', strategy: 'sma-cross', params: { fast: 2, slow: 3 }, cash: 100_000_000 });
    expect(started.status).toBe(202);
    expect(started.body.status).toBe('running');
    // A second one while the first runs is refused (or, on a fast machine, the first is already done).
    const second = await call('POST', '/trading/backtests', { tape: 'fpt.tape', strategy: 'sma-cross' });
    if (second.status !== 202) expect(second.body.code).toBe('CONFLICT');
    await backtests.idle();
    const done = (await call('GET', `/trading/backtests/${started.body.id}`)).body as TradingBacktest;
    expect(done.status).toBe('done');
    expect(done.summary).toMatchObject({ startEquity: 100_000_000 });
    expect((done.report as { fills: unknown[] }).fills.length).toBe(done.summary!.fills);
    const list = (await call('GET', '/trading/backtests')).body.items as TradingBacktest[];
    expect(list.map((b) => b.id)).toContain(started.body.id);
    expect(list.every((b) => b.report === undefined || b.report === null)).toBe(true);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await call('GET', '/docs/json')).body as { paths: Record<string, unknown> };
    for (const p of ['/api/trading/accounts', '/api/trading/accounts/{accountId}/orders', '/api/trading/accounts/{accountId}/orders/{orderId}', '/api/trading/strategies', '/api/trading/backtests']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
