/**
 * Every Alpaca Trading API failure becomes an `AppError` with a code from the
 * one error catalogue (packages/protocol/src/errors.ts), so REST and
 * `/ws/trading` answer with it like any other refusal. The broker's own words
 * are kept in `details` (`broker.status`, `broker.code`, `broker.message`):
 * Alpaca's message is often the only precise reason ("insufficient qty
 * available for order (requested: 10, available: 0)").
 *
 * Alpaca answers errors as `{"code": 40310000, "message": "…"}` (sometimes
 * with extra fields such as `buying_power`); refused keys get a bare
 * `{"message": "forbidden."}` or `unauthorized.`.
 */
import { AppError, type ErrorCode, type ErrorDetail } from '@stock-tracker/protocol';

export interface AlpacaErrorBody {
  code: number | null;
  message: string;
}

/** Reads Alpaca's error body; a body that is not JSON keeps its first characters as the message. */
export function parseAlpacaErrorBody(text: string): AlpacaErrorBody {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      const code = typeof o['code'] === 'number' ? o['code'] : typeof o['code'] === 'string' && /^\d+$/.test(o['code']) ? Number(o['code']) : null;
      const message = typeof o['message'] === 'string' ? o['message'] : '';
      return { code, message };
    }
  } catch {
    // fall through: not JSON (a proxy's HTML page, an empty body)
  }
  return { code: null, message: text.slice(0, 200) };
}

/** 403s that are about money or shares, not permission (Alpaca overloads 40310000, so the message decides). */
const BUYING_POWER = /insufficient (buying power|day trading buying power|qty|quantity|shares|funds)|buying power/i;

/** Which catalogue code an Alpaca HTTP answer means. `status` 0 = no answer (network error, timeout). */
export function alpacaErrorCode(status: number, body: AlpacaErrorBody): ErrorCode {
  if (status === 0) return 'BROKER_UNAVAILABLE';
  if (status === 401) return 'BROKER_AUTH_FAILED';
  if (status === 403) {
    if (BUYING_POWER.test(body.message)) return 'INSUFFICIENT_BUYING_POWER';
    // Refused keys come back as a bare {"message":"forbidden."} without an Alpaca code.
    if (body.code === null) return 'BROKER_AUTH_FAILED';
    return 'BROKER_REJECTED';
  }
  if (status === 404) return 'NOT_FOUND';
  if (status === 429) return 'BROKER_RATE_LIMITED';
  if (status >= 500) return 'BROKER_UNAVAILABLE';
  // 400 (body format), 422 (invalid parameters, not cancelable, duplicate client_order_id), other 4xx.
  return 'BROKER_REJECTED';
}

export function alpacaDetails(status: number, body: AlpacaErrorBody): ErrorDetail[] {
  const d: ErrorDetail[] = [{ path: 'broker.status', issue: String(status) }];
  if (body.code !== null) d.push({ path: 'broker.code', issue: String(body.code) });
  if (body.message) d.push({ path: 'broker.message', issue: body.message });
  return d;
}

/**
 * An Alpaca failure as an AppError. `target` names the call (method and path,
 * never the keys); `retryAfterMs` becomes a Retry-After header for 429s.
 */
export class AlpacaApiError extends AppError {
  readonly brokerStatus: number;
  readonly brokerCode: number | null;
  readonly brokerMessage: string;
  readonly target: string;

  constructor(status: number, body: AlpacaErrorBody, target: string, retryAfterMs?: number) {
    const code = alpacaErrorCode(status, body);
    const what = status === 0 ? 'did not answer' : `answered ${status}`;
    const headers = code === 'BROKER_RATE_LIMITED' && retryAfterMs !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } : undefined;
    super(code, `Alpaca ${what} (${target})${body.message ? `: ${body.message}` : ''}`, alpacaDetails(status, body), headers);
    this.brokerStatus = status;
    this.brokerCode = body.code;
    this.brokerMessage = body.message;
    this.target = target;
  }
}

/** A duplicate client_order_id (422): the order exists already, from an earlier attempt whose answer was lost. */
export const isDuplicateClientOrderId = (e: unknown): boolean =>
  e instanceof AlpacaApiError && e.brokerStatus === 422 && /client_order_id/i.test(e.brokerMessage) && /unique|exist|duplicate/i.test(e.brokerMessage);
