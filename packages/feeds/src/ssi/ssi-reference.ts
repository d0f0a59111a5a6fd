/**
 * Reference data from FastConnect REST at start and each new trading day:
 * `SecuritiesDetails` (names, exchange, lot size, listed shares),
 * `DailyStockPrice` (reference, ceiling and floor of the latest trading day)
 * and `IndexComponents` (index membership, e.g. VN30). The stream's own
 * reference (from X-TRADE) lacks names, membership and share counts; the
 * static part kept here fills them in.
 */
import type { SymbolRef } from '@stock-tracker/protocol';
import { priceLimits, rulesFor, tradingDateOf } from '@stock-tracker/rules';
import { Fields, isObject, type JsonObject } from '../parsers/fields.ts';
import { LineError } from '../parsers/line-error.ts';
import { normalizeExchange } from '../parsers/ssi-codes.ts';
import { SSI_TIME_ZONE } from '../parsers/ssi.ts';
import { parseVendorDate } from '../parsers/time.ts';
import type { SsiRestClient } from './ssi-rest.ts';

/** What the stream cannot tell about a symbol. */
export interface SsiStaticInfo {
  exchange: string;
  name?: string;
  lotSize: number;
  sharesOutstanding: number;
  indices: string[];
}

export interface SsiReferenceOptions {
  /** Markets to list. Default HOSE, HNX, UPCOM. */
  markets?: string[];
  /** Index codes whose membership is looked up. Default VN30, HNX30. */
  indexCodes?: string[];
  /** Only these symbols (all listed ones when absent). */
  symbols?: string[];
  /** Days of DailyStockPrice history searched for the latest row of each symbol. Default 10. */
  lookbackDays?: number;
}

export interface SsiReference {
  refs: SymbolRef[];
  statics: Map<string, SsiStaticInfo>;
  /** Rows that could not be read, by reason (also counted as malformed by the feed). */
  skipped: { endpoint: string; message: string }[];
}

