/**
 * TradingRunner: the one place that runs the trading cores (docs/trading.md,
 * "Where it runs"). Embedded (`all`) it lives in the server process; scaled
 * out it lives in the collector leader, behind the leader lock. Nothing else
 * decides a fill.
 *
 * - Market data: every engine output the pipeline hands to the storage writer
 *   (accepted exactly once, in order) goes through one TradingHub, which hands
 *   each output only to the cores it can affect (same decisions and fills as
 *   delivering everything, tested in the core package), as backtests do.
 *   A restored core joins the hub only once the feed is past the time of its
 *   snapshot (its horizon, see AccountSlot.horizon).
 * - Broker accounts (`broker: 'alpaca'`): the core runs in 'external'
 *   execution; its orders go to the AlpacaBroker and the broker's order
 *   updates and fills come back through core.applyBrokerUpdate. Only this
 *   process (embedded, or the collector leader) talks to Alpaca.
 * - Commands (orders, cancels, replaces, resets, kill-switch resets) are read
 *   from storage (`trading_commands`, stored by whoever accepted the request),
 *   in the order they were accepted; an announcement only says "look now".
 *   Strategies and risk limits are configuration in storage, reconciled into
 *   the cores the same way alert rules are.
 * - Exactly once: what a core emitted is written per account in one
 *   transaction — orders, fills (keyed by the core's fill id), the core's
 *   snapshot containing them and the commands whose effect they are
 *   (TradingRepo.persist) — and only then published on the bus. A process that
 *   dies before the write loses work nobody saw; its successor restores each
 *   core from the stored snapshot (TradingCore.restore) before it sees market
 *   data, and applies the still-pending commands again.
 */
import type { EngineOutput, Order, OrderReplace, QuoteState, RiskLimits, StrategyConfig, SymbolRef, TradingEvent, TradingStreamEvent } from '@stock-tracker/protocol';
import { isFinalOrderStatus, tradingPortfolioKey, tradingUserKey } from '@stock-tracker/protocol';
import { AppError } from '@stock-tracker/protocol';
import { TradingCore, TradingHub, createStrategy, type BrokerUpdate, type OrderResult, type Strategy, type TradingCoreOptions, type TradingSnapshot } from '@stock-tracker/trading';
import { AlpacaBroker, isDuplicateClientOrderId } from '@stock-tracker/trading/alpaca';
import type { AlpacaTradingSettings } from '../config.ts';
import type { StreamPublisher } from '../bus/types.ts';
import type { CommandRecord, EquityPoint, FillRecord, OrderRecord, PersistBatch, StrategyRecord, TradingAccountRecord, TradingRepo } from '../storage/trading-repo.ts';

export interface RunnerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface TradingRunnerOptions {
  repo: TradingRepo;
  /** Where orders, fills and account states are published (/ws/trading); null publishes nothing. */
  publisher: () => StreamPublisher | null;
  log?: RunnerLogger;
  /** Coalesces writes: a burst of fills is one transaction per account. Default 50 ms. */
  flushDelayMs?: number;
  /**
   * The engine's current state: a core created while the feed runs (a new or reset account) starts from the
   * current reference data and quotes, as if it had been there since the day began.
   */
  market?: () => { references(): SymbolRef[]; quotes(): QuoteState[] } | null;
  /** Called after a command's outcome is stored (the embedded server answers the waiting request). */
  onCommandSettled?: (commandId: string) => void;
  /** Alpaca Trading API settings (config.alpacaTrading): accounts with broker 'alpaca' need them; without, they are not run. */
  alpaca?: AlpacaTradingSettings | undefined;
  /** Options handed to every AlpacaBroker (tests: shorter backoffs). */
  alpacaOptions?: Partial<ConstructorParameters<typeof AlpacaBroker>[0]>;
}

