/**
 * `stock-tracker record FILE`: runs the market simulator over simulated time
 * as fast as it can (no waiting on the clock) and writes a normalized tape.
 * The default start is a fixed instant, so the default output is reproducible.
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { DEFAULT_DAY_MS, DEFAULT_INTENSITY, Simulator, TapeWriter, type SimulatorOptions } from '@stock-tracker/feeds';

/** Monday 2025-01-06, 08:30 in Ho Chi Minh City: the pre-open of a trading day. */
export const DEFAULT_START = '2025-01-06T08:30:00+07:00';

const USAGE = `usage: stock-tracker record FILE [options]

Writes a simulated Vietnamese market as a normalized tape (one JSON event per
line). FILE '-' writes to stdout.

options:
  --seed N          random seed (default 1)
  --days N          simulated trading days to record (default 1)
  --duration D      or a wall-clock span of simulated time: 90s, 10m, 2h, 1d, 500ms
  --start ISO       instant simulated day 0 starts (default ${DEFAULT_START})
  --day-ms N        wall length of one compressed trading day in ms (default ${DEFAULT_DAY_MS})
  --symbols N|LIST  number of symbols, or a comma-separated list (default: all)
  --intensity N     mean events per second during continuous trading (default ${DEFAULT_INTENSITY})
  --no-bursts       no bursts of activity
`;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `90s`, `1.5h`; a bare number is milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  return ms > 0 && Number.isFinite(ms) ? Math.round(ms) : null;
}

interface RecordPlan {
  file: string;
  sim: SimulatorOptions;
  durationMs: number;
}

class UsageError extends Error {}

function plan(argv: string[]): RecordPlan {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        seed: { type: 'string' },
        days: { type: 'string' },
        duration: { type: 'string' },
        start: { type: 'string' },
        'day-ms': { type: 'string' },
        symbols: { type: 'string' },
        intensity: { type: 'string' },
        'no-bursts': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) throw new UsageError('');
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing FILE' : `unexpected argument '${positionals[1]}'`);

  const num = (name: string, text: string | undefined, ok: (n: number) => boolean): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`invalid --${name} '${text}'`);
    return n;
  };
  const seed = num('seed', v.seed, Number.isInteger) ?? 1;
  const dayMs = num('day-ms', v['day-ms'], (n) => Number.isInteger(n) && n >= 1_000) ?? DEFAULT_DAY_MS;
  const intensity = num('intensity', v.intensity, (n) => n > 0);

  const startText = v.start ?? DEFAULT_START;
  const startTs = /^\d+$/.test(startText) ? Number(startText) : Date.parse(startText);
  if (!Number.isFinite(startTs)) throw new UsageError(`invalid --start '${startText}' (ISO 8601 or epoch ms)`);

  if (v.days !== undefined && v.duration !== undefined) throw new UsageError('use either --days or --duration');
  let durationMs: number;
  if (v.duration !== undefined) {
    const d = parseDuration(v.duration);
    if (d === null) throw new UsageError(`invalid --duration '${v.duration}' (e.g. 90s, 10m, 2h)`);
    durationMs = d;
  } else {
    durationMs = (num('days', v.days, (n) => Number.isInteger(n) && n >= 1) ?? 1) * dayMs;
  }

  let symbols: number | string[] | undefined;
  if (v.symbols !== undefined) {
    if (/^\d+$/.test(v.symbols)) symbols = num('symbols', v.symbols, (n) => n >= 1);
    else symbols = v.symbols.split(',').map((s) => s.trim()).filter(Boolean);
  }

  return {
    file: positionals[0]!,
    durationMs,
    sim: { seed, startTs, dayMs, symbols, intensity, bursts: !v['no-bursts'] },
  };
}

/** Simulated time covered per slice between back-pressure checks. */
const SLICE_MS = 60_000;

export async function run(argv: string[]): Promise<number> {
  let p: RecordPlan;
  let sim: Simulator;
  try {
    p = plan(argv);
    sim = new Simulator(p.sim);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof RangeError)) throw err;
    if (err.message) process.stderr.write(`stock-tracker record: ${err.message}\n\n`);
    process.stderr.write(USAGE);
    return 2;
  }

  const toStdout = p.file === '-';
  const stream: Writable = toStdout ? process.stdout : createWriteStream(p.file);
  const writer = new TapeWriter(stream);
  const counts: Record<string, number> = {};
  const began = performance.now();
  try {
    const end = sim.startTs + p.durationMs - 1;
    for (let t = sim.startTs; ; t = Math.min(end, t + SLICE_MS)) {
      sim.advanceTo(t, (ev) => {
        counts[ev.type] = (counts[ev.type] ?? 0) + 1;
        writer.write(ev);
      });
      await writer.drain();
      if (t >= end) break;
    }
    if (toStdout) await writer.drain();
    else await writer.close();
  } catch (err) {
    process.stderr.write(`stock-tracker record: cannot write ${p.file}: ${(err as Error).message}\n`);
    return 1;
  }
  const secs = (performance.now() - began) / 1000;
  const days = p.durationMs / sim.dayMs;
  const kinds = ['trade', 'quote', 'foreign', 'status', 'reference'].map((k) => `${counts[k] ?? 0} ${k}`).join(', ');
  process.stderr.write(
    `record: ${writer.events} events (${kinds}) over ${+days.toFixed(3)} simulated day(s) from ${new Date(sim.startTs).toISOString()}, ` +
      `seed ${sim.seed}, ${sim.universe().length} symbols -> ${p.file} (${(writer.bytes / 1e6).toFixed(1)} MB) in ${secs.toFixed(2)} s\n`,
  );
  return 0;
}
