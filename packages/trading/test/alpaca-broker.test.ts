/**
 * AlpacaBroker against the fake Alpaca Trading API (real HTTP + WebSocket on
 * 127.0.0.1): submit, partial fills, cancel, replace, every documented error
 * mapped to its catalogue code, 429 retries without duplicate orders, stream
 * reconnects that deliver a fill made during the gap exactly once, refused keys.
 */
import type { Fill, Order, OrderEvent } from '@stock-tracker/protocol';
import { AppError } from '@stock-tracker/protocol';
import type { BrokerUpdate } from '../src/types.ts';
import { alpacaErrorCode, AlpacaAuthError, AlpacaBroker, parseAlpacaErrorBody, type AlpacaBrokerOptions, type RestRetryInfo } from '../src/brokers/alpaca/index.ts';
import { FAKE_TRADING_KEY, FAKE_TRADING_SECRET, FakeAlpacaTradingServer, type FakeTradingOptions } from '../../../test/fakes/alpaca-trading-server.ts';

interface Harness {
  fake: FakeAlpacaTradingServer;
  broker: AlpacaBroker;
  updates: BrokerUpdate[];
  retries: RestRetryInfo[];
  fills(): Fill[];
  events(orderId?: string): OrderEvent[];
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.broker.stop();
    await h.fake.close();
  }
});

async function harness(fakeOpts: FakeTradingOptions = {}, opts: Partial<AlpacaBrokerOptions> = {}, start = true): Promise<Harness> {
  const fake = await FakeAlpacaTradingServer.start(fakeOpts);
  const retries: RestRetryInfo[] = [];
  const broker = new AlpacaBroker({
    keyId: FAKE_TRADING_KEY,
    secretKey: FAKE_TRADING_SECRET,
    baseUrl: fake.baseUrl,
    streamUrl: fake.streamUrl,
    accountId: 'acc-1',
    rest: { retries: 3, backoff: { initialMs: 10, maxMs: 40 }, timeoutMs: 5_000, onRetry: (r) => retries.push(r) },
    stream: { backoff: { initialMs: 20, maxMs: 80 }, stepTimeoutMs: 3_000 },
    ...opts,
  });
  const updates: BrokerUpdate[] = [];
  broker.onUpdate((u) => updates.push(u));
  const h: Harness = {
    fake,
    broker,
    updates,
    retries,
    fills: () => updates.flatMap((u) => (u.type === 'fill' ? [u.fill] : [])),
    events: (id) => updates.flatMap((u) => (u.type === 'order' && (!id || u.event.orderId === id) ? [u.event] : [])),
  };
  open.push(h);
  if (start) await broker.start();
  return h;
}

let seq = 0;
function order(p: Partial<Order> = {}): Order {
  seq += 1;
  return {
    id: `acc-1-o${seq}`,
    clientOrderId: `acc-1:o${seq}`,
    accountId: 'acc-1',
    symbol: 'AAPL',
    side: 'buy',
    type: 'limit',
    qty: 100,
    notional: null,
    limitPrice: 190,
    stopPrice: null,
    tif: 'day',
    status: 'new',
    filledQty: 0,
    filledNotional: 0,
    avgFillPrice: null,
    triggered: false,
    source: 'manual',
    strategyId: null,
    tradingDate: '2026-12-07',
    createdTs: 1,
    updatedTs: 1,
    reason: null,
    code: null,
    exits: null,
    ...p,
  };
}