interface AccountSlot {
  rec: TradingAccountRecord;
  core: TradingCore;
  /** JSON of the strategies and risk limits the core runs with, to apply only changes. */
  strategies: Map<string, string>;
  risk: string;
  orders: Map<string, Order>;
  fills: FillRecord[];
  equity: Map<number, EquityPoint>;
  commands: PersistBatch['commands'];
  events: TradingEvent[];
  dirty: boolean;
  /**
   * Event time the restored core had already seen: market outputs at or before
   * it were applied before the snapshot was taken, and a feed's catch-up after a
   * restart or takeover (the simulator regenerates the day so far) must not
   * apply them twice.
   */
  horizon: number;
  /** The account's broker when it is not the core's own fill model (broker 'alpaca'). */
  broker: AlpacaBroker | null;
  /** Set when the slot is replaced or removed: late broker updates for it are ignored. */
  detached: boolean;
  unsubscribe: (() => void) | null;
}

/** The cumulative quantity in an Alpaca fill id (`<orderId>-f<cumulative qty>`), NaN when not of that form. */
const fillCum = (id: string): number => {
  const m = /-f(\d+(?:\.\d+)?)$/.exec(id);
  return m ? Number(m[1]) : Number.NaN;
};

const errCode = (err: unknown): string => (err instanceof AppError ? err.code : 'BROKER_UNAVAILABLE');
const errReason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The market time an output describes (closed bars: their end), or null for outputs not bound to one. */
export function outputTime(out: EngineOutput): number | null {
  switch (out.type) {
    case 'trade':
      return out.trade.ts;
    case 'quote':
      return out.state.ts;
    case 'bar':
      return out.bar.closed ? out.bar.ts + 60_000 : out.bar.ts;
    case 'foreign':
      return out.state.ts;
    default:
      return null;
  }
}

const MAX_BUFFERED_FILLS = 100_000;

/** The core's event time (0 before its first event), as stored with its snapshot. */
const coreTime = (core: TradingCore): number => {
  const t = core.now();
  return Number.isFinite(t) ? Math.trunc(t) : 0;
};

/** Core options of an account; the same mapping the backtest command uses for its --cash/--fees (see docs/trading.md). */
export function coreOptions(rec: TradingAccountRecord): TradingCoreOptions {
  const opts: TradingCoreOptions = { accountId: rec.id, cash: rec.startingCash, riskLimits: rec.riskLimits as RiskLimits };
  // A broker account: the broker fills (applyBrokerUpdate), not the core's fill model.
  if (rec.broker === 'alpaca') opts.execution = 'external';
  return opts;
}

export function strategyConfig(s: StrategyRecord): StrategyConfig {
  return { id: s.id, strategy: s.name, params: s.params as Record<string, number>, symbols: s.symbols };
}

const orderRecord = (userId: string, accountId: string, o: Order, commandId: string | null): OrderRecord => ({
  id: o.id,
  userId,
  accountId,
  clientOrderId: o.clientOrderId,
  commandId,
  strategyId: o.strategyId,
  symbol: o.symbol,
  side: o.side,
  type: o.type,
  status: o.status,
  open: !isFinalOrderStatus(o.status),
  qty: o.qty,
  filledQty: o.filledQty,
  ts: o.createdTs,
  updatedTs: o.updatedTs,
  data: o as unknown as Record<string, unknown>,
});

export class TradingRunner {
  private readonly accounts = new Map<string, AccountSlot>();
  /** Accounts whose core could not be built (e.g. a snapshot this version cannot read): not run, their commands stay pending. */
  private readonly broken = new Map<string, string>();
  /** Commands applied in memory whose outcome is not stored yet: never applied twice. */
  private readonly inflight = new Set<string>();
  private readonly commandOf = new Map<string, string>();
  /** Every running core that has passed its horizon, on one feed. */
  private readonly hub = new TradingHub([], (core, events) => {
    const slot = this.slotOf.get(core);
    if (slot) this.collect(slot, events, null, true);
  });
  private readonly slotOf = new Map<TradingCore, AccountSlot>();
  /** Restored cores waiting for the feed to pass their horizon before they join the hub. */
  private readonly waiting = new Set<AccountSlot>();
  private chain: Promise<unknown> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  readonly counts = { market: 0, fills: 0, commands: 0, persisted: 0, persistFailures: 0, coreErrors: 0, dropped: 0, brokerUpdates: 0, duplicateBrokerFills: 0, brokerErrors: 0 };

  constructor(private readonly o: TradingRunnerOptions) {}

