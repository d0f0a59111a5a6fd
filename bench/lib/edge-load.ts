/**
 * Load generator of bench/edge-latency.bench.ts (a child process, so it never
 * shares an event loop with anything it measures). Runs autocannon through its
 * API rather than its CLI: the CLI's histogram keeps whole milliseconds, and
 * the difference to measure is a fraction of one. Every response time
 * (sub-millisecond, from autocannon's own hrtime stamps) is kept and sent back.
 *
 * Command `run` {url, connections, seconds, rate?} → {samples: Float64Array
 * (ms, unsorted), statuses: {code: count}, errors, timeouts, reqPerSec}.
 */
import { createRequire } from 'node:module';
import { serveParent } from './child.ts';

interface Instance {
  on(event: 'response', fn: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
}
interface Result {
  requests: { average: number };
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>, done: (err: Error | null, result: Result) => void) => Instance;

// autocannon ships no type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

serveParent({
  run: (msg) =>
    new Promise((resolve, reject) => {
      const { url, connections, seconds, rate } = msg as { url: string; connections: number; seconds: number; rate?: number };
      let samples = new Float64Array(1 << 16);
      let n = 0;
      const statuses: Record<string, number> = {};
      const inst = autocannon(
        {
          url,
          connections,
          duration: seconds,
          ...(rate ? { overallRate: rate } : {}),
        },
        (err, result) => {
          if (err) return reject(err);
          resolve({ samples: samples.slice(0, n), statuses, errors: result.errors, timeouts: result.timeouts, reqPerSec: result.requests.average });
        },
      );
      inst.on('response', (_client, statusCode, _bytes, responseTime) => {
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
        if (n === samples.length) {
          const grown = new Float64Array(samples.length * 2);
          grown.set(samples);
          samples = grown;
        }
        samples[n++] = responseTime;
      });
    }),
});
