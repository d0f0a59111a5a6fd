/**
 * The publisher of the scale-out benchmarks (a child process of
 * bench/scale-out.bench.ts and bench/ws-idle-memory.bench.ts): the recorded
 * simulator quote stream (recorded-stream.ts, ~1.2 KB per quote) into Redis.
 *
 *   SCALE_REDIS_URL=redis://… node --import tsx bench/lib/scale-publisher.ts <gateway|socketio>
 *
 * - gateway:  RedisStreamPublisher, the collector's side of the product's bus;
 *             every symbol's state is published once at start so subscribers
 *             get snapshots, as in production;
 * - socketio: a Socket.IO server with no listener and the Redis Streams
 *             adapter; `io.emit('update', …)` goes to every replica's sockets.
 *
 * Each message's `data.ts` is its scheduled publish time (wall ms,
 * fractional), read by the clients on the same clock for tick-to-client latency.
 */
import { Redis } from 'ioredis';
import { Server as SocketIoServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { QuoteState } from '@stock-tracker/protocol';
import { RedisStreamPublisher } from '../../apps/server/src/bus/index.ts';
import { serveParent, tellParent } from './child.ts';
import { recordQuotes } from './recorded-stream.ts';
import { sleep, wallMs } from './report.ts';
import { BUS_PREFIX, SOCKETIO_ADAPTER_OPTS, parseKind, updateMaker } from './scale-kinds.ts';

interface Sink {
  publish(state: QuoteState): void;
  /** Resolves once everything published so far is in Redis. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

const kind = parseKind(process.argv[2]);
const redisUrl = process.env.SCALE_REDIS_URL;
if (!redisUrl) throw new Error('SCALE_REDIS_URL is required');
const { quotes, symbols } = recordQuotes(Number(process.env.SCALE_RECORDED ?? 20_000));

async function gatewaySink(): Promise<Sink> {
  const pub = new RedisStreamPublisher({ url: redisUrl!, prefix: BUS_PREFIX });
  await pub.activate(); // a single collector: no leader lock
  for (const sym of symbols) pub.publish('market', sym, 'state', quotes.find((q) => q.symbol === sym)!);
  if (!(await pub.drained(10_000))) throw new Error('publisher did not drain the board');
  return {
    publish: (state) => void pub.publish('market', state.symbol, 'state', state),
    async flushed() {
      if (!(await pub.drained(60_000))) throw new Error(`publisher still has ${pub.status().buffered} messages queued`);
    },
    close: () => pub.close(),
  };
}

async function socketIoSink(): Promise<Sink> {
  const redis = new Redis(redisUrl!);
  const io = new SocketIoServer({ serveClient: false, adapter: createAdapter(redis, SOCKETIO_ADAPTER_OPTS) });
  const make = updateMaker();
  return {
    publish: (state) => void io.emit('update', make(state)),
    // The adapter sends each XADD synchronously inside emit(); a PING on the same connection answers after them.
    flushed: () => redis.ping().then(() => undefined),
    // io.close() assumes an attached engine; this server has none. Closing the adapter stops its reader.
    async close() {
      await io.of('/').adapter.close();
      redis.disconnect();
    },
  };
}

const sink = kind === 'gateway' ? await gatewaySink() : await socketIoSink();
let cursor = 0;
const publishAt = (ts: number) => sink.publish({ ...quotes[cursor++ % quotes.length]!, ts });
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

serveParent({
  /**
   * Fixed rate: message k is due at t0 + k/rate and stamped with that time, so a
   * publisher or server that falls behind shows it as latency (no coordinated omission).
   */
  async rate(m) {
    const rate = Number(m.rate);
    const total = Math.floor(rate * Number(m.seconds));
    const cpu0 = cpuMs();
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
    await sink.flushed();
    return { published: k, cpuMs: cpuMs() - cpu0, maxLateMs };
  },
  /** `count` messages back to back, then waits until Redis has them all. */
  async burst(m) {
    const count = Number(m.count);
    const cpu0 = cpuMs();
    const t0 = wallMs();
    for (let k = 0; k < count; k++) publishAt(wallMs());
    await sink.flushed();
    return { published: count, cpuMs: cpuMs() - cpu0, publishMs: wallMs() - t0 };
  },
  status: () => ({ cpuMs: cpuMs() }),
  async stop() {
    await Promise.race([sink.close(), sleep(2_000)]);
  },
});

tellParent({ type: 'ready', symbols: symbols.length, frameBytes: JSON.stringify(quotes[0]).length, pid: process.pid });
