/**
 * Typed REST client over `fetch` for the endpoints in the protocol's
 * `ENDPOINTS` table. Method and path come from that table, so a route change
 * in the contract flows through here without editing URLs by hand.
 * Runs in browsers and in Node ≥ 20 (global fetch), or with an injected fetch.
 */
import { ENDPOINTS, codeForStatus } from '@stock-tracker/protocol';
import type {
  AlertEventsQuery,
  AlertEventsResponse,
  AlertRule,
  AlertRuleCreate,
  AlertRulesQuery,
  AlertRulesResponse,
  AlertRuleUpdate,
  AuthLogin,
  AuthPasswordChange,
  AuthRegister,
  AuthTokens,
  BarsQuery,
  BarsResponse,
  ErrorDetail,
  ForeignHistoryQuery,
  ForeignHistoryResponse,
  ForeignState,
  ForeignTop,
  ForeignTopQuery,
  IndexHistoryResponse,
  IndexState,
  IndicatorsQuery,
  IndicatorsResponse,
  IndicesResponse,
  MarketStatusResponse,
  Me,
  QuotesQuery,
  QuotesResponse,
  QuoteState,
  SessionQuery,
  SessionResponse,
  SymbolRef,
  SymbolsQuery,
  SymbolsResponse,
  TradesQuery,
  TradesResponse,
  Watchlist,
  WatchlistCreate,
  WatchlistsResponse,
  WatchlistUpdate,
} from '@stock-tracker/protocol';

type Sym = { symbol: string };
type Id = { id: string };
/** Time range query shared by history endpoints (epoch ms or ISO strings). */
export interface RangeQuery {
  from?: number | string;
  to?: number | string;
  limit?: number;
}

/** Request and response types per endpoint name of `ENDPOINTS`. */
export interface EndpointTypes {
  symbols: { params: void; query: SymbolsQuery; body: void; res: SymbolsResponse };
  symbol: { params: Sym; query: void; body: void; res: SymbolRef };
  quotes: { params: void; query: QuotesQuery; body: void; res: QuotesResponse };
  quote: { params: Sym; query: void; body: void; res: QuoteState };
  trades: { params: Sym; query: TradesQuery; body: void; res: TradesResponse };
  bars: { params: Sym; query: BarsQuery; body: void; res: BarsResponse };
  session: { params: Sym; query: SessionQuery; body: void; res: SessionResponse };
  foreignTop: { params: void; query: ForeignTopQuery; body: void; res: ForeignTop };
  foreign: { params: Sym; query: void; body: void; res: ForeignState };
  foreignHistory: { params: Sym; query: ForeignHistoryQuery; body: void; res: ForeignHistoryResponse };
  indices: { params: void; query: void; body: void; res: IndicesResponse };
  index: { params: Id; query: void; body: void; res: IndexState };
  indexHistory: { params: Id; query: RangeQuery; body: void; res: IndexHistoryResponse };
  indicators: { params: Sym; query: IndicatorsQuery; body: void; res: IndicatorsResponse };
  marketStatus: { params: void; query: void; body: void; res: MarketStatusResponse };
  alertRules: { params: void; query: AlertRulesQuery; body: void; res: AlertRulesResponse };
  alertRuleCreate: { params: void; query: void; body: AlertRuleCreate; res: AlertRule };
  alertRule: { params: Id; query: void; body: void; res: AlertRule };
  alertRuleUpdate: { params: Id; query: void; body: AlertRuleUpdate; res: AlertRule };
  alertRuleDelete: { params: Id; query: void; body: void; res: void };
  alertEvents: { params: void; query: AlertEventsQuery; body: void; res: AlertEventsResponse };
  watchlists: { params: void; query: void; body: void; res: WatchlistsResponse };
  watchlistCreate: { params: void; query: void; body: WatchlistCreate; res: Watchlist };
  watchlist: { params: Id; query: void; body: void; res: Watchlist };
  watchlistUpdate: { params: Id; query: void; body: WatchlistUpdate; res: Watchlist };
  watchlistDelete: { params: Id; query: void; body: void; res: void };
  authRegister: { params: void; query: void; body: AuthRegister; res: AuthTokens };
  authLogin: { params: void; query: void; body: AuthLogin; res: AuthTokens };
  authRefresh: { params: void; query: void; body: void; res: AuthTokens };
  authLogout: { params: void; query: void; body: void; res: void };
  authPassword: { params: void; query: void; body: AuthPasswordChange; res: void };
  authMe: { params: void; query: void; body: void; res: Me };
}
export type EndpointName = keyof typeof ENDPOINTS;
// Compile-time check that EndpointTypes covers exactly the contract's endpoints.
type _Covers = [EndpointName] extends [keyof EndpointTypes] ? ([keyof EndpointTypes] extends [EndpointName] ? true : never) : never;
const _covers: _Covers = true;
void _covers;

