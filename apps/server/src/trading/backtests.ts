/**
 * Backtests on request (POST /api/trading/backtests), designed not to hurt the
 * server that runs them:
 *
 * - the tape is chosen server-side: a file name from TRADING_TAPES_DIR, never
 *   a path (no traversal, no reading arbitrary files);
 * - bounded CPU: the run yields to the event loop every few thousand events
 *   and fails past BACKTEST_MAX_MS of wall time or BACKTEST_MAX_EVENTS events;
 * - one running backtest per user across every replica (a partial unique index
 *   in storage), and at most `maxConcurrent` per process;
 * - the request returns at once (202) with the stored row; the result is
 *   stored when done and listed with the user's other backtests.
 *
 * It runs the core's own BacktestRunner over the tape's events, so its fills
 * equal `stock-tracker backtest` on the same tape.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AppError, type BacktestSummary, type TradingBacktest, type TradingBacktestCreate } from '@stock-tracker/protocol';
import { BacktestRunner, createStrategy } from '@stock-tracker/trading';
import { readTape } from '@stock-tracker/feeds';
import type { TradingSettings } from '../config.ts';
import type { BacktestRecord, TradingRepo } from '../storage/trading-repo.ts';

const TAPE_RE = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;
const YIELD_EVERY = 2_000;
/** Candles kept in a stored report (for the web app's fills-on-candles chart): symbols with fills, at most this many, each its last MAX_BARS minutes. */
const MAX_BAR_SYMBOLS = 10;
const MAX_BARS = 5_000;

export interface BacktestCandle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** 1-minute OHLCV per symbol from the tape's trades (minute = floor(ts / 60 s), as the engine's bars). */
class CandleCollector {
  private readonly by = new Map<string, BacktestCandle[]>();
  constructor(private readonly only: ReadonlySet<string> | null) {}
  push(ev: { type: string; ts?: number; symbol?: string; price?: number; volume?: number }): void {
    if (ev.type !== 'trade' || typeof ev.symbol !== 'string' || typeof ev.ts !== 'number' || !(Number(ev.price) > 0)) return;
    if (this.only && !this.only.has(ev.symbol)) return;
    const price = ev.price!;
    const m = Math.floor(ev.ts / 60_000) * 60_000;
    let bars = this.by.get(ev.symbol);
    if (!bars) this.by.set(ev.symbol, (bars = []));
    const last = bars[bars.length - 1];
    if (last && last.ts === m) {
      if (price > last.high) last.high = price;
      if (price < last.low) last.low = price;
      last.close = price;
      last.volume += Number(ev.volume) || 0;
    } else if (!last || m > last.ts) {
      bars.push({ ts: m, open: price, high: price, low: price, close: price, volume: Number(ev.volume) || 0 });
      if (bars.length > MAX_BARS * 2) bars.splice(0, bars.length - MAX_BARS);
    }
  }
  /** Candles of the symbols that have fills (in fill order of first appearance). */
  forSymbols(symbols: string[]): Record<string, BacktestCandle[]> {
    const out: Record<string, BacktestCandle[]> = {};
    for (const s of [...new Set(symbols)].slice(0, MAX_BAR_SYMBOLS)) out[s] = (this.by.get(s) ?? []).slice(-MAX_BARS);
    return out;
  }
}

export function toTradingBacktest(r: BacktestRecord, withReport: boolean): TradingBacktest {
  const result = r.result as { summary?: BacktestSummary } | null;
  return {
    id: r.id,
    status: r.status,
    request: r.request as unknown as TradingBacktestCreate,
    summary: result?.summary ?? null,
    error: r.error,
    createdAt: r.createdAt,
    finishedAt: r.finishedAt,
    ...(withReport ? { report: result ?? null } : {}),
  };
}

