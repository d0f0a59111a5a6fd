/** Built-in strategies: parameters, signals with reasons, every one trades a simulated market, state survives a restore, the paper broker. */
import { describe, expect, it } from 'vitest';
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';
import type { MarketEvent, StrategyConfig, TradingEvent } from '@stock-tracker/protocol';
import { BUILTIN_STRATEGIES, PaperBroker, TradingCore, TradingHub, createStrategy, parseParams, resolveParams, runBacktest, type BrokerUpdate } from '../src/index.ts';
import { T0, vnSession } from './harness.ts';

function simTape(n: number, seed = 3): MarketEvent[] {
  const startTs = Date.UTC(2024, 0, 2, 1, 30);
  const sim = new Simulator({ seed, startTs, symbols: 4, intensity: 3 });
  const out: MarketEvent[] = [];
  for (let t = startTs; out.length < n; ) sim.advanceTo((t += 10_000), (ev) => void out.push(ev));
  return out;
}
const tape = simTape(6_000);
const tapeSymbols = [...new Set(tape.flatMap((e) => (e.type === 'reference' ? [e.ref.symbol] : [])))].sort();

describe('parameters', () => {
  it('parse, defaults, ranges', () => {
    expect(parseParams('fast=5, slow=20')).toEqual({ fast: 5, slow: 20 });
    expect(() => parseParams('fast')).toThrow(/bad parameter/);
    expect(resolveParams('sma-cross', { fast: 5 })).toEqual({ fast: 5, slow: 30, allocation: 100 });
    expect(() => resolveParams('sma-cross', { fast: 30, slow: 10 })).toThrow(/fast .* below slow/);
    expect(() => resolveParams('sma-cross', { speed: 1 })).toThrow(/unknown parameter/);
    expect(() => resolveParams('sma-cross', { fast: 1.5 })).toThrow(/integer/);
    expect(() => resolveParams('nope', {})).toThrow(/unknown strategy/);
    expect(BUILTIN_STRATEGIES.map((s) => s.name)).toEqual(['sma-cross', 'ema-cross', 'rsi-reversion', 'macd-cross', 'bollinger-breakout', 'vn-flow']);
  });
});

describe('every built-in strategy', () => {
  const small: Record<string, Record<string, number>> = {
    'sma-cross': { fast: 2, slow: 4 },
    'ema-cross': { fast: 2, slow: 5 },
    'rsi-reversion': { period: 3, oversold: 40, overbought: 60 },
    'macd-cross': { fast: 2, slow: 5, signal: 2 },
    'bollinger-breakout': { period: 4, mult: 1 },
    'vn-flow': { lookback: 2, imbalance: 0.2 },
  };
  for (const info of BUILTIN_STRATEGIES) {
    it(`${info.name}: signals carry reasons and values, orders are filled, same tape → same fills`, () => {
      const events: TradingEvent[] = [];
      const cfg = { id: info.name, strategy: info.name, params: small[info.name]!, symbols: [] };
      const r = runBacktest(tape, { strategies: [cfg], cash: 1e9, onEvent: (_a, e) => void events.push(e) });
      const signals = events.flatMap((e) => (e.type === 'signal' ? [e.signal] : []));
      expect(signals.length).toBeGreaterThan(0);
      for (const s of signals) {
        expect(s.reason.length).toBeGreaterThan(5);
        expect(s.strategyId).toBe(info.name);
      }
      expect(signals.some((s) => s.action === 'enter' && s.clientOrderId !== null)).toBe(true);
      expect(r.fills.length).toBeGreaterThan(0);
      expect(r.fills[0]!.side).toBe('buy');
      expect(runBacktest(tape, { strategies: [cfg], cash: 1e9 }).fills).toEqual(r.fills);
    });
  }

  it('several strategies on separate accounts in one run do not interfere', () => {
    const a = { id: 'a', strategy: 'sma-cross', params: { fast: 2, slow: 4 }, symbols: [] };
    const b = { id: 'b', strategy: 'macd-cross', params: { fast: 2, slow: 5, signal: 2 }, symbols: [] };
    const both = runBacktest(tape, { strategies: [a, b], cash: 1e9 });
    const onlyA = runBacktest(tape, { strategies: [a], cash: 1e9 });
    expect(both.fills.filter((f) => f.orderId.startsWith('a-'))).toEqual(onlyA.fills);
    expect(both.accounts.map((x) => x.accountId)).toEqual(['a', 'b']);
  });
});