/** The fake's Alpaca order for a core order (latest leg when replaced). */
function alpacaOrder(h: Harness, o: Order) {
  const legs = [...h.fake.orders.values()].filter((x) => x.client_order_id === o.clientOrderId || x.client_order_id.startsWith(`${o.clientOrderId}.r`));
  return legs[legs.length - 1]!;
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const detail = (e: AppError, path: string) => e.details?.find((d) => d.path === path)?.issue;

describe('AlpacaBroker: orders', () => {
  it('submits with the core clientOrderId as client_order_id, decimals as strings, and reports acceptance', async () => {
    const h = await harness();
    expect(h.fake.received[0]).toEqual({ action: 'authenticate', data: { key_id: FAKE_TRADING_KEY, secret_key: FAKE_TRADING_SECRET } });
    expect(h.fake.received[1]).toEqual({ action: 'listen', data: { streams: ['trade_updates'] } });
    const o = order({ qty: 10, limitPrice: 189.5 });
    const placed = await h.broker.submit(o);
    expect(placed.id).toBe(o.id);
    const posted = h.fake.callsTo('POST', '/v2/orders');
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body).toEqual({ symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'day', client_order_id: o.clientOrderId, qty: '10', limit_price: '189.5' });
    // The `new` event comes over the stream (binary frames, as on the paper endpoint).
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'accepted'), 'accepted event');
    expect(h.events(o.id).map((e) => e.status)).toEqual(['accepted']);
    expect(h.events(o.id)[0]!.order).toMatchObject({ id: o.id, status: 'accepted', filledQty: 0 });
  });

  it('delivers a partial fill then the fill, with deterministic ids, and moves the status forward', async () => {
    const h = await harness();
    const o = order({ qty: 100 });
    await h.broker.submit(o);
    const a = alpacaOrder(h, o);
    h.fake.fill(a.id, 40, 189.9);
    await h.fake.waitFor(() => h.fills().length === 1, 'partial fill');
    h.fake.fill(a.id, 60, 190);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'filled'), 'filled');
    expect(h.fills().map((f) => [f.id, f.qty, f.price, f.side, f.liquidity, f.accountId])).toEqual([
      [`${o.id}-f40`, 40, 189.9, 'buy', 'broker', 'acc-1'],
      [`${o.id}-f100`, 60, 190, 'buy', 'broker', 'acc-1'],
    ]);
    expect(h.events(o.id).map((e) => e.status)).toEqual(['accepted', 'partially_filled', 'filled']);
    const last = h.events(o.id).at(-1)!.order;
    expect(last.filledQty).toBe(100);
    expect(last.avgFillPrice).toBeCloseTo((40 * 189.9 + 60 * 190) / 100, 6);
    // A fill precedes the status it causes.
    const kinds = h.updates.map((u) => (u.type === 'fill' ? `fill${u.fill.qty}` : u.event.status));
    expect(kinds.indexOf('fill60')).toBeLessThan(kinds.indexOf('filled'));
    // Account and positions read back in the core's shape.
    const positions = await h.broker.positions();
    expect(positions).toEqual([expect.objectContaining({ symbol: 'AAPL', qty: 100, avgCost: 189.96 })]);
    const acct = await h.broker.account();
    expect(acct.cash).toBeCloseTo(100_000 - 18_996, 6);
    expect(acct.positions).toHaveLength(1);
  });

  it('cancels; a second cancel of the now closed order is ORDER_NOT_OPEN; an unknown order is NOT_FOUND', async () => {
    const h = await harness();
    const o = order();
    await h.broker.submit(o);
    await h.broker.cancel(o.id);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'cancelled'), 'cancelled event');
    expect(h.fake.callsTo('DELETE', '/v2/orders/*')).toHaveLength(1);
    const again = await rejection(h.broker.cancel(o.id));
    expect(again.code).toBe('ORDER_NOT_OPEN');
    expect(detail(again, 'broker.status')).toBe('422');
    expect(detail(again, 'broker.message')).toMatch(/canceled/);
    expect((await rejection(h.broker.cancel('nope'))).code).toBe('NOT_FOUND');
  });

  it('replaces under the same core order id, following Alpaca to the new order; after a partial fill it sends what remains', async () => {
    const h = await harness();
    const o = order({ qty: 100, limitPrice: 190 });
    await h.broker.submit(o);
    const first = alpacaOrder(h, o);
    h.fake.fill(first.id, 30, 189.95);
    await h.fake.waitFor(() => h.fills().length === 1, 'partial fill');
    const replaced = await h.broker.replace(o.id, { limitPrice: 190.5 });
    expect(replaced).toMatchObject({ id: o.id, limitPrice: 190.5, qty: 100, filledQty: 30 });
    const patch = h.fake.callsTo('PATCH', '/v2/orders/*');
    expect(patch).toHaveLength(1);
    // Alpaca's replacement is a fresh order: it must be for the 70 shares left, not 100 again.
    expect(patch[0]!.body).toEqual({ client_order_id: `${o.clientOrderId}.r1`, qty: '70', limit_price: '190.5' });
    expect(h.fake.orders.get(first.id)!.status).toBe('replaced');
    const second = alpacaOrder(h, o);
    expect(second.replaces).toBe(first.id);
    h.fake.fill(second.id, 70, 190.4);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'filled'), 'filled after replace');
    expect(h.fills().map((f) => [f.orderId, f.id, f.qty])).toEqual([
      [o.id, `${o.id}-f30`, 30],
      [o.id, `${o.id}-f100`, 70],
    ]);
    expect(h.events(o.id).at(-1)!.order.filledQty).toBe(100);
  });
});

