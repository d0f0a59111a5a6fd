/**
 * A small TCP proxy for fault injection in tests (toxiproxy is not available).
 * Point a client at `127.0.0.1:<port>`; the proxy forwards to `target` and can
 *   - delay every chunk by `setLatency(ms)` (both directions, order kept),
 *   - blackhole traffic (`blackhole(true)`): connections stay open, bytes are
 *     read and discarded, nothing is answered — the failure mode of a dead
 *     peer or a dropped route, which only timeouts detect. Like toxiproxy's
 *     `timeout` toxic with timeout 0, the bytes are lost: a connection used
 *     during a blackhole is corrupt afterwards and clients must reconnect,
 *   - cut every open connection (`cutAll()`: both sides see a reset),
 *   - refuse new connections (`refuse(true)`).
 * `resetAll()` removes latency, blackhole and refusal.
 */
import net, { type AddressInfo, type Socket } from 'node:net';

export interface FaultProxyOptions {
  target: { host: string; port: number };
  /** Listening port; default a free one. */
  port?: number;
}

export interface FaultProxyStats {
  /** Connections accepted so far. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Bytes forwarded client→target and target→client. */
  upBytes: number;
  downBytes: number;
  /** Bytes discarded by the blackhole. */
  droppedBytes: number;
}

export interface FaultProxy {
  readonly port: number;
  readonly url: (scheme: string) => string;
  setLatency(ms: number): void;
  blackhole(on: boolean): void;
  refuse(on: boolean): void;
  cutAll(): void;
  resetAll(): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

/** One direction of a proxied connection: forwards chunks after the current latency, in order. */
class Pipe {
  private queue: Array<{ at: number; chunk: Buffer }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly to: Socket,
    private readonly latency: () => number,
    private readonly counted: (n: number) => void,
  ) {}

  push(chunk: Buffer): void {
    const ms = this.latency();
    if (ms <= 0 && this.queue.length === 0) return this.write(chunk);
    // Never before an earlier chunk: lowering the latency must not reorder bytes.
    const at = Math.max(Date.now() + ms, this.queue.at(-1)?.at ?? 0);
    this.queue.push({ at, chunk });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      while (this.queue.length > 0 && this.queue[0].at <= now) this.write(this.queue.shift()!.chunk);
      this.schedule();
    }, Math.max(0, this.queue[0].at - Date.now()));
  }

  private write(chunk: Buffer): void {
    if (this.to.destroyed) return;
    this.counted(chunk.length);
    this.to.write(chunk);
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  let latency = 0;
  let holed = false;
  let refusing = false;
  const stats: FaultProxyStats = { accepted: 0, open: 0, upBytes: 0, downBytes: 0, droppedBytes: 0 };
  const conns = new Set<{ client: Socket; upstream: Socket; pipes: Pipe[] }>();

  const server = net.createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    stats.accepted++;
    stats.open++;
    const upstream = net.connect(opts.target.port, opts.target.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const up = new Pipe(upstream, () => latency, (n) => (stats.upBytes += n));
    const down = new Pipe(client, () => latency, (n) => (stats.downBytes += n));
    const conn = { client, upstream, pipes: [up, down] };
    conns.add(conn);
    client.on('data', (c: Buffer) => (holed ? (stats.droppedBytes += c.length) : up.push(c)));
    upstream.on('data', (c: Buffer) => (holed ? (stats.droppedBytes += c.length) : down.push(c)));
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      stats.open--;
      conns.delete(conn);
      up.clear();
      down.clear();
      client.destroy();
      upstream.destroy();
    };
    // An end or error on either side ends both (a real proxy would half-close; tests want the simple thing).
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
      s.on('end', close);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    setLatency(ms) {
      if (!(ms >= 0)) throw new RangeError(`latency must be >= 0, got ${ms}`);
      latency = ms;
    },
    blackhole(on) {
      holed = on;
    },
    refuse(on) {
      refusing = on;
    },
    cutAll() {
      for (const c of [...conns]) {
        c.client.resetAndDestroy();
        c.upstream.resetAndDestroy();
      }
    },
    resetAll() {
      latency = 0;
      holed = false;
      refusing = false;
    },
    stats: () => ({ ...stats }),
    close() {
      for (const c of [...conns]) {
        c.client.destroy();
        c.upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
