/**
 * WebSocket gateway: upgrade checks (path, origin, per-IP limit, auth), one
 * bus subscription fanned out to connections through a key index
 * (subscription-index.ts) with coalesced writes (write-coalescer.ts), heartbeat,
 * metrics and graceful close. Mounted on the Node http.Server that Fastify
 * uses, via its `upgrade` event.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError, WS_CLOSE, channelForPath, type Channel, type ErrorCode } from '@stock-tracker/protocol';
import { selectWsProtocol } from '../auth/bearer.ts';
import type { BusMessage } from '../bus/types.ts';
import { clientIpResolver } from './client-ip.ts';
import { WsConnection, type ConnectionContext, type ConnectionHost } from './connection.ts';
import { createWsMetrics } from './metrics.ts';
import { clientRequestId, refuseUpgrade } from './http-refusal.ts';
import { resolveOptions, type AuthUser, type WsGatewayOptions } from './options.ts';
import { originAllowed } from './origin.ts';
import { SubscriptionIndex } from './subscription-index.ts';
import { createWriteCoalescer } from './write-coalescer.ts';
import type { SentKind } from './outbox.ts';

/** The channel served at a request URL, or null. */
export function channelForUrl(url: string | undefined): Channel | null {
  const path = (url ?? '/').split('?', 1)[0].replace(/\/+$/, '');
  return channelForPath(path);
}

export interface WsGatewayStats {
  connections: number;
  subscriptions: number;
  /** Entries waiting in outboxes (conflated state slots + queued frames), summed and worst connection. */
  queuedEntries: number;
  maxQueuedEntries: number;
  /** Bytes queued in outboxes (every entry at its frame size), summed and worst connection. */
  queuedBytes: number;
  maxQueuedBytes: number;
  /** Per-connection stream positions kept (resume/contiguity state), summed. */
  streamStates: number;
  /** Bytes buffered in sockets (ws.bufferedAmount), summed and worst connection. */
  bufferedBytes: number;
  maxBufferedBytes: number;
  messagesSent: number;
  conflated: number;
  slowConsumerCloses: number;
  protocolErrors: number;
  refusedUpgrades: number;
}

export interface WsGateway {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Listens to the server's `upgrade` event; returns the function that stops listening. */
  attach(server: Server): () => void;
  /** Stops accepting, closes every connection with `code` (1001 shutdown, 1012 replica restart) and waits for them. */
  close(code?: number): Promise<void>;
  stats(): WsGatewayStats;
  /** Closes (4001) every connection acting for one of these login sessions; returns how many. */
  revokeSessions(sessionIds: Iterable<string>): number;
}

