/**
 * Shared bits for benchmark output: result lines for scripts/bench.mjs
 * (`{"bench": ...}` on stdout), human tables on stderr, percentiles, and a
 * wall clock that is comparable across processes on one machine.
 */
import os from 'node:os';

/**
 * One machine-readable result line (collected by scripts/bench.mjs). The
 * 1-minute load average goes with it: on a shared 2-core machine it says how
 * far the figure can be trusted.
 */
export function result(bench: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench, ...fields, loadAvg1m: round(os.loadavg()[0]!, 2) }));
}

/** Human progress and tables go to stderr so stdout stays result lines. */
export function note(...parts: unknown[]): void {
  console.error(...parts);
}

/**
 * Milliseconds since the epoch with sub-millisecond resolution. Every process
 * derives it from the same system clock (timeOrigin), so a time stamped in
 * one process can be subtracted in another on the same machine.
 */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Percentile (0..100) of an ascending-sorted array, nearest rank. NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Concatenates sample arrays and sorts them ascending. */
export function mergeSorted(parts: readonly Float32Array[]): Float32Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const all = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all.sort();
}

export const round = (x: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export const fmt = (x: number, digits = 0): string =>
  Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(x);

/** Prints rows as an aligned text table (stderr). */
export function table(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c, Number.isInteger(c) ? 0 : 2) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  for (const [i, r] of cells.entries()) {
    note(r.map((c, j) => String(c ?? '').padStart(widths[j]!)).join('  '));
    if (i === 0) note(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Number from an environment knob, with a default and a sanity range. */
export function knob(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new RangeError(`${name} must be a number in [${min}, ${max}] (got '${raw}')`);
  return v;
}

/** Comma-separated list of numbers from an environment knob. */
export function listKnob(name: string, def: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const out = raw.split(',').map((s) => Number(s.trim()));
  if (out.some((v) => !Number.isFinite(v) || v <= 0)) throw new RangeError(`${name} must be a comma-separated list of positive numbers (got '${raw}')`);
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