describe('AlpacaBroker: replace race', () => {
  it('shares the old order fills while being replaced are taken off the replacement: the order never exceeds its quantity', async () => {
    const h = await harness({ manualReplace: true });
    const o = order({ qty: 100, limitPrice: 190 });
    await h.broker.submit(o);
    const first = alpacaOrder(h, o);
    h.fake.fill(first.id, 30, 190);
    await h.fake.waitFor(() => h.fills().length === 1, 'first fill');
    await h.broker.replace(o.id, { limitPrice: 190.2 });
    expect(h.fake.callsTo('PATCH', '/v2/orders/*')[0]!.body).toMatchObject({ qty: '70' });
    // The race: 20 more fill on the old order before Alpaca switches.
    h.fake.fill(first.id, 20, 190);
    h.fake.completeReplace(first.id);
    await h.fake.waitFor(() => h.broker.stats().raceCorrections === 1, 'replacement shrunk');
    // The correction is a replace too (of the replacement), switched by Alpaca in turn.
    const second = [...h.fake.orders.values()].find((x) => x.replaces === first.id)!;
    expect(h.fake.callsTo('PATCH', '/v2/orders/*').map((c) => [c.path.split('/').pop(), c.body?.['qty']])).toEqual([
      [first.id, '70'],
      [second.id, '50'],
    ]);
    h.fake.completeReplace(second.id);
    const legs = [...h.fake.orders.values()].filter((x) => x.client_order_id.startsWith(o.clientOrderId));
    const live = legs.filter((x) => !['replaced', 'canceled', 'filled', 'rejected'].includes(x.status));
    expect(live).toHaveLength(1);
    // 30 + 20 filled on the first order: 50 left of 100, not the 70 first sent.
    expect(Number(live[0]!.qty)).toBe(50);
    h.fake.fill(live[0]!.id, 50, 190.2);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'filled'), 'filled');
    expect(h.fills().map((f) => f.qty)).toEqual([30, 20, 50]);
    expect(h.fills().reduce((n, f) => n + f.qty, 0)).toBe(100);
  });

  it('when the old order fills completely meanwhile, Alpaca rejects the replacement and the order ends filled', async () => {
    const h = await harness({ manualReplace: true });
    const o = order({ qty: 10, limitPrice: 190 });
    await h.broker.submit(o);
    const first = alpacaOrder(h, o);
    await h.broker.replace(o.id, { limitPrice: 190.5 });
    h.fake.fill(first.id, 10, 190);
    h.fake.completeReplace(first.id);
    await h.fake.waitFor(() => h.fake.updates.at(-1)!.data['event'] === 'rejected' && h.events(o.id).some((e) => e.status === 'filled'), 'filled, replacement rejected');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.events(o.id).at(-1)!.status).toBe('filled');
    expect(h.fills().map((f) => f.qty)).toEqual([10]);
  });
});

