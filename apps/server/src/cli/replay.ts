/**
 * `stock-tracker replay FILE [--format auto|events|ssi|alpaca] [--speed N|max]
 *                             [--summary] [--no-vendor-side]`
 *
 * Plays a tape through the market engine and reports what came out: per
 * symbol prices, volumes and the buy/sell split, plus how many lines were
 * malformed and how many events the engine rejected. `--summary` prints one
 * JSON document (stable key order, rounded numbers) for scripts and tests.
 * `--no-vendor-side` makes the engine classify trades itself (Lee–Ready) and
 * measures how often it agrees with the vendor's aggressor flags.
 *
 * Exit codes: 0 when the tape was read (malformed lines included), 1 when it
 * cannot be read, 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { MarketEngine } from '@stock-tracker/engine';
import {
  FORMAT_OPTIONS,
  ReplayFeed,
  TapeOpenError,
  createTapeStats,
  readTape,
  systemClock,
  type FormatOption,
  type TapeStats,
} from '@stock-tracker/feeds';
import type { EngineOutput, MarketEvent, MarketEventType } from '@stock-tracker/protocol';
import { MARKET_EVENT_TYPES } from '@stock-tracker/protocol';
import { malformedLineReporter } from './malformed-lines.ts';

/** Malformed lines echoed on stderr before only counting the rest. */

export interface SymbolSummary {
  last: number | null;
  volume: number;
  buyVolume: number;
  sellVolume: number;
  unknownVolume: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  vwap: number | null;
  foreignNetVolume: number | null;
}

export interface Classification {
  /** Accepted trades that carried a vendor buy/sell flag. */
  tradesWithVendorSide: number;
  /** Of those, how many the engine classified as buy or sell. */
  classified: number;
  /** Share of `classified` where the engine agrees with the vendor (null when none). */
  agreement: number | null;
  /** classified / tradesWithVendorSide (null when none). */
  coverage: number | null;
}

export interface ReplaySummary {
  file: string;
  /** Lines recognised per format. */
  format: Record<string, number>;
  lines: number;
  events: { total: number; byType: Record<string, number> };
  malformed: { count: number; byKind: Record<string, number> };
  /** Events the engine refused (out of limits, off tick, duplicates, ...). */
  rejected: number;
  symbols: Record<string, SymbolSummary>;
  classification?: Classification;
}

/** Rounded to 4 decimals: enough for sub-penny prices, stable across runs and platforms. */
const r4 = (x: number) => Math.round(x * 1e4) / 1e4 + 0;
const r4n = (x: number | null | undefined) => (x === null || x === undefined ? null : r4(x));
const sortedCounts = (rec: Record<string, number | undefined>) =>
  Object.fromEntries(Object.entries(rec).filter((e): e is [string, number] => (e[1] ?? 0) > 0).sort(([a], [b]) => a.localeCompare(b)));

/**
 * Feeds events to a MarketEngine and builds the summary document. Shared by
 * the CLI and by tests that drive an engine directly, so both report alike.
 */
export class ReplaySession {
  readonly engine: MarketEngine;
  private readonly useVendorSide: boolean;
  private readonly byType: Record<MarketEventType, number> = Object.fromEntries(MARKET_EVENT_TYPES.map((t) => [t, 0])) as Record<MarketEventType, number>;
  private total = 0;
  private rejected = 0;
  private lastTs: number | null = null;
  // Classification check: the vendor side of the trade being applied, compared with what the engine emits.
  private vendorSide: 'buy' | 'sell' | null = null;
  private withVendorSide = 0;
  private classified = 0;
  private agreed = 0;
  private readonly emit = (out: EngineOutput) => {
    if (out.type !== 'trade' || this.vendorSide === null) return;
    this.withVendorSide += 1;
    const side = out.trade.side;
    if (side === 'buy' || side === 'sell') {
      this.classified += 1;
      if (side === this.vendorSide) this.agreed += 1;
    }
  };

  constructor(opts: { useVendorSide?: boolean } = {}) {
    this.useVendorSide = opts.useVendorSide ?? true;
    this.engine = new MarketEngine({ useVendorSide: this.useVendorSide });
  }

  push(ev: MarketEvent): void {
    this.total += 1;
    this.byType[ev.type] = (this.byType[ev.type] ?? 0) + 1;
    if (this.lastTs === null || ev.ts > this.lastTs) this.lastTs = ev.ts;
    this.vendorSide = !this.useVendorSide && ev.type === 'trade' && (ev.side === 'buy' || ev.side === 'sell') ? ev.side : null;
    if (!this.engine.apply(ev, this.emit)) this.rejected += 1;
    this.vendorSide = null;
  }

  /** Closes what the last event left open (the current minute bar). */
  finish(): void {
    if (this.lastTs !== null) this.engine.advance(this.lastTs, () => {});
  }