  /** Restores every account's core from storage, then applies pending commands. Call before market data flows. */
  async start(): Promise<void> {
    await this.serial(async () => {
      const accounts = await this.o.repo.accounts.listAll();
      for (const rec of accounts) await this.tryLoad(rec);
      this.started = true;
    });
    await this.reload();
  }

  /** Stops taking work and writes what is buffered (best effort). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.serial(() => this.flushNow());
    await Promise.all([...this.accounts.values()].map((s) => s.broker?.stop().catch(() => {})));
  }

  /** Account ids currently running (tests, metrics). */
  accountIds(): string[] {
    return [...this.accounts.keys()];
  }

  core(accountId: string): TradingCore | undefined {
    return this.accounts.get(accountId)?.core;
  }

  /** One engine output, through the hub to the cores it can affect, synchronously (in the pipeline's order). */
  onMarket(out: EngineOutput): void {
    if (!this.started || this.stopped) return;
    this.counts.market++;
    if (this.waiting.size > 0) {
      const t = outputTime(out);
      for (const slot of [...this.waiting]) {
        if (t !== null) {
          // The first output past the snapshot's time: from here on the core sees what the hub delivers.
          // (Outputs at or before it were applied before the snapshot: a catch-up replays them.)
          if (t > slot.horizon) {
            this.waiting.delete(slot);
            this.hub.cores.push(slot.core);
          }
          continue;
        }
        // Outputs bound to no time (reference data) reach a waiting core directly, as they always did.
        try {
          const events = slot.core.onMarket(out);
          if (events.length > 0) this.collect(slot, events, null, true);
        } catch (err) {
          this.coreError(slot, err, 'onMarket');
        }
      }
    }
    try {
      this.hub.onMarket(out);
    } catch (err) {
      // A core that throws stops this output's delivery to the cores after it (the hub has one loop); logged per output.
      this.counts.coreErrors++;
      this.o.log?.error({ err, output: out.type }, 'trading core failed (hub)');
    }
  }

  /**
   * Everything from storage: accounts (new ones start, removed ones stop),
   * strategies and risk limits, then every pending command. Called at start,
   * on an announcement, on a (re)connect of the announcement channel,
   * periodically, and when this process becomes leader.
   */
  reload(accountId?: string): Promise<void> {
    return this.serial(async () => {
      if (!this.started || this.stopped) return;
      try {
        await this.reloadNow(accountId);
      } catch (err) {
        // Storage is the source of truth: the next announcement or period tries again.
        this.o.log?.warn({ err: err instanceof Error ? err.message : String(err), accountId }, 'trading: reload failed; retried at the next announcement or period');
      }
    });
  }

  private async reloadNow(accountId?: string): Promise<void> {
    {
      const repo = this.o.repo;
      const recs = accountId ? [await repo.accounts.getById(accountId)].filter((r): r is TradingAccountRecord => !!r) : await repo.accounts.listAll();
      if (!accountId) {
        const alive = new Set(recs.map((r) => r.id));
        for (const id of [...this.accounts.keys()]) if (!alive.has(id)) this.remove(id);
      } else if (recs.length === 0) this.remove(accountId);
      const running = await repo.strategies.running(accountId);
      for (const rec of recs) {
        let slot = this.accounts.get(rec.id);
        if (!slot || slot.rec.generation !== rec.generation) slot = await this.tryLoad(rec);
        if (!slot) continue;
        slot.rec = rec;
        this.reconcile(slot, running.filter((s) => s.accountId === rec.id));
      }
      const pending = await repo.commands.pending(accountId);
      for (const cmd of pending) await this.apply(cmd);
      await this.flushNow();
    }
  }

  // ---------- internals ----------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  /** load(), but one account that cannot be built must not stop the others (nor the server's start). */
  private async tryLoad(rec: TradingAccountRecord): Promise<AccountSlot | undefined> {
    try {
      const slot = await this.load(rec);
      this.broken.delete(rec.id);
      return slot;
    } catch (err) {
      if (!this.broken.has(rec.id)) this.o.log?.error({ err, account: rec.id }, 'trading: account not started (its core could not be built or restored); its commands stay pending');
      this.broken.set(rec.id, err instanceof Error ? err.message : String(err));
      this.remove(rec.id);
      return undefined;
    }
  }

