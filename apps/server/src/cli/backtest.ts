/**
 * `stock-tracker backtest FILE --strategy NAME [--params k=v,...] [--symbols A,B]
 *                          [--cash N] [--fees auto|none|vn|us] [--format auto|events|ssi|alpaca] [--json]`
 *
 * Runs a built-in strategy over any tape the replay command reads, through the
 * same market engine and the same trading core as paper trading, at full
 * speed. Prints a human report, or with `--json` one JSON document (fills,
 * summary, equity curve) that is byte-identical for the same tape and
 * arguments. A progress bar goes to stderr, only when stderr is a terminal.
 * Every assumption the backtest makes: docs/trading.md.
 *
 * Exit codes: 0 when the tape was read (malformed lines included), 1 when it
 * cannot be read, 2 for bad arguments.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FORMAT_OPTIONS, TapeOpenError, createTapeStats, readTape, type FormatOption, type MalformedLine } from '@stock-tracker/feeds';
import type { BacktestReport, StrategyParams } from '@stock-tracker/protocol';
import { BUILTIN_STRATEGIES, BacktestRunner, parseParams, resolveParams, type BacktestFees } from '@stock-tracker/trading';
import { malformedLineReporter } from './malformed-lines.ts';

const FEES: readonly BacktestFees[] = ['auto', 'none', 'vn', 'us'];
export const DEFAULT_CASH = 100_000_000;

export interface BacktestArgs {
  file: string;
  strategy: string;
  params: StrategyParams;
  symbols: string[];
  cash: number;
  fees: BacktestFees;
  format: FormatOption;
  json: boolean;
}

const USAGE = `usage: stock-tracker backtest FILE --strategy NAME [--params k=v,...] [--symbols A,B] [--cash N]
                                 [--fees auto|none|vn|us] [--format auto|events|ssi|alpaca] [--json]

  --strategy  built-in strategy: ${BUILTIN_STRATEGIES.map((s) => s.name).join(', ')}
  --params    strategy parameters, e.g. fast=5,slow=20 (defaults below)
  --symbols   trade only these symbols (default: every symbol on the tape)
  --cash      starting cash in the tape's currency (default ${DEFAULT_CASH})
  --fees      fee schedule: auto (default: VN 0.15% fee + 0.1% sell tax, US commission-free),
              none, vn or us for every symbol
  --format    tape line format; auto (default) detects it per line
  --json      print one JSON document (fills, summary, equity curve) on stdout

strategies:
${BUILTIN_STRATEGIES.map((s) => `  ${s.name.padEnd(20)} ${s.params.map((p) => `${p.name}=${p.default}`).join(',')}`).join('\n')}
`;

export function parseBacktestArgs(argv: string[]): BacktestArgs | { error: string } | { help: true } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        strategy: { type: 'string' },
        params: { type: 'string', default: '' },
        symbols: { type: 'string', default: '' },
        cash: { type: 'string', default: String(DEFAULT_CASH) },
        fees: { type: 'string', default: 'auto' },
        format: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 1) return { error: positionals.length === 0 ? 'missing FILE' : 'expected exactly one FILE' };
  if (!values.strategy) return { error: 'missing --strategy' };
  let params: StrategyParams;
  try {
    params = resolveParams(values.strategy, parseParams(values.params));
  } catch (e) {
    return { error: (e as Error).message };
  }
  const cash = Number(values.cash);
  if (!(cash > 0) || !Number.isFinite(cash)) return { error: '--cash must be a positive number' };
  const fees = values.fees as BacktestFees;
  if (!FEES.includes(fees)) return { error: `--fees must be one of ${FEES.join(', ')}` };
  const format = values.format as FormatOption;
  if (!FORMAT_OPTIONS.includes(format)) return { error: `--format must be one of ${FORMAT_OPTIONS.join(', ')}` };
  const symbols = values.symbols.split(',').map((s) => s.trim()).filter(Boolean);
  if (symbols.some((s) => !/^[A-Za-z0-9._-]{1,20}$/.test(s))) return { error: '--symbols must be a comma-separated list of symbols' };
  return { file: positionals[0]!, strategy: values.strategy, params, symbols, cash, fees, format, json: values.json };
}

/** Lines in a file (a fast byte scan), for the progress bar's total. */
async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  }
  return n + 1;
}

