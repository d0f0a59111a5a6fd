/**
 * Built-in strategies, configurable without code (a name + numeric params),
 * and the registry that creates them. All are long-only, decide on closed
 * 1-minute bars with volume (each bar once, in time order) and use the
 * engine's incremental indicators. Exact rules per strategy: docs/trading.md.
 *
 * Shared behaviour
 * - Entry: market buy with `notional` = allocation % of the buying power (the
 *   quantity is decided at the fill, rounded down to the lot, fees included).
 *   With allocation 100 (default) an entry needs the whole account flat (no
 *   position, no open order), as issue 11 defines sma-cross; below 100, the
 *   symbol flat.
 * - Exit: market sell of the whole position. Shares that are not settled yet
 *   (VN T+2) cannot be sold: what can be sold is, and the rest is sold on the
 *   first later bar where it settles (the exit stays pending until then or
 *   until the next entry signal).
 * - Every entry/exit decision is a signal event with its reason and the
 *   indicator values, also when it does not lead to an order.
 */
import type { Bar, StrategyConfig, StrategyInfo, StrategyParamSpec, StrategyParams } from '@stock-tracker/protocol';
import { Bollinger, Ema, Macd, Rsi, Sma } from '@stock-tracker/engine';
import type { Strategy, StrategyContext, StrategyDecision } from './types.ts';

const P = (name: string, def: number, min: number, max: number, integer: boolean, description: string): StrategyParamSpec => ({ name, default: def, min, max, integer, description });
const ALLOCATION = P('allocation', 100, 1, 100, false, 'percent of the buying power one entry spends (100 = all cash, and entries need the whole account flat)');

export const BUILTIN_STRATEGIES: StrategyInfo[] = [
  {
    name: 'sma-cross',
    description: 'Buy when the fast SMA of 1-minute closes crosses above the slow SMA; sell the whole position when it crosses below.',
    params: [P('fast', 10, 1, 500, true, 'bars in the fast SMA'), P('slow', 30, 2, 500, true, 'bars in the slow SMA (> fast)'), ALLOCATION],
  },
  {
    name: 'ema-cross',
    description: 'Buy when the fast EMA crosses above the slow EMA; sell when it crosses below.',
    params: [P('fast', 12, 1, 500, true, 'fast EMA period'), P('slow', 26, 2, 500, true, 'slow EMA period (> fast)'), ALLOCATION],
  },
  {
    name: 'rsi-reversion',
    description: 'Mean reversion: buy when RSI falls below the oversold level; sell when it rises above the overbought level.',
    params: [P('period', 14, 2, 200, true, 'RSI period (Wilder)'), P('oversold', 30, 1, 99, false, 'entry level'), P('overbought', 70, 1, 99, false, 'exit level (> oversold)'), ALLOCATION],
  },
  {
    name: 'macd-cross',
    description: 'Buy when the MACD line crosses above its signal line; sell when it crosses below.',
    params: [P('fast', 12, 1, 200, true, 'fast EMA'), P('slow', 26, 2, 400, true, 'slow EMA (> fast)'), P('signal', 9, 1, 200, true, 'signal EMA of the MACD line'), ALLOCATION],
  },
  {
    name: 'bollinger-breakout',
    description: 'Buy when the close breaks above the upper Bollinger band; sell when it falls back below the middle band.',
    params: [P('period', 20, 2, 500, true, 'bars in the bands'), P('mult', 2, 0.1, 10, false, 'band width in population standard deviations'), ALLOCATION],
  },
  {
    name: 'vn-flow',
    description:
      'Vietnamese order flow: buy when the active buy/sell imbalance of the last bars and the foreign net buying turn positive together; sell when the imbalance turns negative or foreigners net sell.',
    params: [
      P('lookback', 5, 1, 120, true, 'bars in the window'),
      P('imbalance', 0.3, 0.01, 1, false, '(active buy − active sell) / (buy + sell) over the window needed to enter; its negative exits'),
      P('foreignValue', 0, 0, 1e15, false, 'foreign net buy value over the window needed to enter (0 = any non-negative, or no foreign data); net selling beyond it exits'),
      ALLOCATION,
    ],
  },
];

