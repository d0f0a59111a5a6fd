/**
 * FastConnect Data REST (`GET {rest}/api/v2/Market/<Endpoint>`): query
 * parameters prefixed `lookupRequest.`, bearer token, paging with
 * `pageIndex`/`pageSize` and `totalRecord`, every number a string. A 401
 * renews the token once; throttling and 5xx are retried (live/http.ts).
 */
import type { Clock } from '../feed.ts';
import { systemClock } from '../feed.ts';
import { HttpError, requestJson, type RequestOptions } from '../live/http.ts';
import { isObject, type JsonObject } from '../parsers/fields.ts';
import { joinUrl, type SsiTokenProvider } from './ssi-token.ts';

/** The API answered, but with a failure status and message (bad parameter, unknown symbol…). */
export class SsiApiError extends Error {
  constructor(
    readonly endpoint: string,
    readonly vendorMessage: string,
  ) {
    super(`SSI ${endpoint}: ${vendorMessage}`);
    this.name = 'SsiApiError';
  }
}

export interface SsiPage {
  rows: JsonObject[];
  pageIndex: number;
  totalRecord: number | null;
  /** True when no page follows this one. */
  last: boolean;
}

export type SsiParams = Record<string, string | number | boolean | undefined>;

/** Page sizes the API accepts. */
export const SSI_PAGE_SIZES = [10, 20, 50, 100, 1000] as const;

const succeeded = (status: unknown) => status === undefined || status === 200 || String(status).toLowerCase() === 'success' || status === '200';

export class SsiRestClient {
  private readonly clock: Clock;

  constructor(
    private readonly o: { restUrl: string; tokens: SsiTokenProvider; clock?: Clock; request?: RequestOptions },
  ) {
    this.clock = o.clock ?? systemClock;
  }

  /** One call; `params` keys are given without the `lookupRequest.` prefix. */
  async get(endpoint: string, params: SsiParams, signal?: AbortSignal): Promise<{ rows: JsonObject[]; totalRecord: number | null }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(`lookupRequest.${k}`, String(v));
    const url = `${joinUrl(this.o.restUrl, `api/v2/Market/${endpoint}`)}?${q}`;
    for (let renewed = false; ; renewed = true) {
      const token = await this.o.tokens.get();
      try {
        const body = await requestJson<unknown>(
          url,
          { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
          { clock: this.clock, ...this.o.request, ...(signal ? { signal } : {}) },
        );
        return decode(endpoint, body);
      } catch (err) {
        // An expired or revoked token: fetch a new one, once.
        if (err instanceof HttpError && err.status === 401 && !renewed) {
          this.o.tokens.invalidate();
          continue;
        }
        throw err;
      }
    }
  }

  /** Every page from `startPage` on, in order. */
  async *pages(endpoint: string, params: SsiParams, pageSize = 1000, startPage = 1, signal?: AbortSignal): AsyncGenerator<SsiPage> {
    for (let pageIndex = startPage; ; pageIndex++) {
      const { rows, totalRecord } = await this.get(endpoint, { ...params, pageIndex, pageSize }, signal);
      const last = rows.length < pageSize || (totalRecord !== null && pageIndex * pageSize >= totalRecord);
      yield { rows, pageIndex, totalRecord, last };
      if (last) return;
    }
  }
}

function decode(endpoint: string, body: unknown): { rows: JsonObject[]; totalRecord: number | null } {
  if (!isObject(body)) throw new SsiApiError(endpoint, 'the answer is not a JSON object');
  const get = (name: string) => {
    for (const [k, v] of Object.entries(body)) if (k.toLowerCase() === name) return v;
    return undefined;
  };
  const status = get('status');
  const message = get('message');
  if (!succeeded(status)) throw new SsiApiError(endpoint, typeof message === 'string' && message ? message : `status ${String(status)}`);
  const data = get('data');
  const rows = data === null || data === undefined ? [] : Array.isArray(data) ? data.filter(isObject) : isObject(data) ? [data] : [];
  const total = Number(get('totalrecord'));
  return { rows, totalRecord: Number.isFinite(total) && total >= 0 ? total : null };
}
