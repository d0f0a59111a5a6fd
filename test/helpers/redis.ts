/**
 * Redis for tests. The shared server (127.0.0.1:6379, started by the global
 * setup) is used with a unique key prefix per test, deleted afterwards. Tests
 * that kill or restart Redis start a private `redis-server` on a free port,
 * without persistence, so a restart comes back empty and nothing else is
 * disturbed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './private-postgres.ts';
import { probeTcp } from './services.ts';
import { testRedisUrl } from './database.ts';

export { testRedisUrl };

/** A key prefix no other test (or run) uses: `st:test:<label>:<random>:`. */
export function uniquePrefix(label = 't'): string {
  return `st:test:${label.replace(/[^A-Za-z0-9_-]/g, '_')}:${randomBytes(5).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK). */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9_:-]+$/.test(prefix)) throw new Error(`refusing to delete keys under an unusual prefix ${prefix}`);
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}

/** A plain client for assertions (closed by the caller with disconnect()). */
export function redisClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGKILL: no save, no goodbye to clients. */
  kill(): Promise<void>;
  /** kill() then start(): the same port, an empty dataset. */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let output = '';
  const instance: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return proc !== null;
    },
    async start() {
      if (proc) return;
      const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      p.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      p.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      proc = p;
      live.add(p);
      const exited = new Promise<never>((_, reject) => p.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`))));
      exited.catch(() => {});
      const deadline = Date.now() + 10_000;
      while (!(await Promise.race([probeTcp('127.0.0.1', port, 200), exited]))) {
        if (Date.now() > deadline) throw new Error(`private redis-server did not come up on ${port}: ${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async kill() {
      const p = proc;
      if (!p) return;
      proc = null;
      const gone = new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve())));
      p.kill('SIGKILL');
      await gone;
      live.delete(p);
    },
    async restart() {
      await instance.kill();
      await instance.start();
    },
  };
  await instance.start();
  return instance;
}
