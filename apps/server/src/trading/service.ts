/**
 * What /api/trading does, owned per user exactly like alert rules: every read
 * and write names the caller's user id and the repository filters by it in SQL,
 * so another user's account, order or strategy is a 404 like a missing one.
 *
 * Writes that the trading core must decide (orders, cancels, replaces, resets,
 * kill-switch resets) are stored as commands first, then announced; the
 * request waits a bounded time for the core's stored outcome (see sync.ts).
 * Configuration (strategies, risk limits) is stored, then announced; the core's
 * process reconciles to it.
 */
import { randomUUID } from 'node:crypto';
import {
  AppError,
  ERRORS,
  type AccountState,
  type ErrorCode,
  type Order,
  type OrderReplace,
  type OrderRequest,
  type RiskLimits,
  type TradingAccount,
  type TradingAccountCreate,
  type TradingCommandAccepted,
  type TradingStrategy,
  type TradingStrategyCreate,
} from '@stock-tracker/protocol';
import { createStrategy } from '@stock-tracker/trading';
import type { TradingSettings } from '../config.ts';
import type { CommandKind, CommandRecord, StrategyRecord, TradingAccountRecord, TradingRepo } from '../storage/trading-repo.ts';
import type { TradingNotifier } from './sync.ts';

export const accountNotFound = (id: string, path = 'params.accountId') => new AppError('NOT_FOUND', `No trading account '${id}'.`, [{ path, issue: 'no such account' }]);
const orderNotFound = (id: string) => new AppError('NOT_FOUND', `No order '${id}'.`, [{ path: 'params.orderId', issue: 'no such order' }]);
const strategyNotFound = (id: string) => new AppError('NOT_FOUND', `No strategy '${id}'.`, [{ path: 'params.id', issue: 'no such strategy' }]);

/** The answer to an order command: the order (201 new / 200 replayed or changed) or 202 pending. */
export type OrderAnswer = { status: 200 | 201; order: Order } | { status: 202; pending: TradingCommandAccepted };

const isCode = (c: unknown): c is ErrorCode => typeof c === 'string' && Object.hasOwn(ERRORS, c);

