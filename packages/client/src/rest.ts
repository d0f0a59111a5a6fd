/**
 * Typed REST client over `fetch` for the endpoints in the protocol's
 * `ENDPOINTS` table. Method and path come from that table, so a route change
 * in the contract flows through here without editing URLs by hand.
 * Runs in browsers and in Node ≥ 20 (global fetch), or with an injected fetch.
 */
import { ENDPOINTS, TRADING_ENDPOINTS, codeForStatus } from '@stock-tracker/protocol';
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
  Order,
  OrderReplace,
  OrderRequest,
  RiskLimits,
  TradingAccount,
  TradingAccountCreate,
  TradingAccountsResponse,
  TradingBacktest,
  TradingBacktestCreate,
  TradingBacktestsQuery,
  TradingBacktestsResponse,
  TradingBuiltinStrategiesResponse,
  TradingCommandAccepted,
  TradingFillsQuery,
  TradingFillsResponse,
  TradingOrdersQuery,
  TradingOrdersResponse,
  TradingPnlQuery,
  TradingPnlResponse,
  TradingPositionsResponse,
  TradingRiskResponse,
  TradingStrategiesQuery,
  TradingStrategiesResponse,
  TradingStrategy,
  TradingStrategyCreate,
  TradingTapesResponse,
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

