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

export interface StreamPos {
  seq: number;
  epoch: string;
}

// ---------- client -> server ----------
export interface SubscribeOp {
  op: 'subscribe';
  /** Correlates the server's `subscribed`/`error` answer. */
  id?: string;
  /** Symbols or index ids; `["*"]` (or omitted) means everything on the channel. */
  symbols?: string[];
  /** market channel: also stream classified trades for these symbols. */
  trades?: boolean;
  /** Last position seen per key, to resume without gaps. */
  since?: Record<string, StreamPos>;
}
export interface UnsubscribeOp {
  op: 'unsubscribe';
  id?: string;
  symbols?: string[];
}
export interface PingOp {
  op: 'ping';
  id?: string;
}
export interface AuthOp {
  op: 'auth';
  id?: string;
  token: string;
}
export type ClientMessage = SubscribeOp | UnsubscribeOp | PingOp | AuthOp;

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

/** Keys helpers shared by server and client. */
export const tradesKey = (symbol: string) => `${symbol}:trades`;
export const alertsKey = (userId: string) => `user:${userId}`;
/** Alerts-channel key of the notices for every user (SystemAlert). */
export const SYSTEM_ALERTS_KEY = 'system';
export const isEventKey = (channel: Channel, key: string) =>
  (channel === 'market' && key.endsWith(':trades')) || channel === 'alerts' || (channel === 'trading' && !key.startsWith('portfolio:'));