class Progress {
  private last = -1;
  constructor(private readonly total: number) {}
  update(lines: number): void {
    const pct = Math.min(100, Math.floor((lines / this.total) * 100));
    if (pct === this.last) return;
    this.last = pct;
    const width = 30;
    const done = Math.round((pct / 100) * width);
    process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${String(pct).padStart(3)}%`);
  }
  end(): void {
    process.stderr.write('\r\x1b[K');
  }
}

/** Runs the backtest and returns the report document (exported for tests and the server). */
export async function backtestFile(args: BacktestArgs, onMalformed?: (m: MalformedLine) => void, onLine?: (lines: number) => void): Promise<BacktestReport> {
  const runner = new BacktestRunner({
    strategies: [{ id: args.strategy, strategy: args.strategy, params: args.params, symbols: args.symbols }],
    cash: args.cash,
    fees: args.fees,
  });
  const stats = createTapeStats();
  let n = 0;
  for await (const ev of readTape(args.file, { format: args.format, onMalformed, stats })) {
    runner.push(ev);
    if (onLine && (++n & 4095) === 0) onLine(stats.lines);
  }
  const r = runner.finish();
  return {
    file: args.file,
    strategy: args.strategy,
    params: args.params,
    symbols: args.symbols,
    cash: args.cash,
    fees: args.fees,
    events: r.events,
    fills: r.fills,
    summary: r.summary,
    equity: r.equity,
    signals: r.signals,
    rejected: r.rejectedOrders,
  };
}

function humanReport(rep: BacktestReport): string {
  const s = rep.summary;
  const out = [
    `${rep.file}: ${rep.strategy} ${Object.entries(rep.params).map(([k, v]) => `${k}=${v}`).join(',')} over ${rep.events} events, fees ${rep.fees}`,
    `equity ${s.startEquity} -> ${s.endEquity} (${s.returnPct}%), max drawdown ${s.maxDrawdownPct}%, ${s.trades} trades, win rate ${s.winRate ?? '-'}%, sharpe ${s.sharpe ?? '-'}`,
    `${s.fills} fills, fees ${s.fees}, taxes ${s.taxes}, ${rep.signals} signals, ${rep.rejected} orders rejected`,
  ];
  if (rep.fills.length > 0) {
    out.push(`${'time (UTC)'.padEnd(26)}${'symbol'.padEnd(10)}${'side'.padEnd(6)}${'qty'.padStart(10)}${'price'.padStart(12)}${'fee'.padStart(12)}${'tax'.padStart(12)}`);
    for (const f of rep.fills.slice(0, 50)) {
      out.push(`${new Date(f.ts).toISOString().padEnd(26)}${f.symbol.padEnd(10)}${f.side.padEnd(6)}${String(f.qty).padStart(10)}${String(f.price).padStart(12)}${String(f.fee).padStart(12)}${String(f.tax).padStart(12)}`);
    }
    if (rep.fills.length > 50) out.push(`… ${rep.fills.length - 50} more fills (--json prints them all)`);
  }
  return out.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseBacktestArgs(argv);
  if ('help' in args) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ('error' in args) {
    process.stderr.write(`stock-tracker backtest: ${args.error}\n\n${USAGE}`);
    return 2;
  }
  const malformed = malformedLineReporter(args.file);
  let progress: Progress | undefined;
  let report: BacktestReport;
  try {
    if (process.stderr.isTTY) {
      const st = await stat(args.file).catch(() => null);
      if (st?.isFile()) progress = new Progress(await countLines(args.file));
    }
    report = await backtestFile(args, malformed.onMalformed, progress ? (l) => progress!.update(l) : undefined);
  } catch (e) {
    progress?.end();
    if (e instanceof TapeOpenError) {
      process.stderr.write(`stock-tracker backtest: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  progress?.end();
  malformed.finish();
  process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : humanReport(report));
  return 0;
}
