/**
 * One api replica of the scale-out benchmarks (a child process of
 * bench/scale-out.bench.ts and bench/ws-idle-memory.bench.ts).
 *
 *   SCALE_REDIS_URL=redis://… node --expose-gc --import tsx bench/lib/scale-replica.ts <gateway|socketio>
 *
 * - gateway:  what the `api` role runs for WebSocket clients: a RedisBus (one
 *             blocking XREAD for all connections) feeding createWsGateway on a
 *             plain http.Server. Built from those two directly rather than
 *             the `api` role, so the figures are the WebSocket path alone
 *             (no REST routes, storage or metrics endpoint in the process).
 * - socketio: Socket.IO 4, websocket transport only, with
 *             @socket.io/redis-streams-adapter reading the same Redis.
 *
 * Replies `{type: 'ready', port}` once it listens and its Redis reader runs.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import { Server as SocketIoServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createRedisBus } from '../../apps/server/src/bus/index.ts';
import { createWsGateway } from '../../apps/server/src/ws/index.ts';
import { serveParent, tellParent } from './child.ts';
import { BUS_PREFIX, SOCKETIO_ADAPTER_OPTS, parseKind } from './scale-kinds.ts';
import { sleep } from './report.ts';

interface Replica {
  connections(): number;
  /** Counters worth reporting (bus delivery, conflation, slow-consumer closes). */
  stats(): Record<string, number | boolean | string | null>;
  close(): Promise<void>;
}

const kind = parseKind(process.argv[2]);
const redisUrl = process.env.SCALE_REDIS_URL;
if (!redisUrl) throw new Error('SCALE_REDIS_URL is required');
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const server = http.createServer((_req, res) => res.writeHead(404).end());

async function gatewayReplica(): Promise<Replica> {
  const redisBus = createRedisBus({ url: redisUrl!, prefix: BUS_PREFIX });
  if (!(await redisBus.waitReady(10_000))) throw new Error(`redis bus not ready: ${redisBus.status().lastError}`);
  // Every benchmark client comes from 127.0.0.1: lift the per-IP limit; the rest are production defaults
  // (SCALE_GATEWAY_COALESCE=0 turns write coalescing off, to measure what it buys).
  const gateway = createWsGateway({ bus: redisBus, maxConnectionsPerIp: 1_000_000, coalesceWrites: process.env.SCALE_GATEWAY_COALESCE !== '0' });
  gateway.attach(server);
  return {
    connections: () => gateway.stats().connections,
    stats() {
      const g = gateway.stats();
      const b = redisBus.status();
      return {
        messagesSent: g.messagesSent,
        conflated: g.conflated,
        slowConsumerCloses: g.slowConsumerCloses,
        // Bytes still waiting (outboxes, socket buffers): 0 once every snapshot and update is written.
        pendingBytes: g.queuedBytes + g.bufferedBytes,
        busDelivered: b.delivered,
        busGapsFilled: b.gapsFilled,
        busGapsUnfilled: b.gapsUnfilled,
        busReady: b.ready,
      };
    },
    async close() {
      await gateway.close(1001);
      await redisBus.close();
    },
  };
}

async function socketIoReplica(): Promise<Replica> {
  const redis = new Redis(redisUrl!);
  const io = new SocketIoServer(server, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    adapter: createAdapter(redis, SOCKETIO_ADAPTER_OPTS),
  });
  // The adapter's stream reader starts on a duplicated connection, asynchronously, reading from `$`:
  // give it a moment. The benchmark's warm-up round checks that every client gets every message anyway.
  if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
  await sleep(300);
  return {
    connections: () => io.engine.clientsCount,
    stats: () => ({}),
    close: () =>
      new Promise<void>((resolve) => {
        void io.close(() => resolve());
      }).finally(() => redis.disconnect()),
  };
}

const replica = kind === 'gateway' ? await gatewayReplica() : await socketIoReplica();
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

serveParent({
  /** Memory after two full GCs (needs --expose-gc): what the connections hold, not garbage. */
  mem() {
    gc();
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, connections: replica.connections() };
  },
  status: () => ({ connections: replica.connections(), cpuMs: cpuMs(), ...replica.stats() }),
  async stop() {
    await Promise.race([replica.close(), sleep(3_000)]);
  },
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  tellParent({ type: 'ready', port: typeof addr === 'object' && addr ? addr.port : 0, pid: process.pid });
});