describe('AlpacaBroker: documented errors map to catalogue codes', () => {
  it('403 insufficient buying power → INSUFFICIENT_BUYING_POWER, with the broker message kept', async () => {
    const h = await harness({ cash: 1_000 });
    const e = await rejection(h.broker.submit(order({ qty: 100, limitPrice: 190 })));
    expect(e.code).toBe('INSUFFICIENT_BUYING_POWER');
    expect(e.status).toBe(422);
    expect(detail(e, 'broker.status')).toBe('403');
    expect(detail(e, 'broker.code')).toBe('40310000');
    expect(detail(e, 'broker.message')).toBe('insufficient buying power');
    // A refusal is final: nothing is retried, nothing is left tracked.
    expect(h.fake.callsTo('POST', '/v2/orders')).toHaveLength(1);
    expect(h.retries).toHaveLength(0);
  });

  it('403 insufficient qty (selling shares not held; no short selling) → INSUFFICIENT_BUYING_POWER', async () => {
    const h = await harness();
    const e = await rejection(h.broker.submit(order({ side: 'sell', qty: 10 })));
    expect(e.code).toBe('INSUFFICIENT_BUYING_POWER');
    expect(detail(e, 'broker.message')).toMatch(/insufficient qty available/);
  });

  it('notional orders are refused before reaching Alpaca (it would fill fractional shares; the core counts whole shares)', async () => {
    const h = await harness();
    const e = await rejection(h.broker.submit(order({ type: 'market', qty: 0, notional: 1_000, limitPrice: null })));
    expect(e.code).toBe('ORDER_INVALID');
    expect(h.fake.callsTo('POST', '/v2/orders')).toHaveLength(0);
  });

  it('422 invalid parameters → BROKER_REJECTED', async () => {
    const h = await harness();
    const e = await rejection(h.broker.submit(order({ symbol: 'NOPE' })));
    expect(e.code).toBe('BROKER_REJECTED');
    expect(e.status).toBe(422);
    expect(detail(e, 'broker.code')).toBe('40010001');
    expect(detail(e, 'broker.message')).toBe('asset "NOPE" not found');
  });

  it('404 order not found → NOT_FOUND', async () => {
    const h = await harness();
    const o = order();
    await h.broker.submit(o);
    h.fake.orders.delete(alpacaOrder(h, o).id); // gone at Alpaca
    const e = await rejection(h.broker.cancel(o.id));
    expect(e.code).toBe('NOT_FOUND');
    expect(detail(e, 'broker.code')).toBe('40410000');
  });

  it('429 on every attempt → BROKER_RATE_LIMITED with a Retry-After header, after the configured retries', async () => {
    const h = await harness({}, { rest: { retries: 2, backoff: { initialMs: 10, maxMs: 20 }, onRetry: () => {} } });
    h.fake.failNext('GET', '/v2/account', [1, 2, 3].map(() => ({ ...FakeAlpacaTradingServer.rateLimited(0, 0) })));
    const e = await rejection(h.broker.rest.getAccount());
    expect(e.code).toBe('BROKER_RATE_LIMITED');
    expect(e.status).toBe(429);
    expect(e.headers?.['retry-after']).toBe('1');
    expect(h.fake.callsTo('GET', '/v2/account')).toHaveLength(3);
  });

  it('500 on a read → retried, then BROKER_UNAVAILABLE when it persists', async () => {
    const h = await harness();
    h.fake.failNext('GET', '/v2/positions', [{ status: 500 }]);
    await expect(h.broker.positions()).resolves.toEqual([]);
    expect(h.retries.map((r) => r.reason)).toEqual(['HTTP 500']);
    h.fake.failNext('GET', '/v2/positions', [1, 2, 3, 4].map(() => ({ status: 500 })));
    const e = await rejection(h.broker.positions());
    expect(e.code).toBe('BROKER_UNAVAILABLE');
    expect(e.status).toBe(503);
  });

  it('refused keys on REST → BROKER_AUTH_FAILED', async () => {
    const h = await harness({}, { secretKey: 'wrong' }, false);
    const e = await rejection(h.broker.rest.getAccount());
    expect(e.code).toBe('BROKER_AUTH_FAILED');
    expect(detail(e, 'broker.message')).toBe('forbidden.');
  });
});

describe('alpacaErrorCode', () => {
  it('maps each documented answer, deciding 403s by the message (40310000 is overloaded)', () => {
    const cases: [number, string, string][] = [
      [403, '{"code":40310000,"message":"insufficient buying power","buying_power":"10"}', 'INSUFFICIENT_BUYING_POWER'],
      [403, '{"code":40310000,"message":"insufficient day trading buying power"}', 'INSUFFICIENT_BUYING_POWER'],
      [403, '{"code":40310000,"message":"order parameters are not changed"}', 'BROKER_REJECTED'],
      [403, '{"message":"forbidden."}', 'BROKER_AUTH_FAILED'],
      [401, '{"message":"unauthorized."}', 'BROKER_AUTH_FAILED'],
      [400, '{"code":40010000,"message":"request body format is invalid"}', 'BROKER_REJECTED'],
      [422, '{"code":40010001,"message":"client_order_id must be unique"}', 'BROKER_REJECTED'],
      [404, '{"code":40410000,"message":"order not found"}', 'NOT_FOUND'],
      [429, '{"code":42910000,"message":"rate limit exceeded"}', 'BROKER_RATE_LIMITED'],
      [502, '<html>bad gateway</html>', 'BROKER_UNAVAILABLE'],
      [0, '', 'BROKER_UNAVAILABLE'],
    ];
    expect(cases.map(([status, body]) => alpacaErrorCode(status, parseAlpacaErrorBody(body)))).toEqual(cases.map(([, , code]) => code));
    expect(parseAlpacaErrorBody('<html>bad gateway</html>')).toEqual({ code: null, message: '<html>bad gateway</html>' });
  });
});

