/**
 * The paper broker: the Broker interface over a TradingCore in 'simulated'
 * execution, so that code written against a broker (the server's order path,
 * the Alpaca adapter's callers) runs unchanged on paper. Fills come from the
 * core's own fill model as market data arrives through onMarket().
 */
import type { EngineOutput, Order, OrderReplace, TradingEvent } from '@stock-tracker/protocol';
import { AppError } from '@stock-tracker/protocol';
import type { TradingCore } from './core.ts';
import type { Broker, BrokerUpdate } from './types.ts';

export class PaperBroker implements Broker {
  readonly name = 'paper';
  private readonly listeners = new Set<(u: BrokerUpdate) => void>();

  constructor(readonly core: TradingCore) {}

  /** Feed market data to the core; order updates and fills go to the listeners. Returns every event. */
  onMarket(out: EngineOutput): TradingEvent[] {
    return this.dispatch(this.core.onMarket(out));
  }

  async submit(order: Order): Promise<Order> {
    const r = this.core.submit(
      {
        clientOrderId: order.clientOrderId,
        symbol: order.symbol,
        side: order.side,
        type: order.type,
        ...(order.notional !== null ? { notional: order.notional } : { qty: order.qty }),
        ...(order.limitPrice !== null ? { limitPrice: order.limitPrice } : {}),
        ...(order.stopPrice !== null ? { stopPrice: order.stopPrice } : {}),
        tif: order.tif,
        ...(order.exits ? { exits: order.exits } : {}),
      },
      { source: order.source, strategyId: order.strategyId },
    );
    this.dispatch(r.events);
    if (!r.order) throw new AppError('ORDER_INVALID', r.reason);
    return r.order;
  }

  async cancel(orderId: string): Promise<void> {
    const r = this.core.cancel(orderId);
    this.dispatch(r.events);
    if (!r.ok) throw new AppError((r.code ?? 'ORDER_NOT_OPEN') as 'ORDER_NOT_OPEN', r.reason);
  }

  async replace(orderId: string, changes: OrderReplace): Promise<Order> {
    const r = this.core.replace(orderId, changes);
    this.dispatch(r.events);
    if (!r.ok || !r.order) throw new AppError((r.code ?? 'ORDER_NOT_OPEN') as 'ORDER_NOT_OPEN', r.reason);
    return r.order;
  }

  onUpdate(listener: (u: BrokerUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private dispatch(events: TradingEvent[]): TradingEvent[] {
    if (this.listeners.size === 0) return events;
    for (const e of events) {
      const u: BrokerUpdate | null = e.type === 'order' ? { type: 'order', event: e.event } : e.type === 'fill' ? { type: 'fill', fill: e.fill } : null;
      if (u) for (const l of this.listeners) l(u);
    }
    return events;
  }
}
