/**
 * Number and time formatting for the board. Vietnamese boards print prices in
 * VND with thousands separators (65,300), volumes in shares, and times in the
 * exchange's zone (Asia/Ho_Chi_Minh) whatever the viewer's machine says.
 * Formatters are built once: Intl constructors are costly and the board
 * formats thousands of cells per second.
 */
import { VN_TIME_ZONE } from './market.ts';

const nf = (opts: Intl.NumberFormatOptions) => new Intl.NumberFormat('en-US', opts);
const INT = nf({ maximumFractionDigits: 0 });
const DEC2 = nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 });
const PCT = nf({ minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: 'exceptZero' });
const COMPACT = nf({ notation: 'compact', maximumFractionDigits: 1 });
const COMPACT2 = nf({ notation: 'compact', maximumFractionDigits: 2 });

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A price: whole VND with separators; US (fractional) prices keep two decimals. Empty for no value. */
export function formatPrice(v: number | null | undefined, market: 'VN' | 'US' = 'VN', empty = ''): string {
  if (!isNum(v)) return empty;
  return market === 'US' ? DEC2.format(v) : INT.format(v);
}

/** A price change with its sign: `+300`, `-1,200`, `0`. */
export function formatChange(v: number | null | undefined, market: 'VN' | 'US' = 'VN', empty = ''): string {
  if (!isNum(v)) return empty;
  const body = formatPrice(Math.abs(v), market);
  if (v > 0) return `+${body}`;
  if (v < 0) return `-${body}`;
  return body;
}

/** A percentage given in percent units (1.5 → `+1.50%`); zero prints without a sign. */
export function formatPct(v: number | null | undefined, empty = ''): string {
  if (!isNum(v)) return empty;
  // -0.004 would print "-0.00%"; a change that rounds to zero is shown as zero.
  const rounded = Math.round(v * 100) / 100;
  return `${PCT.format(rounded === 0 ? 0 : rounded)}%`;
}

/** Share counts in full: `1,234,500`. */
export function formatVolume(v: number | null | undefined, empty = ''): string {
  if (!isNum(v)) return empty;
  return INT.format(v);
}

/** Share counts or VND values where space is short: `980`, `12.3K`, `4.5M`, `1.2B`. */
export function formatCompact(v: number | null | undefined, empty = ''): string {
  if (!isNum(v)) return empty;
  return Math.abs(v) >= 1e9 ? COMPACT2.format(v) : COMPACT.format(v);
}

/** VND amounts in billions (`tỷ`), the unit Vietnamese boards use for traded value. */
export function formatBillions(v: number | null | undefined, empty = ''): string {
  if (!isNum(v)) return empty;
  return `${DEC2.format(v / 1e9)} tỷ`;
}

/** An index level: two decimals (`1,284.56`). */
export function formatIndex(v: number | null | undefined, empty = ''): string {
  if (!isNum(v)) return empty;
  return DEC2.format(v);
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();
function cached(map: Map<string, Intl.DateTimeFormat>, timeZone: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  let f = map.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', ...opts });
    map.set(timeZone, f);
  }
  return f;
}

/** `HH:mm:ss` of an epoch-ms instant in the exchange's time zone. */
export function formatTime(ts: number | null | undefined, timeZone: string = VN_TIME_ZONE, empty = ''): string {
  if (!isNum(ts)) return empty;
  return cached(timeFormats, timeZone, { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(ts);
}

/** `dd/MM/yyyy HH:mm` (the Vietnamese day-first order) in the exchange's time zone. */
export function formatDateTime(ts: number | null | undefined, timeZone: string = VN_TIME_ZONE, empty = ''): string {
  if (!isNum(ts)) return empty;
  const parts = cached(dateTimeFormats, timeZone, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(ts);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('day')}/${get('month')}/${get('year')} ${get('hour')}:${get('minute')}`;
}

/**
 * Parses what a person types for an amount: `65,300`, `65300`, `1.5`, and
 * suffixes `k`/`m`/`b` or Vietnamese `nghìn`/`tr`/`tỷ`. Returns null for
 * anything else, never NaN.
 */
export function parseAmount(input: string): number | null {
  const s = input.trim().toLowerCase().replace(/\s+/g, ' ');
  const m = /^([+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(k|nghìn|m|tr|triệu|b|tỷ)?$/u.exec(s);
  if (!m) return null;
  const base = Number(m[1]!.replace(/,/g, ''));
  const mult: Record<string, number> = { k: 1e3, nghìn: 1e3, m: 1e6, tr: 1e6, triệu: 1e6, b: 1e9, tỷ: 1e9 };
  const v = m[2] ? base * mult[m[2]]! : base;
  return Number.isFinite(v) ? v : null;
}