  /** A core for the account: restored from its stored snapshot when it has one of this generation. */
  private async load(rec: TradingAccountRecord): Promise<AccountSlot> {
    const repo = this.o.repo;
    const [snap, running] = await Promise.all([repo.snapshots.getById(rec.id), repo.strategies.running(rec.id)]);
    const strategies: Strategy[] = [];
    const applied = new Map<string, string>();
    for (const s of running) {
      try {
        strategies.push(createStrategy(strategyConfig(s)));
        applied.set(s.id, JSON.stringify(strategyConfig(s)));
      } catch (err) {
        this.o.log?.warn({ err: String(err), strategy: s.id }, 'trading: stored strategy no longer valid; not started');
      }
    }
    if (rec.broker === 'alpaca' && !this.o.alpaca) throw new Error('the account trades through Alpaca but ALPACA_TRADING_KEY_ID / ALPACA_TRADING_SECRET_KEY are not configured in this process');
    let core: TradingCore;
    let horizon = -Infinity;
    if (snap && snap.generation === rec.generation) {
      core = TradingCore.restore(snap.core as TradingSnapshot, coreOptions(rec), strategies);
      horizon = snap.ts;
    } else {
      core = new TradingCore(coreOptions(rec));
      for (const s of strategies) core.addStrategy(s);
      const market = this.started ? this.o.market?.() : null;
      if (market) {
        // Priming only: whatever it emits (no orders exist yet) is not an event of the account.
        for (const ref of market.references()) core.onMarket({ type: 'reference', ref });
        for (const state of market.quotes()) core.onMarket({ type: 'quote', state });
      }
    }
    const slot: AccountSlot = {
      rec,
      core,
      strategies: applied,
      risk: JSON.stringify(rec.riskLimits),
      orders: new Map(),
      fills: [],
      equity: new Map(),
      commands: [],
      events: [],
      // A core created while running (a new or reset account) is stored and published at once, so REST and
      // /ws/trading show its cash before its first trade.
      dirty: horizon === -Infinity && this.started,
      horizon,
      broker: null,
      detached: false,
      unsubscribe: null,
    };
    if (rec.broker === 'alpaca' && this.o.alpaca) {
      const broker = new AlpacaBroker({ ...this.o.alpaca, ...this.o.alpacaOptions, accountId: rec.id });
      slot.broker = broker;
      slot.unsubscribe = broker.onUpdate((u) => this.onBrokerUpdate(slot, u));
      // After a restart: the broker takes over the open orders, so fills made while down come out of its first
      // reconciliation (when the stream listens) exactly once. A failure leaves the account unbuilt: retried at the next reload.
      if (horizon !== -Infinity) await broker.resume(slot.core.orders({ open: true }));
      // Not awaited: a broker that is down must not hold the runner (its stream retries with backoff; it reconciles once listening).
      broker.start().catch((err: unknown) => {
        this.counts.brokerErrors++;
        this.o.log?.error({ err: errReason(err), account: rec.id }, 'trading: the Alpaca trade_updates stream did not start');
      });
    }
    this.install(slot);
    return slot;
  }

  /** Makes `slot` the account's slot: the previous one (an older generation) leaves the hub and its broker stops. */
  private install(slot: AccountSlot): void {
    const prev = this.accounts.get(slot.rec.id);
    if (prev && prev !== slot) this.detach(prev);
    this.accounts.set(slot.rec.id, slot);
    this.slotOf.set(slot.core, slot);
    if (slot.horizon === -Infinity) this.hub.cores.push(slot.core);
    else this.waiting.add(slot);
  }

  private remove(accountId: string): void {
    const slot = this.accounts.get(accountId);
    if (slot) this.detach(slot);
    this.accounts.delete(accountId);
  }

  private detach(slot: AccountSlot): void {
    slot.detached = true;
    this.waiting.delete(slot);
    this.slotOf.delete(slot.core);
    const i = this.hub.cores.indexOf(slot.core);
    if (i >= 0) this.hub.cores.splice(i, 1);
    slot.unsubscribe?.();
    // Orders still open at the broker stay there (a reset or removal does not cancel them): see docs/trading.md.
    void slot.broker?.stop().catch(() => {});
  }