describe('AlpacaBroker: rate limit', () => {
  it('waits for the quota reset when X-RateLimit-Remaining reaches 0 instead of collecting 429s', async () => {
    const h = await harness({ rateLimit: { limit: 3, windowMs: 1_000 } }, {}, false);
    for (let i = 0; i < 5; i++) await h.broker.rest.getAccount();
    const statuses = h.fake.callsTo('GET', '/v2/account').map((c) => c.status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(h.broker.rest.rateLimit.limit).toBe(3);
  });
});

describe('AlpacaBroker: retries never duplicate an order', () => {
  it('429 on submit is retried after Retry-After; exactly one order exists', async () => {
    const h = await harness();
    h.fake.failNext('POST', '/v2/orders', [FakeAlpacaTradingServer.rateLimited(1, 0)]);
    const o = order({ qty: 5 });
    const placed = await h.broker.submit(o);
    expect(placed.id).toBe(o.id);
    expect(h.fake.callsTo('POST', '/v2/orders').map((c) => c.status)).toEqual([429, 200]);
    // The wait came from the Retry-After header (1 s), not from the 10 ms backoff.
    expect(h.retries).toEqual([expect.objectContaining({ reason: 'HTTP 429', delayMs: 1_000, target: 'POST /v2/orders' })]);
    expect([...h.fake.orders.values()].filter((x) => x.client_order_id === o.clientOrderId)).toHaveLength(1);
  });

  it('a submit whose answer is lost (500 after Alpaca created the order) is retried and returns that order, not a second one', async () => {
    const h = await harness();
    h.fake.failNext('POST', '/v2/orders', [{ status: 500, afterHandling: true }]);
    const o = order({ qty: 7 });
    const placed = await h.broker.submit(o);
    expect(placed.id).toBe(o.id);
    expect(h.fake.callsTo('POST', '/v2/orders').map((c) => c.status)).toEqual([500, 422]);
    expect(h.fake.callsTo('GET', '/v2/orders:by_client_order_id')).toHaveLength(1);
    expect(h.fake.orders.size).toBe(1);
    // And the order works: its fill comes through once.
    h.fake.fill(alpacaOrder(h, o).id, 7, 190);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'filled'), 'filled');
    expect(h.fills().map((f) => f.qty)).toEqual([7]);
  });

  it('a cancel whose answer is lost counts as done when the retry finds the order cancelled', async () => {
    const h = await harness();
    const o = order();
    await h.broker.submit(o);
    h.fake.failNext('DELETE', '/v2/orders/*', [{ status: 503, afterHandling: true }]);
    await h.broker.cancel(o.id);
    expect(h.fake.callsTo('DELETE', '/v2/orders/*').map((c) => c.status)).toEqual([503, 422]);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'cancelled'), 'cancelled');
  });
});

describe('AlpacaBroker: unanswered submits', () => {
  it('never reached Alpaca: BROKER_UNAVAILABLE, then reported rejected once Alpaca says it does not know the client_order_id', async () => {
    const h = await harness({}, { unknownSubmitCheckMs: 50 });
    h.fake.failNext('POST', '/v2/orders', [1, 2, 3, 4].map(() => ({ status: 0, hangUp: true })));
    const o = order();
    const e = await rejection(h.broker.submit(o));
    expect(e.code).toBe('BROKER_UNAVAILABLE');
    await h.fake.waitFor(() => h.events(o.id).some((ev) => ev.status === 'rejected'), 'rejected after the check');
    expect(h.events(o.id).at(-1)).toMatchObject({ status: 'rejected', code: 'BROKER_UNAVAILABLE' });
    expect(h.fake.orders.size).toBe(0);
  });

  it('created by an attempt whose answer was lost: BROKER_UNAVAILABLE to the caller, then the order is reported and works', async () => {
    // Not listening yet, so only the client_order_id check can learn about the order.
    const h = await harness({}, { unknownSubmitCheckMs: 50 }, false);
    h.fake.failNext('POST', '/v2/orders', [{ status: 0, hangUp: true, afterHandling: true }, ...[1, 2, 3].map(() => ({ status: 0, hangUp: true }))]);
    const o = order({ qty: 4 });
    expect((await rejection(h.broker.submit(o))).code).toBe('BROKER_UNAVAILABLE');
    expect(h.fake.orders.size).toBe(1);
    await h.fake.waitFor(() => h.events(o.id).some((ev) => ev.status === 'accepted'), 'accepted after all');
    expect(h.events(o.id).at(-1)!.reason).toMatch(/unanswered submit/);
    expect(h.fake.callsTo('GET', '/v2/orders:by_client_order_id')).toHaveLength(1);
    await h.broker.start();
    h.fake.fill(alpacaOrder(h, o).id, 4, 190);
    await h.fake.waitFor(() => h.events(o.id).some((ev) => ev.status === 'filled'), 'filled');
    expect(h.fills().map((f) => f.qty)).toEqual([4]);
  });
});