/** Canonical JSON (sorted keys) to compare a replayed submit with the first one. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function toTradingAccount(rec: TradingAccountRecord, state: AccountState | null): TradingAccount {
  return {
    id: rec.id,
    name: rec.name,
    market: rec.market === 'US' ? 'US' : 'VN',
    startingCash: rec.startingCash,
    riskLimits: rec.riskLimits as RiskLimits,
    broker: rec.broker === 'alpaca' ? 'alpaca' : 'paper',
    generation: rec.generation,
    createdAt: rec.createdAt,
    state,
  };
}

export function toTradingStrategy(s: StrategyRecord): TradingStrategy {
  return { id: s.id, accountId: s.accountId, strategy: s.name, params: s.params as Record<string, number>, symbols: s.symbols, state: s.state, createdAt: s.createdAt, updatedAt: s.updatedAt };
}

export class TradingService {
  constructor(
    readonly repo: TradingRepo,
    private readonly notifier: TradingNotifier,
    private readonly settings: TradingSettings,
    /** Brokers besides paper this deployment can run (alpaca: ALPACA_TRADING_* keys configured where the core runs). */
    private readonly brokers: { alpaca: boolean } = { alpaca: false },
  ) {}

  // ---------- accounts ----------

  async createAccount(userId: string, body: TradingAccountCreate): Promise<TradingAccount> {
    const broker = body.broker ?? 'paper';
    if (broker === 'alpaca') {
      if (!this.brokers.alpaca) {
        throw new AppError('BROKER_NOT_CONFIGURED', 'Alpaca accounts need the Alpaca Trading API keys (ALPACA_TRADING_KEY_ID, ALPACA_TRADING_SECRET_KEY) on the server.', [
          { path: 'body.broker', issue: 'alpaca is not configured on this server' },
        ]);
      }
      if (body.market !== undefined && body.market !== 'US') throw new AppError('VALIDATION_FAILED', 'Alpaca trades US equities only.', [{ path: 'body.market', issue: "must be 'US' with broker 'alpaca'" }]);
    }
    const market = body.market ?? (broker === 'alpaca' ? 'US' : 'VN');
    const rec = await this.repo.accounts.create(
      userId,
      { name: body.name, market, startingCash: body.startingCash ?? (market === 'US' ? this.settings.startingCashUs : this.settings.startingCashVn), riskLimits: body.riskLimits ?? {}, broker },
      this.settings.maxAccounts,
    );
    this.notifier.announce(rec.id);
    return toTradingAccount(rec, null);
  }

  async listAccounts(userId: string): Promise<TradingAccount[]> {
    const recs = await this.repo.accounts.list(userId);
    return Promise.all(recs.map(async (r) => toTradingAccount(r, await this.state(userId, r.id))));
  }

  async account(userId: string, accountId: string): Promise<TradingAccount> {
    const rec = await this.owned(userId, accountId);
    return toTradingAccount(rec, await this.state(userId, accountId));
  }

  async removeAccount(userId: string, accountId: string): Promise<void> {
    if (!(await this.repo.accounts.remove(userId, accountId))) throw accountNotFound(accountId);
    this.notifier.announce(accountId);
  }

  /** Back to the starting cash, no orders, fills or positions (the core decides when: a command). */
  async resetAccount(userId: string, accountId: string): Promise<{ status: 200; account: TradingAccount } | { status: 202; pending: TradingCommandAccepted }> {
    await this.owned(userId, accountId);
    const cmd = await this.command(userId, accountId, 'reset', {});
    if (cmd.status === 'pending') return { status: 202, pending: { commandId: cmd.id, status: 'pending', clientOrderId: null } };
    return { status: 200, account: await this.account(userId, accountId) };
  }

  /** The account as of its last stored event. */
  async state(userId: string, accountId: string): Promise<AccountState | null> {
    const snap = await this.repo.snapshots.get(userId, accountId);
    return snap ? (snap.portfolio as unknown as AccountState) : null;
  }

  async owned(userId: string, accountId: string): Promise<TradingAccountRecord> {
    const rec = await this.repo.accounts.get(userId, accountId);
    if (!rec) throw accountNotFound(accountId);
    return rec;
  }

  // ---------- orders ----------

  async submit(userId: string, accountId: string, req: OrderRequest): Promise<OrderAnswer> {
    await this.owned(userId, accountId);
    const clientOrderId = req.clientOrderId ?? `m-${randomUUID()}`;
    const order = { ...req, clientOrderId };
    if (req.clientOrderId !== undefined) {
      const seen = await this.repo.commands.byClientKey(userId, accountId, req.clientOrderId);
      if (seen) return this.replayed(userId, accountId, seen, order);
    }
    const { command, created } = await this.repo.commands.enqueue(userId, accountId, 'submit', { order }, clientOrderId, this.settings.maxOpenOrders);
    if (!created) return this.replayed(userId, accountId, command, order);
    this.notifier.announce(accountId);
    await this.notifier.waitSettled(userId, command.id, this.settings.commandWaitMs);
    return this.outcome(userId, accountId, command.id, 201);
  }

  /** A submit with a key already used: the first order (200), or CONFLICT when the request differs. */
  private async replayed(userId: string, accountId: string, first: CommandRecord, order: OrderRequest): Promise<OrderAnswer> {
    if (canonical((first.payload as { order?: unknown }).order) !== canonical(order)) {
      throw new AppError('CONFLICT', `clientOrderId '${order.clientOrderId}' was already used for a different order.`, [{ path: 'body.clientOrderId', issue: 'already used with other order fields' }]);
    }
    if (first.status === 'pending') await this.notifier.waitSettled(userId, first.id, this.settings.commandWaitMs);
    return this.outcome(userId, accountId, first.id, 200);
  }

  /** What became of a stored order command. A refusal is an error with the core's catalogue code. */
  private async outcome(userId: string, accountId: string, commandId: string, okStatus: 200 | 201): Promise<OrderAnswer> {
    const cmd = await this.repo.commands.get(userId, commandId);
    if (!cmd) throw accountNotFound(accountId); // the account (and its commands) was removed meanwhile
    const clientOrderId = typeof cmd.payload.order === 'object' && cmd.payload.order ? String((cmd.payload.order as { clientOrderId?: string }).clientOrderId ?? '') : null;
    if (cmd.status === 'pending') return { status: 202, pending: { commandId: cmd.id, status: 'pending', clientOrderId: clientOrderId || null } };
    const r = cmd.result ?? {};
    if (cmd.status === 'rejected') {
      const code = isCode(r.code) ? r.code : 'ORDER_INVALID';
      const details = [{ path: 'body', issue: String(r.reason ?? code) }];
      if (typeof r.orderId === 'string') details.push({ path: 'orderId', issue: r.orderId });
      throw new AppError(code, String(r.reason ?? ERRORS[code].message), details);
    }
    const orderId = typeof r.orderId === 'string' ? r.orderId : null;
    const rec = orderId ? await this.repo.orders.get(userId, accountId, orderId) : clientOrderId ? await this.repo.orders.byClientOrderId(userId, accountId, clientOrderId) : undefined;
    if (!rec) return { status: 202, pending: { commandId: cmd.id, status: 'pending', clientOrderId: clientOrderId || null } };
    return { status: okStatus, order: rec.data as unknown as Order };
  }

  async cancel(userId: string, accountId: string, orderId: string): Promise<OrderAnswer> {
    await this.ownedOrder(userId, accountId, orderId);
    const cmd = await this.command(userId, accountId, 'cancel', { orderId });
    return this.outcome(userId, accountId, cmd.id, 200);
  }

  async replace(userId: string, accountId: string, orderId: string, changes: OrderReplace): Promise<OrderAnswer> {
    if (Object.keys(changes).length === 0) throw new AppError('VALIDATION_FAILED', 'Nothing to change.', [{ path: 'body', issue: 'name at least one of qty, limitPrice, stopPrice, tif' }]);
    await this.ownedOrder(userId, accountId, orderId);
    const cmd = await this.command(userId, accountId, 'replace', { orderId, changes });
    return this.outcome(userId, accountId, cmd.id, 200);
  }

  async order(userId: string, accountId: string, orderId: string): Promise<Order> {
    return (await this.ownedOrder(userId, accountId, orderId)).data as unknown as Order;
  }

  private async ownedOrder(userId: string, accountId: string, orderId: string) {
    await this.owned(userId, accountId);
    const rec = (await this.repo.orders.get(userId, accountId, orderId)) ?? (await this.repo.orders.byClientOrderId(userId, accountId, orderId));
    if (!rec) throw orderNotFound(orderId);
    return rec;
  }

  /** Stores, announces and waits for a command without an idempotency key. */
  private async command(userId: string, accountId: string, kind: CommandKind, payload: Record<string, unknown>): Promise<CommandRecord> {
    const { command } = await this.repo.commands.enqueue(userId, accountId, kind, payload);
    this.notifier.announce(accountId);
    await this.notifier.waitSettled(userId, command.id, this.settings.commandWaitMs);
    return (await this.repo.commands.get(userId, command.id)) ?? command;
  }

  // ---------- risk ----------

  async risk(userId: string, accountId: string) {
    const rec = await this.owned(userId, accountId);
    const state = await this.state(userId, accountId);
    return { accountId, limits: rec.riskLimits as RiskLimits, killSwitch: state?.killSwitch ?? null };
  }

  async setRisk(userId: string, accountId: string, limits: RiskLimits) {
    const rec = await this.repo.accounts.setRiskLimits(userId, accountId, limits as Record<string, unknown>);
    if (!rec) throw accountNotFound(accountId);
    this.notifier.announce(accountId);
    return this.risk(userId, accountId);
  }

  /** Manual kill-switch reset (a command: the core decides). */
  async resetRisk(userId: string, accountId: string) {
    await this.owned(userId, accountId);
    const cmd = await this.command(userId, accountId, 'risk_reset', {});
    if (cmd.status === 'rejected') throw new AppError('CONFLICT', String(cmd.result?.reason ?? 'not reset'));
    return this.risk(userId, accountId);
  }

  // ---------- strategies ----------

  async createStrategy(userId: string, body: TradingStrategyCreate): Promise<TradingStrategy> {
    try {
      // Validated by the core's own factory before anything is stored.
      createStrategy({ id: 'validation', strategy: body.strategy, params: body.params ?? {}, symbols: body.symbols });
    } catch (err) {
      throw new AppError('VALIDATION_FAILED', 'The strategy is not valid.', [{ path: 'body', issue: err instanceof Error ? err.message : String(err) }]);
    }
    const rec = await this.repo.strategies.create(userId, { accountId: body.accountId, name: body.strategy, params: body.params ?? {}, symbols: body.symbols }, this.settings.maxStrategies);
    return toTradingStrategy(rec);
  }

  async strategy(userId: string, id: string): Promise<TradingStrategy> {
    const rec = await this.repo.strategies.get(userId, id);
    if (!rec) throw strategyNotFound(id);
    return toTradingStrategy(rec);
  }

  async setStrategyState(userId: string, id: string, state: 'running' | 'stopped'): Promise<TradingStrategy> {
    const rec = await this.repo.strategies.setState(userId, id, state, state === 'stopped' ? 'stopped by the user' : undefined);
    if (!rec) throw strategyNotFound(id);
    this.notifier.announce(rec.accountId);
    return toTradingStrategy(rec);
  }

  async removeStrategy(userId: string, id: string): Promise<void> {
    const rec = await this.repo.strategies.get(userId, id);
    if (!rec || !(await this.repo.strategies.remove(userId, id))) throw strategyNotFound(id);
    this.notifier.announce(rec.accountId);
  }
}