const SPECS = new Map(BUILTIN_STRATEGIES.map((s) => [s.name, s]));

/** `k=v,k2=v2` → params (numbers only); throws RangeError on a malformed pair. */
export function parseParams(s: string): StrategyParams {
  const out: StrategyParams = {};
  for (const pair of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(.+)$/.exec(pair);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new RangeError(`bad parameter '${pair}' (expected name=number)`);
    out[m[1]!] = v;
  }
  return out;
}

/** Params with defaults filled in, in spec order; throws RangeError naming the bad parameter. */
export function resolveParams(name: string, params: StrategyParams): StrategyParams {
  const spec = SPECS.get(name);
  if (!spec) throw new RangeError(`unknown strategy '${name}' (built-in: ${[...SPECS.keys()].join(', ')})`);
  for (const k of Object.keys(params)) if (!spec.params.some((p) => p.name === k)) throw new RangeError(`${name}: unknown parameter '${k}' (known: ${spec.params.map((p) => p.name).join(', ')})`);
  const out: StrategyParams = {};
  for (const p of spec.params) {
    const v = params[p.name] ?? p.default;
    if (!Number.isFinite(v) || v < p.min || v > p.max) throw new RangeError(`${name}: ${p.name} must be between ${p.min} and ${p.max}, got ${v}`);
    if (p.integer && !Number.isInteger(v)) throw new RangeError(`${name}: ${p.name} must be an integer, got ${v}`);
    out[p.name] = v;
  }
  if ('fast' in out && 'slow' in out && !(out.fast! < out.slow!)) throw new RangeError(`${name}: fast (${out.fast}) must be below slow (${out.slow})`);
  if (name === 'rsi-reversion' && !(out.oversold! < out.overbought!)) throw new RangeError(`${name}: oversold must be below overbought`);
  return out;
}

/** A built-in strategy from its configuration; throws RangeError for an unknown name or bad params. */
export function createStrategy(config: StrategyConfig): Strategy {
  const params = resolveParams(config.strategy, config.params);
  const symbols = config.symbols.length > 0 ? new Set(config.symbols) : null;
  switch (config.strategy) {
    case 'sma-cross':
      return new CrossStrategy(config.id, config.strategy, symbols, params, () => ({ fast: new Sma(params.fast!), slow: new Sma(params.slow!) }));
    case 'ema-cross':
      return new CrossStrategy(config.id, config.strategy, symbols, params, () => ({ fast: new Ema(params.fast!), slow: new Ema(params.slow!) }));
    case 'macd-cross':
      return new MacdStrategy(config.id, config.strategy, symbols, params);
    case 'rsi-reversion':
      return new RsiStrategy(config.id, config.strategy, symbols, params);
    case 'bollinger-breakout':
      return new BollingerStrategy(config.id, config.strategy, symbols, params);
    case 'vn-flow':
      return new FlowStrategy(config.id, config.strategy, symbols, params);
    default:
      throw new RangeError(`unknown strategy '${config.strategy}'`);
  }
}

// ---------------------------------------------------------------- shared base

interface Base {
  /** An exit was decided but shares were unsettled: sell them when they settle. */
  pendingExit: boolean;
}

abstract class BuiltinStrategy<S extends Base> implements Strategy {
  protected readonly state = new Map<string, S>();
  constructor(
    readonly id: string,
    readonly name: string,
    readonly symbols: ReadonlySet<string> | null,
    readonly params: StrategyParams,
  ) {}

  protected abstract fresh(): S;
  /** Update indicators with the bar; return 'enter' / 'exit' / null and the values behind it. */
  protected abstract decide(st: S, bar: Bar, ctx: StrategyContext): Decision | null;

  onBar(bar: Bar, ctx: StrategyContext): StrategyDecision[] | void {
    let st = this.state.get(bar.symbol);
    if (st === undefined) {
      st = this.fresh();
      this.state.set(bar.symbol, st);
    }
    const d = this.decide(st, bar, ctx);
    if (d === null) {
      if (st.pendingExit) return this.exit(st, bar.symbol, ctx, 'pending exit: shares settled', { close: bar.close }, true);
      return;
    }
    if (d.action === 'enter') {
      st.pendingExit = false;
      return [this.enter(bar, ctx, d.reason, d.values)];
    }
    return this.exit(st, bar.symbol, ctx, d.reason, d.values);
  }

