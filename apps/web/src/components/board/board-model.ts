/**
 * Which symbols the board lists and in what order: tabs (exchange, VN30,
 * watchlists), the search box and the sorted column. Pure functions, so the
 * rules are tested without rendering.
 */
import type { QuoteState } from '@stock-tracker/protocol';
import { SORT_VALUE, type SortKey } from './columns.ts';

export type BoardTab =
  | { kind: 'all' }
  | { kind: 'exchange'; exchange: string }
  | { kind: 'index'; index: string }
  | { kind: 'watchlist'; id: string };

export interface SortState {
  key: SortKey;
  dir: 'asc' | 'desc';
}
export const DEFAULT_SORT: SortState = { key: 'symbol', dir: 'asc' };

/** What the filters know about a symbol (from reference data, else from its quote). */
export interface SymbolInfo {
  exchange?: string;
  indices?: readonly string[];
  name?: string;
}

export const tabId = (t: BoardTab): string =>
  t.kind === 'all' ? 'all' : t.kind === 'exchange' ? `ex:${t.exchange}` : t.kind === 'index' ? `ix:${t.index}` : `wl:${t.id}`;

/** Lower case without Vietnamese diacritics, so `vinamilk` finds "Vinamilk" and `sua` finds "Sữa". */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase();
}

/** A query matches a symbol by prefix, or a word of its name by prefix. */
export function matchesQuery(symbol: string, name: string | undefined, query: string): boolean {
  const q = fold(query.trim());
  if (!q) return true;
  if (fold(symbol).startsWith(q)) return true;
  if (!name) return false;
  const n = fold(name);
  return n.startsWith(q) || n.includes(` ${q}`);
}

export function filterSymbols(
  symbols: readonly string[],
  info: (symbol: string) => SymbolInfo | undefined,
  tab: BoardTab,
  query: string,
  watchlists: ReadonlyMap<string, readonly string[]> = new Map(),
): string[] {
  let inTab: (s: string) => boolean;
  switch (tab.kind) {
    case 'all':
      inTab = () => true;
      break;
    case 'exchange':
      inTab = (s) => info(s)?.exchange?.toUpperCase() === tab.exchange;
      break;
    case 'index':
      inTab = (s) => info(s)?.indices?.includes(tab.index) ?? false;
      break;
    case 'watchlist': {
      const set = new Set(watchlists.get(tab.id) ?? []);
      inTab = (s) => set.has(s);
      break;
    }
  }
  return symbols.filter((s) => inTab(s) && matchesQuery(s, info(s)?.name, query));
}

export function sortSymbols(symbols: readonly string[], get: (s: string) => QuoteState | undefined, sort: SortState): string[] {
  const value = SORT_VALUE[sort.key];
  const sign = sort.dir === 'asc' ? 1 : -1;
  const keyed = symbols.map((s) => {
    const q = get(s);
    return { s, v: sort.key === 'symbol' ? s : q ? value(q) : null };
  });
  keyed.sort((a, b) => {
    // Empty values (no trade yet) go last whatever the direction: they are not "smallest".
    if (a.v === null && b.v === null) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
    if (a.v === null) return 1;
    if (b.v === null) return -1;
    const c = typeof a.v === 'string' || typeof b.v === 'string' ? String(a.v).localeCompare(String(b.v)) : a.v - b.v;
    // Ties fall back to the symbol so the order is stable between re-sorts.
    return c !== 0 ? sign * c : a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
  });
  return keyed.map((k) => k.s);
}

/** Clicking a header: a new column sorts descending (biggest movers first), except symbol; the same column flips. */
export function nextSort(cur: SortState, key: SortKey): SortState {
  if (cur.key === key) return { key, dir: cur.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: key === 'symbol' ? 'asc' : 'desc' };
}

export function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Row focus after a navigation key; null when the key is not a navigation key. */
export function moveFocus(key: string, index: number, count: number, page = 10): number | null {
  if (count === 0) return null;
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case 'ArrowDown': return clamp(index + 1);
    case 'ArrowUp': return clamp(index - 1);
    case 'PageDown': return clamp(index + page);
    case 'PageUp': return clamp(index - page);
    case 'Home': return 0;
    case 'End': return count - 1;
    default: return null;
  }
}
