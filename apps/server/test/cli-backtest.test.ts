/**
 * `stock-tracker backtest` through the real command module (in-process):
 * sma-cross on hand-built tapes with the fills computed by hand (issue 11 §2),
 * the JSON document's shape, byte-identical output for the same tape and
 * arguments, and argument errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Simulator, encodeEvent } from '@stock-tracker/feeds';
import type { BacktestReport, MarketEvent, SymbolRef } from '@stock-tracker/protocol';
import { run } from '../src/cli/backtest.ts';
import { runCli } from './cli-runner.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MIN = 60_000;

function tape(name: string, events: MarketEvent[]): string {
  const path = join(dir, name);
  writeFileSync(path, events.map((e) => encodeEvent(e)).join('\n') + '\n');
  return path;
}

const ref = (over: Partial<SymbolRef>): SymbolRef => ({ symbol: 'X', exchange: 'HOSE', market: 'VN', tradingDate: '2024-01-02', reference: 20_000, ceiling: 21_400, floor: 18_600, lotSize: 100, indices: [], sharesOutstanding: 1e9, ...over });

/** One trade 10 s into each minute; bar m closes when the trade of minute m+1 arrives. */
function minuteTrades(symbol: string, start: number, closes: number[], idPrefix: string): MarketEvent[] {
  return closes.map((price, m) => ({ type: 'trade', ts: start + m * MIN + 10_000, symbol, id: `${idPrefix}${m}`, price, volume: 1_000 }));
}

async function backtest(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(run, argv);
}