  private enter(bar: Bar, ctx: StrategyContext, reason: string, values: Record<string, number | null>): StrategyDecision {
    const a = ctx.account;
    const symbol = bar.symbol;
    const all = this.params.allocation! >= 100;
    const flat = all ? a.positionCount() === 0 && a.openOrderCount() === 0 : a.sharesHeld(symbol) === 0 && a.openOrderCount(symbol) === 0;
    if (!flat) return { symbol, action: 'hold', reason: `${reason}; not entering: ${all ? 'the account is not flat' : `${symbol} is not flat`}`, values };
    const lot = ctx.reference(symbol)?.lotSize ?? 1;
    const notional = Math.floor(a.buyingPower() * Math.min(100, this.params.allocation!)) / 100;
    if (!(notional >= bar.close * lot)) return { symbol, action: 'hold', reason: `${reason}; not entering: buying power ${notional} buys no lot at ${bar.close}`, values };
    return { symbol, action: 'enter', reason, values, order: { symbol, side: 'buy', type: 'market', notional, tif: 'day' } };
  }

  private exit(st: S, symbol: string, ctx: StrategyContext, reason: string, values: Record<string, number | null>, quietWhenBlocked = false): StrategyDecision[] | void {
    const a = ctx.account;
    const pos = a.position(symbol);
    const cancel = a
      .openOrders(symbol)
      .filter((o) => o.side === 'buy' && o.strategyId === this.id)
      .map((o) => o.id);
    if (pos === undefined || pos.qty === 0) {
      st.pendingExit = false;
      if (quietWhenBlocked) return;
      return [{ symbol, action: 'hold', reason: `${reason}; nothing to sell`, values, cancel }];
    }
    const qty = a.sellableQty(symbol);
    const heldBySells = a
      .openOrders(symbol)
      .filter((o) => o.side === 'sell')
      .reduce((n, o) => n + o.qty - o.filledQty, 0);
    st.pendingExit = qty + heldBySells < pos.qty;
    if (qty <= 0) {
      if (quietWhenBlocked) return;
      return [{ symbol, action: 'hold', reason: `${reason}; exit pending: ${pos.unsettledQty} shares not settled yet`, values, cancel }];
    }
    return [{ symbol, action: 'exit', reason: st.pendingExit ? `${reason}; selling the ${qty} settled shares, ${pos.qty - qty - heldBySells} follow when settled` : reason, values, cancel, order: { symbol, side: 'sell', type: 'market', qty, tif: 'day' } }];
  }

  snapshot(): unknown {
    return { symbols: [...this.state.entries()].map(([k, v]) => [k, dump(v)]) };
  }

  restore(data: unknown): void {
    const d = data as { symbols: [string, unknown][] };
    this.state.clear();
    for (const [k, v] of d.symbols) {
      const st = this.fresh();
      load(st, v);
      this.state.set(k, st);
    }
  }
}

type Decision = { action: 'enter' | 'exit'; reason: string; values: Record<string, number | null> };

const crossAbove = (a: number | null, b: number | null, pa: number | null, pb: number | null) => a !== null && b !== null && pa !== null && pb !== null && a > b && pa <= pb;
const crossBelow = (a: number | null, b: number | null, pa: number | null, pb: number | null) => a !== null && b !== null && pa !== null && pb !== null && a < b && pa >= pb;

// ---------------------------------------------------------------- sma/ema cross

interface Line {
  update(x: number): number | null;
}
interface CrossState extends Base {
  fast: Line;
  slow: Line;
  pf: number | null;
  ps: number | null;
}

