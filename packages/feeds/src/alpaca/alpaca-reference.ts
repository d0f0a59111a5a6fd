/**
 * US reference prices from Alpaca snapshots (`GET /v2/stocks/snapshots`):
 * the reference of the current session is the previous daily bar's close.
 * US symbols have no daily limits and a lot of 1 (engine rules `US`), so
 * ceiling and floor are null.
 */
import type { SymbolRef } from '@stock-tracker/protocol';
import { tradingDateOf, US } from '@stock-tracker/rules';
import { requestJson, type RequestOptions } from '../live/http.ts';
import { isObject } from '../parsers/fields.ts';
import { parseRfc3339 } from '../parsers/time.ts';
import { alpacaHeaders, type AlpacaCredentials } from './alpaca-rest.ts';

export async function loadAlpacaReference(
  restUrl: string,
  creds: AlpacaCredentials,
  symbols: string[],
  feed: string | undefined,
  request: RequestOptions = {},
): Promise<{ refs: SymbolRef[]; skipped: string[] }> {
  const refs: SymbolRef[] = [];
  const skipped: string[] = [];
  // The endpoint takes a comma-separated list; keep URLs short.
  for (let i = 0; i < symbols.length; i += 100) {
    const chunk = symbols.slice(i, i + 100);
    const q = new URLSearchParams({ symbols: chunk.join(',') });
    if (feed) q.set('feed', feed);
    const body = await requestJson<unknown>(`${restUrl.replace(/\/+$/, '')}/v2/stocks/snapshots?${q}`, { headers: alpacaHeaders(creds) }, request);
    if (!isObject(body)) throw new Error('snapshots: the answer is not a JSON object');
    // Older answers nest the map under `snapshots`.
    const map = isObject(body['snapshots']) ? body['snapshots'] : body;
    for (const symbol of chunk) {
      const snap = map[symbol];
      const prev = isObject(snap) ? snap['prevDailyBar'] : undefined;
      const day = isObject(snap) ? snap['dailyBar'] : undefined;
      const close = isObject(prev) ? prev['c'] : undefined;
      const t = isObject(day) ? day['t'] : isObject(prev) ? prev['t'] : undefined;
      if (typeof close !== 'number' || !(close > 0) || typeof t !== 'string') {
        skipped.push(`${symbol}: no previous daily bar in the snapshot`);
        continue;
      }
      let ts: number;
      try {
        ts = parseRfc3339(t);
      } catch {
        skipped.push(`${symbol}: bad bar time ${JSON.stringify(t.slice(0, 40))}`);
        continue;
      }
      refs.push({
        symbol,
        exchange: US.exchange,
        market: 'US',
        tradingDate: tradingDateOf(ts, US.timeZone),
        reference: close,
        ceiling: null,
        floor: null,
        lotSize: US.lotSize,
        indices: [],
        sharesOutstanding: 0,
      });
    }
  }
  return { refs, skipped };
}
