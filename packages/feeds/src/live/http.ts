/**
 * JSON over HTTP for vendor REST APIs, with the retry policy every caller
 * wants: network errors, 429 and 5xx are retried with jittered backoff; a 429
 * or 503 with `Retry-After` waits exactly that long (capped); any other 4xx is
 * the caller's problem and fails at once. Uses the global fetch (Node 20+).
 */
import type { Clock } from '../feed.ts';
import { systemClock } from '../feed.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { sleep } from './timers.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** Method and URL without the query string (which may carry symbols, never secrets, but stays short). */
    readonly target: string,
    readonly body: string,
  ) {
    super(`${target} answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'HttpError';
  }
}

/** The answer was 2xx but not the JSON expected. */
export class BadResponseError extends Error {
  constructor(
    readonly target: string,
    reason: string,
  ) {
    super(`${target}: ${reason}`);
    this.name = 'BadResponseError';
  }
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RequestOptions {
  /** Retries after the first attempt. Default 5. */
  retries?: number;
  backoff?: BackoffOptions;
  /** Longest Retry-After honoured; longer asks are capped to it. Default 120 s. */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout. Default 30 s. */
  timeoutMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
  fetch?: typeof fetch;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** `Retry-After` as delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** Sends the request, retrying per the policy above; resolves to the decoded JSON body. */
export async function requestJson<T = unknown>(url: string, init: RequestInit = {}, opts: RequestOptions = {}): Promise<T> {
  const clock = opts.clock ?? systemClock;
  const retries = opts.retries ?? 5;
  const backoff = new Backoff({ initialMs: 500, maxMs: 30_000, ...opts.backoff });
  const doFetch = opts.fetch ?? fetch;
  const u = new URL(url);
  const target = `${init.method ?? 'GET'} ${u.origin}${u.pathname}`;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    let reason: string;
    let delay: number | null = null;
    try {
      const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000), ...(opts.signal ? [opts.signal] : [])];
      const res = await doFetch(url, { ...init, signal: AbortSignal.any(signals) });
      const text = await res.text();
      if (res.ok) {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new BadResponseError(target, `answered ${res.status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
        }
      }
      if (!RETRY_STATUSES.has(res.status) || attempt >= retries) throw new HttpError(res.status, target, text);
      reason = `HTTP ${res.status}`;
      const ra = parseRetryAfter(res.headers.get('retry-after'), clock.now());
      if (ra !== null) delay = Math.min(ra, opts.maxRetryAfterMs ?? 120_000);
    } catch (err) {
      if (err instanceof HttpError || err instanceof BadResponseError) throw err;
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (attempt >= retries) throw new Error(`${target} failed: ${describe(err)}`, { cause: err });
      reason = describe(err);
    }
    const wait = delay ?? backoff.next();
    opts.onRetry?.({ attempt: attempt + 1, delayMs: wait, reason });
    await sleep(clock, wait, opts.signal);
  }
}