class CrossStrategy extends BuiltinStrategy<CrossState> {
  constructor(
    id: string,
    name: string,
    symbols: ReadonlySet<string> | null,
    params: StrategyParams,
    private readonly lines: () => { fast: Line; slow: Line },
  ) {
    super(id, name, symbols, params);
  }
  protected fresh(): CrossState {
    return { ...this.lines(), pf: null, ps: null, pendingExit: false };
  }
  protected decide(st: CrossState, bar: Bar) {
    const f = st.fast.update(bar.close);
    const s = st.slow.update(bar.close);
    const { pf, ps } = st;
    st.pf = f;
    st.ps = s;
    const kind = this.name === 'sma-cross' ? 'SMA' : 'EMA';
    if (crossAbove(f, s, pf, ps)) return { action: 'enter' as const, reason: `${kind}${this.params.fast} crossed above ${kind}${this.params.slow}`, values: { close: bar.close, fast: f, slow: s } };
    if (crossBelow(f, s, pf, ps)) return { action: 'exit' as const, reason: `${kind}${this.params.fast} crossed below ${kind}${this.params.slow}`, values: { close: bar.close, fast: f, slow: s } };
    return null;
  }
}

// ---------------------------------------------------------------- macd

interface MacdState extends Base {
  macd: Macd;
  pm: number | null;
  ps: number | null;
}

class MacdStrategy extends BuiltinStrategy<MacdState> {
  protected fresh(): MacdState {
    return { macd: new Macd(this.params.fast, this.params.slow, this.params.signal), pm: null, ps: null, pendingExit: false };
  }
  protected decide(st: MacdState, bar: Bar) {
    const v = st.macd.update(bar.close);
    const m = v?.macd ?? null;
    const s = v?.signal ?? null;
    const { pm, ps } = st;
    st.pm = m;
    st.ps = s;
    if (crossAbove(m, s, pm, ps)) return { action: 'enter' as const, reason: 'MACD crossed above its signal line', values: { close: bar.close, macd: m, signal: s, histogram: v?.histogram ?? null } };
    if (crossBelow(m, s, pm, ps)) return { action: 'exit' as const, reason: 'MACD crossed below its signal line', values: { close: bar.close, macd: m, signal: s, histogram: v?.histogram ?? null } };
    return null;
  }
}

// ---------------------------------------------------------------- rsi

interface RsiState extends Base {
  rsi: Rsi;
  prev: number | null;
}

class RsiStrategy extends BuiltinStrategy<RsiState> {
  protected fresh(): RsiState {
    return { rsi: new Rsi(this.params.period), prev: null, pendingExit: false };
  }
  protected decide(st: RsiState, bar: Bar) {
    const r = st.rsi.update(bar.close);
    const prev = st.prev;
    st.prev = r;
    const { oversold, overbought } = this.params as { oversold: number; overbought: number };
    if (r !== null && prev !== null && r < oversold && prev >= oversold) return { action: 'enter' as const, reason: `RSI fell below ${oversold}`, values: { close: bar.close, rsi: r } };
    if (r !== null && prev !== null && r > overbought && prev <= overbought) return { action: 'exit' as const, reason: `RSI rose above ${overbought}`, values: { close: bar.close, rsi: r } };
    return null;
  }
}

// ---------------------------------------------------------------- bollinger

interface BollState extends Base {
  bb: Bollinger;
  pc: number | null;
  pu: number | null;
  pm: number | null;
}

class BollingerStrategy extends BuiltinStrategy<BollState> {
  protected fresh(): BollState {
    return { bb: new Bollinger(this.params.period, this.params.mult), pc: null, pu: null, pm: null, pendingExit: false };
  }
  protected decide(st: BollState, bar: Bar) {
    const v = st.bb.update(bar.close);
    const { pc, pu, pm } = st;
    const c = bar.close;
    st.pc = c;
    st.pu = v?.upper ?? null;
    st.pm = v?.middle ?? null;
    if (crossAbove(c, st.pu, pc, pu)) return { action: 'enter' as const, reason: 'close broke above the upper band', values: { close: c, upper: v?.upper ?? null, middle: v?.middle ?? null, lower: v?.lower ?? null } };
    if (crossBelow(c, st.pm, pc, pm)) return { action: 'exit' as const, reason: 'close fell below the middle band', values: { close: c, upper: v?.upper ?? null, middle: v?.middle ?? null, lower: v?.lower ?? null } };
    return null;
  }
}

// ---------------------------------------------------------------- vn flow