const VN_EXCHANGES = new Set(['HOSE', 'HNX', 'UPCOM']);
const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` → `dd/mm/yyyy`, the API's date format. */
export const toSsiDate = (ymd: string) => `${ymd.slice(8, 10)}/${ymd.slice(5, 7)}/${ymd.slice(0, 4)}`;

function read<T>(endpoint: string, row: JsonObject, skipped: SsiReference['skipped'], fn: (f: Fields) => T): T | undefined {
  try {
    return fn(new Fields(row, endpoint));
  } catch (e) {
    if (!(e instanceof LineError)) throw e;
    skipped.push({ endpoint, message: e.message });
    return undefined;
  }
}

export async function loadSsiReference(rest: SsiRestClient, opts: SsiReferenceOptions, now: number, signal?: AbortSignal): Promise<SsiReference> {
  const markets = opts.markets ?? ['HOSE', 'HNX', 'UPCOM'];
  const wanted = opts.symbols ? new Set(opts.symbols.map((s) => s.toUpperCase())) : null;
  const skipped: SsiReference['skipped'] = [];
  const statics = new Map<string, SsiStaticInfo>();

  for (const market of markets) {
    for await (const page of rest.pages('SecuritiesDetails', { market }, 1000, 1, signal)) {
      for (const row of page.rows) {
        // Each row wraps the securities in RepeatedInfo; accept a flat row too.
        const infoKey = Object.keys(row).find((k) => k.toLowerCase() === 'repeatedinfo');
        const items = infoKey && Array.isArray(row[infoKey]) ? (row[infoKey] as unknown[]).filter(isObject) : [row];
        for (const item of items) {
          const info = read('SecuritiesDetails', item, skipped, (f) => {
            const symbol = f.reqStr('Symbol').toUpperCase();
            const exchange = normalizeExchange(f.str('Exchange', 'MarketId')) ?? market;
            const lot = f.count('LotSize');
            return {
              symbol,
              exchange,
              name: f.str('SymbolEngName', 'SymbolName', 'StockEnName', 'StockName'),
              lotSize: lot && lot > 0 ? lot : rulesFor(exchange, 'VN').lotSize,
              sharesOutstanding: f.nonNeg('ListedShare') ?? 0,
            };
          });
          if (!info || !VN_EXCHANGES.has(info.exchange) || (wanted && !wanted.has(info.symbol))) continue;
          statics.set(info.symbol, {
            exchange: info.exchange,
            ...(info.name ? { name: info.name } : {}),
            lotSize: info.lotSize,
            sharesOutstanding: info.sharesOutstanding,
            indices: [],
          });
        }
      }
    }
  }

  for (const code of opts.indexCodes ?? ['VN30', 'HNX30']) {
    for await (const page of rest.pages('IndexComponents', { indexCode: code }, 1000, 1, signal)) {
      for (const row of page.rows) {
        const listKey = Object.keys(row).find((k) => k.toLowerCase() === 'indexcomponent');
        const members = listKey && Array.isArray(row[listKey]) ? (row[listKey] as unknown[]).filter(isObject) : [];
        for (const m of members) {
          const symbol = read('IndexComponents', m, skipped, (f) => f.reqStr('StockSymbol', 'Symbol').toUpperCase());
          const s = symbol ? statics.get(symbol) : undefined;
          if (s && !s.indices.includes(code.toUpperCase())) s.indices.push(code.toUpperCase());
        }
      }
    }
  }

  // The latest DailyStockPrice row per symbol carries that day's reference and limits.
  const today = tradingDateOf(now, SSI_TIME_ZONE);
  const from = tradingDateOf(now - (opts.lookbackDays ?? 10) * DAY_MS, SSI_TIME_ZONE);
  const latest = new Map<string, { date: string; ref: number; ceiling?: number; floor?: number }>();
  const priceQueries = wanted && wanted.size <= 20 ? [...wanted].map((symbol) => ({ symbol })) : markets.map((market) => ({ market }));
  for (const q of priceQueries) {
    for await (const page of rest.pages('DailyStockPrice', { ...q, fromDate: toSsiDate(from), toDate: toSsiDate(today) }, 1000, 1, signal)) {
      for (const row of page.rows) {
        const p = read('DailyStockPrice', row, skipped, (f) => ({
          symbol: f.reqStr('Symbol').toUpperCase(),
          date: parseVendorDate(f.reqStr('TradingDate')),
          ref: f.reqPrice('RefPrice'),
          ceiling: f.price('CeilingPrice', 'Ceiling'),
          floor: f.price('FloorPrice', 'Floor'),
        }));
        if (!p || !statics.has(p.symbol)) continue;
        const prev = latest.get(p.symbol);
        if (!prev || p.date > prev.date) latest.set(p.symbol, p);
      }
    }
  }

  const refs: SymbolRef[] = [];
  for (const [symbol, s] of statics) {
    const p = latest.get(symbol);
    if (!p) continue;
    const limits = priceLimits(rulesFor(s.exchange, 'VN'), p.ref);
    const ceiling = p.ceiling ?? limits.ceiling;
    const floor = p.floor ?? limits.floor;
    // A vendor row with limits that do not bracket the reference would be refused by the engine.
    if (ceiling === null || floor === null || floor > p.ref || ceiling < p.ref) {
      skipped.push({ endpoint: 'DailyStockPrice', message: `${symbol}: limits ${floor}..${ceiling} do not bracket reference ${p.ref}` });
      continue;
    }
    refs.push({
      symbol,
      exchange: s.exchange,
      market: 'VN',
      ...(s.name ? { name: s.name } : {}),
      tradingDate: p.date,
      reference: p.ref,
      ceiling,
      floor,
      lotSize: s.lotSize,
      indices: [...s.indices],
      sharesOutstanding: s.sharesOutstanding,
    });
  }
  refs.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  return { refs, statics, skipped };
}
