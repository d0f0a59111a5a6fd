/**
 * Alpaca Trading API v2 REST client: account, positions, orders, fills.
 *
 * Retry policy (docs/trading.md, "Alpaca broker"):
 * - 429 is retried for every request (the request was not processed), after
 *   `Retry-After` when sent, else until `X-RateLimit-Reset` (epoch seconds),
 *   else a jittered backoff; a request is also held back while the last
 *   answer said the quota is used up (`X-RateLimit-Remaining: 0`).
 * - 5xx, timeouts and network errors are retried for idempotent requests
 *   only: reads, cancels, and submits/replaces (made idempotent by their
 *   `client_order_id`: a retry that meets "client_order_id must be unique"
 *   fetches the order the lost attempt created instead of failing).
 * - Anything else fails at once with an AlpacaApiError (catalogue code).
 */
import { Backoff, parseRetryAfter, sleep, systemClock, type BackoffOptions, type Clock } from '@stock-tracker/feeds';
import { AlpacaApiError, isDuplicateClientOrderId, parseAlpacaErrorBody } from './errors.ts';
import {
  decodeAccount,
  decodeFillActivity,
  decodeList,
  decodeOrder,
  decodePosition,
  encodeOrderRequest,
  encodeReplaceRequest,
  isFinalStatus,
  WireError,
  type AlpacaAccount,
  type AlpacaFillActivity,
  type AlpacaOrder,
  type AlpacaOrderRequest,
  type AlpacaPosition,
  type AlpacaReplaceRequest,
} from './wire.ts';

export const ALPACA_PAPER_URL = 'https://paper-api.alpaca.markets';
export const ALPACA_LIVE_URL = 'https://api.alpaca.markets';
export const ALPACA_LIVE_HOST = 'api.alpaca.markets';

export interface AlpacaCredentials {
  keyId: string;
  secretKey: string;
}

export interface RestRetryInfo {
  attempt: number;
  delayMs: number;
  reason: string;
  target: string;
}

export interface AlpacaRestOptions extends AlpacaCredentials {
  /** Default https://paper-api.alpaca.markets */
  baseUrl?: string;
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  backoff?: BackoffOptions;
  /** Longest wait honoured for a 429 (Retry-After / reset); longer asks fail with BROKER_RATE_LIMITED. Default 60 s. */
  maxRateLimitWaitMs?: number;
  /** Per-attempt timeout. Default 10 s. */
  timeoutMs?: number;
  clock?: Clock;
  fetch?: typeof fetch;
  onRetry?: (info: RestRetryInfo) => void;
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Safe to send twice (see the header). */
  idempotent: boolean;
}

/** What the last answer said about the account's request quota. */
export interface RateLimitState {
  limit: number | null;
  remaining: number | null;
  /** Epoch ms. */
  resetAt: number | null;
}

export class AlpacaRest {
  readonly baseUrl: string;
  readonly rateLimit: RateLimitState = { limit: null, remaining: null, resetAt: null };
  /** Requests sent (attempts), by `METHOD path-template`; for tests and metrics. */
  readonly attempts = new Map<string, number>();
  private readonly o: AlpacaRestOptions;
  private readonly clock: Clock;

  constructor(o: AlpacaRestOptions) {
    if (!o.keyId || !o.secretKey) throw new Error('AlpacaRest: keyId and secretKey are required');
    this.o = o;
    this.baseUrl = (o.baseUrl ?? ALPACA_PAPER_URL).replace(/\/+$/, '');
    this.clock = o.clock ?? systemClock;
  }

  getAccount(): Promise<AlpacaAccount> {
    return this.call({ method: 'GET', path: '/v2/account', idempotent: true }, decodeAccount);
  }

  getPositions(): Promise<AlpacaPosition[]> {
    return this.call({ method: 'GET', path: '/v2/positions', idempotent: true }, (v) => decodeList(v, decodePosition, 'positions'));
  }