  /** An order update or fill reported by the account's broker (the trade_updates stream or a reconciliation). */
  private onBrokerUpdate(slot: AccountSlot, u: BrokerUpdate): void {
    if (slot.detached || this.stopped) return;
    this.counts.brokerUpdates++;
    if (u.type === 'fill') {
      // The core de-duplicates fill ids only within its life (its snapshot does not keep them): the fill id carries the
      // order's cumulative quantity, so a fill at or below what the core already has is one it has seen.
      const o = slot.core.order(u.fill.orderId);
      const cum = fillCum(u.fill.id);
      if (o && Number.isFinite(cum) && cum <= o.filledQty + 1e-9) {
        this.counts.duplicateBrokerFills++;
        return;
      }
    }
    try {
      const events = slot.core.applyBrokerUpdate(u);
      // The update's own order mirrors the broker; anything else it caused (e.g. a kill switch engaged by the fill's
      // loss cancelling other orders) goes to the broker like any decision of the core.
      if (events.length > 0) this.collect(slot, events, null, true, u.type === 'fill' ? u.fill.orderId : u.event.orderId);
    } catch (err) {
      this.coreError(slot, err, 'applyBrokerUpdate');
    }
  }

  /** Sends an order the core accepted (a strategy's, an exit) to the broker; a refusal rejects it in the core. */
  private async brokerSubmit(slot: AccountSlot, orderId: string): Promise<{ ok: true } | { ok: false; code: string; reason: string }> {
    const order = slot.core.order(orderId);
    if (!slot.broker || !order || isFinalOrderStatus(order.status)) return { ok: true };
    try {
      await slot.broker.submit(order);
      return { ok: true };
    } catch (err) {
      const code = errCode(err);
      // No answer: the order may exist at Alpaca; the adapter finds out by its client_order_id and reports either way.
      if (code === 'BROKER_UNAVAILABLE') return { ok: true };
      if (isDuplicateClientOrderId(err)) {
        // Placed already, by a process that died before storing the command's outcome (it is applied again on
        // restart with the same client_order_id): take the existing Alpaca order over and read what it did since.
        try {
          await slot.broker.resume([order]);
          void slot.broker.reconcile().catch((e: unknown) => this.o.log?.warn({ err: errReason(e), account: slot.rec.id }, 'trading: reconciliation failed; retried at the next reconnect'));
          return { ok: true };
        } catch (e) {
          err = e;
        }
      }
      this.brokerReject(slot, orderId, errCode(err), errReason(err));
      return { ok: false, code: errCode(err), reason: errReason(err) };
    }
  }

  private brokerReject(slot: AccountSlot, orderId: string, code: string, reason: string): void {
    if (slot.detached) return;
    const o = slot.core.order(orderId);
    if (!o || isFinalOrderStatus(o.status)) return;
    const ts = slot.core.now();
    this.onBrokerUpdate(slot, { type: 'order', event: { ts, orderId: o.id, status: 'rejected', prevStatus: o.status, reason, code, order: { ...o, status: 'rejected', reason, code, updatedTs: ts } } });
  }

  /** Makes the core run exactly the stored running strategies and risk limits. */
  private reconcile(slot: AccountSlot, running: StrategyRecord[]): void {
    const wanted = new Map(running.map((s) => [s.id, s]));
    for (const [id] of slot.strategies) {
      if (wanted.has(id)) continue;
      try {
        const events = slot.core.removeStrategy(id);
        if (events.length > 0) this.collect(slot, events, null);
      } catch (err) {
        this.coreError(slot, err, 'removeStrategy');
      }
      slot.strategies.delete(id);
    }
    for (const [id, s] of wanted) {
      if (slot.strategies.has(id)) continue;
      try {
        slot.core.addStrategy(createStrategy(strategyConfig(s)));
        slot.strategies.set(id, JSON.stringify(strategyConfig(s)));
      } catch (err) {
        this.o.log?.warn({ err: String(err), strategy: id }, 'trading: strategy not started');
      }
    }
    const risk = JSON.stringify(slot.rec.riskLimits);
    if (risk !== slot.risk) {
      try {
        slot.core.setRiskLimits(slot.rec.riskLimits as RiskLimits);
        slot.risk = risk;
      } catch (err) {
        this.coreError(slot, err, 'setRiskLimits');
      }
    }
  }