export interface RestClientOptions {
  /** Prefix of every path; `/api` on the same origin by default. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Bearer token source (accounts); omitted → no Authorization header. */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Sent as X-Request-ID so a failure can be traced end to end. */
  requestId?: string;
}

/** Any non-2xx answer (with the server's error body when it sent one) or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  /** An `ErrorCode` from the catalogue, or `NETWORK_ERROR` when no answer arrived. */
  readonly code: string;
  readonly requestId: string | null;
  readonly details?: ErrorDetail[];
  constructor(status: number, code: string, message: string, requestId: string | null, details?: ErrorDetail[]) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.details = details;
  }
}

type QueryValue = string | number | boolean | undefined | null;

/** Splits `"GET /bars/:symbol"` into method and path template. */
export function parseEndpoint(name: EndpointName): { method: string; path: string } {
  const spec = ENDPOINTS[name];
  const sp = spec.indexOf(' ');
  return { method: spec.slice(0, sp), path: spec.slice(sp + 1) };
}

/** Fills `:param` placeholders (URL-encoded) and appends defined query values. */
export function buildPath(template: string, params?: object | void, query?: object | void): string {
  const p = (params ?? {}) as Record<string, string>;
  const path = template.replace(/:([A-Za-z_]+)/g, (_, key: string) => {
    const v = p[key];
    if (v === undefined || v === null || v === '') throw new TypeError(`missing path parameter '${key}'`);
    return encodeURIComponent(String(v));
  });
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, QueryValue>)) {
    if (v !== undefined && v !== null && v !== '') qs.append(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

export class RestClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly opts: RestClientOptions;

  constructor(opts: RestClientOptions = {}) {
    this.opts = opts;
    this.baseUrl = (opts.baseUrl ?? '/api').replace(/\/+$/, '');
    const f = opts.fetch ?? globalThis.fetch;
    if (!f) throw new TypeError('RestClient needs a fetch implementation');
    // Bound so that browsers do not throw "Illegal invocation" on a detached fetch.
    this.fetchFn = f.bind(globalThis);
  }

  /** Calls one endpoint of the contract by name. */
  async request<K extends EndpointName>(
    name: K,
    input: { params?: EndpointTypes[K]['params']; query?: EndpointTypes[K]['query']; body?: EndpointTypes[K]['body'] } = {},
    call: CallOptions = {},
  ): Promise<EndpointTypes[K]['res']> {
    const { method, path } = parseEndpoint(name);
    const url = this.baseUrl + buildPath(path, input.params, input.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.opts.headers };
    const hasBody = input.body !== undefined;
    if (hasBody) headers['content-type'] = 'application/json';
    if (call.requestId) headers['x-request-id'] = call.requestId;
    const token = this.opts.token ? await this.opts.token() : null;
    if (token) headers.authorization = `Bearer ${token}`;

    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, body: hasBody ? JSON.stringify(input.body) : undefined, signal: call.signal });
    } catch (err) {
      if ((err as { name?: string })?.name === 'AbortError') throw err;
      throw new ApiError(0, 'NETWORK_ERROR', `${method} ${url}: ${(err as Error)?.message ?? String(err)}`, null);
    }
    const requestId = res.headers.get('x-request-id');
    const text = res.status === 204 ? '' : await res.text();
    if (!res.ok) throw errorFrom(res.status, text, requestId);
    if (!text) return undefined as EndpointTypes[K]['res'];
    try {
      return JSON.parse(text) as EndpointTypes[K]['res'];
    } catch {
      throw new ApiError(res.status, 'MALFORMED_JSON', `${method} ${url}: the response is not JSON`, requestId);
    }
  }

  // --- reference data & quotes
  symbols(query?: SymbolsQuery, call?: CallOptions) { return this.request('symbols', { query }, call); }
  symbol(symbol: string, call?: CallOptions) { return this.request('symbol', { params: { symbol } }, call); }
  quotes(query?: QuotesQuery, call?: CallOptions) { return this.request('quotes', { query }, call); }
  quote(symbol: string, call?: CallOptions) { return this.request('quote', { params: { symbol } }, call); }
  // --- trades, bars, sessions, indicators
  trades(symbol: string, query?: TradesQuery, call?: CallOptions) { return this.request('trades', { params: { symbol }, query }, call); }
  bars(symbol: string, query?: BarsQuery, call?: CallOptions) { return this.request('bars', { params: { symbol }, query }, call); }
  session(symbol: string, query?: SessionQuery, call?: CallOptions) { return this.request('session', { params: { symbol }, query }, call); }
  indicators(symbol: string, query: IndicatorsQuery, call?: CallOptions) { return this.request('indicators', { params: { symbol }, query }, call); }
  // --- foreign flows
  foreignTop(query?: ForeignTopQuery, call?: CallOptions) { return this.request('foreignTop', { query }, call); }
  foreign(symbol: string, call?: CallOptions) { return this.request('foreign', { params: { symbol } }, call); }
  foreignHistory(symbol: string, query?: ForeignHistoryQuery, call?: CallOptions) {
    return this.request('foreignHistory', { params: { symbol }, query }, call);
  }
  // --- indices & market status
  indices(call?: CallOptions) { return this.request('indices', {}, call); }
  index(id: string, call?: CallOptions) { return this.request('index', { params: { id } }, call); }
  indexHistory(id: string, query?: RangeQuery, call?: CallOptions) { return this.request('indexHistory', { params: { id }, query }, call); }
  marketStatus(call?: CallOptions) { return this.request('marketStatus', {}, call); }
  // --- alerts
  /** Every rule of the user: follows the pages (`next`) to the end, so callers never see a partial list. */
  async alertRules(call?: CallOptions): Promise<AlertRulesResponse> {
    const items: AlertRulesResponse['items'] = [];
    let after: string | undefined;
    do {
      const page = await this.alertRulesPage(after === undefined ? {} : { after }, call);
      items.push(...page.items);
      after = page.next ?? undefined;
    } while (after !== undefined);
    return { items, next: null };
  }
  /** One page of rules, oldest first (`next` continues it). */
  alertRulesPage(query?: AlertRulesQuery, call?: CallOptions) { return this.request('alertRules', { query }, call); }
  alertRule(id: string, call?: CallOptions) { return this.request('alertRule', { params: { id } }, call); }
  createAlertRule(body: AlertRuleCreate, call?: CallOptions) { return this.request('alertRuleCreate', { body }, call); }
  updateAlertRule(id: string, body: AlertRuleUpdate, call?: CallOptions) { return this.request('alertRuleUpdate', { params: { id }, body }, call); }
  deleteAlertRule(id: string, call?: CallOptions) { return this.request('alertRuleDelete', { params: { id } }, call); }
  alertEvents(query?: AlertEventsQuery, call?: CallOptions) { return this.request('alertEvents', { query }, call); }
  // --- watchlists
  watchlists(call?: CallOptions) { return this.request('watchlists', {}, call); }
  watchlist(id: string, call?: CallOptions) { return this.request('watchlist', { params: { id } }, call); }
  createWatchlist(body: WatchlistCreate, call?: CallOptions) { return this.request('watchlistCreate', { body }, call); }
  updateWatchlist(id: string, body: WatchlistUpdate, call?: CallOptions) { return this.request('watchlistUpdate', { params: { id }, body }, call); }
  deleteWatchlist(id: string, call?: CallOptions) { return this.request('watchlistDelete', { params: { id } }, call); }
  // --- accounts (the refresh token is an HttpOnly cookie the browser sends by itself)
  me(call?: CallOptions) { return this.request('authMe', {}, call); }
  register(body: AuthRegister, call?: CallOptions) { return this.request('authRegister', { body }, call); }
  login(body: AuthLogin, call?: CallOptions) { return this.request('authLogin', { body }, call); }
  refresh(call?: CallOptions) { return this.request('authRefresh', {}, call); }
  logout(call?: CallOptions) { return this.request('authLogout', {}, call); }
  changePassword(body: AuthPasswordChange, call?: CallOptions) { return this.request('authPassword', { body }, call); }
}

function errorFrom(status: number, text: string, headerRequestId: string | null): ApiError {
  let body: { code?: unknown; message?: unknown; request_id?: unknown; details?: unknown } | null = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null; // an HTML page from a proxy, for example
  }
  const code = typeof body?.code === 'string' ? body.code : codeForStatus(status);
  const message = typeof body?.message === 'string' ? body.message : `HTTP ${status}`;
  const requestId = typeof body?.request_id === 'string' ? body.request_id : headerRequestId;
  const details = Array.isArray(body?.details) ? (body.details as ErrorDetail[]) : undefined;
  return new ApiError(status, code, message, requestId, details);
}