  /** GET /v2/orders: `status` open (default), closed or all; `after` epoch ms (exclusive, on submission time). */
  listOrders(q: { status?: 'open' | 'closed' | 'all'; after?: number; limit?: number; direction?: 'asc' | 'desc'; symbols?: string[] } = {}): Promise<AlpacaOrder[]> {
    return this.call(
      {
        method: 'GET',
        path: '/v2/orders',
        query: {
          status: q.status ?? 'open',
          limit: q.limit ?? 500,
          direction: q.direction,
          after: q.after === undefined ? undefined : new Date(q.after).toISOString(),
          symbols: q.symbols?.join(','),
        },
        idempotent: true,
      },
      (v) => decodeList(v, decodeOrder, 'orders'),
    );
  }

  getOrder(id: string): Promise<AlpacaOrder> {
    return this.call({ method: 'GET', path: `/v2/orders/${encodeURIComponent(id)}`, idempotent: true }, decodeOrder);
  }

  getOrderByClientId(clientOrderId: string): Promise<AlpacaOrder> {
    return this.call({ method: 'GET', path: '/v2/orders:by_client_order_id', query: { client_order_id: clientOrderId }, idempotent: true }, decodeOrder);
  }

  /** POST /v2/orders. A retry after a lost answer returns the order the first attempt created. */
  async submitOrder(req: AlpacaOrderRequest): Promise<AlpacaOrder> {
    if (!req.client_order_id || req.client_order_id.length > 48) throw new Error('submitOrder: client_order_id of 1 to 48 characters is required (it makes retries safe)');
    let ambiguous = false;
    try {
      return await this.call({ method: 'POST', path: '/v2/orders', body: encodeOrderRequest(req), idempotent: true }, decodeOrder, () => (ambiguous = true));
    } catch (err) {
      // Only after an attempt whose fate is unknown: a duplicate on the first try is the caller's reuse of an id.
      if (ambiguous && isDuplicateClientOrderId(err)) return this.getOrderByClientId(req.client_order_id);
      throw err;
    }
  }

  /** PATCH /v2/orders/{id}: Alpaca answers with the replacing order (a new id). */
  async replaceOrder(id: string, req: AlpacaReplaceRequest): Promise<AlpacaOrder> {
    let ambiguous = false;
    try {
      return await this.call({ method: 'PATCH', path: `/v2/orders/${encodeURIComponent(id)}`, body: encodeReplaceRequest(req), idempotent: true }, decodeOrder, () => (ambiguous = true));
    } catch (err) {
      if (ambiguous && (isDuplicateClientOrderId(err) || (err instanceof AlpacaApiError && err.brokerStatus === 422))) {
        // The lost attempt replaced it: the replacement carries our client_order_id.
        const mine = await this.getOrderByClientId(req.client_order_id).catch(() => null);
        if (mine) return mine;
      }
      throw err;
    }
  }

  /**
   * DELETE /v2/orders/{id} (204 once the cancel request is accepted). A retry
   * that finds the order no longer cancelable because the lost attempt
   * cancelled it counts as success.
   */
  async cancelOrder(id: string): Promise<void> {
    let ambiguous = false;
    try {
      await this.call({ method: 'DELETE', path: `/v2/orders/${encodeURIComponent(id)}`, idempotent: true }, () => undefined, () => (ambiguous = true));
    } catch (err) {
      if (ambiguous && err instanceof AlpacaApiError && err.brokerStatus === 422) {
        const o = await this.getOrder(id).catch(() => null);
        if (o && (o.status === 'canceled' || o.status === 'pending_cancel')) return;
      }
      throw err;
    }
  }