  /** Applies one stored command to its account's core (at most once: see `inflight`). */
  private async apply(cmd: CommandRecord): Promise<void> {
    if (this.inflight.has(cmd.id) || this.broken.has(cmd.accountId)) return;
    let slot = this.accounts.get(cmd.accountId);
    if (!slot) {
      // A full reload lists the accounts before the pending commands: an account created in between has a command
      // but no core yet. Only an account that is really gone refuses its commands.
      const rec = await this.o.repo.accounts.getById(cmd.accountId);
      if (rec) {
        slot = await this.tryLoad(rec);
        if (!slot) return; // not buildable now: the command stays pending
        this.reconcile(slot, await this.o.repo.strategies.running(rec.id));
      }
    }
    if (!slot) {
      await this.o.repo.commands.settle(cmd.id, 'rejected', { code: 'NOT_FOUND', reason: 'the account no longer exists' });
      this.o.onCommandSettled?.(cmd.id);
      return;
    }
    this.counts.commands++;
    if (cmd.kind === 'reset') return this.reset(slot, cmd);
    let result: Record<string, unknown>;
    let status: 'applied' | 'rejected' = 'applied';
    try {
      const p = cmd.payload;
      let r: OrderResult | null = null;
      let events: TradingEvent[] = [];
      switch (cmd.kind) {
        case 'submit':
          r = slot.core.submit(p.order as never, { source: 'manual' });
          if (slot.broker && r.ok && r.order && r.events.length > 0) {
            // A new order (a repeated clientOrderId has no events): the broker's answer is the command's outcome.
            this.collect(slot, r.events, cmd.id, false);
            const sent = await this.brokerSubmit(slot, r.order.id);
            const now = slot.core.order(r.order.id) ?? r.order;
            r = sent.ok ? { ...r, order: now, events: [] } : { ok: false, order: now, code: sent.code, reason: sent.reason, events: [] };
          }
          break;
        case 'cancel':
          r = slot.broker ? await this.brokerCancel(slot, String(p.orderId)) : slot.core.cancel(String(p.orderId));
          break;
        case 'replace':
          r = slot.broker ? await this.brokerReplace(slot, String(p.orderId), p.changes as OrderReplace) : slot.core.replace(String(p.orderId), p.changes as never);
          break;
        case 'risk_reset':
          events = slot.core.resetKillSwitch();
          break;
      }
      if (r) {
        events = r.events;
        if (!r.ok) status = 'rejected';
        result = { ok: r.ok, orderId: r.order?.id ?? null, clientOrderId: r.order?.clientOrderId ?? null, code: r.code, reason: r.reason };
      } else {
        result = { ok: true, code: null, reason: 'applied' };
      }
      this.collect(slot, events, cmd.id, false);
    } catch (err) {
      this.coreError(slot, err, cmd.kind);
      status = 'rejected';
      result = { ok: false, code: 'INTERNAL', reason: 'the trading core failed on this command' };
    }
    this.inflight.add(cmd.id);
    slot.commands.push({ id: cmd.id, status, result });
    slot.dirty = true;
  }

  /** Cancel at the broker: the core's order is cancelled when the broker says so (it may still fill meanwhile). */
  private async brokerCancel(slot: AccountSlot, orderId: string): Promise<OrderResult> {
    const o = slot.core.order(orderId);
    if (!o) return { ok: false, order: undefined, code: 'NOT_FOUND', reason: `no order ${orderId}`, events: [] };
    if (isFinalOrderStatus(o.status)) return { ok: false, order: o, code: 'ORDER_NOT_OPEN', reason: `order ${o.id} is ${o.status}`, events: [] };
    try {
      await slot.broker!.cancel(o.id);
      return { ok: true, order: slot.core.order(o.id) ?? o, code: null, reason: 'cancel requested at the broker', events: [] };
    } catch (err) {
      return { ok: false, order: o, code: errCode(err), reason: errReason(err), events: [] };
    }
  }

