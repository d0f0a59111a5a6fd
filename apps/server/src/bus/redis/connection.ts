/**
 * Redis clients for the bus and the leader lock. Commands fail fast while the
 * connection is down (no offline queue, no silent resend): every caller here
 * has its own retry logic — the publisher keeps its buffer, the gateway's
 * reader resynchronises — and a queued command would only hide the outage.
 * `socketTimeout` turns a half-open or blackholed connection (no RST, no
 * reply) into a reconnect instead of a hang.
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Extra ioredis options, applied over the defaults below. */
  redisOptions?: RedisOptions;
  /** A pending command that gets no byte back within this time drops the connection. Default 5000 ms. */
  socketTimeoutMs?: number;
  /** Upper bound of the reconnect backoff. Default 2000 ms. */
  maxRetryDelayMs?: number;
}

/** The subset of a pino logger the bus and the leader lock use. */
export interface BusLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: BusLogger = { info() {}, warn() {}, error() {} };

export function createRedisClient(opts: RedisConnectionOptions, name: string, onError?: (err: Error) => void): Redis {
  const maxDelay = opts.maxRetryDelayMs ?? 2_000;
  const client = new Redis(opts.url, {
    connectionName: name,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    socketTimeout: opts.socketTimeoutMs ?? 5_000,
    connectTimeout: Math.max(opts.socketTimeoutMs ?? 5_000, 1_000),
    retryStrategy: (times) => Math.min(25 * 2 ** Math.min(times, 10), maxDelay),
    ...opts.redisOptions,
  });
  // Without a listener ioredis prints every connection error; the owners report state instead.
  client.on('error', (err: Error) => onError?.(err));
  return client;
}

/** Resolves true once the client is ready, false after timeoutMs (or when it ends). */
export function whenReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  if (client.status === 'end') return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref?.();
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/** QUIT when connected (replies flushed), otherwise just drop the socket. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 500).unref?.())]);
    } catch {
      // already closing
    }
  }
  client.disconnect(false);
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