// --- paper trading (/api/trading, protocol TRADING_ENDPOINTS; docs/trading.md)
type AccountP = { accountId: string };
type AccountOrderP = { accountId: string; orderId: string };
/** Request and response types per endpoint name of `TRADING_ENDPOINTS`. */
export interface TradingEndpointTypes {
  tradingAccounts: { params: void; query: void; body: void; res: TradingAccountsResponse };
  tradingAccountCreate: { params: void; query: void; body: TradingAccountCreate; res: TradingAccount };
  tradingAccount: { params: AccountP; query: void; body: void; res: TradingAccount };
  tradingAccountDelete: { params: AccountP; query: void; body: void; res: void };
  tradingAccountReset: { params: AccountP; query: void; body: void; res: TradingAccount | TradingCommandAccepted };
  tradingOrders: { params: AccountP; query: TradingOrdersQuery; body: void; res: TradingOrdersResponse };
  /** 201/200 the order; 202 `{commandId, status: 'pending'}` when the trading core has not answered yet. */
  tradingOrderSubmit: { params: AccountP; query: void; body: OrderRequest; res: Order | TradingCommandAccepted };
  tradingOrder: { params: AccountOrderP; query: void; body: void; res: Order };
  tradingOrderCancel: { params: AccountOrderP; query: void; body: void; res: Order | TradingCommandAccepted };
  tradingOrderReplace: { params: AccountOrderP; query: void; body: OrderReplace; res: Order | TradingCommandAccepted };
  tradingFills: { params: AccountP; query: TradingFillsQuery; body: void; res: TradingFillsResponse };
  tradingPositions: { params: AccountP; query: void; body: void; res: TradingPositionsResponse };
  tradingPnl: { params: AccountP; query: TradingPnlQuery; body: void; res: TradingPnlResponse };
  tradingRisk: { params: AccountP; query: void; body: void; res: TradingRiskResponse };
  tradingRiskUpdate: { params: AccountP; query: void; body: RiskLimits; res: TradingRiskResponse };
  tradingRiskReset: { params: AccountP; query: void; body: void; res: TradingRiskResponse };
  tradingStrategies: { params: void; query: TradingStrategiesQuery; body: void; res: TradingStrategiesResponse };
  tradingStrategiesBuiltin: { params: void; query: void; body: void; res: TradingBuiltinStrategiesResponse };
  tradingStrategyCreate: { params: void; query: void; body: TradingStrategyCreate; res: TradingStrategy };
  tradingStrategy: { params: Id; query: void; body: void; res: TradingStrategy };
  tradingStrategyStart: { params: Id; query: void; body: void; res: TradingStrategy };
  tradingStrategyStop: { params: Id; query: void; body: void; res: TradingStrategy };
  tradingStrategyDelete: { params: Id; query: void; body: void; res: void };
  tradingTapes: { params: void; query: void; body: void; res: TradingTapesResponse };
  tradingBacktests: { params: void; query: TradingBacktestsQuery; body: void; res: TradingBacktestsResponse };
  tradingBacktestCreate: { params: void; query: void; body: TradingBacktestCreate; res: TradingBacktest };
  tradingBacktest: { params: Id; query: void; body: void; res: TradingBacktest };
}
export type TradingEndpointName = keyof typeof TRADING_ENDPOINTS;
type _TradingCovers = [TradingEndpointName] extends [keyof TradingEndpointTypes] ? ([keyof TradingEndpointTypes] extends [TradingEndpointName] ? true : never) : never;
const _tradingCovers: _TradingCovers = true;
void _tradingCovers;
type AnyEndpointName = EndpointName | TradingEndpointName;
type AnyEndpointTypes = EndpointTypes & TradingEndpointTypes;
const ALL_ENDPOINTS: Record<AnyEndpointName, string> = { ...ENDPOINTS, ...TRADING_ENDPOINTS };
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
export function parseEndpoint(name: AnyEndpointName): { method: string; path: string } {
  const spec = ALL_ENDPOINTS[name];
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
  async request<K extends AnyEndpointName>(
    name: K,
    input: { params?: AnyEndpointTypes[K]['params']; query?: AnyEndpointTypes[K]['query']; body?: AnyEndpointTypes[K]['body'] } = {},
    call: CallOptions = {},
  ): Promise<AnyEndpointTypes[K]['res']> {
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
    if (!text) return undefined as AnyEndpointTypes[K]['res'];
    try {
      return JSON.parse(text) as AnyEndpointTypes[K]['res'];
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
  // --- paper trading
  tradingAccounts(call?: CallOptions) { return this.request('tradingAccounts', {}, call); }
  createTradingAccount(body: TradingAccountCreate, call?: CallOptions) { return this.request('tradingAccountCreate', { body }, call); }
  tradingAccount(accountId: string, call?: CallOptions) { return this.request('tradingAccount', { params: { accountId } }, call); }
  deleteTradingAccount(accountId: string, call?: CallOptions) { return this.request('tradingAccountDelete', { params: { accountId } }, call); }
  resetTradingAccount(accountId: string, call?: CallOptions) { return this.request('tradingAccountReset', { params: { accountId } }, call); }
  /** Idempotent per `clientOrderId`: retrying with the same key returns the first order. */
  submitOrder(accountId: string, body: OrderRequest, call?: CallOptions) { return this.request('tradingOrderSubmit', { params: { accountId }, body }, call); }
  orders(accountId: string, query?: TradingOrdersQuery, call?: CallOptions) { return this.request('tradingOrders', { params: { accountId }, query }, call); }
  order(accountId: string, orderId: string, call?: CallOptions) { return this.request('tradingOrder', { params: { accountId, orderId } }, call); }
  cancelOrder(accountId: string, orderId: string, call?: CallOptions) { return this.request('tradingOrderCancel', { params: { accountId, orderId } }, call); }
  replaceOrder(accountId: string, orderId: string, body: OrderReplace, call?: CallOptions) { return this.request('tradingOrderReplace', { params: { accountId, orderId }, body }, call); }
  fills(accountId: string, query?: TradingFillsQuery, call?: CallOptions) { return this.request('tradingFills', { params: { accountId }, query }, call); }
  positions(accountId: string, call?: CallOptions) { return this.request('tradingPositions', { params: { accountId } }, call); }
  pnl(accountId: string, query?: TradingPnlQuery, call?: CallOptions) { return this.request('tradingPnl', { params: { accountId }, query }, call); }
  risk(accountId: string, call?: CallOptions) { return this.request('tradingRisk', { params: { accountId } }, call); }
  setRisk(accountId: string, body: RiskLimits, call?: CallOptions) { return this.request('tradingRiskUpdate', { params: { accountId }, body }, call); }
  resetKillSwitch(accountId: string, call?: CallOptions) { return this.request('tradingRiskReset', { params: { accountId } }, call); }
  strategies(query?: TradingStrategiesQuery, call?: CallOptions) { return this.request('tradingStrategies', { query }, call); }
  builtinStrategies(call?: CallOptions) { return this.request('tradingStrategiesBuiltin', {}, call); }
  createStrategy(body: TradingStrategyCreate, call?: CallOptions) { return this.request('tradingStrategyCreate', { body }, call); }
  strategy(id: string, call?: CallOptions) { return this.request('tradingStrategy', { params: { id } }, call); }
  startStrategy(id: string, call?: CallOptions) { return this.request('tradingStrategyStart', { params: { id } }, call); }
  stopStrategy(id: string, call?: CallOptions) { return this.request('tradingStrategyStop', { params: { id } }, call); }
  deleteStrategy(id: string, call?: CallOptions) { return this.request('tradingStrategyDelete', { params: { id } }, call); }
  tapes(call?: CallOptions) { return this.request('tradingTapes', {}, call); }
  runBacktest(body: TradingBacktestCreate, call?: CallOptions) { return this.request('tradingBacktestCreate', { body }, call); }
  backtests(query?: TradingBacktestsQuery, call?: CallOptions) { return this.request('tradingBacktests', { query }, call); }
  backtest(id: string, call?: CallOptions) { return this.request('tradingBacktest', { params: { id } }, call); }
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
