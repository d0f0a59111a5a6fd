/**
 * The TCP fault proxy used by the Redis fault tests (test/helpers/fault-proxy.ts).
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { startFaultProxy, type FaultProxy } from '../../../test/helpers/fault-proxy.ts';
import { testRedisUrl } from '../../../test/helpers/redis.ts';
import { waitFor } from '../../../test/helpers/wait.ts';

let echo: Server;
let echoPort: number;
let proxy: FaultProxy;
const sockets: Socket[] = [];

beforeEach(async () => {
  echo = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as AddressInfo).port;
  proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: echoPort } });
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await proxy.close();
  await new Promise<void>((r) => echo.close(() => r()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client that records what it receives and how the connection ended. */
async function client(): Promise<{ sock: Socket; received: () => string; ended: Promise<string> }> {
  const sock = net.connect(proxy.port, '127.0.0.1');
  sockets.push(sock);
  let data = '';
  sock.on('data', (c) => (data += c));
  const ended = new Promise<string>((resolve) => {
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    sock.on('close', () => resolve('close'));
  });
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  return { sock, received: () => data, ended };
}

const until = (cond: () => boolean, what: string, timeoutMs = 3_000) => waitFor(cond, what, { timeoutMs, everyMs: 5 });

describe('fault proxy', () => {
  it('forwards both ways, byte for byte', async () => {
    const c = await client();
    const payload = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join('');
    c.sock.write(payload);
    await until(() => c.received().length === payload.length, 'echo');
    expect(c.received()).toBe(payload);
    expect(proxy.stats()).toMatchObject({ accepted: 1, open: 1, upBytes: payload.length, downBytes: payload.length, droppedBytes: 0 });
  });

  it('delays by the configured latency in each direction and keeps order when it changes', async () => {
    const c = await client();
    proxy.setLatency(60);
    const sentAt = Date.now();
    c.sock.write('a');
    await sleep(10);
    proxy.setLatency(0); // must not let 'b' overtake 'a'
    c.sock.write('b');
    await until(() => c.received().length === 2, 'both bytes');
    expect(c.received()).toBe('ab');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(60); // a lower bound: the proxy held 'a' upstream
    expect(() => proxy.setLatency(-1)).toThrow(RangeError);
  });

  it('blackholes without closing, and new connections work again after resetAll', async () => {
    const c = await client();
    proxy.blackhole(true);
    c.sock.write('lost');
    await sleep(100);
    expect(c.received()).toBe('');
    expect(c.sock.destroyed).toBe(false);
    expect(proxy.stats().droppedBytes).toBe(4);
    proxy.resetAll();
    const d = await client();
    d.sock.write('back');
    await until(() => d.received() === 'back', 'echo after reset');
  });

  it('cuts open connections and refuses new ones on demand', async () => {
    const c = await client();
    proxy.cutAll();
    expect(await c.ended).toMatch(/ECONNRESET|close/);
    await until(() => proxy.stats().open === 0, 'connections closed');
    proxy.refuse(true);
    const refused = net.connect(proxy.port, '127.0.0.1');
    sockets.push(refused);
    const outcome = await new Promise<string>((resolve) => {
      refused.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      refused.on('close', () => resolve('close'));
    });
    expect(outcome).toMatch(/ECONNRESET|close/);
    expect(proxy.stats().accepted).toBe(1);
  });

  it('closes the client side when the target is down', async () => {
    await new Promise<void>((r) => echo.close(() => r()));
    echo = net.createServer(); // afterEach closes this one instead
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const c = await client(); // the proxy itself accepts...
    expect(await c.ended).toMatch(/ECONNRESET|close/); // ...then drops it: the echo port is gone
  });
});

describe('fault proxy in front of Redis', () => {
  it('a blackholed Redis client times out instead of hanging, and recovers after reset', async () => {
    const target = new URL(testRedisUrl());
    const rp = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
    const r = new Redis(rp.url('redis'), { socketTimeout: 200, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 20 });
    r.on('error', () => {});
    try {
      await until(() => r.status === 'ready', 'connected');
      expect(await r.ping()).toBe('PONG');
      rp.blackhole(true);
      await expect(r.ping()).rejects.toThrow();
      rp.blackhole(false);
      await until(() => r.status === 'ready', 'reconnected', 5_000);
      expect(await r.ping()).toBe('PONG');
      rp.setLatency(30);
      const t = Date.now();
      expect(await r.ping()).toBe('PONG');
      expect(Date.now() - t).toBeGreaterThanOrEqual(60); // 30 ms each way
    } finally {
      r.disconnect();
      await rp.close();
    }
  });
});
