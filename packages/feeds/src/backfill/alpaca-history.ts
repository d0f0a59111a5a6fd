/**
 * Alpaca history: `GET /v2/stocks/bars?symbols=SYM&timeframe=1Min|1Day&start&end&limit&page_token`
 * → `{"bars":{"SYM":[{t,o,h,l,c,v,n,vw}]},"next_page_token":…}`. The cursor
 * is Alpaca's page token. Daily bars start at New York midnight, as the
 * engine's US rules count days.
 */
import type { BarEvent } from '@stock-tracker/protocol';
import { tradingDateOf, US } from '@stock-tracker/rules';
import { requestJson, type RequestOptions } from '../live/http.ts';
import { parseAlpacaMessage } from '../parsers/alpaca.ts';
import { checkEvent } from '../parsers/events-format.ts';
import { isObject } from '../parsers/fields.ts';
import { LineError } from '../parsers/line-error.ts';
import { zonedToEpoch } from '../parsers/time.ts';
import { ALPACA_DEFAULT_DATA_URL, alpacaHeaders, type AlpacaCredentials } from '../alpaca/alpaca-rest.ts';
import { addDays } from './dates.ts';
import type { BackfillInterval, DateRange, HistoryPage, HistorySource } from './types.ts';

export interface AlpacaHistoryOptions extends AlpacaCredentials {
  /** Default https://data.alpaca.markets */
  restUrl?: string;
  /** `feed` query parameter (iex, sip); absent = the plan's default. */
  feed?: string;
  /** Bars per page, at most 10,000. Default 10,000. */
  limit?: number;
  /** `adjustment` (raw, split, dividend, all). Default raw: what traded. */
  adjustment?: string;
  request?: RequestOptions;
}

const TIMEFRAME: Record<BackfillInterval, string> = { '1d': '1Day', '1m': '1Min' };

export class AlpacaHistorySource implements HistorySource {
  readonly feed = 'alpaca' as const;

  constructor(private readonly o: AlpacaHistoryOptions) {}

  async *pages(symbol: string, interval: BackfillInterval, range: DateRange, cursor: string | null, signal?: AbortSignal): AsyncGenerator<HistoryPage> {
    const sym = symbol.toUpperCase();
    let token = cursor;
    for (;;) {
      const q = new URLSearchParams({
        symbols: sym,
        timeframe: TIMEFRAME[interval],
        // The range is in New York dates: from its midnight to the next day's.
        start: new Date(zonedToEpoch(range.from, 0, US.timeZone)).toISOString(),
        end: new Date(zonedToEpoch(addDays(range.to, 1), 0, US.timeZone) - 1000).toISOString(),
        limit: String(this.o.limit ?? 10_000),
        adjustment: this.o.adjustment ?? 'raw',
        sort: 'asc',
      });
      if (this.o.feed) q.set('feed', this.o.feed);
      if (token) q.set('page_token', token);
      const body = await requestJson<unknown>(`${(this.o.restUrl ?? ALPACA_DEFAULT_DATA_URL).replace(/\/+$/, '')}/v2/stocks/bars?${q}`, { headers: alpacaHeaders(this.o) }, {
        ...this.o.request,
        ...(signal ? { signal } : {}),
      });
      if (!isObject(body)) throw new Error('bars: the answer is not a JSON object');
      const bars = isObject(body['bars']) ? body['bars'][sym] : undefined;
      const rows = Array.isArray(bars) ? bars : [];
      const next = typeof body['next_page_token'] === 'string' && body['next_page_token'] !== '' ? body['next_page_token'] : null;
      yield { ...toBars(rows, sym, interval), next };
      if (next === null) return;
      token = next;
    }
  }
}

function toBars(rows: unknown[], symbol: string, interval: BackfillInterval): Omit<HistoryPage, 'next'> {
  const out: BarEvent[] = [];
  let malformed = 0;
  let problem: string | undefined;
  for (const row of rows) {
    try {
      if (!isObject(row)) throw new LineError('invalid_value', 'bar is not an object');
      // The stream parser validates the same fields; history rows just lack T and S.
      const ev = parseAlpacaMessage({ ...row, T: interval === '1d' ? 'd' : 'b', S: symbol });
      if (ev === null || ev.type !== 'bar') throw new LineError('invalid_value', 'not a bar');
      const ts = interval === '1d' ? zonedToEpoch(tradingDateOf(ev.ts, US.timeZone), 0, US.timeZone) : Math.floor(ev.ts / 60_000) * 60_000;
      out.push(checkEvent({ ...ev, ts }) as BarEvent);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      malformed += 1;
      problem ??= e.message;
    }
  }
  return problem ? { bars: out, malformed, problem } : { bars: out, malformed };
}