describe('TradingHub', () => {
  it('gives every account the same signals, fills and final state as delivering every output to every account', () => {
    const configs = BUILTIN_STRATEGIES.flatMap((info, i) => [
      { id: `${info.name}-all`, strategy: info.name, params: {}, symbols: [] },
      { id: `${info.name}-part`, strategy: info.name, params: { allocation: 30 + i * 10 }, symbols: [] },
      // A strategy on some symbols only: the hub does not bother it with the others' bars.
      { id: `${info.name}-some`, strategy: info.name, params: {}, symbols: tapeSymbols.slice(0, 2) },
    ]).map((c): StrategyConfig => ({ ...c, params: { ...(c.params as Record<string, number>), ...(c.strategy === 'sma-cross' ? { fast: 2, slow: 4 } : c.strategy === 'macd-cross' ? { fast: 2, slow: 5, signal: 2 } : c.strategy === 'rsi-reversion' ? { period: 3, oversold: 40, overbought: 60 } : c.strategy === 'vn-flow' ? { lookback: 2, imbalance: 0.2 } : {}) } }));
    const make = () => configs.map((cfg) => {
      const c = new TradingCore({ accountId: cfg.id, cash: 1e9, riskLimits: { stopLossPct: 1, maxPositionPct: 60 } });
      c.addStrategy(createStrategy(cfg));
      return c;
    });
    const direct = make();
    const viaHub = make();
    const key = (e: TradingEvent) => (e.type === 'fill' ? JSON.stringify(e.fill) : e.type === 'signal' ? JSON.stringify(e.signal) : e.type === 'order' ? JSON.stringify([e.event.orderId, e.event.status, e.event.reason]) : null);
    const a = new Map<string, string[]>();
    const b = new Map<string, string[]>();
    const put = (m: Map<string, string[]>, id: string, evs: TradingEvent[]) => {
      for (const e of evs) {
        const k = key(e);
        if (k !== null) m.set(id, [...(m.get(id) ?? []), k]);
      }
    };
    const hub = new TradingHub(viaHub, (c, evs) => put(b, c.accountId, evs));
    const e1 = new MarketEngine();
    const e2 = new MarketEngine();
    for (const ev of tape) {
      e1.apply(ev, (out) => {
        for (const c of direct) put(a, c.accountId, c.onMarket(out));
      });
      e2.apply(ev, (out) => hub.onMarket(out));
    }
    let fills = 0;
    for (const c of configs) {
      expect(b.get(c.id) ?? [], c.id).toEqual(a.get(c.id) ?? []);
      fills += (a.get(c.id) ?? []).filter((k) => k.includes('"liquidity"')).length;
    }
    expect(fills).toBeGreaterThan(20);
    for (let i = 0; i < direct.length; i++) {
      expect(viaHub[i]!.positions()).toEqual(direct[i]!.positions());
      expect(viaHub[i]!.equityCurve()).toEqual(direct[i]!.equityCurve());
    }
  });
});

describe('restore', () => {
  it('a strategy restored from a snapshot mid-tape makes the same decisions as one that never stopped', () => {
    const cfg = { id: 's', strategy: 'sma-cross', params: { fast: 2, slow: 4 }, symbols: [] };
    const engine = new MarketEngine();
    const a = new TradingCore({ accountId: 's', cash: 1e9 });
    a.addStrategy(createStrategy(cfg));
    const evA: TradingEvent[] = [];
    const evB: TradingEvent[] = [];
    let b: TradingCore | null = null;
    const cut = Math.floor(tape.length / 2);
    tape.forEach((ev, i) => {
      if (i === cut) b = TradingCore.restore(JSON.parse(JSON.stringify(a.snapshot())), { accountId: 's', cash: 0 }, [createStrategy(cfg)]);
      engine.apply(ev, (out) => {
        const x = a.onMarket(out);
        if (b) {
          evA.push(...x);
          evB.push(...b.onMarket(out));
        }
      });
    });
    expect(evA.filter((e) => e.type === 'fill').length).toBeGreaterThan(0);
    expect(evB).toEqual(evA);
  });
});

describe('paper broker', () => {
  it('implements the Broker interface over the core: submit, updates, fills, cancel', async () => {
    const h = vnSession();
    const broker = new PaperBroker(h.core);
    const updates: BrokerUpdate[] = [];
    broker.onUpdate((u) => updates.push(u));
    const o = await broker.submit({ ...h.core.order(h.submit({ symbol: 'FPT', side: 'buy', type: 'limit', qty: 100, limitPrice: 95_000 }).order!.id)!, clientOrderId: 'p1', id: 'ignored' });
    expect(o.status).toBe('accepted');
    const m = await broker.submit({ ...o, clientOrderId: 'p2', type: 'market', limitPrice: null });
    h.engine.apply({ type: 'trade', ts: T0 + 1, symbol: 'FPT', id: 'x1', price: 100_000, volume: 100 }, (out) => void broker.onMarket(out));
    expect(updates.some((u) => u.type === 'fill' && u.fill.orderId === m.id)).toBe(true);
    await broker.cancel(o.id);
    expect(h.core.order(o.id)!.status).toBe('cancelled');
    await expect(broker.cancel(o.id)).rejects.toMatchObject({ code: 'ORDER_NOT_OPEN' });
  });
});
