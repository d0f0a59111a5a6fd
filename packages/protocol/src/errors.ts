/**
 * The error catalogue: every error the product can answer with, declared once.
 * REST, WebSocket, the nginx edge templates and docs/errors.md all read this.
 */
export interface ErrorSpec {
  /** HTTP status used by REST (and by the edge for the same condition). */
  readonly status: number;
  /** Default human-readable message. */
  readonly message: string;
}

export const ERRORS = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  BAD_REQUEST: { status: 400, message: 'The request could not be understood.' },
  MALFORMED_JSON: { status: 400, message: 'The body is not valid JSON.' },
  UNAUTHORIZED: { status: 401, message: 'Authentication is required.' },
  INVALID_TOKEN: { status: 401, message: 'The access token is missing, invalid or expired.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Wrong user name or password.' },
  FORBIDDEN: { status: 403, message: 'You are not allowed to do this.' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'This origin is not allowed.' },
  NOT_FOUND: { status: 404, message: 'The resource does not exist.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such endpoint.' },
  UNKNOWN_SYMBOL: { status: 404, message: 'Unknown symbol.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this endpoint.' },
  CONFLICT: { status: 409, message: 'The resource already exists or was changed.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; slow down.' },
  TOO_MANY_CONNECTIONS: { status: 429, message: 'Too many connections from this address.' },
  TOO_MANY_SUBSCRIPTIONS: { status: 400, message: 'Subscription limit reached for this connection.' },
  UNKNOWN_OP: { status: 400, message: 'Unknown operation.' },
  MESSAGE_TOO_LARGE: { status: 413, message: 'The message is too large.' },
  SLOW_CONSUMER: { status: 503, message: 'The client could not keep up; connection closed.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
  BAD_GATEWAY: { status: 502, message: 'The upstream service did not answer.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is unavailable; try again shortly.' },
  GATEWAY_TIMEOUT: { status: 504, message: 'The upstream service timed out.' },
  // Paper trading (docs/trading.md, "Paper trading: REST, WebSocket and where it runs").
  // Also alert rules (per user and per symbol) and watchlists (docs/security.md, quotas).
  QUOTA_EXCEEDED: { status: 409, message: 'A per-user limit is reached (alert rules, watchlists, trading accounts, strategies or open orders).' },
  // Trading (docs/trading.md): an order refused by the market rules (422), by the account's
  // holdings (422), by a risk limit (422), or by a risk state that blocks entries (409).
  ORDER_INVALID: { status: 422, message: 'The order is not valid (missing or contradictory fields).' },
  ORDER_REJECTED_LOT: { status: 422, message: 'The quantity is not a multiple of the lot size.' },
  ORDER_REJECTED_TICK: { status: 422, message: 'The price is not on the tick grid.' },
  ORDER_REJECTED_BAND: { status: 422, message: 'The price is outside the daily limits (ceiling/floor).' },
  ORDER_NOT_OPEN: { status: 409, message: 'The order is no longer open.' },
  // INSUFFICIENT_BUYING_POWER (422) is declared once, with the broker codes below; the core uses it too.
  INSUFFICIENT_SETTLED_SHARES: { status: 422, message: 'Not enough settled shares to sell (no short selling; VN shares settle T+2).' },
  RISK_MAX_ORDER_VALUE: { status: 422, message: 'The order value exceeds the maximum order value.' },
  RISK_MAX_POSITION_VALUE: { status: 422, message: 'The position would exceed the maximum position value.' },
  RISK_MAX_POSITION_PCT: { status: 422, message: 'The position would exceed the maximum share of equity per symbol.' },
  RISK_MAX_OPEN_POSITIONS: { status: 422, message: 'The maximum number of open positions is reached.' },
  RISK_MAX_GROSS_EXPOSURE: { status: 422, message: 'The order would exceed the maximum gross exposure.' },
  RISK_MAX_DAILY_LOSS: { status: 409, message: 'The daily loss limit was hit: new entries are blocked until the next trading day.' },
  RISK_MAX_DRAWDOWN: { status: 409, message: 'The drawdown limit was hit: new entries are blocked until a manual reset.' },
  RISK_KILL_SWITCH: { status: 409, message: 'The kill switch is on: new entries are blocked.' },
  RISK_COOLDOWN: { status: 409, message: 'Entries are paused after too many losing trades in a row.' },
  // Broker adapters (Alpaca Trading API): the broker's own words go in `details` (path `broker.message`).
  BROKER_REJECTED: { status: 422, message: 'The broker rejected the request.' },
  INSUFFICIENT_BUYING_POWER: { status: 422, message: 'Not enough buying power (or shares) for this order.' },
  BROKER_RATE_LIMITED: { status: 429, message: "The broker's rate limit was reached; try again shortly." },
  BROKER_AUTH_FAILED: { status: 502, message: 'The broker refused the configured credentials.' },
  BROKER_UNAVAILABLE: { status: 503, message: 'The broker did not answer; try again shortly.' },
  BROKER_NOT_CONFIGURED: { status: 422, message: 'This broker is not configured on the server (e.g. ALPACA_TRADING_KEY_ID / ALPACA_TRADING_SECRET_KEY for Alpaca).' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export interface ErrorDetail {
  path: string;
  issue: string;
}

/** The JSON body of every 4xx/5xx (REST and edge) and of WS `error` messages. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  request_id: string;
  details?: ErrorDetail[];
}

/** An error carrying a catalogue code; thrown by services, rendered by REST and WS. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: ErrorDetail[];
  readonly headers?: Record<string, string>;
  constructor(code: ErrorCode, message?: string, details?: ErrorDetail[], headers?: Record<string, string>) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
    this.headers = headers;
  }
}

export function errorBody(code: ErrorCode, requestId: string, message?: string, details?: ErrorDetail[]): ErrorBody {
  const body: ErrorBody = { code, message: message ?? ERRORS[code].message, request_id: requestId };
  if (details && details.length > 0) body.details = details;
  return body;
}

/** Which catalogue code a bare HTTP status maps to (used by the edge and fallbacks). */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'BAD_REQUEST';
    case 401: return 'UNAUTHORIZED';
    case 403: return 'FORBIDDEN';
    case 404: return 'NOT_FOUND';
    case 405: return 'METHOD_NOT_ALLOWED';
    case 409: return 'CONFLICT';
    case 413: return 'PAYLOAD_TOO_LARGE';
    case 415: return 'UNSUPPORTED_MEDIA_TYPE';
    case 429: return 'RATE_LIMITED';
    case 502: return 'BAD_GATEWAY';
    case 503: return 'SERVICE_UNAVAILABLE';
    case 504: return 'GATEWAY_TIMEOUT';
    default: return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
  }
}
