/**
 * The trading repository on both engines (PGlite and PostgreSQL): ownership in
 * SQL (another user's rows are not found), idempotent submits, exactly-once
 * fills, the reset generation guard, one running backtest per user.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '@stock-tracker/protocol';
import { createRepositories } from '../src/storage/repositories.ts';
import { createTradingRepo, type FillRecord, type OrderRecord, type PersistBatch, type TradingRepo } from '../src/storage/trading-repo.ts';
import { openTestStorage, STORAGE_KINDS, type TestStorage } from '../../../test/helpers/storage.ts';

const fill = (accountId: string, userId: string, n: number, ts: number): FillRecord => ({
  id: `${accountId}-o1-f${n}`,
  userId,
  accountId,
  orderId: `${accountId}-o1`,
  symbol: 'FPT',
  side: 'buy',
  qty: 100,
  price: 120_000 + n,
  fee: 18,
  tax: 0,
  ts,
  data: { id: `${accountId}-o1-f${n}`, ts },
});

const order = (accountId: string, userId: string, status: string, ts: number): OrderRecord => ({
  id: `${accountId}-o1`,
  userId,
  accountId,
  clientOrderId: 'key-1',
  commandId: null,
  strategyId: null,
  symbol: 'FPT',
  side: 'buy',
  type: 'market',
  status,
  open: status !== 'filled',
  qty: 200,
  filledQty: status === 'filled' ? 200 : 100,
  ts,
  updatedTs: ts,
  data: { id: `${accountId}-o1`, status },
});

function batch(accountId: string, userId: string, generation: number, fills: FillRecord[], orders: OrderRecord[], ts: number, commands: PersistBatch['commands'] = []): PersistBatch {
  return { accountId, userId, generation, orders, fills, equity: [{ ts: ts - (ts % 60_000), equity: 1e9, cash: 1e9 - 1 }], commands, snapshot: { ts, fills: 0, core: { version: 1, ts }, portfolio: { ts, cash: 1 } } };
}

describe.each(STORAGE_KINDS)('trading repository on %s', (kind) => {
  let storage: TestStorage;
  let repo: TradingRepo;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    storage = await openTestStorage(kind);
    repo = createTradingRepo(storage.db);
    const users = createRepositories(storage.db).users;
    alice = (await users.create({ username: `alice-${randomUUID()}` })).id;
    bob = (await users.create({ username: `bob-${randomUUID()}` })).id;
  }, 60_000);
  afterAll(() => storage?.cleanup());

  it('keeps accounts, orders, fills and strategies to their owner', async () => {
    const acc = await repo.accounts.create(alice, { name: 'paper', market: 'VN', startingCash: 1e9 });
    expect(await repo.accounts.get(bob, acc.id)).toBeUndefined();
    expect(await repo.accounts.list(bob)).toEqual([]);
    expect((await repo.accounts.list(alice)).map((a) => a.id)).toEqual([acc.id]);
    expect(await repo.accounts.remove(bob, acc.id)).toBe(false);
    expect(await repo.accounts.setRiskLimits(bob, acc.id, { maxOrderValue: 1 })).toBeUndefined();
    // Bob cannot queue a command on Alice's account, nor attach a strategy to it.
    await expect(repo.commands.enqueue(bob, acc.id, 'submit', {}, 'k')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(repo.strategies.create(bob, { accountId: acc.id, name: 'sma-cross', params: {}, symbols: ['FPT'] })).rejects.toBeInstanceOf(AppError);

    expect(await repo.persist(batch(acc.id, alice, acc.generation, [fill(acc.id, alice, 1, 1_000)], [order(acc.id, alice, 'partially_filled', 1_000)], 1_000))).toBe(true);
    expect((await repo.orders.list(alice, acc.id, { limit: 10 })).items).toHaveLength(1);
    expect((await repo.orders.list(bob, acc.id, { limit: 10 })).items).toEqual([]);
    expect(await repo.orders.get(bob, acc.id, `${acc.id}-o1`)).toBeUndefined();
    expect((await repo.fills.list(bob, acc.id, { limit: 10 })).items).toEqual([]);
    expect(await repo.snapshots.get(bob, acc.id)).toBeUndefined();
    expect(await repo.equity.list(bob, acc.id, { limit: 10 })).toEqual([]);

    const strat = await repo.strategies.create(alice, { accountId: acc.id, name: 'sma-cross', params: { fast: 5, slow: 20 }, symbols: ['FPT'] });
    expect(await repo.strategies.get(bob, strat.id)).toBeUndefined();
    expect(await repo.strategies.setState(bob, strat.id, 'running')).toBeUndefined();
    expect(await repo.strategies.remove(bob, strat.id)).toBe(false);
    expect((await repo.strategies.setState(alice, strat.id, 'running'))?.state).toBe('running');
    expect((await repo.strategies.running(acc.id)).map((s) => s.id)).toEqual([strat.id]);
    expect((await repo.strategies.setState(alice, strat.id, 'stopped'))?.state).toBe('stopped');
    const runs = await repo.strategies.runs(alice, strat.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.stoppedAt).not.toBeNull();
    expect(await repo.strategies.runs(bob, strat.id)).toEqual([]);
  });

  it('stores a submit once per idempotency key', async () => {
    const acc = await repo.accounts.create(alice, { name: 'idem', market: 'VN', startingCash: 1e9 });
    const first = await repo.commands.enqueue(alice, acc.id, 'submit', { order: { symbol: 'FPT', qty: 100 } }, 'abc');
    const again = await repo.commands.enqueue(alice, acc.id, 'submit', { order: { symbol: 'FPT', qty: 100 } }, 'abc');
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.command.id).toBe(first.command.id);
    // The same key on another account is another order.
    const other = await repo.accounts.create(alice, { name: 'idem2', market: 'VN', startingCash: 1e9 });
    expect((await repo.commands.enqueue(alice, other.id, 'submit', {}, 'abc')).created).toBe(true);
    expect((await repo.commands.pending(acc.id)).map((c) => c.id)).toEqual([first.command.id]);
    expect(await repo.orders.countOpen(alice)).toBeGreaterThanOrEqual(2);
  });

  it('writes each fill exactly once and settles commands with the snapshot', async () => {
    const acc = await repo.accounts.create(alice, { name: 'once', market: 'VN', startingCash: 1e9 });
    const { command } = await repo.commands.enqueue(alice, acc.id, 'submit', { order: {} }, 'once-1');
    const f1 = fill(acc.id, alice, 1, 2_000);
    const b1 = batch(acc.id, alice, 1, [f1], [order(acc.id, alice, 'partially_filled', 2_000)], 2_000, [{ id: command.id, status: 'applied', result: { ok: true } }]);
    expect(await repo.persist(b1)).toBe(true);
    // A retried write or a new leader reproducing the same events adds nothing.
    expect(await repo.persist(b1)).toBe(true);
    const f2 = fill(acc.id, alice, 2, 3_000);
    expect(await repo.persist(batch(acc.id, alice, 1, [f1, f2], [order(acc.id, alice, 'filled', 3_000)], 3_000))).toBe(true);
    const fills = await repo.fills.all(alice, acc.id);
    expect(fills.map((f) => f.id)).toEqual([f1.id, f2.id]);
    expect(fills[1]).toMatchObject({ qty: 100, price: 120_002, ts: 3_000 });
    const o = await repo.orders.get(alice, acc.id, `${acc.id}-o1`);
    expect(o).toMatchObject({ status: 'filled', open: false, filledQty: 200 });
    const snap = await repo.snapshots.get(alice, acc.id);
    expect(snap).toMatchObject({ ts: 3_000, fills: 2, generation: 1 });
    // An older snapshot (a deposed leader's late write) never replaces a newer one.
    await repo.persist(batch(acc.id, alice, 1, [], [], 2_500));
    expect((await repo.snapshots.get(alice, acc.id))?.ts).toBe(3_000);
    expect((await repo.commands.get(alice, command.id))?.status).toBe('applied');
    expect(await repo.commands.pending(acc.id)).toEqual([]);

    // Pagination: newest first, no overlap.
    const p1 = await repo.fills.list(alice, acc.id, { limit: 1 });
    expect(p1.items.map((f) => f.id)).toEqual([f2.id]);
    const p2 = await repo.fills.list(alice, acc.id, { limit: 1, before: p1.next! });
    expect(p2.items.map((f) => f.id)).toEqual([f1.id]);
    expect(p2.next).toBeNull();
  });

  it('a reset starts a new generation and drops the old core\'s late batches', async () => {
    const acc = await repo.accounts.create(alice, { name: 'reset', market: 'VN', startingCash: 1e9 });
    await repo.persist(batch(acc.id, alice, 1, [fill(acc.id, alice, 1, 5_000)], [], 5_000));
    const g = await repo.transaction((tx) => repo.accounts.resetInTx(tx, acc.id));
    expect(g).toBe(2);
    expect(await repo.fills.all(alice, acc.id)).toEqual([]);
    expect(await repo.snapshots.get(alice, acc.id)).toBeUndefined();
    const { command } = await repo.commands.enqueue(alice, acc.id, 'submit', {}, 'late');
    expect(await repo.persist(batch(acc.id, alice, 1, [fill(acc.id, alice, 9, 6_000)], [], 6_000, [{ id: command.id, status: 'applied', result: {} }]))).toBe(false);
    expect(await repo.fills.all(alice, acc.id)).toEqual([]);
    expect((await repo.commands.get(alice, command.id))?.status).toBe('rejected');
  });

  it('never overshoots a quota, even with concurrent creations', async () => {
    const users = createRepositories(storage.db).users;
    const carol = (await users.create({ username: `carol-${randomUUID()}` })).id;
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => repo.accounts.create(carol, { name: `a${i}`, market: 'VN', startingCash: 1 }, 3)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['QUOTA_EXCEEDED', 'QUOTA_EXCEEDED', 'QUOTA_EXCEEDED']);
    expect(await repo.accounts.count(carol)).toBe(3);
    const acc = (await repo.accounts.list(carol))[0]!;
    const orders = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => repo.commands.enqueue(carol, acc.id, 'submit', {}, `q${i}`, 2)));
    expect(orders.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(await repo.orders.countOpen(carol)).toBe(2);
  });

  it('runs one backtest per user at a time', async () => {
    const b = await repo.backtests.start(alice, { tape: 't' }, 60_000);
    await expect(repo.backtests.start(alice, { tape: 't' }, 60_000)).rejects.toMatchObject({ code: 'CONFLICT' });
    const other = await repo.backtests.start(bob, { tape: 't' }, 60_000); // another user is not blocked
    await repo.backtests.finish(b.id, { result: { summary: { trades: 1 } } });
    await repo.backtests.finish(other.id, { error: 'boom' });
    const again = await repo.backtests.start(alice, { tape: 'u' }, 60_000);
    await repo.backtests.finish(again.id, { error: 'x' });
    expect((await repo.backtests.get(alice, b.id))).toMatchObject({ status: 'done', result: { summary: { trades: 1 } } });
    expect(await repo.backtests.get(bob, b.id)).toBeUndefined();
    const page = await repo.backtests.list(alice, { limit: 1 });
    expect(page.items.map((x) => x.id)).toEqual([again.id]);
    expect((await repo.backtests.list(alice, { limit: 5, before: page.next! })).items.map((x) => x.id)).toEqual([b.id]);
  });
});