describe('AlpacaBroker: trade_updates stream', () => {
  it('reconnects (re-auth, re-listen) and delivers a fill made during the gap exactly once, even when it is also resent', async () => {
    const h = await harness();
    const o = order({ qty: 100 });
    await h.broker.submit(o);
    const a = alpacaOrder(h, o);
    h.fake.fill(a.id, 25, 190);
    await h.fake.waitFor(() => h.fills().length === 1, 'first fill');
    // The connection drops and the next two attempts are refused: fills happen while nobody listens.
    h.fake.refuseStream(2);
    h.fake.dropConnections();
    await h.fake.waitFor(() => h.fake.listening.length === 0, 'disconnected');
    h.fake.fill(a.id, 35, 190.1);
    h.fake.fill(a.id, 40, 190.2);
    expect(h.fake.updates.slice(-2).map((u) => u.delivered)).toEqual([false, false]);
    await h.fake.waitFor(() => h.fake.listening.length === 1 && h.broker.stats().reconciliations === 1 && h.events(o.id).some((e) => e.status === 'filled'), 'reconnected and reconciled');
    expect(h.fake.received.filter((m) => m['action'] === 'authenticate')).toHaveLength(2);
    expect(h.fake.received.filter((m) => m['action'] === 'listen')).toHaveLength(2);
    expect(h.fake.callsTo('GET', '/v2/account/activities/FILL')).toHaveLength(1);
    // The missed executions arrive once, with their own prices, in order, before `filled`.
    expect(h.fills().map((f) => [f.id, f.qty, f.price])).toEqual([
      [`${o.id}-f25`, 25, 190],
      [`${o.id}-f60`, 35, 190.1],
      [`${o.id}-f100`, 40, 190.2],
    ]);
    // Reconciliation reads back from before the last known fill (clock-skew margin): the 25 it meets again is not re-delivered.
    expect(h.broker.stats()).toMatchObject({ reconciledFills: 2, duplicateFills: 1 });
    // A late copy of a gap fill's update (same execution) is not delivered again.
    const late = h.fake.updates.at(-1)!.data;
    h.fake.sendRaw(JSON.stringify({ stream: 'trade_updates', data: late }), true);
    // A different execution id reporting an already delivered cumulative quantity is not delivered either.
    h.fake.sendRaw(JSON.stringify({ stream: 'trade_updates', data: { ...late, execution_id: 'other-id' } }));
    await h.fake.waitFor(() => h.broker.stats().duplicateFills === 3, 'duplicates counted');
    expect(h.fills()).toHaveLength(3);
    expect(h.broker.stats().stream).toMatchObject({ state: 'listening', reconnects: 1 });
  });

  it('reconciliation reports an order cancelled while disconnected', async () => {
    const h = await harness();
    const o = order();
    await h.broker.submit(o);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'accepted'), 'accepted');
    h.fake.refuseStream(1);
    h.fake.dropConnections();
    await h.fake.waitFor(() => h.fake.listening.length === 0, 'disconnected');
    h.fake.expire(alpacaOrder(h, o).id);
    await h.fake.waitFor(() => h.events(o.id).some((e) => e.status === 'expired'), 'expired after reconciliation');
    expect(h.events(o.id).at(-1)!.reason).toMatch(/reconciled/);
    // One listing, not one request per order (200 requests a minute per account).
    expect(h.fake.callsTo('GET', '/v2/orders').map((c) => c.query.get('status'))).toEqual(['all']);
    expect(h.fake.callsTo('GET', '/v2/orders/*')).toHaveLength(0);
  });

  it('counts malformed messages and keeps going; text frames work as well as binary', async () => {
    const h = await harness({ binaryFrames: false });
    h.fake.sendRaw('not json');
    h.fake.sendRaw(JSON.stringify({ stream: 'trade_updates', data: { event: 'fill' } }));
    const o = order({ qty: 3 });
    await h.broker.submit(o);
    h.fake.fill(alpacaOrder(h, o).id, 3, 190);
    await h.fake.waitFor(() => h.fills().length === 1, 'fill after garbage');
    expect(h.broker.stats().stream.malformed).toEqual({ not_json: 1, bad_trade_update: 1 });
  });

  it('refused keys: start() rejects with AlpacaAuthError and the stream does not retry', async () => {
    const h = await harness({}, { secretKey: 'wrong' }, false);
    const err = await h.broker.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlpacaAuthError);
    expect((err as Error).message).toMatch(/ALPACA_TRADING_KEY_ID/);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.sessions).toHaveLength(1);
    expect(h.broker.stats().stream.state).toBe('failed');
  });
});

