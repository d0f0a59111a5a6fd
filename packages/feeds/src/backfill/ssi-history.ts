/**
 * SSI history: `DailyOhlc` and `IntradayOhlc` (`lookupRequest.symbol`,
 * `fromDate`/`toDate` as dd/mm/yyyy, `pageIndex`/`pageSize`, numbers as
 * strings). Long ranges are split into date windows so every request stays
 * small; the cursor is the window start plus the next page index.
 */
import type { BarEvent } from '@stock-tracker/protocol';
import { Fields, type JsonObject } from '../parsers/fields.ts';
import { LineError } from '../parsers/line-error.ts';
import { checkEvent } from '../parsers/events-format.ts';
import { SSI_TIME_ZONE } from '../parsers/ssi.ts';
import { parseVendorDate, parseVendorTime, zonedToEpoch } from '../parsers/time.ts';
import { toSsiDate } from '../ssi/ssi-reference.ts';
import type { SsiRestClient } from '../ssi/ssi-rest.ts';
import { addDays } from './dates.ts';
import type { BackfillInterval, DateRange, HistoryPage, HistorySource } from './types.ts';

export interface SsiHistoryOptions {
  /** Rows per request: 10, 20, 50, 100 or 1000. Default 1000. */
  pageSize?: number;
  /** Days per request window. Default 365 for daily, 10 for intraday. */
  windowDays?: Partial<Record<BackfillInterval, number>>;
}

interface Cursor {
  /** Window start date (YYYY-MM-DD). */
  w: string;
  /** Next page index in that window. */
  p: number;
}

export class SsiHistorySource implements HistorySource {
  readonly feed = 'ssi' as const;

  constructor(
    private readonly rest: SsiRestClient,
    private readonly o: SsiHistoryOptions = {},
  ) {}

  async *pages(symbol: string, interval: BackfillInterval, range: DateRange, cursor: string | null, signal?: AbortSignal): AsyncGenerator<HistoryPage> {
    const pageSize = this.o.pageSize ?? 1000;
    const span = this.o.windowDays?.[interval] ?? (interval === '1d' ? 365 : 10);
    let at: Cursor = cursor ? (JSON.parse(cursor) as Cursor) : { w: range.from, p: 1 };
    const endpoint = interval === '1d' ? 'DailyOhlc' : 'IntradayOhlc';
    while (at.w <= range.to) {
      const windowEnd = [addDays(at.w, span - 1), range.to].sort()[0]!;
      const params = {
        symbol,
        fromDate: toSsiDate(at.w),
        toDate: toSsiDate(windowEnd),
        ascending: true,
        ...(interval === '1m' ? { resolution: 1 } : {}),
      };
      for await (const page of this.rest.pages(endpoint, params, pageSize, at.p, signal)) {
        const next: Cursor | null = !page.last ? { w: at.w, p: page.pageIndex + 1 } : windowEnd < range.to ? { w: addDays(windowEnd, 1), p: 1 } : null;
        yield { ...toBars(page.rows, symbol, interval, range), next: next ? JSON.stringify(next) : null };
      }
      at = { w: addDays(windowEnd, 1), p: 1 };
    }
  }
}

function toBars(rows: JsonObject[], symbol: string, interval: BackfillInterval, range: DateRange): Omit<HistoryPage, 'next'> {
  const bars: BarEvent[] = [];
  let malformed = 0;
  let problem: string | undefined;
  for (const row of rows) {
    try {
      const f = new Fields(row, interval === '1d' ? 'DailyOhlc' : 'IntradayOhlc');
      const rowSymbol = f.str('Symbol')?.toUpperCase();
      // A row for another symbol would be stored under the wrong key.
      if (rowSymbol !== undefined && rowSymbol !== symbol.toUpperCase()) throw new LineError('invalid_value', `row for ${rowSymbol} in the answer for ${symbol}`);
      let dateText = f.reqStr('TradingDate');
      let timeText = f.str('Time');
      const combined = /^(\S+)[ T](\d{1,2}:\d{2}(?::\d{2})?)/.exec(dateText);
      if (combined) [dateText, timeText] = [combined[1]!, timeText ?? combined[2]];
      const date = parseVendorDate(dateText);
      if (date < range.from || date > range.to) continue;
      let ts: number;
      if (interval === '1d') ts = zonedToEpoch(date, 0, SSI_TIME_ZONE);
      else {
        if (timeText === undefined) throw new LineError('missing_field', 'IntradayOhlc: Time is missing');
        ts = Math.floor(zonedToEpoch(date, parseVendorTime(timeText), SSI_TIME_ZONE) / 60_000) * 60_000;
      }
      const value = f.nonNeg('Value');
      const bar = checkEvent({
        type: 'bar',
        ts,
        symbol: symbol.toUpperCase(),
        interval,
        open: f.reqPrice('Open'),
        high: f.reqPrice('High'),
        low: f.reqPrice('Low'),
        close: f.reqPrice('Close'),
        volume: f.reqNonNeg('Volume'),
        ...(value !== undefined ? { value } : {}),
      }) as BarEvent;
      if (bar.high < bar.low || bar.open > bar.high || bar.open < bar.low || bar.close > bar.high || bar.close < bar.low) {
        throw new LineError('invalid_value', `inconsistent OHLC ${bar.open}/${bar.high}/${bar.low}/${bar.close}`);
      }
      bars.push(bar);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      malformed += 1;
      problem ??= e.message;
    }
  }
  return problem ? { bars, malformed, problem } : { bars, malformed };
}
