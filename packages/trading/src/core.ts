/**
 * TradingCore: one account's orders, fill model, portfolio and risk limits,
 * plus the strategies attached to it. Pure: no I/O, no wall clock; time is the
 * largest event ts seen. Driven by the market engine's outputs (onMarket) and
 * by orders (submit/cancel/replace); every change comes out as TradingEvents.
 * Same outputs and orders in the same order → same events (ids derive from
 * the account id and counters, never from randomness).
 */
import type { AccountState, EngineOutput, EquityPoint, Order, OrderReplace, OrderRequest, OrderSource, Position, RiskLimits, TradingEvent } from '@stock-tracker/protocol';
import type { BrokerUpdate, Strategy, TradingCoreOptions, OrderResult } from './types.ts';

export interface SubmitMeta {
  source?: OrderSource;
  strategyId?: string | null;
  /** Event time of the order; default: the core's time (latest event). */
  ts?: number;
}

/** Persisted state (JSON). `version` guards the format. */
export interface TradingSnapshot {
  version: 1;
  accountId: string;
  [k: string]: unknown;
}

const NOT_YET = 'trading core: not implemented yet';

export class TradingCore {
  readonly accountId: string;
  constructor(readonly opts: TradingCoreOptions) {
    this.accountId = opts.accountId;
  }
  addStrategy(_s: Strategy): void {
    throw new Error(NOT_YET);
  }
  removeStrategy(_id: string, _ts?: number): TradingEvent[] {
    throw new Error(NOT_YET);
  }
  strategies(): readonly Strategy[] {
    throw new Error(NOT_YET);
  }
  /** Feed one engine output; returns the trading events it caused (often none). */
  onMarket(_out: EngineOutput): TradingEvent[] {
    throw new Error(NOT_YET);
  }
  submit(_req: OrderRequest, _meta?: SubmitMeta): OrderResult {
    throw new Error(NOT_YET);
  }
  cancel(_orderId: string, _ts?: number, _reason?: string): OrderResult {
    throw new Error(NOT_YET);
  }
  replace(_orderId: string, _changes: OrderReplace, _ts?: number): OrderResult {
    throw new Error(NOT_YET);
  }
  engageKillSwitch(_reason: string, _ts?: number): TradingEvent[] {
    throw new Error(NOT_YET);
  }
  resetKillSwitch(_ts?: number): TradingEvent[] {
    throw new Error(NOT_YET);
  }
  setRiskLimits(_limits: RiskLimits): void {
    throw new Error(NOT_YET);
  }
  applyBrokerUpdate(_u: BrokerUpdate): TradingEvent[] {
    throw new Error(NOT_YET);
  }
  account(): AccountState {
    throw new Error(NOT_YET);
  }
  positions(): Position[] {
    throw new Error(NOT_YET);
  }
  orders(_filter?: { open?: boolean; symbol?: string }): Order[] {
    throw new Error(NOT_YET);
  }
  order(_id: string): Order | undefined {
    throw new Error(NOT_YET);
  }
  equityCurve(): EquityPoint[] {
    throw new Error(NOT_YET);
  }
  now(): number {
    throw new Error(NOT_YET);
  }
  snapshot(): TradingSnapshot {
    throw new Error(NOT_YET);
  }
  static restore(_snap: TradingSnapshot, _opts: TradingCoreOptions, _strategies?: Strategy[]): TradingCore {
    throw new Error(NOT_YET);
  }
}
