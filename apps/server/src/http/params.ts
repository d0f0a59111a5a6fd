/**
 * Request value helpers shared by the routes: symbol lookup with the
 * UNKNOWN_SYMBOL contract and time parameters (epoch ms or ISO 8601; a bare
 * date means that day in the exchange's time zone).
 */
import { AppError, type SymbolRef } from '@stock-tracker/protocol';
import { localParts, rulesFor } from '@stock-tracker/rules';
import type { LiveMarket } from './deps.ts';
import type { Repositories } from '../storage/repositories.ts';

/** Latest instant JavaScript dates can represent; anything beyond is not a time. */
const MAX_TS = 8.64e15;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

export const normalizeSymbol = (s: string) => s.trim().toUpperCase();

export async function resolveSymbol(market: LiveMarket, repos: Repositories, raw: string, path = 'params.symbol'): Promise<SymbolRef> {
  const symbol = normalizeSymbol(raw);
  const ref = (await market.reference(symbol)) ?? (await repos.symbols.get(symbol));
  if (!ref) throw new AppError('UNKNOWN_SYMBOL', `Unknown symbol '${symbol}'.`, [{ path, issue: `unknown symbol '${symbol}'` }]);
  return ref;
}

export function timeZoneOf(ref: Pick<SymbolRef, 'exchange' | 'market'> | undefined): string {
  return ref ? rulesFor(ref.exchange, ref.market).timeZone : 'Asia/Ho_Chi_Minh';
}

/** Epoch ms of local midnight of `date` in `timeZone`. */
export function zonedMidnight(date: string, timeZone: string): number {
  const m = DATE_ONLY.exec(date);
  if (!m) return Number.NaN;
  const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const local = localParts(guess, timeZone);
  const [y, mo, d] = local.date.split('-').map(Number) as [number, number, number];
  const localAsUtc = Date.UTC(y, mo - 1, d) + local.seconds * 1000;
  return guess - (localAsUtc - guess);
}

/**
 * Parses a from/to value. A bare date as `to` means the end of that day, so
 * `from=2024-05-02&to=2024-05-02` covers the whole day.
 */
export function parseTime(value: number | string | undefined, field: string, timeZone: string, edge: 'from' | 'to'): number | undefined {
  if (value === undefined) return undefined;
  let ts: number;
  if (typeof value === 'number') ts = value;
  else if (/^\d+$/.test(value)) ts = Number(value);
  else if (DATE_ONLY.test(value)) ts = zonedMidnight(value, timeZone) + (edge === 'to' ? 86_400_000 - 1 : 0);
  else ts = Date.parse(value);
  if (!Number.isFinite(ts) || ts < 0 || ts > MAX_TS) {
    throw new AppError('VALIDATION_FAILED', undefined, [{ path: `query.${field}`, issue: 'is not a representable time (epoch ms or ISO 8601)' }]);
  }
  return ts;
}

export function parseRange(q: { from?: number | string; to?: number | string }, timeZone: string): { from?: number; to?: number } {
  const from = parseTime(q.from, 'from', timeZone, 'from');
  const to = parseTime(q.to, 'to', timeZone, 'to');
  if (from !== undefined && to !== undefined && from > to) {
    throw new AppError('VALIDATION_FAILED', undefined, [{ path: 'query.from', issue: 'must not be after `to`' }]);
  }
  return { from, to };
}