  /**
   * FILL activities after `afterMs` (exclusive), oldest first, every page
   * (page_size 100, the documented maximum; `page_token` = last id).
   */
  async fillsSince(afterMs: number, maxPages = 50): Promise<AlpacaFillActivity[]> {
    const out: AlpacaFillActivity[] = [];
    let token: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const rows = await this.call(
        {
          method: 'GET',
          path: '/v2/account/activities/FILL',
          query: { after: new Date(afterMs).toISOString(), direction: 'asc', page_size: 100, page_token: token },
          idempotent: true,
        },
        (v) => decodeList(v, decodeFillActivity, 'activities'),
      );
      out.push(...rows);
      if (rows.length < 100) return out;
      token = rows[rows.length - 1]!.id;
    }
    return out;
  }

  /** Sends one call with the retry policy; `onAmbiguous` is told when an attempt may have been applied without an answer. */
  private async call<T>(c: Call, decode: (v: unknown) => T, onAmbiguous?: () => void): Promise<T> {
    const retries = this.o.retries ?? 4;
    const backoff = new Backoff({ initialMs: 250, maxMs: 10_000, ...this.o.backoff });
    const url = new URL(this.baseUrl + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const template = c.path.replace(/\/v2\/orders\/[^/]+$/, '/v2/orders/{id}');
    const target = `${c.method} ${template}`;
    const doFetch = this.o.fetch ?? fetch;
    for (let attempt = 0; ; attempt++) {
      await this.waitForQuota();
      this.attempts.set(target, (this.attempts.get(target) ?? 0) + 1);
      let status = 0;
      let text = '';
      let wait: number | null = null;
      let reason: string;
      try {
        const res = await doFetch(url, {
          method: c.method,
          headers: {
            'APCA-API-KEY-ID': this.o.keyId,
            'APCA-API-SECRET-KEY': this.o.secretKey,
            accept: 'application/json',
            ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: c.body !== undefined ? JSON.stringify(c.body) : undefined,
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
        });
        status = res.status;
        text = await res.text();
        this.noteRateLimit(res.headers);
        if (res.ok) {
          if (status === 204 || text === '') return decode(undefined);
          try {
            return decode(JSON.parse(text) as unknown);
          } catch (err) {
            const why = err instanceof WireError ? err.message : 'the body is not JSON';
            throw new AlpacaApiError(502, { code: null, message: `unreadable answer: ${why}` }, target);
          }
        }
        if (status === 429) {
          wait = this.rateLimitWait(res.headers);
          const max = this.o.maxRateLimitWaitMs ?? 60_000;
          if (attempt >= retries || (wait !== null && wait > max)) throw new AlpacaApiError(429, parseAlpacaErrorBody(text), target, wait ?? undefined);
          reason = 'HTTP 429';
        } else if (status >= 500 && c.idempotent && attempt < retries) {
          // The server may have acted before failing.
          onAmbiguous?.();
          reason = `HTTP ${status}`;
        } else {
          throw new AlpacaApiError(status, parseAlpacaErrorBody(text), target);
        }
      } catch (err) {
        if (err instanceof AlpacaApiError) throw err;
        // No answer: timeout, refused, reset. The request may or may not have arrived.
        onAmbiguous?.();
        const e = err as { name?: string; message?: string; cause?: { code?: string } };
        reason = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message ?? String(err));
        if (!c.idempotent || attempt >= retries) throw new AlpacaApiError(0, { code: null, message: reason }, target);
      }
      const delay = wait ?? backoff.next();
      this.o.onRetry?.({ attempt: attempt + 1, delayMs: delay, reason, target });
      await sleep(this.clock, delay);
    }
  }

  private noteRateLimit(h: Headers): void {
    const n = (k: string) => {
      const v = h.get(k);
      return v !== null && /^\d+$/.test(v.trim()) ? Number(v) : null;
    };
    const limit = n('x-ratelimit-limit');
    const remaining = n('x-ratelimit-remaining');
    const reset = n('x-ratelimit-reset');
    if (limit !== null) this.rateLimit.limit = limit;
    if (remaining !== null) this.rateLimit.remaining = remaining;
    if (reset !== null) this.rateLimit.resetAt = reset * 1000;
  }

  /** How long a 429 asks to wait: Retry-After first, else the quota reset; null = not said. */
  private rateLimitWait(h: Headers): number | null {
    const now = this.clock.now();
    const ra = parseRetryAfter(h.get('retry-after'), now);
    if (ra !== null) return ra;
    if (this.rateLimit.resetAt !== null && this.rateLimit.resetAt > now) return this.rateLimit.resetAt - now;
    return null;
  }

  /** The quota is used up until the reset: wait instead of collecting a 429. */
  private async waitForQuota(): Promise<void> {
    const { remaining, resetAt } = this.rateLimit;
    if (remaining !== 0 || resetAt === null) return;
    const wait = resetAt - this.clock.now();
    this.rateLimit.remaining = null;
    if (wait > 0 && wait <= (this.o.maxRateLimitWaitMs ?? 60_000)) await sleep(this.clock, wait);
  }
}

export { isFinalStatus };