describe('sma-cross by hand', () => {
  it('US symbol, fast=2 slow=3, no fees: buys all cash at the first trade after the crossing bar, sells the whole position', async () => {
    const start = Date.UTC(2024, 0, 2, 15, 0); // 10:00 in New York
    const closes = [10, 10, 10, 11, 12, 11, 9, 8, 9, 10, 11];
    const file = tape('us.tape', [
      { type: 'reference', ts: start, ref: ref({ symbol: 'AAPL', exchange: 'NASDAQ', market: 'US', reference: 10, ceiling: null, floor: null, lotSize: 1 }) },
      ...minuteTrades('AAPL', start, closes, 'a'),
    ]);
    const r = await backtest([file, '--strategy', 'sma-cross', '--params', 'fast=2,slow=3', '--cash', '10000', '--fees', 'none', '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as BacktestReport;
    // Bar 3 (close 11): SMA2 10.5 > SMA3 10.33, previous bar 10 ≤ 10 → buy at the end of bar 3 (minute 4),
    // first trade at or after it: minute 4 at 12 → floor(10000 / 12) = 833 shares, 4 left.
    // Bar 6 (close 9): SMA2 10 < SMA3 10.67, previous 11.5 ≥ 11.33 → sell 833 at minute 7's trade, 8 → cash 6668.
    // Bar 9 (close 10): SMA2 9.5 > SMA3 9, previous 8.5 ≤ 8.67 → flat → buy floor(6668 / 11) = 606 at minute 10's trade.
    expect(rep.fills.map(({ ts, symbol, side, qty, price, fee, tax }) => ({ ts, symbol, side, qty, price, fee, tax }))).toEqual([
      { ts: start + 4 * MIN + 10_000, symbol: 'AAPL', side: 'buy', qty: 833, price: 12, fee: 0, tax: 0 },
      { ts: start + 7 * MIN + 10_000, symbol: 'AAPL', side: 'sell', qty: 833, price: 8, fee: 0, tax: 0 },
      { ts: start + 10 * MIN + 10_000, symbol: 'AAPL', side: 'buy', qty: 606, price: 11, fee: 0, tax: 0 },
    ]);
    // End: cash 2 + 606 × 11 = 6668.
    expect(rep.summary).toMatchObject({ startEquity: 10_000, endEquity: 6_668, returnPct: -33.32, trades: 1, winRate: 0, fills: 3 });
    expect(rep.summary.maxDrawdownPct).toBeGreaterThan(33);
  });

  it('VN symbol: the quantity is rounded down to the lot; T+2 holds the exit until the shares settle', async () => {
    const d1 = Date.UTC(2024, 0, 2, 2, 30); // Tue 09:30 in Ho Chi Minh City
    const d2 = d1 + 86_400_000;
    const d3 = d2 + 86_400_000; // Thu: shares bought Tue are sellable
    const file = tape('vn.tape', [
      { type: 'reference', ts: d1 - MIN, ref: ref({ symbol: 'FPT' }) },
      ...minuteTrades('FPT', d1, [20_000, 20_000, 20_000, 20_500, 21_000, 20_500, 19_000], 'd1-'),
      { type: 'reference', ts: d2 - MIN, ref: ref({ symbol: 'FPT', tradingDate: '2024-01-03', reference: 19_000, ceiling: 20_300, floor: 17_700 }) },
      ...minuteTrades('FPT', d2, [19_000, 19_000, 19_000], 'd2-'),
      { type: 'reference', ts: d3 - MIN, ref: ref({ symbol: 'FPT', tradingDate: '2024-01-04', reference: 19_000, ceiling: 20_300, floor: 17_700 }) },
      ...minuteTrades('FPT', d3, [19_000, 19_000, 19_000], 'd3-'),
    ]);
    const r = await backtest([file, '--strategy', 'sma-cross', '--params', 'fast=2,slow=3', '--cash', '10000000', '--fees', 'none', '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as BacktestReport;
    // Cross above at bar 3 (20,500) → buy at minute 4's trade, 21,000: floor(10,000,000 / 21,000 / 100) × 100 = 400.
    // Cross below at bar 6 … the shares settle on Thursday: the first Thursday bar that closes sells them at the next trade.
    expect(rep.fills.map(({ ts, side, qty, price }) => ({ ts, side, qty, price }))).toEqual([
      { ts: d1 + 4 * MIN + 10_000, side: 'buy', qty: 400, price: 21_000 },
      { ts: d3 + 1 * MIN + 10_000, side: 'sell', qty: 400, price: 19_000 },
    ]);
    expect(rep.summary).toMatchObject({ endEquity: 10_000_000 - 400 * 2_000, trades: 1, winRate: 0 });
  });

  it('VN fees (auto): buy fee 0.15 %, sell fee 0.15 % + tax 0.1 %', async () => {
    const d1 = Date.UTC(2024, 0, 2, 2, 30);
    const file = tape('vn-fees.tape', [
      { type: 'reference', ts: d1 - MIN, ref: ref({ symbol: 'FPT' }) },
      ...minuteTrades('FPT', d1, [20_000, 20_000, 20_000, 20_500, 21_000], 'f-'),
    ]);
    const r = await backtest([file, '--strategy', 'sma-cross', '--params', 'fast=2,slow=3', '--cash', '10000000', '--json']);
    const rep = JSON.parse(r.out) as BacktestReport;
    // 400 × 21,000 = 8,400,000 + 12,600 fee ≤ 10,000,000; 500 shares would cost 10,515,750.
    expect(rep.fills).toMatchObject([{ side: 'buy', qty: 400, price: 21_000, fee: 12_600, tax: 0 }]);
    expect(rep.fees).toBe('auto');
  });
});

describe('the JSON document', () => {
  it('is byte-identical for the same tape and arguments (simulator tape)', async () => {
    const startTs = Date.UTC(2024, 0, 2, 1, 30);
    const sim = new Simulator({ seed: 11, startTs, symbols: 4, intensity: 3 }); // ≈ 34 one-minute bars per symbol
    const events: MarketEvent[] = [];
    for (let t = startTs; events.length < 6_000; ) sim.advanceTo((t += 10_000), (ev) => void events.push(ev));
    const file = tape('sim.tape', events);
    const args = [file, '--strategy', 'sma-cross', '--params', 'fast=2,slow=4', '--json'];
    const a = await backtest(args);
    const b = await backtest(args);
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    const rep = JSON.parse(a.out) as BacktestReport;
    expect(rep.fills.length).toBeGreaterThan(0);
    expect(Object.keys(rep.summary).sort()).toEqual(['endEquity', 'fees', 'fills', 'maxDrawdownPct', 'returnPct', 'sharpe', 'startEquity', 'taxes', 'trades', 'winRate']);
    for (const f of rep.fills) expect(Object.keys(f)).toEqual(expect.arrayContaining(['ts', 'symbol', 'side', 'qty', 'price', 'fee', 'tax']));
    // Symbols filter: only that symbol trades.
    const sym = rep.fills[0]!.symbol;
    const only = JSON.parse((await backtest([...args, '--symbols', sym])).out) as BacktestReport;
    expect(new Set(only.fills.map((f) => f.symbol))).toEqual(new Set([sym]));
    // The human report runs too, without a progress bar when stderr is not a terminal.
    const human = await backtest(args.slice(0, -1));
    expect(human.out).toMatch(/sma-cross .* over \d+ events/);
    expect(human.err).toBe('');
  });

  it('argument errors exit 2, an unreadable tape exits 1', async () => {
    expect((await backtest([join(dir, 'us.tape')])).code).toBe(2);
    expect((await backtest([join(dir, 'us.tape'), '--strategy', 'nope'])).err).toMatch(/unknown strategy/);
    expect((await backtest([join(dir, 'us.tape'), '--strategy', 'sma-cross', '--params', 'fast=30,slow=10'])).code).toBe(2);
    expect((await backtest([join(dir, 'us.tape'), '--strategy', 'sma-cross', '--fees', 'xx'])).code).toBe(2);
    expect((await backtest([join(dir, 'missing.tape'), '--strategy', 'sma-cross'])).code).toBe(1);
  });
});
