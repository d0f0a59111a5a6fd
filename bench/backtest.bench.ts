/**
 * Backtest throughput: events/s through the market engine alone, and through
 * the engine + trading cores running 10 strategies (one account each, all on
 * every symbol, behind one TradingHub as the backtest command runs them),
 * side by side in one run on the same recorded simulator day.
 *
 *   npx tsx bench/backtest.bench.ts [events=300000]
 *
 * The tape is one simulated trading day of the seeded market Simulator of
 * @stock-tracker/feeds on the exchange clock (local 09:00–15:00 stamps, so the
 * strategies see a whole day of 1-minute bars), its intensity set so that the
 * day has about `events` events. Each variant runs 3 times after an untimed
 * warm-up, alternating, each with fresh engine/cores; the best run of each is
 * reported as {"bench":"backtest",...} with the overhead the trading cores
 * add to the engine's time (target: ≤ 30 %).
 */
import { MarketEngine } from '@stock-tracker/engine';
import { Simulator } from '@stock-tracker/feeds';
import type { EngineOutput, MarketEvent, StrategyConfig, TradingEvent } from '@stock-tracker/protocol';
import { TradingCore, TradingHub, createStrategy } from '@stock-tracker/trading';
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const N = Number(process.argv[2] ?? 300_000);
const RUNS = 3;
const SYMBOLS = 30;
const START = Date.UTC(2024, 0, 2, 1, 30); // 08:30 in Vietnam
const DAY_MS = 600_000;

const STRATEGIES: StrategyConfig[] = [
  { id: 'sma', strategy: 'sma-cross', params: { fast: 10, slow: 30 }, symbols: [] },
  { id: 'sma-fast', strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [] },
  { id: 'ema', strategy: 'ema-cross', params: { fast: 12, slow: 26 }, symbols: [] },
  { id: 'ema-fast', strategy: 'ema-cross', params: { fast: 4, slow: 9 }, symbols: [] },
  { id: 'rsi', strategy: 'rsi-reversion', params: {}, symbols: [] },
  { id: 'rsi-short', strategy: 'rsi-reversion', params: { period: 5, oversold: 35, overbought: 65 }, symbols: [] },
  { id: 'macd', strategy: 'macd-cross', params: {}, symbols: [] },
  { id: 'bb', strategy: 'bollinger-breakout', params: {}, symbols: [] },
  { id: 'bb-tight', strategy: 'bollinger-breakout', params: { period: 10, mult: 1.5 }, symbols: [] },
  { id: 'flow', strategy: 'vn-flow', params: { allocation: 20 }, symbols: [] },
].map((s) => ({ ...s, params: { allocation: 25, ...(s.params as Record<string, number>) } }));

function record(): MarketEvent[] {
  // Intensity is per wall second of continuous trading; a day is DAY_MS of wall time, most of it trading.
  const sim = new Simulator({ seed: 7, startTs: START, symbols: SYMBOLS, intensity: Math.max(1, (N / (DAY_MS / 1000)) * 1.15), clock: 'exchange' });
  const tape: MarketEvent[] = [];
  sim.advanceToWall(START + DAY_MS - 1, (ev) => void tape.push(ev));
  return tape;
}

const tape = record();
const mix: Record<string, number> = {};
for (const e of tape) mix[e.type] = (mix[e.type] ?? 0) + 1;

/** CPU milliseconds of this process (steadier than wall time on a shared machine). */
let lastCpu = 0;
function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

function engineOnly(): number {
  const engine = new MarketEngine();
  const noop = () => {};
  gc();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < tape.length; i++) engine.apply(tape[i]!, noop);
  lastCpu = cpuSince(c0);
  return performance.now() - t0;
}

const symbols = [...new Set(tape.flatMap((e) => (e.type === 'reference' ? [e.ref.symbol] : [])))].sort();
/** The same 10 strategies, each on 3 symbols of its own (a strategy per few names, as users configure them). */
const FOCUSED = STRATEGIES.map((s, i) => ({ ...s, symbols: symbols.slice((i * 3) % symbols.length, ((i * 3) % symbols.length) + 3) }));