export interface BacktestLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export class BacktestService {
  private running = 0;
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly repo: TradingRepo,
    private readonly settings: TradingSettings,
    private readonly log?: BacktestLogger,
    private readonly maxConcurrent = 2,
  ) {}

  tapes(): { name: string; bytes: number }[] {
    const dir = this.settings.tapesDir;
    if (!dir) return [];
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && TAPE_RE.test(e.name))
        .map((e) => ({ name: e.name, bytes: statSync(join(dir, e.name)).size }))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch {
      return [];
    }
  }

  private tapePath(name: string): string {
    const dir = this.settings.tapesDir;
    // Only a plain file name listed in the directory: never a path the client builds.
    if (!dir || !TAPE_RE.test(name) || basename(name) !== name || !this.tapes().some((t) => t.name === name)) {
      throw new AppError('NOT_FOUND', `No tape '${name}'.`, [{ path: 'body.tape', issue: 'not one of GET /api/trading/tapes' }]);
    }
    return join(dir, name);
  }

  async start(userId: string, req: TradingBacktestCreate): Promise<TradingBacktest> {
    const path = this.tapePath(req.tape);
    const config = { id: 'backtest', strategy: req.strategy, params: req.params ?? {}, symbols: req.symbols ?? [] };
    try {
      createStrategy(config);
    } catch (err) {
      throw new AppError('VALIDATION_FAILED', 'The strategy is not valid.', [{ path: 'body', issue: err instanceof Error ? err.message : String(err) }]);
    }
    if (this.running >= this.maxConcurrent) throw new AppError('RATE_LIMITED', 'Too many backtests are running on this server; try again shortly.', undefined, { 'Retry-After': '5' });
    const rec = await this.repo.backtests.start(userId, req as unknown as Record<string, unknown>, this.settings.backtestMaxMs * 2 + 60_000);
    this.running++;
    const run = this.run(rec.id, path, req, config)
      .catch((err: unknown) => this.log?.warn({ err, backtest: rec.id }, 'backtest: result not stored'))
      .finally(() => {
        this.running--;
        this.runs.delete(run);
      });
    this.runs.add(run);
    return toTradingBacktest(rec, false);
  }

  private async run(id: string, path: string, req: TradingBacktestCreate, config: { id: string; strategy: string; params: Record<string, number>; symbols: string[] }): Promise<void> {
    const deadline = Date.now() + this.settings.backtestMaxMs;
    let outcome: { result: Record<string, unknown> } | { error: string };
    try {
      const runner = new BacktestRunner({ strategies: [config], cash: req.cash ?? this.settings.startingCashVn, fees: req.fees, ...(req.symbols?.length ? { symbols: req.symbols } : {}) });
      const candles = new CandleCollector(req.symbols?.length ? new Set(req.symbols) : null);
      let n = 0;
      for await (const ev of readTape(path)) {
        runner.push(ev);
        candles.push(ev as { type: string });
        if (++n % YIELD_EVERY === 0) {
          if (n > this.settings.backtestMaxEvents) throw new Error(`stopped after ${this.settings.backtestMaxEvents} events (BACKTEST_MAX_EVENTS)`);
          if (Date.now() > deadline) throw new Error(`stopped after ${this.settings.backtestMaxMs} ms (BACKTEST_MAX_MS)`);
          await new Promise((r) => setImmediate(r)); // the server keeps answering
        }
      }
      const r = runner.finish();
      outcome = {
        result: { tape: req.tape, strategy: req.strategy, params: req.params ?? {}, symbols: req.symbols ?? [], cash: req.cash ?? this.settings.startingCashVn, events: r.events, fills: r.fills, equity: r.equity, summary: r.summary, signals: r.signals, rejected: r.rejectedOrders,
          // Additive, for the web app's report page: the tape's 1-minute candles of the traded symbols.
          bars: candles.forSymbols([...(req.symbols ?? []), ...r.fills.map((f) => f.symbol)]) },
      };
    } catch (err) {
      outcome = { error: err instanceof Error ? err.message : String(err) };
    }
    await this.repo.backtests.finish(id, outcome);
  }

  /** Waits for the runs of this process (shutdown, tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.runs]);
  }
}