export function createWsGateway(options: WsGatewayOptions): WsGateway {
  const opts = resolveOptions(options);
  const log = opts.log;
  const metrics = createWsMetrics(opts.registry);
  // The answered subprotocol is never a `bearer.<token>` one: the token must not be echoed back.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false, handleProtocols: selectWsProtocol });
  const conns = new Set<WsConnection>();
  const index = new SubscriptionIndex<WsConnection>();
  const coalescer = createWriteCoalescer(opts.coalesceWrites);
  const ipCounts = new Map<string, number>();
  const idPrefix = randomBytes(4).toString('hex');
  const clientIp = clientIpResolver(opts.trustProxy);
  let nextId = 0;
  let closing = false;
  const totals = { subscriptions: 0, messagesSent: 0, conflated: 0, slowConsumerCloses: 0, protocolErrors: 0, refusedUpgrades: 0 };
  const sentChildren = new Map<Channel, Map<SentKind, { inc(): void }>>();

  const host: ConnectionHost = {
    bus: opts.bus,
    opts,
    index(conn, key, add) {
      index.setKey(conn.ctx.channel, key, conn, add);
    },
    setWildcard(conn, on) {
      index.setWildcard(conn.ctx.channel, conn, on);
    },
    subscriptionsChanged(delta) {
      if (delta === 0) return;
      totals.subscriptions += delta;
      metrics.subscriptions.inc(delta);
    },
    sent(channel: Channel, kind: SentKind) {
      totals.messagesSent++;
      // Label children cached: this runs once per frame per connection.
      let byKind = sentChildren.get(channel);
      if (!byKind) sentChildren.set(channel, (byKind = new Map()));
      let child = byKind.get(kind);
      if (!child) byKind.set(kind, (child = metrics.messagesSent.labels(channel, kind)));
      child.inc();
    },
    conflated(channel) {
      totals.conflated++;
      metrics.conflated.inc({ channel });
    },
    protocolError(code: ErrorCode) {
      totals.protocolErrors++;
      metrics.protocolErrors.inc({ code });
    },
    slowConsumer(conn) {
      if (conn.isClosed) return;
      totals.slowConsumerCloses++;
      metrics.slowConsumerCloses.inc({ channel: conn.ctx.channel });
      log.warn({ conn: conn.ctx.id, ip: conn.ctx.ip, channel: conn.ctx.channel }, 'ws slow consumer closed');
      conn.close(WS_CLOSE.SLOW_CONSUMER, 'slow consumer');
    },
    willWrite(conn) {
      coalescer.willWrite(conn.ctx.socket);
    },
  };

  const unsubscribeBus = opts.bus.subscribe((msg: BusMessage) => index.route(msg));

  const heartbeat =
    opts.pingIntervalMs > 0
      ? setInterval(() => {
          for (const c of conns) {
            let beat: 'ok' | 'dead' | 'stuck';
            try {
              beat = c.heartbeat();
            } catch {
              beat = 'dead';
            }
            if (beat === 'stuck') {
              host.slowConsumer(c); // its ping is still queued behind frames it does not read
            } else if (beat === 'dead') {
              log.info({ conn: c.ctx.id, ip: c.ctx.ip }, 'ws heartbeat missed; terminating');
              c.terminate();
            }
          }
        }, opts.pingIntervalMs)
      : null;
  heartbeat?.unref();

  // A queue that makes no progress is a reader that stopped, whatever it answers to pings.
  const stallSweep =
    opts.stallTimeoutMs > 0
      ? setInterval(
          () => {
            const now = Date.now();
            for (const c of conns) if (c.outbox.stalledMs(now) > opts.stallTimeoutMs) host.slowConsumer(c);
          },
          Math.max(10, Math.min(1_000, Math.floor(opts.stallTimeoutMs / 4))),
        )
      : null;
  stallSweep?.unref();

  function refuse(socket: Duplex, status: number, code: ErrorCode, requestId: string, reason: string, message?: string, headers?: Record<string, string>) {
    totals.refusedUpgrades++;
    metrics.refusedUpgrades.inc({ reason });
    refuseUpgrade(socket, status, code, requestId, message, headers);
  }

  function acquireIp(ip: string): () => void {
    ipCounts.set(ip, (ipCounts.get(ip) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (ipCounts.get(ip) ?? 1) - 1;
      if (n <= 0) ipCounts.delete(ip);
      else ipCounts.set(ip, n);
    };
  }

  function onConnection(ws: WebSocket, ctx: ConnectionContext, release: () => void): void {
    const conn = new WsConnection(ws, ctx, host);
    conns.add(conn);
    metrics.connections.inc();
    ws.on('error', (err) => log.debug({ err, conn: ctx.id }, 'ws connection error')); // e.g. oversized frame: ws closes with 1009
    ws.on('close', (code) => {
      conns.delete(conn);
      metrics.connections.dec();
      for (const k of conn.explicit) host.index(conn, k, false);
      host.setWildcard(conn, false);
      host.subscriptionsChanged(-conn.subscriptionCount);
      conn.outbox.close();
      release();
      log.debug({ conn: ctx.id, code }, 'ws closed');
    });
    log.debug({ conn: ctx.id, ip: ctx.ip, channel: ctx.channel }, 'ws connected');
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requestId = clientRequestId(req) ?? `${idPrefix}-${(++nextId).toString(36)}`;
    const channel = channelForUrl(req.url);
    if (!channel) return refuse(socket, 404, 'ROUTE_NOT_FOUND', requestId, 'not_found');
    if (closing) return refuse(socket, 503, 'SERVICE_UNAVAILABLE', requestId, 'closing', undefined, { 'Retry-After': '1' });
    if (!originAllowed(req, opts)) return refuse(socket, 403, 'ORIGIN_NOT_ALLOWED', requestId, 'origin');
    const ip = clientIp(req);
    if ((ipCounts.get(ip) ?? 0) >= opts.maxConnectionsPerIp) {
      return refuse(socket, 429, 'TOO_MANY_CONNECTIONS', requestId, 'ip_limit', undefined, { 'Retry-After': '5' });
    }
    // Counted from now on, so concurrent handshakes from one address cannot slip past the limit.
    const release = acquireIp(ip);
    socket.once('close', release);
    const onSocketError = (err: Error) => log.debug({ err, ip }, 'ws socket error during upgrade');
    socket.on('error', onSocketError);
    let user: AuthUser | null = null;
    if (opts.authenticate) {
      try {
        user = await opts.authenticate(req);
      } catch (err) {
        if (err instanceof AppError && err.status >= 400 && err.status < 500) {
          // A credential was presented and refused: say so before the handshake (never log the token).
          release();
          return refuse(socket, err.status, err.code, requestId, 'auth', err.message, err.headers);
        }
        // The credential could not be checked (session store down): not the client's fault, and
        // serving it anonymously would silently drop its alerts. It retries with backoff.
        log.warn({ err, requestId }, 'ws authenticate hook failed; refusing the upgrade with 503');
        release();
        return refuse(socket, 503, 'SERVICE_UNAVAILABLE', requestId, 'auth_unavailable', 'The credential cannot be verified right now; retry shortly.', { 'Retry-After': '5' });
      }
      if (socket.destroyed) return release();
      if (closing) {
        release();
        return refuse(socket, 503, 'SERVICE_UNAVAILABLE', requestId, 'closing', undefined, { 'Retry-After': '1' });
      }
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('error', onSocketError);
      onConnection(ws, { id: requestId, ip, channel, req, socket, user }, release);
    });
  }

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    upgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'ws upgrade failed');
      socket.destroy();
    });
  };

  return {
    handleUpgrade,
    attach(server) {
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(req, socket, head);
      server.on('upgrade', listener);
      return () => {
        server.off('upgrade', listener);
      };
    },
    async close(code = WS_CLOSE.GOING_AWAY) {
      closing = true;
      if (heartbeat) clearInterval(heartbeat);
      if (stallSweep) clearInterval(stallSweep);
      unsubscribeBus();
      const reason = code === WS_CLOSE.SERVICE_RESTART ? 'restarting' : 'shutting down';
      await Promise.all(
        [...conns].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.ws.readyState === c.ws.CLOSED) return resolve();
              c.ws.once('close', () => resolve());
              c.close(code, reason);
            }),
        ),
      );
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
    revokeSessions(sessionIds) {
      const ids = new Set(sessionIds);
      if (ids.size === 0) return 0;
      let n = 0;
      for (const c of conns) if (c.revoke(ids)) n++;
      if (n > 0) log.info({ connections: n }, 'ws connections of ended sessions closed');
      return n;
    },
    stats() {
      let queuedEntries = 0;
      let maxQueuedEntries = 0;
      let queuedBytes = 0;
      let maxQueuedBytes = 0;
      let streamStates = 0;
      let bufferedBytes = 0;
      let maxBufferedBytes = 0;
      for (const c of conns) {
        const n = c.outbox.size;
        const b = c.ws.bufferedAmount;
        queuedEntries += n;
        const qb = c.queuedBytes;
        queuedBytes += qb;
        if (qb > maxQueuedBytes) maxQueuedBytes = qb;
        streamStates += c.streamCount;
        bufferedBytes += b;
        if (n > maxQueuedEntries) maxQueuedEntries = n;
        if (b > maxBufferedBytes) maxBufferedBytes = b;
      }
      return { connections: conns.size, queuedEntries, maxQueuedEntries, queuedBytes, maxQueuedBytes, streamStates, bufferedBytes, maxBufferedBytes, ...totals };
    },
  };
}