  summary(file: string, stats: TapeStats): ReplaySummary {
    const symbols: Record<string, SymbolSummary> = {};
    const quotes = this.engine.quotes().sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    for (const q of quotes) {
      const day = this.engine.summary(q.symbol)?.day;
      const foreign = this.engine.foreign(q.symbol);
      symbols[q.symbol] = {
        last: r4n(q.last),
        volume: r4(q.totalVolume),
        buyVolume: r4(q.buyVolume),
        sellVolume: r4(q.sellVolume),
        unknownVolume: r4(q.unknownVolume),
        open: r4n(q.open),
        high: r4n(q.high),
        low: r4n(q.low),
        close: r4n(day?.close ?? q.last),
        vwap: r4n(day?.vwap ?? (q.totalVolume > 0 ? q.totalValue / q.totalVolume : null)),
        foreignNetVolume: r4n(foreign?.netVolume),
      };
    }
    const doc: ReplaySummary = {
      file,
      format: { ...stats.formats },
      lines: stats.lines,
      events: { total: this.total, byType: sortedCounts(this.byType) },
      malformed: { count: stats.malformed, byKind: sortedCounts(stats.byKind) },
      rejected: this.rejected,
      symbols,
    };
    if (!this.useVendorSide && this.withVendorSide > 0) {
      doc.classification = {
        tradesWithVendorSide: this.withVendorSide,
        classified: this.classified,
        agreement: this.classified > 0 ? r4(this.agreed / this.classified) : null,
        coverage: r4(this.classified / this.withVendorSide),
      };
    }
    return doc;
  }
}

export interface ReplayArgs {
  file: string;
  format: FormatOption;
  speed: number | 'max';
  summary: boolean;
  useVendorSide: boolean;
}

const USAGE = `usage: stock-tracker replay FILE [--format auto|events|ssi|alpaca] [--speed N|max] [--summary] [--no-vendor-side]

  --format          line format; auto (default) detects it per line
  --speed           N = N times real time, paced by event timestamps; max (default) = no pacing
  --summary         print one JSON document with the results on stdout
  --no-vendor-side  ignore the vendor's aggressor flag: classify trades with Lee-Ready
                    and report agreement with the vendor flags
`;

/** Parsed arguments, or an error message for the usage line. */
export function parseReplayArgs(argv: string[]): ReplayArgs | { error: string } | { help: true } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'auto' },
        speed: { type: 'string', default: 'max' },
        summary: { type: 'boolean', default: false },
        'no-vendor-side': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 1) return { error: positionals.length === 0 ? 'missing FILE' : 'expected exactly one FILE' };
  const format = values.format as FormatOption;
  if (!FORMAT_OPTIONS.includes(format)) return { error: `--format must be one of ${FORMAT_OPTIONS.join(', ')}` };
  let speed: number | 'max' = 'max';
  if (values.speed !== 'max') {
    speed = Number(values.speed);
    if (!(speed > 0) || !Number.isFinite(speed)) return { error: `--speed must be a positive number or 'max'` };
  }
  return { file: positionals[0]!, format, speed, summary: values.summary, useVendorSide: !values['no-vendor-side'] };
}

function humanReport(s: ReplaySummary): string {
  const out = [
    `${s.file}: ${s.lines} lines, ${s.events.total} events, ${s.malformed.count} malformed, ${s.rejected} rejected by the engine`,
  ];
  const rows = Object.entries(s.symbols);
  if (rows.length > 0) {
    out.push(`${'symbol'.padEnd(10)}${'last'.padStart(12)}${'volume'.padStart(14)}${'buy'.padStart(14)}${'sell'.padStart(14)}${'vwap'.padStart(12)}`);
    for (const [sym, v] of rows) {
      const n = (x: number | null, w: number) => (x === null ? '-' : String(x)).padStart(w);
      out.push(`${sym.padEnd(10)}${n(v.last, 12)}${n(v.volume, 14)}${n(v.buyVolume, 14)}${n(v.sellVolume, 14)}${n(v.vwap, 12)}`);
    }
  }
  if (s.classification) {
    const c = s.classification;
    out.push(`classification: ${c.tradesWithVendorSide} trades with a vendor side, coverage ${c.coverage}, agreement ${c.agreement}`);
  }
  return out.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseReplayArgs(argv);
  if ('help' in args) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ('error' in args) {
    process.stderr.write(`stock-tracker replay: ${args.error}\n\n${USAGE}`);
    return 2;
  }

  const malformed = malformedLineReporter(args.file);
  const onMalformed = malformed.onMalformed;
  const session = new ReplaySession({ useVendorSide: args.useVendorSide });
  let stats: TapeStats;
  try {
    if (args.speed === 'max') {
      stats = createTapeStats();
      for await (const ev of readTape(args.file, { format: args.format, onMalformed, stats })) session.push(ev);
    } else {
      const feed = new ReplayFeed({ path: args.file, format: args.format, speed: args.speed, clock: systemClock, onMalformed });
      await feed.start((ev) => session.push(ev));
      await feed.finished;
      stats = feed.tapeStats();
    }
  } catch (e) {
    if (e instanceof TapeOpenError) {
      process.stderr.write(`stock-tracker replay: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  malformed.finish();
  session.finish();
  const summary = session.summary(args.file, stats);
  process.stdout.write(args.summary ? `${JSON.stringify(summary, null, 2)}\n` : humanReport(summary));
  return 0;
}