  /** Replace: checked and applied by the core first (rules, buying power), then at the broker; undone in the core if the broker refuses. */
  private async brokerReplace(slot: AccountSlot, orderId: string, changes: OrderReplace): Promise<OrderResult> {
    const before = slot.core.order(orderId);
    const r = slot.core.replace(orderId, changes);
    if (!r.ok || !before) return r;
    this.collect(slot, r.events, null, false);
    try {
      await slot.broker!.replace(before.id, changes);
      return { ...r, order: slot.core.order(before.id) ?? r.order, events: [] };
    } catch (err) {
      const back = slot.core.replace(before.id, { qty: before.qty, ...(before.limitPrice !== null ? { limitPrice: before.limitPrice } : {}), ...(before.stopPrice !== null ? { stopPrice: before.stopPrice } : {}), tif: before.tif });
      return { ok: false, order: slot.core.order(before.id), code: errCode(err), reason: errReason(err), events: back.events };
    }
  }

  /** A reset: new generation, stored rows gone, a fresh core — in one transaction with the command. */
  private async reset(slot: AccountSlot, cmd: CommandRecord): Promise<void> {
    // Whatever the old core still had buffered belongs to the generation being removed.
    await this.flushAccount(slot);
    const repo = this.o.repo;
    const generation = await repo.transaction(async (tx) => {
      const g = await repo.accounts.resetInTx(tx, slot.rec.id);
      await tx.query(`UPDATE trading_commands SET status = 'applied', result = $2::jsonb, applied_at = now() WHERE id = $1 AND status = 'pending'`, [
        cmd.id,
        JSON.stringify({ ok: true, code: null, reason: 'account reset' }),
      ]);
      return g;
    });
    if (generation !== undefined) {
      const fresh = await this.load({ ...slot.rec, generation });
      this.publishState(fresh);
    } else this.remove(slot.rec.id);
    this.o.onCommandSettled?.(cmd.id);
  }

  /**
   * Buffers what a core emitted for the next write. `route`: the events come from the core's own decisions (market
   * data, strategies, exits, kill switch), so on a broker account its new orders go to the broker and the orders it
   * cancelled are cancelled there too. Manual commands and broker updates are not routed (handled where they happen).
   */
  private collect(slot: AccountSlot, events: TradingEvent[], commandId: string | null, route = true, except: string | null = null): void {
    for (const e of events) {
      switch (e.type) {
        case 'order':
          slot.orders.set(e.event.order.id, e.event.order);
          if (commandId) this.commandOf.set(e.event.order.id, commandId);
          if (route && slot.broker && e.event.order.id !== except) this.route(slot, e.event.order, e.event.prevStatus);
          break;
        case 'fill': {
          const f = e.fill;
          this.counts.fills++;
          slot.fills.push({ id: f.id, userId: slot.rec.userId, accountId: slot.rec.id, orderId: f.orderId, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, fee: f.fee, tax: f.tax, ts: f.ts, data: f as unknown as Record<string, unknown> });
          break;
        }
        case 'equity':
          slot.equity.set(e.point.ts, e.point);
          break;
        default:
          break;
      }
      slot.events.push(e);
    }
    if (events.length > 0) slot.dirty = true;
    if (slot.fills.length > MAX_BUFFERED_FILLS) this.o.log?.warn({ account: slot.rec.id, fills: slot.fills.length }, 'trading: storage is behind; fills buffered in memory');
    this.scheduleFlush();
  }