describe('AlpacaBroker: restart', () => {
  it('resumes the core\'s open orders: fills made while the process was down come once, at their prices, ids continuing', async () => {
    const h = await harness();
    const o = order({ qty: 100 });
    await h.broker.submit(o);
    h.fake.fill(alpacaOrder(h, o).id, 30, 190);
    await h.fake.waitFor(() => h.fills().length === 1, 'first fill');
    const before = h.events(o.id).at(-1)!.order; // what the core persisted
    await h.broker.stop(); // the process dies
    h.fake.fill(alpacaOrder(h, o).id, 20, 190.3); // while down
    const updates: BrokerUpdate[] = [];
    const again = new AlpacaBroker({ keyId: FAKE_TRADING_KEY, secretKey: FAKE_TRADING_SECRET, baseUrl: h.fake.baseUrl, streamUrl: h.fake.streamUrl, accountId: 'acc-1', stream: { backoff: { initialMs: 20 } } });
    // Stopped before the fake closes (afterEach goes in order); the fake is closed once, with the first harness.
    open.unshift({ ...h, broker: again, fake: { close: async () => {} } as unknown as FakeAlpacaTradingServer });
    again.onUpdate((u) => updates.push(u));
    await again.resume([before]);
    await again.start();
    const fills = () => updates.flatMap((u) => (u.type === 'fill' ? [u.fill] : []));
    expect(fills().map((f) => [f.id, f.qty, f.price])).toEqual([[`${o.id}-f50`, 20, 190.3]]);
    h.fake.fill(alpacaOrder(h, o).id, 50, 190.5);
    await h.fake.waitFor(() => fills().length === 2, 'fill after the restart');
    expect(fills()[1]).toMatchObject({ id: `${o.id}-f100`, qty: 50, price: 190.5 });
    const last = updates.flatMap((u) => (u.type === 'order' ? [u.event] : [])).at(-1)!;
    expect(last.order).toMatchObject({ status: 'filled', filledQty: 100 });
  });
});

describe('AlpacaBroker: live trading is never the default', () => {
  it('refuses the live endpoint without live: true, and live: true with the paper endpoint', () => {
    const base = { keyId: 'k', secretKey: 's', accountId: 'a' };
    expect(() => new AlpacaBroker({ ...base, baseUrl: 'https://api.alpaca.markets' })).toThrow(/live \(real money\).*live: true/);
    expect(() => new AlpacaBroker({ ...base, live: true })).toThrow(/needs the live endpoint/);
    expect(() => new AlpacaBroker({ ...base, live: true, baseUrl: 'https://api.alpaca.markets', streamUrl: 'wss://paper-api.alpaca.markets/stream' })).toThrow(/needs the live endpoint/);
    expect(new AlpacaBroker(base).live).toBe(false);
    expect(new AlpacaBroker({ ...base, live: true, baseUrl: 'https://api.alpaca.markets' }).stream.url).toBe('wss://api.alpaca.markets/stream');
    expect(new AlpacaBroker(base).stream.url).toBe('wss://paper-api.alpaca.markets/stream');
  });
});
