/**
 * FastConnect Data access tokens: `POST {rest}/api/v2/Market/AccessToken`
 * with `{consumerID, consumerSecret}` → `data.accessToken`, a JWT sent as
 * `Authorization: Bearer …` on REST calls and the SignalR negotiate/connect.
 * The token is cached and renewed a margin before its `exp` claim; one whose
 * expiry cannot be read is renewed after `fallbackTtlMs`.
 */
import type { Clock } from '../feed.ts';
import { systemClock } from '../feed.ts';
import { HttpError, requestJson, type RequestOptions } from '../live/http.ts';

/** SSI refused the consumer ID/secret: retrying cannot help, the operator must fix the credentials. */
export class SsiCredentialsError extends Error {
  constructor(vendorMessage: string) {
    super(`SSI rejected the consumer ID/secret (${vendorMessage}); check SSI_CONSUMER_ID and SSI_CONSUMER_SECRET`);
    this.name = 'SsiCredentialsError';
  }
}

export interface SsiTokenOptions {
  restUrl: string;
  consumerId: string;
  consumerSecret: string;
  clock?: Clock;
  /** Renew this long before expiry. Default 5 min. */
  refreshMarginMs?: number;
  /** Lifetime assumed when the token carries no readable `exp`. Default 30 min. */
  fallbackTtlMs?: number;
  request?: RequestOptions;
}

/** The `exp` claim of a JWT in epoch ms, or null when it is not a readable JWT. */
export function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

export const joinUrl = (base: string, path: string) => `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;

export class SsiTokenProvider {
  private token: string | null = null;
  private expiresAt = 0;
  private pending: Promise<string> | null = null;
  private readonly clock: Clock;
  /** Tokens fetched so far (tests and logs). */
  fetched = 0;

  constructor(private readonly o: SsiTokenOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** A token valid for at least the refresh margin; fetches one when needed (concurrent callers share the request). */
  async get(): Promise<string> {
    if (this.token !== null && this.clock.now() < this.expiresAt - (this.o.refreshMarginMs ?? 300_000)) return this.token;
    this.pending ??= this.fetch().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Forget the cached token (the server answered 401 with it). */
  invalidate(): void {
    this.token = null;
    this.expiresAt = 0;
  }

  /** When the cached token should be renewed (epoch ms), or null without a token. */
  get renewAt(): number | null {
    return this.token === null ? null : this.expiresAt - (this.o.refreshMarginMs ?? 300_000);
  }

  private async fetch(): Promise<string> {
    let body: { status?: unknown; message?: unknown; data?: { accessToken?: unknown } };
    try {
      body = await requestJson(
        joinUrl(this.o.restUrl, 'api/v2/Market/AccessToken'),
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ consumerID: this.o.consumerId, consumerSecret: this.o.consumerSecret }),
        },
        { clock: this.clock, ...this.o.request },
      );
    } catch (err) {
      if (err instanceof HttpError && [400, 401, 403].includes(err.status)) throw new SsiCredentialsError(`HTTP ${err.status}`);
      throw err;
    }
    const token = body?.data?.accessToken;
    // SSI answers HTTP 200 with status 200 (or "Success") and the token, or another status and a message.
    const ok = body?.status === 200 || body?.status === '200' || String(body?.status).toLowerCase() === 'success';
    if (!ok || typeof token !== 'string' || token === '') {
      throw new SsiCredentialsError(typeof body?.message === 'string' ? body.message : `status ${String(body?.status)}`);
    }
    const now = this.clock.now();
    this.token = token;
    this.expiresAt = jwtExpiry(token) ?? now + (this.o.fallbackTtlMs ?? 1_800_000);
    this.fetched += 1;
    return token;
  }
}