function withTrading(configs: StrategyConfig[]): { ms: number; fills: number; signals: number; orders: number } {
  const engine = new MarketEngine();
  const cores = configs.map((cfg) => {
    const c = new TradingCore({ accountId: cfg.id, cash: 1_000_000_000 });
    c.addStrategy(createStrategy(cfg));
    return c;
  });
  let fills = 0;
  let signals = 0;
  let orders = 0;
  const count = (_c: TradingCore, evs: TradingEvent[]) => {
    for (let j = 0; j < evs.length; j++) {
      const t = evs[j]!.type;
      if (t === 'fill') fills++;
      else if (t === 'signal') signals++;
      else if (t === 'order') orders++;
    }
  };
  // As the backtest command runs them: one hub, so an output reaches only the accounts it can affect.
  const hub = new TradingHub(cores, count);
  const emit = (out: EngineOutput) => hub.onMarket(out);
  gc();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < tape.length; i++) engine.apply(tape[i]!, emit);
  lastCpu = cpuSince(c0);
  const ms = performance.now() - t0;
  return { ms, fills, signals, orders };
}

// Warm-up (JIT) of both paths, untimed.
engineOnly();
const warm = withTrading(STRATEGIES);
const warmFocused = withTrading(FOCUSED);

let bestEngine = Infinity;
let bestTrading = Infinity;
let bestFocused = Infinity;
const cpu = { engine: Infinity, trading: Infinity, focused: Infinity };
for (let r = 0; r < RUNS; r++) {
  const e = engineOnly();
  cpu.engine = Math.min(cpu.engine, lastCpu);
  const t = withTrading(STRATEGIES).ms;
  cpu.trading = Math.min(cpu.trading, lastCpu);
  const f = withTrading(FOCUSED).ms;
  cpu.focused = Math.min(cpu.focused, lastCpu);
  const pct = (x: number) => `${x.toFixed(0)} ms (+${(((x - e) / e) * 100).toFixed(1)}%)`;
  console.error(`run ${r + 1}: engine ${e.toFixed(0)} ms; + 10 strategies on every symbol ${pct(t)}; + 10 strategies on 3 symbols each ${pct(f)}`);
  bestEngine = Math.min(bestEngine, e);
  bestTrading = Math.min(bestTrading, t);
  bestFocused = Math.min(bestFocused, f);
}
const overheadPct = ((bestTrading - bestEngine) / bestEngine) * 100;
const focusedOverheadPct = ((bestFocused - bestEngine) / bestEngine) * 100;
console.error(`tape: simulator day, ${SYMBOLS} symbols, ${tape.length} events, mix ${JSON.stringify(mix)}; ${warm.signals} signals, ${warm.orders} order events, ${warm.fills} fills`);
console.log(
  JSON.stringify({
    bench: 'backtest',
    events: tape.length,
    symbols: SYMBOLS,
    strategies: STRATEGIES.length,
    engineEventsPerSec: Math.round(tape.length / (bestEngine / 1000)),
    tradingEventsPerSec: Math.round(tape.length / (bestTrading / 1000)),
    overheadPct: Math.round(overheadPct * 10) / 10,
    focusedEventsPerSec: Math.round(tape.length / (bestFocused / 1000)),
    focusedOverheadPct: Math.round(focusedOverheadPct * 10) / 10,
    focusedSignals: warmFocused.signals,
    focusedFills: warmFocused.fills,
    cpuOverheadPct: Math.round(((cpu.trading - cpu.engine) / cpu.engine) * 1000) / 10,
    cpuFocusedOverheadPct: Math.round(((cpu.focused - cpu.engine) / cpu.engine) * 1000) / 10,
    loadAvg1m: Math.round(os.loadavg()[0]! * 100) / 100,
    signals: warm.signals,
    fills: warm.fills,
    runs: RUNS,
    node: process.version,
  }),
);
