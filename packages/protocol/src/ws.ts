/**
 * WebSocket protocol (ARCHITECTURE §4). JSON text frames on /ws/market,
 * /ws/foreign, /ws/index and /ws/alerts.
 *
 * Streams. Every message belongs to a stream identified by (channel, key).
 * Each stream has an `epoch` (changes when its history is lost, e.g. after a
 * collector restart without history) and a `seq` that increases by exactly one
 * per update published on that stream.
 *
 * Keys per channel:
 * - market:  `SYM`          full QuoteState per update (state stream, conflatable)
 *            `SYM:trades`   ClassifiedTrade per update (event stream, queued)
 * - foreign: `SYM`          ForeignState (state)
 *            `top`          ForeignTop (state)
 * - index:   `<INDEX ID>`   IndexState (state)
 * - trading: `user:<id>`    TradingStreamEvent (event stream, queued): orders,
 *                           fills, signals, risk events of the user's accounts
 *            `portfolio:<id>`  TradingPortfolio (state stream): every account's state
 * - alerts:  `user:<id>`    AlertEvent (event stream, queued)
 *            `system`       SystemAlert (event stream, queued): every alerts
 *                           subscription includes it
 *
 * Conflation. For a slow reader the server may replace queued state updates of
 * a key by the newest one; the delivered update then carries `from`, the first
 * seq it supersedes, so `from..seq` is covered and the client can still check
 * contiguity: (msg.from ?? msg.seq) === lastSeq + 1. Event streams are never
 * conflated: past a byte cap the connection is closed with
 * WS_CLOSE.SLOW_CONSUMER and the client resumes with `since`.
 *
 * Resume. `subscribe` may carry `since: {key: {seq, epoch}}`. When the epoch
 * matches and history still holds seq+1..current, the server answers
 * `recovered` for the key followed by the missed updates; otherwise `reset`
 * followed by a fresh `snapshot`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { AlertEvent, ClassifiedTrade, ForeignState, ForeignTop, IndexState, QuoteState, SystemAlert } from './state.ts';
import type { ErrorCode, ErrorDetail } from './errors.ts';
import type { AccountState, TradingEvent } from './trading.ts';

/** One event on a user's /ws/trading stream: what the trading core emitted, and for which account. */
export type TradingStreamEvent = TradingEvent & { accountId: string };
/** The state stream of a user's paper accounts (cash, equity, P&L, positions, kill switch), ordered by account id. */
export interface TradingPortfolio {
  accounts: AccountState[];
}

export type Channel = 'market' | 'foreign' | 'index' | 'alerts' | 'trading';
export const CHANNELS: readonly Channel[] = ['market', 'foreign', 'index', 'alerts', 'trading'];

// ---------- client -> server ----------
// TypeBox schemas with their static types (as rest.ts does): the gateway
// validates frames with these and clients type their ops with them, so there
// is one definition. Strict: unknown fields are rejected so that a typo such as
// `symbol` for `symbols` fails loudly instead of subscribing to everything.

/** A key or symbol as sent by clients: `VNM`, `VNM:trades`, `user:42`, `top`, `*`. */
export const WS_KEY_PATTERN = '^(\\*|[A-Za-z0-9._\\-]{1,20}(:[A-Za-z0-9._\\-]{1,60})?)$';
/** Most symbols (or `since` keys) one subscribe/unsubscribe may name. */
export const WS_MAX_KEYS_PER_OP = 10_000;
const WsKey = Type.String({ pattern: WS_KEY_PATTERN });
const OpId = Type.String({ maxLength: 64 });
const strict = { additionalProperties: false } as const;

export const StreamPos = Type.Object({ seq: Type.Integer({ minimum: 0 }), epoch: Type.String({ maxLength: 64 }) }, strict);
export type StreamPos = Static<typeof StreamPos>;

export const SubscribeOp = Type.Object(
  {
    op: Type.Literal('subscribe'),
    /** Correlates the server's `subscribed`/`error` answer. */
    id: Type.Optional(OpId),
    /** Symbols or index ids; `["*"]` (or omitted) means everything on the channel. */
    symbols: Type.Optional(Type.Array(WsKey, { maxItems: WS_MAX_KEYS_PER_OP })),
    /** market channel: also stream classified trades for these symbols. */
    trades: Type.Optional(Type.Boolean()),
    /** Last position seen per key, to resume without gaps (keys checked against WS_KEY_PATTERN by the server: TypeBox does not apply a pattern to Record keys). */
    since: Type.Optional(Type.Record(Type.String(), StreamPos, { maxProperties: WS_MAX_KEYS_PER_OP })),
  },
  strict,
);
export type SubscribeOp = Static<typeof SubscribeOp>;
export const UnsubscribeOp = Type.Object(
  { op: Type.Literal('unsubscribe'), id: Type.Optional(OpId), symbols: Type.Optional(Type.Array(WsKey, { maxItems: WS_MAX_KEYS_PER_OP })) },
  strict,
);
export type UnsubscribeOp = Static<typeof UnsubscribeOp>;
export const PingOp = Type.Object({ op: Type.Literal('ping'), id: Type.Optional(OpId) }, strict);
export type PingOp = Static<typeof PingOp>;
export const AuthOp = Type.Object({ op: Type.Literal('auth'), id: Type.Optional(OpId), token: Type.String({ minLength: 1, maxLength: 8192 }) }, strict);
export type AuthOp = Static<typeof AuthOp>;
export type ClientMessage = SubscribeOp | UnsubscribeOp | PingOp | AuthOp;
/** The schema of each client op, by `op`. */
export const CLIENT_OPS = { subscribe: SubscribeOp, unsubscribe: UnsubscribeOp, ping: PingOp, auth: AuthOp } as const satisfies Record<ClientMessage['op'], TSchema>;