interface FlowState extends Base {
  buys: number[];
  sells: number[];
  /** Foreign net buy value at each bar close (null when unknown). */
  foreign: (number | null)[];
  wasIn: boolean;
  wasOut: boolean;
}

class FlowStrategy extends BuiltinStrategy<FlowState> {
  protected fresh(): FlowState {
    return { buys: [], sells: [], foreign: [], wasIn: false, wasOut: false, pendingExit: false };
  }
  protected decide(st: FlowState, bar: Bar, ctx: StrategyContext) {
    const n = this.params.lookback!;
    st.buys.push(bar.buyVolume);
    st.sells.push(bar.sellVolume);
    st.foreign.push(ctx.foreign(bar.symbol)?.netValue ?? null);
    if (st.buys.length > n) st.buys.shift();
    if (st.sells.length > n) st.sells.shift();
    if (st.foreign.length > n + 1) st.foreign.shift();
    const b = st.buys.reduce((x, y) => x + y, 0);
    const s = st.sells.reduce((x, y) => x + y, 0);
    const imb = st.buys.length === n && b + s > 0 ? (b - s) / (b + s) : null;
    const f0 = st.foreign[0] ?? null;
    const f1 = st.foreign[st.foreign.length - 1] ?? null;
    const fnet = st.foreign.length === n + 1 && f0 !== null && f1 !== null ? f1 - f0 : null;
    const { imbalance: th, foreignValue: fv } = this.params as { imbalance: number; foreignValue: number };
    const foreignOk = fnet === null ? fv <= 0 : fnet >= fv;
    const inNow = imb !== null && imb >= th && foreignOk;
    const outNow = imb !== null && (imb <= -th || (fnet !== null && fnet < -fv && fv > 0) || (fnet !== null && fv === 0 && fnet < 0 && imb < 0));
    const enter = inNow && !st.wasIn;
    const exit = outNow && !st.wasOut;
    st.wasIn = inNow;
    st.wasOut = outNow;
    if (enter) return { action: 'enter' as const, reason: `active buy imbalance ${round4(imb!)} ≥ ${th}${fnet !== null ? ` with foreign net buying ${fnet}` : ''}`, values: { close: bar.close, imbalance: imb, foreignNetValue: fnet } };
    if (exit) return { action: 'exit' as const, reason: `flow turned: imbalance ${round4(imb!)}${fnet !== null ? `, foreign net ${fnet}` : ''}`, values: { close: bar.close, imbalance: imb, foreignNetValue: fnet } };
    return null;
  }
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

// ---------------------------------------------------------------- state (de)serialisation

/**
 * Plain-JSON copy of a strategy's per-symbol state, indicator instances
 * included (their fields are numbers, nulls and Float64Array windows), so a
 * restored strategy continues exactly where it stopped instead of warming up
 * again. Non-finite numbers are tagged because JSON has none.
 */
export function dump(v: unknown): unknown {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return { __num: String(v) };
    return v;
  }
  if (v instanceof Float64Array) return { __f64: Array.from(v) };
  if (Array.isArray(v)) return v.map(dump);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'function') out[k] = dump(x);
  return out;
}

/** Loads `dump` output into a freshly built object of the same shape (instances keep their classes). */
export function load(target: Record<string, any>, data: unknown): void {
  for (const [k, x] of Object.entries(data as Record<string, unknown>)) {
    const cur = target[k];
    target[k] = revive(cur, x);
  }
}

function revive(cur: unknown, x: unknown): unknown {
  if (x !== null && typeof x === 'object' && '__num' in (x as object)) return Number((x as { __num: string }).__num);
  if (x !== null && typeof x === 'object' && '__f64' in (x as object)) {
    const arr = (x as { __f64: number[] }).__f64;
    if (cur instanceof Float64Array && cur.length === arr.length) {
      cur.set(arr);
      return cur;
    }
    return Float64Array.from(arr);
  }
  if (Array.isArray(x)) return x.map((e) => revive(undefined, e));
  if (x !== null && typeof x === 'object' && cur !== null && typeof cur === 'object' && !Array.isArray(cur)) {
    load(cur as Record<string, any>, x);
    return cur;
  }
  return x;
}
