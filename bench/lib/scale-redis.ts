/**
 * A private, throw-away `redis-server` for one benchmark case: its own port on
 * 127.0.0.1, no persistence, nothing shared with the machine's Redis (other
 * work on this box may use or flush that one). Started fresh per case so no
 * stream left by an earlier case (Socket.IO's or ours) costs memory or CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { sleep } from './report.ts';

export interface PrivateRedis {
  readonly url: string;
  readonly pid: number;
  /** Redis' own CPU time so far (user + system), in ms: INFO cpu. */
  cpuMs(): Promise<number>;
  /** Used memory (INFO memory `used_memory`), bytes. */
  usedMemory(): Promise<number>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info);
  return m ? Number(m[1]) : Number.NaN;
}

export async function startRedis(bin = process.env.SCALE_REDIS_SERVER ?? 'redis-server'): Promise<PrivateRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exited = false;
  proc.once('exit', () => (exited = true));
  await new Promise<void>((resolve, reject) => {
    proc.once('spawn', () => resolve());
    proc.once('error', reject);
  });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  admin.on('error', () => {}); // connection refused until the server listens
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`${bin} exited during start`);
    try {
      if (admin.status === 'wait' || admin.status === 'end') await admin.connect();
      if ((await admin.ping()) === 'PONG') break;
    } catch {
      if (i > 100) throw new Error(`${bin} on port ${port} did not answer within 5 s`);
    }
    await sleep(50);
  }
  return {
    url,
    pid: proc.pid!,
    async cpuMs() {
      const info = await admin.info('cpu');
      return (infoField(info, 'used_cpu_user') + infoField(info, 'used_cpu_sys')) * 1000;
    },
    async usedMemory() {
      return infoField(await admin.info('memory'), 'used_memory');
    },
    async stop() {
      admin.disconnect();
      if (exited) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
