/**
 * The two scale-out stacks compared by bench/scale-out.bench.ts, and what
 * their publisher and replica processes (scale-publisher.ts, scale-replica.ts)
 * agree on.
 *
 * - gateway:  the product: RedisStreamPublisher (collector side) → Redis
 *             Streams → RedisBus + createWsGateway in each api replica;
 *             clients subscribe to `*` on /ws/market.
 * - socketio: Socket.IO 4 with @socket.io/redis-streams-adapter: a Socket.IO
 *             server without listeners `io.emit`s through the adapter, every
 *             replica reads the stream and broadcasts to its sockets.
 */
import { randomBytes } from 'node:crypto';
import type { QuoteState } from '@stock-tracker/protocol';

export type ScaleKind = 'gateway' | 'socketio';
export const SCALE_KINDS: readonly ScaleKind[] = ['gateway', 'socketio'];

/** Redis key prefix of the product's bus in the private Redis. */
export const BUS_PREFIX = 'st:';
/** Socket.IO adapter stream; JSON-only payloads, so the adapter may skip its binary checks. */
export const SOCKETIO_ADAPTER_OPTS = { streamName: 'sio-bench', onlyPlaintext: true } as const;

/**
 * Socket.IO messages: the gateway's `update` frame shape (per-key seq, one
 * epoch), so both stacks carry the same bytes of payload and the clients
 * check seq contiguity the same way.
 */
export function updateMaker() {
  const epoch = randomBytes(9).toString('base64url');
  const seqs = new Map<string, number>();
  return (state: QuoteState) => {
    const seq = (seqs.get(state.symbol) ?? 0) + 1;
    seqs.set(state.symbol, seq);
    return { type: 'update' as const, channel: 'market' as const, key: state.symbol, seq, epoch, data: state };
  };
}

export function parseKind(raw: string | undefined): ScaleKind {
  if (!SCALE_KINDS.includes(raw as ScaleKind)) throw new Error(`kind must be one of ${SCALE_KINDS.join('|')} (got '${raw}')`);
  return raw as ScaleKind;
}
