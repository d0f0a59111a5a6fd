/**
 * Gateway options. Plain values: the env knobs (WS_MAX_CONNECTIONS_PER_IP,
 * TRUST_PROXY, CORS_ORIGINS, ...) are parsed and validated by the config
 * module and passed in here.
 */
import type { IncomingMessage } from 'node:http';
import type { Registry } from 'prom-client';
import type { Channel } from '@stock-tracker/protocol';
import type { Bus } from '../bus/types.ts';

export interface AuthUser {
  userId: string;
  /** When the credential expires (epoch ms): the connection then loses this user, and closes with 4001 if its channel needs one. */
  expiresAt?: number;
  /** The login session behind the credential: when it is revoked (logout, password change) the connection closes with 4001. */
  sessionId?: string;
}

/** The subset of a pino logger the gateway uses. */
export interface WsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WsGatewayOptions {
  bus: Bus;
  /** Origin allow-list (CSWSH). Undefined: any origin. Requests without Origin (non-browser) are always allowed. */
  allowedOrigins?: readonly string[];
  /** Allow an Origin whose host equals the request's Host (the SPA served by this server). Default true. */
  allowSameOrigin?: boolean;
  /** Open connections per client address; more are refused with HTTP 429 before the handshake. Default 50. */
  maxConnectionsPerIp?: number;
  /**
   * Whose X-Forwarded-For to believe for the client address: true (the last entry), a hop count or
   * proxy addresses/CIDRs (TRUST_PROXY semantics). Only behind a trusted proxy. Default false.
   */
  trustProxy?: boolean | number | readonly string[];
  /** Largest client frame; a bigger one closes the connection with 1009. Default 256 KiB. */
  maxFrameBytes?: number;
  /** Stream subscriptions per connection (a wildcard counts as one). Default 1000. */
  maxSubscriptions?: number;
  /** Server ping interval; a connection that has not answered the previous ping is terminated. 0 disables. Default 25 s. */
  pingIntervalMs?: number;
  /**
   * Bytes queued per connection (every entry at its frame size: conflated state slots, snapshots,
   * events, control frames, pings) before closing with 4008. Default 1 MiB.
   */
  queueBytesCap?: number;
  /** Event snapshots (trades/alerts, built per connection) queued at once before closing with 4008. Default 64. */
  maxQueuedSnapshots?: number;
  /**
   * A connection whose queue makes no progress (nothing handed to the kernel) for this long is closed
   * with 4008, whatever pongs it sends. 0 disables (the heartbeat still catches it). Default 30 s.
   */
  stallTimeoutMs?: number;
  /** Socket buffered bytes above which frames are queued (and state conflated) instead of written. Default 256 KiB. */
  highWaterBytes?: number;
  /** Events in a trades/alerts snapshot. Default 50. */
  historyEvents?: number;
  /** Error replies tolerated per connection before closing with 4009. Default 20. */
  maxProtocolErrors?: number;
  /** Coalesce the frames a connection gets in one event-loop turn into one socket write (cork until setImmediate). Default true. */
  coalesceWrites?: boolean;
  /** Time a closing connection gets for the close handshake before it is terminated. Default 3 s. */
  closeGraceMs?: number;
  /**
   * Resolves the user of a connection: called with the upgrade request, and
   * again with the token of an `auth` op. Null means anonymous. Throwing an
   * AppError on the upgrade refuses it with that error (e.g. 401 INVALID_TOKEN).
   */
  authenticate?: (req: IncomingMessage, token?: string) => Promise<AuthUser | null>;
  /** Channels whose subscriptions need an authenticated user. `alerts` always does. Default ['alerts']. */
  authRequired?: readonly Channel[];
  registry?: Registry;
  log?: WsLogger;
}

export type ResolvedWsOptions = Required<Omit<WsGatewayOptions, 'allowedOrigins' | 'authenticate' | 'registry'>> &
  Pick<WsGatewayOptions, 'allowedOrigins' | 'authenticate' | 'registry'>;

const noop = () => {};
export const silentLogger: WsLogger = { debug: noop, info: noop, warn: noop, error: noop };

export const WS_DEFAULTS = {
  maxConnectionsPerIp: 50,
  maxFrameBytes: 256 * 1024,
  maxSubscriptions: 1000,
  pingIntervalMs: 25_000,
  queueBytesCap: 1024 * 1024,
  maxQueuedSnapshots: 64,
  stallTimeoutMs: 30_000,
  highWaterBytes: 256 * 1024,
  historyEvents: 50,
  maxProtocolErrors: 20,
  closeGraceMs: 3_000,
} as const;

export function resolveOptions(o: WsGatewayOptions): ResolvedWsOptions {
  const positive = (name: string, v: number, allowZero = false) => {
    if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new RangeError(`ws gateway: ${name} must be ${allowZero ? '>= 0' : '> 0'}, got ${v}`);
    return v;
  };
  return {
    bus: o.bus,
    allowedOrigins: o.allowedOrigins,
    allowSameOrigin: o.allowSameOrigin ?? true,
    maxConnectionsPerIp: positive('maxConnectionsPerIp', o.maxConnectionsPerIp ?? WS_DEFAULTS.maxConnectionsPerIp),
    trustProxy: o.trustProxy ?? false,
    maxFrameBytes: positive('maxFrameBytes', o.maxFrameBytes ?? WS_DEFAULTS.maxFrameBytes),
    maxSubscriptions: positive('maxSubscriptions', o.maxSubscriptions ?? WS_DEFAULTS.maxSubscriptions),
    pingIntervalMs: positive('pingIntervalMs', o.pingIntervalMs ?? WS_DEFAULTS.pingIntervalMs, true),
    queueBytesCap: positive('queueBytesCap', o.queueBytesCap ?? WS_DEFAULTS.queueBytesCap),
    maxQueuedSnapshots: positive('maxQueuedSnapshots', o.maxQueuedSnapshots ?? WS_DEFAULTS.maxQueuedSnapshots),
    stallTimeoutMs: positive('stallTimeoutMs', o.stallTimeoutMs ?? WS_DEFAULTS.stallTimeoutMs, true),
    highWaterBytes: positive('highWaterBytes', o.highWaterBytes ?? WS_DEFAULTS.highWaterBytes),
    historyEvents: positive('historyEvents', o.historyEvents ?? WS_DEFAULTS.historyEvents, true),
    maxProtocolErrors: positive('maxProtocolErrors', o.maxProtocolErrors ?? WS_DEFAULTS.maxProtocolErrors, true),
    closeGraceMs: positive('closeGraceMs', o.closeGraceMs ?? WS_DEFAULTS.closeGraceMs, true),
    coalesceWrites: o.coalesceWrites ?? true,
    authenticate: o.authenticate,
    authRequired: o.authRequired ?? ['alerts'],
    registry: o.registry,
    log: o.log ?? silentLogger,
  };
}