// ---------- server -> client ----------
export interface ChannelData {
  market: QuoteState | ClassifiedTrade | ClassifiedTrade[];
  foreign: ForeignState | ForeignTop;
  index: IndexState;
  alerts: AlertEvent | AlertEvent[] | SystemAlert | SystemAlert[];
  /** `user:<id>`: TradingStreamEvent (event stream); `portfolio:<id>`: TradingPortfolio (state stream). */
  trading: TradingStreamEvent | TradingStreamEvent[] | TradingPortfolio;
}

export interface SnapshotMsg<C extends Channel = Channel> {
  type: 'snapshot';
  channel: C;
  key: string;
  seq: number;
  epoch: string;
  /** State streams: the state. Event streams: the most recent events, oldest first. */
  data: ChannelData[C];
}
export interface UpdateMsg<C extends Channel = Channel> {
  type: 'update';
  channel: C;
  key: string;
  seq: number;
  epoch: string;
  /** Present when this update conflates from..seq-1 as well. */
  from?: number;
  data: ChannelData[C];
}
export interface SubscribedMsg {
  type: 'subscribed';
  channel: Channel;
  id?: string;
  keys: string[];
}
export interface UnsubscribedMsg {
  type: 'unsubscribed';
  channel: Channel;
  id?: string;
  keys: string[];
}
export interface RecoveredMsg {
  type: 'recovered';
  channel: Channel;
  key: string;
  /** First and last seq that will follow as updates (from > to when nothing was missed). */
  from: number;
  to: number;
  epoch: string;
}
export interface ResetMsg {
  type: 'reset';
  channel: Channel;
  key: string;
  reason: 'epoch_changed' | 'history_exceeded' | 'unknown_position';
  epoch: string;
}
export interface PongMsg {
  type: 'pong';
  id?: string;
  ts: number;
}
export interface WsErrorMsg {
  type: 'error';
  id?: string;
  code: ErrorCode;
  message: string;
  request_id: string;
  details?: ErrorDetail[];
}
export type ServerMessage =
  | SnapshotMsg
  | UpdateMsg
  | SubscribedMsg
  | UnsubscribedMsg
  | RecoveredMsg
  | ResetMsg
  | PongMsg
  | WsErrorMsg;

/** Close codes (RFC 6455 plus the 4000-4999 application range). */
export const WS_CLOSE = {
  NORMAL: 1000,
  /** Server shutting down (embedded / single node). */
  GOING_AWAY: 1001,
  /** Origin not allowed, or other policy violation. */
  POLICY_VIOLATION: 1008,
  /** Frame larger than WS_MAX_FRAME_BYTES. */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** Replica restarting: reconnect (to another replica) and resume. */
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  /** Authentication missing/invalid, or token expired without refresh. */
  UNAUTHORIZED: 4001,
  /** Outgoing queue exceeded its byte cap: reconnect and resume with `since`. */
  SLOW_CONSUMER: 4008,
  /** Too many protocol errors on one connection. */
  PROTOCOL_ERROR: 4009,
  /** Per-IP connection limit reached. */
  TOO_MANY_CONNECTIONS: 4029,
} as const;
export type WsCloseCode = (typeof WS_CLOSE)[keyof typeof WS_CLOSE];

// ---------- endpoints and stream keys (shared by server and clients) ----------
/** The WebSocket endpoint of each channel. */
export const WS_PATHS = {
  '/ws/market': 'market',
  '/ws/foreign': 'foreign',
  '/ws/index': 'index',
  '/ws/alerts': 'alerts',
  '/ws/trading': 'trading',
} as const satisfies Record<string, Channel>;
export type WsPath = keyof typeof WS_PATHS;
/** The path of a channel's endpoint. */
export const wsPath = (channel: Channel): WsPath => `/ws/${channel}` as WsPath;
/** The channel served at `path`, or null. */
export const channelForPath = (path: string): Channel | null => (Object.hasOwn(WS_PATHS, path) ? WS_PATHS[path as WsPath] : null);

/** Foreign-channel key of the market-wide top buyers/sellers (ForeignTop). */
export const FOREIGN_TOP_KEY = 'top';
const TRADES_SUFFIX = ':trades';
/** Market-channel key of a symbol's classified trades (event stream). */
export const tradesKey = (symbol: string) => `${symbol}${TRADES_SUFFIX}`;
export const isTradesKey = (key: string) => key.endsWith(TRADES_SUFFIX);
/** The symbol of a trades key, or null when `key` is not one. */
export const tradesKeySymbol = (key: string): string | null => (isTradesKey(key) ? key.slice(0, -TRADES_SUFFIX.length) : null);
export const alertsKey = (userId: string) => `user:${userId}`;
/** Alerts-channel key of the notices for every user (SystemAlert). */
export const SYSTEM_ALERTS_KEY = 'system';
export const isEventKey = (channel: Channel, key: string) =>
  (channel === 'market' && isTradesKey(key)) || channel === 'alerts' || (channel === 'trading' && !key.startsWith('portfolio:'));