  private route(slot: AccountSlot, o: Order, prev: string | null): void {
    const broker = slot.broker!;
    if (o.status === 'accepted' && prev !== 'accepted' && (prev === null || prev === 'new')) {
      void this.brokerSubmit(slot, o.id);
    } else if ((o.status === 'cancelled' || o.status === 'expired') && prev !== null && !isFinalOrderStatus(prev as Order['status'])) {
      broker.cancel(o.id).catch((err: unknown) => {
        this.counts.brokerErrors++;
        this.o.log?.warn({ err: errReason(err), account: slot.rec.id, order: o.id }, 'trading: broker cancel of an order the core cancelled failed');
      });
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.serial(() => this.flushNow());
    }, this.o.flushDelayMs ?? 50);
    this.flushTimer.unref?.();
  }

  /** Writes every dirty account (serialised by the caller). */
  private async flushNow(): Promise<void> {
    for (const slot of [...this.accounts.values()]) if (slot.dirty) await this.flushAccount(slot);
  }

  private async flushAccount(slot: AccountSlot): Promise<void> {
    if (!slot.dirty) return;
    // Taken synchronously: the snapshot contains exactly the events taken with it.
    const { rec } = slot;
    const orders = [...slot.orders.values()];
    const fills = slot.fills;
    const equity = [...slot.equity.values()];
    const commands = slot.commands;
    const events = slot.events;
    let batch: PersistBatch;
    try {
      const account = slot.core.account();
      batch = {
        accountId: rec.id,
        userId: rec.userId,
        generation: rec.generation,
        orders: orders.map((o) => orderRecord(rec.userId, rec.id, o, this.commandOf.get(o.id) ?? null)),
        fills,
        equity,
        commands,
        snapshot: { ts: coreTime(slot.core), fills: 0, core: slot.core.snapshot(), portfolio: account as unknown as Record<string, unknown> },
      };
    } catch (err) {
      this.coreError(slot, err, 'snapshot');
      return;
    }
    slot.orders = new Map();
    slot.fills = [];
    slot.equity = new Map();
    slot.commands = [];
    slot.events = [];
    slot.dirty = false;
    let stored: boolean;
    try {
      stored = await this.o.repo.persist(batch);
      this.counts.persisted++;
    } catch (err) {
      // Not stored, not published: put it back in front of whatever came meanwhile; the next flush retries (with a newer snapshot).
      this.counts.persistFailures++;
      this.o.log?.warn({ err: err instanceof Error ? err.message : String(err), account: rec.id }, 'trading: write failed; retrying');
      slot.orders = new Map([...orders.map((o) => [o.id, o] as const), ...slot.orders]);
      slot.fills = [...fills, ...slot.fills];
      for (const p of equity) if (!slot.equity.has(p.ts)) slot.equity.set(p.ts, p);
      slot.commands = [...commands, ...slot.commands];
      slot.events = [...events, ...slot.events];
      slot.dirty = true;
      if (!this.stopped) setTimeout(() => this.scheduleFlush(), 500).unref?.();
      return;
    }
    for (const c of commands) {
      this.inflight.delete(c.id);
      this.o.onCommandSettled?.(c.id);
    }
    for (const o of orders) if (isFinalOrderStatus(o.status)) this.commandOf.delete(o.id);
    if (!stored) {
      this.counts.dropped++;
      return; // the account was reset or removed meanwhile
    }
    this.publish(slot, events);
  }

  private publish(slot: AccountSlot, events: TradingEvent[]): void {
    const pub = this.o.publisher();
    if (!pub) return;
    const key = tradingUserKey(slot.rec.userId);
    for (const e of events) {
      // Equity points and account states travel as the account's state stream (below), not one event each.
      if (e.type === 'equity' || e.type === 'account' || e.type === 'position') continue;
      pub.publish('trading', key, 'event', { ...e, accountId: slot.rec.id } as TradingStreamEvent);
    }
    this.publishState(slot);
  }

  /** The user's portfolio state stream: every account of the slot's user (a handful: TRADING_MAX_ACCOUNTS). */
  private publishState(slot: AccountSlot): void {
    this.publishPortfolio(slot.rec.userId);
  }

  private publishPortfolio(userId: string): void {
    const pub = this.o.publisher();
    if (!pub) return;
    const accounts = [];
    for (const s of [...this.accounts.values()].filter((x) => x.rec.userId === userId).sort((a, b) => (a.rec.id < b.rec.id ? -1 : 1))) {
      try {
        accounts.push(s.core.account());
      } catch (err) {
        this.coreError(s, err, 'account');
      }
    }
    pub.publish('trading', tradingPortfolioKey(userId), 'state', { accounts });
  }

  /** Publishes every user's portfolio (a new leader, so clients see the restored positions). */
  publishAll(): void {
    for (const userId of new Set([...this.accounts.values()].map((s) => s.rec.userId))) this.publishPortfolio(userId);
  }

  private coreError(slot: AccountSlot, err: unknown, where: string): void {
    this.counts.coreErrors++;
    this.o.log?.error({ err, account: slot.rec.id, where }, 'trading core failed');
  }
}
