/**
 * Runs autocannon as its own process (its CLI with --json), so the load
 * generator never shares an event loop with the server it measures.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './child.ts';

const CLI = path.join(REPO_ROOT, 'node_modules/autocannon/autocannon.js');

export interface LoadResult {
  /** Mean requests per second over the run. */
  reqPerSec: number;
  p50: number;
  p99: number;
  meanLatency: number;
  /** Response bytes per second. */
  bytesPerSec: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export function autocannon(url: string, opts: { connections: number; seconds: number; pipelining?: number }): Promise<LoadResult> {
  const args = [CLI, '--json', '-c', String(opts.connections), '-d', String(opts.seconds), '-p', String(opts.pipelining ?? 1), url];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`autocannon exited ${code}: ${err.trim().slice(-500)}`));
      const r = JSON.parse(line) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number; average: number };
        throughput: { average: number };
        non2xx: number;
        errors: number;
        timeouts: number;
      };
      resolve({
        reqPerSec: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        meanLatency: r.latency.average,
        bytesPerSec: r.throughput.average,
        requests: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
      });
    });
  });
}
