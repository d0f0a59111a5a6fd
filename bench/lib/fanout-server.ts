/**
 * Fan-out benchmark server (a child process of bench/ws-fanout.bench.ts).
 *
 *   node --expose-gc --import tsx bench/lib/fanout-server.ts <gateway|raw|socketio>
 *
 * - gateway:  the product's WS gateway (apps/server/src/ws) fed by the
 *             in-process bus, every client subscribed to `*` on /ws/market;
 * - raw:      a minimal `ws` server that sends every payload to every client
 *             (the ws README broadcast), same frame bytes as the gateway;
 * - socketio: Socket.IO 4 (websocket transport only) `io.emit` of the same
 *             message object.
 * All three publish the same recorded simulator quote stream; each message's
 * `data.ts` is replaced by its scheduled publish time (wall ms, fractional)
 * so clients can compute tick-to-client latency.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { WebSocketServer, WebSocket } from 'ws';
import { Server as SocketIoServer } from 'socket.io';
import type { QuoteState } from '@stock-tracker/protocol';
import { createInMemoryBus } from '../../apps/server/src/bus/index.ts';
import { createWsGateway } from '../../apps/server/src/ws/index.ts';
import { serveParent, tellParent } from './child.ts';
import { recordQuotes } from './recorded-stream.ts';
import { sleep, wallMs } from './report.ts';
import { FANOUT_KINDS, type FanoutKind } from './fanout-kinds.ts';


interface Target {
  /** Sends one quote state to every client. */
  publish(state: QuoteState): void;
  connections(): number;
  /** Largest number of bytes waiting to be written to any one client. */
  maxBacklogBytes(): number;
  close(): Promise<void>;
}

const kind = process.argv[2] as FanoutKind;
if (!FANOUT_KINDS.includes(kind)) throw new Error(`usage: fanout-server.ts <${FANOUT_KINDS.join('|')}>`);

const { quotes, symbols } = recordQuotes(Number(process.env.FANOUT_RECORDED ?? 20_000));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const server = http.createServer((_req, res) => res.writeHead(404).end());

function gatewayTarget(): Target {
  const bus = createInMemoryBus();
  const pub = bus.publisher();
  // Every client comes from 127.0.0.1: lift the per-IP limit; the rest are production defaults.
  const gateway = createWsGateway({ bus, maxConnectionsPerIp: 1_000_000 });
  gateway.attach(server);
  // The board has a state before clients arrive, as in production: subscribers get snapshots.
  for (const sym of symbols) pub.publish('market', sym, 'state', quotes.find((q) => q.symbol === sym)!);
  return {
    publish: (state) => void pub.publish('market', state.symbol, 'state', state),
    connections: () => gateway.stats().connections,
    maxBacklogBytes: () => {
      const s = gateway.stats();
      // Frames waiting in an outbox sit behind a full socket buffer (256 KiB high-water).
      return s.maxQueuedEntries > 0 ? Math.max(s.maxBufferedBytes, 256 * 1024) : s.maxBufferedBytes;
    },
    close: () => gateway.close(1001),
  };
}

/** Frames of the raw and Socket.IO servers: the gateway's `update` shape, per-key seq, one epoch. */
function updateMaker() {
  const epoch = randomBytes(9).toString('base64url');
  const seqs = new Map<string, number>();
  return (state: QuoteState) => {
    const seq = (seqs.get(state.symbol) ?? 0) + 1;
    seqs.set(state.symbol, seq);
    return { type: 'update' as const, channel: 'market' as const, key: state.symbol, seq, epoch, data: state };
  };
}

function rawTarget(): Target {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const make = updateMaker();
  return {
    publish(state) {
      // Serialized once; a Buffer sent as text is not re-encoded per client.
      const frame = Buffer.from(JSON.stringify(make(state)));
      for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(frame, { binary: false });
    },
    connections: () => wss.clients.size,
    maxBacklogBytes: () => {
      let max = 0;
      for (const c of wss.clients) if (c.bufferedAmount > max) max = c.bufferedAmount;
      return max;
    },
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

function socketIoTarget(): Target {
  const io = new SocketIoServer(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  const make = updateMaker();
  let frameBytes = 1_500;
  return {
    publish(state) {
      const msg = make(state);
      frameBytes = JSON.stringify(msg).length + 12;
      io.emit('update', msg);
    },
    connections: () => io.engine.clientsCount,
    maxBacklogBytes: () => {
      let max = 0;
      for (const s of io.of('/').sockets.values()) {
        // engine.io queues packets in writeBuffer while the transport waits for the previous write.
        const conn = s.conn as unknown as { writeBuffer: unknown[]; transport: { socket?: { bufferedAmount?: number } } };
        const b = (conn.transport.socket?.bufferedAmount ?? 0) + conn.writeBuffer.length * frameBytes;
        if (b > max) max = b;
      }
      return max;
    },
    close: () => new Promise((resolve) => void io.close(() => resolve())),
  };
}

const target = kind === 'gateway' ? gatewayTarget() : kind === 'raw' ? rawTarget() : socketIoTarget();
let cursor = 0;
const publishAt = (ts: number) => target.publish({ ...quotes[cursor++ % quotes.length]!, ts });

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;

serveParent({
  mem() {
    gc();
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, connections: target.connections() };
  },
  connections: () => ({ connections: target.connections() }),
  /**
   * Fixed rate: message k is due at t0 + k/rate and stamped with that time, so a
   * server that falls behind shows it as latency (no coordinated omission).
   */
  async rate(m) {
    const rate = Number(m.rate);
    const ms = Number(m.seconds) * 1000;
    const total = Math.floor((rate * ms) / 1000);
    const cpu0 = process.cpuUsage();
    const t0 = wallMs() + 5;
    let k = 0;
    let maxLateMs = 0;
    while (k < total) {
      const now = wallMs();
      while (k < total && t0 + (k * 1000) / rate <= now) {
        const due = t0 + (k * 1000) / rate;
        maxLateMs = Math.max(maxLateMs, now - due);
        publishAt(due);
        k++;
      }
      if (k < total) await sleep(Math.max(0, Math.min(5, t0 + (k * 1000) / rate - wallMs())));
    }
    return { published: k, cpuMs: cpuMs(process.cpuUsage(cpu0)), maxLateMs };
  },
  /**
   * As fast as the clients take it: publish, yield to I/O, and hold back while
   * any client has more than `maxBacklogBytes` waiting (so no server queues or
   * conflates, and memory stays bounded). Server CPU is measured alongside.
   */
  async flood(m) {
    const ms = Number(m.seconds) * 1000;
    const limit = Number(m.maxBacklogBytes);
    const cpu0 = process.cpuUsage();
    const t0 = wallMs();
    let published = 0;
    let throttledMs = 0;
    while (wallMs() - t0 < ms) {
      if (target.maxBacklogBytes() > limit) {
        const t = wallMs();
        await sleep(1);
        throttledMs += wallMs() - t;
        continue;
      }
      publishAt(wallMs());
      published++;
      await yieldToIo();
    }
    return { published, cpuMs: cpuMs(process.cpuUsage(cpu0)), wallMs: wallMs() - t0, throttledMs };
  },
  async stop() {
    await Promise.race([target.close(), sleep(2_000)]);
  },
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const sample = JSON.stringify({ type: 'update', channel: 'market', key: quotes[0]!.symbol, seq: 1, epoch: 'x'.repeat(12), data: quotes[0] });
  tellParent({ type: 'ready', port, symbols: symbols.length, frameBytes: sample.length, pid: process.pid });
});
