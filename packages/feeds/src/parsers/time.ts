/**
 * Vendor time formats <-> epoch ms. SSI writes a local date (dd/mm/yyyy) and a
 * local time (HH:mm:ss) in the exchange's zone; Alpaca writes RFC 3339 with
 * up to nanoseconds. Zone offsets come from Intl (no hard-coded +07:00), so
 * the same code is right for any zone the market rules name.
 */
import { localParts } from '@stock-tracker/rules';
import { fail } from './line-error.ts';

const DMY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const YMD = /^(\d{4})-(\d{2})-(\d{2})$/;
const HMS = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

/** `dd/mm/yyyy` or `yyyy-mm-dd` -> `YYYY-MM-DD`, validated as a real calendar day. */
export function parseVendorDate(s: string): string {
  let y: number, m: number, d: number;
  const dmy = DMY.exec(s);
  const ymd = dmy ? null : YMD.exec(s);
  if (dmy) [d, m, y] = [Number(dmy[1]), Number(dmy[2]), Number(dmy[3])];
  else if (ymd) [y, m, d] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
  else return fail('invalid_time', `bad date ${JSON.stringify(s.slice(0, 40))}`);
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d || y < 1970) {
    fail('invalid_time', `no such date ${JSON.stringify(s)}`);
  }
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** `HH:mm[:ss[.fff]]` -> milliseconds since local midnight. */
export function parseVendorTime(s: string): number {
  const m = HMS.exec(s);
  if (!m) return fail('invalid_time', `bad time ${JSON.stringify(s.slice(0, 40))}`);
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const sec = m[3] === undefined ? 0 : Number(m[3]);
  if (h > 23 || mi > 59 || sec > 59) fail('invalid_time', `no such time ${JSON.stringify(s)}`);
  const ms = m[4] === undefined ? 0 : Number(m[4].padEnd(3, '0').slice(0, 3));
  return ((h * 60 + mi) * 60 + sec) * 1000 + ms;
}

// Offsets only change on DST transitions, which fall on the hour: cache per hour.
const offsetCache = new Map<string, number>();

/** Offset of the zone at an instant, in ms (local = utc + offset). */
function offsetAt(utc: number, timeZone: string): number {
  const hourKey = `${timeZone}|${Math.floor(utc / 3_600_000)}`;
  let off = offsetCache.get(hourKey);
  if (off === undefined) {
    const p = localParts(utc, timeZone);
    const [y, mo, d] = p.date.split('-').map(Number) as [number, number, number];
    const localAsUtc = Date.UTC(y, mo - 1, d) + p.seconds * 1000;
    off = localAsUtc - Math.floor(utc / 1000) * 1000;
    if (offsetCache.size > 10_000) offsetCache.clear();
    offsetCache.set(hourKey, off);
  }
  return off;
}

/** Local date `YYYY-MM-DD` + ms since local midnight in `timeZone` -> epoch ms. */
export function zonedToEpoch(date: string, msOfDay: number, timeZone: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const asUtc = Date.UTC(y, m - 1, d) + msOfDay;
  // Two passes settle the offset across a DST change between guess and answer.
  let ts = asUtc - offsetAt(asUtc, timeZone);
  ts = asUtc - offsetAt(ts, timeZone);
  return ts;
}

/** Epoch ms -> local `dd/mm/yyyy` and `HH:mm:ss` (what SSI writes). */
export function epochToVendorDateTime(ts: number, timeZone: string): { date: string; dmy: string; time: string } {
  const p = localParts(ts, timeZone);
  const [y, m, d] = p.date.split('-');
  const h = Math.floor(p.seconds / 3600);
  const mi = Math.floor((p.seconds % 3600) / 60);
  const s = p.seconds % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return { date: p.date, dmy: `${d}/${m}/${y}`, time: `${two(h)}:${two(mi)}:${two(s)}` };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** RFC 3339 (nanoseconds allowed, truncated to ms) -> epoch ms. */
export function parseRfc3339(s: string): number {
  const m = RFC3339.exec(s);
  if (!m) return fail('invalid_time', `bad timestamp ${JSON.stringify(s.slice(0, 40))}`);
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || sec! > 60) {
    fail('invalid_time', `no such timestamp ${JSON.stringify(s)}`);
  }
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  let off = 0;
  const z = m[8]!;
  if (z !== 'Z' && z !== 'z') {
    const sign = z[0] === '-' ? -1 : 1;
    const digits = z.slice(1).replace(':', '');
    off = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  const ts = Date.UTC(y!, mo! - 1, d!, h!, mi!, Math.min(sec!, 59)) + ms - off;
  if (!Number.isFinite(ts)) fail('invalid_time', `timestamp out of range ${JSON.stringify(s)}`);
  return ts;
}

/** Epoch ms -> RFC 3339 UTC with milliseconds (what Alpaca-style encoders write). */
export const toRfc3339 = (ts: number) => new Date(ts).toISOString();
