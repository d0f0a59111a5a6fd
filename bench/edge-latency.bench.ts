/**
 * Latency the nginx edge adds: `GET /api/quotes` straight to an api process
 * vs through the edge to that same process, same run, same load.
 *
 *   npm run bench -- edge        or   npx tsx bench/edge-latency.bench.ts
 *
 * The production topology runs natively (test/helpers/topology.ts: PostgreSQL
 * database + migrate, a collector writing the simulated market, one `api`
 * process with the compose environment, the web nginx and the edge nginx from
 * the shipped templates). The edge's only upstream is the api process that is
 * also measured directly, so the sole difference between the two paths is
 * the nginx hop. The edge's and the API's rate limits are raised so that
 * nothing is refused. Server logs stay at `info` (the compose default) and go
 * to /dev/null.
 *
 * Load: autocannon in its own process, fixed connections and duration; two
 * shapes per round:
 *   paced      EDGE_RATE requests/s over all connections: neither path is
 *              saturated, so the difference is the per-request cost of the hop
 *              (the target: ≤ 0.5 ms added at p50)
 *   saturated  as fast as the connections go: throughput and latency at the
 *              limit of the machine (nginx then competes for the same 2 cores)
 * The two paths alternate in short slices (direct first in odd rounds, edge
 * first in even ones), so outside load on a shared machine hits both alike.
 * `added_p50` is the median over rounds of (edge p50 − direct p50), a paired
 * difference that drifting background load does not bias; the p50/p99 of
 * each path pool every response time of all its rounds. The verdict against
 * the target is `inconclusive` when the rounds' differences spread (IQR) more
 * than the target itself.
 *
 * Around every slice the CPU and run-queue time of the edge's nginx worker
 * and of the api process are read from /proc (bench/lib/proc-stat.ts): CPU
 * per response is what the hop costs whatever else runs on the machine, and
 * the run-queue wait shows how much of the latency was waiting for a core.
 *
 * Knobs: EDGE_SECONDS=3 (per slice)  EDGE_ROUNDS=6  EDGE_CONNECTIONS=10  EDGE_RATE=300
 * Prints {"bench":"edge-latency",...} lines, one per load shape.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { QuotesResponse } from '@stock-tracker/protocol';
import { ensurePostgres, ensureRedis } from '../test/helpers/services.ts';
import { startTopology, type Topology } from '../test/helpers/topology.ts';
import { BENCH_DIR, startChild, type Child } from './lib/child.ts';
import { childPids, schedTimeOf, type SchedTime } from './lib/proc-stat.ts';
import { fmt, knob, note, percentile, result, round, table } from './lib/report.ts';

const SECONDS = knob('EDGE_SECONDS', 3, 1, 600);
const ROUNDS = knob('EDGE_ROUNDS', 6, 1, 50);
const CONNECTIONS = knob('EDGE_CONNECTIONS', 10, 1, 1_000);
const RATE = knob('EDGE_RATE', 300, 1, 1_000_000);
const TARGET_ADDED_P50_MS = 0.5;
const PATH = '/api/quotes';

interface RunReply {
  samples: Float64Array;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  reqPerSec: number;
}

interface Pooled {
  samples: Float64Array[];
  reqPerSec: number[];
  /** CPU and run-queue time over this path's slices (ns), and the responses they served. */
  nginx: SchedTime;
  api: SchedTime;
  responses: number;
}

const add = (a: SchedTime, b: SchedTime, sign = 1): SchedTime => ({ cpuNs: a.cpuNs + sign * b.cpuNs, waitNs: a.waitNs + sign * b.waitNs });
const ZERO: SchedTime = { cpuNs: 0, waitNs: 0 };

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const signed = (x: number) => `${x >= 0 ? '+' : ''}${round(x, 3)}`;

const nginxVersion = () => {
  const r = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
};

let topo: Topology | undefined;
let load: Child | undefined;
try {
  const [adminUrl, redisUrl] = await Promise.all([ensurePostgres(note), ensureRedis(note)]);
  topo = await startTopology({
    adminUrl,
    redisUrl,
    apiReplicas: 1,
    quiet: true,
    dotenv: {
      // Compose's default is 1 worker per api container; scale-out is measured elsewhere.
      WEB_CONCURRENCY: '1',
      // Neither limiter may refuse anything within a run (both still run on every request).
      RATE_LIMIT_MAX: '10000000',
      EDGE_API_RATE: '1000000r/s',
      EDGE_API_BURST: '1000000',
      EDGE_CONN_PER_IP: '10000',
    },
    log: (m) => note(`[edge-latency] ${m}`),
  });
  const api = topo.apis[0]!;
  const targets = { direct: `${api.url}${PATH}`, edge: `${topo.edgeUrl}${PATH}` };

  // Both paths answer the same board.
  const [direct, viaEdge] = await Promise.all([fetch(targets.direct), fetch(targets.edge)]);
  const [a, b] = [(await direct.json()) as QuotesResponse, (await viaEdge.json()) as QuotesResponse];
  if (direct.status !== 200 || viaEdge.status !== 200 || a.items.length !== b.items.length || a.items.length === 0) {
    throw new Error(`${PATH}: direct ${direct.status} (${a.items?.length} quotes), edge ${viaEdge.status} (${b.items?.length} quotes)`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(a));
  // Whose CPU time is read around each slice: the edge's nginx workers, and the api process (with any workers).
  const nginxWorkers = childPids(Number(readFileSync(path.join(topo.edge.prefix, 'nginx.pid'), 'utf8').trim()));
  const apiPids = [api.pid!, ...childPids(api.pid!)];
  if (nginxWorkers.length === 0) throw new Error('no nginx worker process found for the edge');

  load = startChild('edge-load', path.join(BENCH_DIR, 'lib/edge-load.ts'));
  const run = async (url: string, rate: number | undefined, seconds: number): Promise<RunReply> => {
    const r = await load!.call<RunReply>('run', { url, connections: CONNECTIONS, seconds, rate }, (seconds + 60) * 1_000);
    const bad = Object.entries(r.statuses).filter(([code]) => code !== '200');
    if (bad.length > 0 || r.errors > 0 || r.timeouts > 0) {
      throw new Error(`${url}: statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors, ${r.timeouts} timeouts`);
    }
    return r;
  };

  // Warm-up (JIT, keep-alive pools on both hops), not reported.
  for (const url of Object.values(targets)) await run(url, undefined, 2);

  const shapes = [
    { name: 'paced', rate: RATE as number | undefined },
    { name: 'saturated', rate: undefined },
  ];
  const rows: (string | number)[][] = [];
  for (const shape of shapes) {
    const fresh = (): Pooled => ({ samples: [], reqPerSec: [], nginx: ZERO, api: ZERO, responses: 0 });
    const pooled: Record<'direct' | 'edge', Pooled> = { direct: fresh(), edge: fresh() };
    const addedPerRound: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const order: Array<'direct' | 'edge'> = i % 2 === 0 ? ['direct', 'edge'] : ['edge', 'direct'];
      const p50: Record<string, number> = {};
      for (const which of order) {
        const before = { nginx: schedTimeOf(nginxWorkers), api: schedTimeOf(apiPids) };
        const r = await run(targets[which], shape.rate, SECONDS);
        const p = pooled[which];
        p.nginx = add(p.nginx, add(schedTimeOf(nginxWorkers), before.nginx, -1));
        p.api = add(p.api, add(schedTimeOf(apiPids), before.api, -1));
        p.responses += r.samples.length;
        p.samples.push(r.samples);
        p.reqPerSec.push(r.reqPerSec);
        p50[which] = percentile(r.samples.slice().sort(), 50);
        note(`  ${shape.name} round ${i + 1} ${which}: ${fmt(r.reqPerSec)} req/s, p50 ${fmt(p50[which]!, 3)} ms, ${r.samples.length} responses`);
      }
      addedPerRound.push(p50.edge! - p50.direct!);
    }
    const stats = (which: 'direct' | 'edge') => {
      const all = Float64Array.from(pooled[which].samples.flatMap((s) => Array.from(s))).sort();
      const reqPerSec = pooled[which].reqPerSec.reduce((x, y) => x + y, 0) / pooled[which].reqPerSec.length;
      const p = pooled[which];
      const perReqUs = (ns: number) => ns / p.responses / 1_000;
      return {
        p50: percentile(all, 50),
        p99: percentile(all, 99),
        mean: all.reduce((x, y) => x + y, 0) / all.length,
        n: all.length,
        reqPerSec,
        nginxCpuUs: perReqUs(p.nginx.cpuNs),
        nginxWaitUs: perReqUs(p.nginx.waitNs),
        apiCpuUs: perReqUs(p.api.cpuNs),
        apiWaitUs: perReqUs(p.api.waitNs),
      };
    };
    const d = stats('direct');
    const e = stats('edge');
    const added50 = median(addedPerRound);
    const sortedAdded = addedPerRound.slice().sort((x, y) => x - y);
    const spread = percentile(sortedAdded, 75) - percentile(sortedAdded, 25);
    result('edge-latency', {
      case: shape.name,
      path: PATH,
      connections: CONNECTIONS,
      rate: shape.rate ?? null,
      seconds: SECONDS,
      rounds: ROUNDS,
      responseBytes: bytes,
      direct_p50: round(d.p50, 3),
      direct_p99: round(d.p99, 3),
      edge_p50: round(e.p50, 3),
      edge_p99: round(e.p99, 3),
      added_p50: round(added50, 3),
      added_p50_pooled: round(e.p50 - d.p50, 3),
      added_p99: round(e.p99 - d.p99, 3),
      added_p50_min_round: round(Math.min(...addedPerRound), 3),
      added_p50_max_round: round(Math.max(...addedPerRound), 3),
      // CPU per response (µs): what the hop costs, nearly independent of outside load.
      edge_nginx_cpu_us: round(e.nginxCpuUs, 1),
      edge_nginx_runq_wait_us: round(e.nginxWaitUs, 1),
      api_cpu_us_direct: round(d.apiCpuUs, 1),
      api_cpu_us_edge: round(e.apiCpuUs, 1),
      api_runq_wait_us_direct: round(d.apiWaitUs, 1),
      api_runq_wait_us_edge: round(e.apiWaitUs, 1),
      direct_reqPerSec: Math.round(d.reqPerSec),
      edge_reqPerSec: Math.round(e.reqPerSec),
      direct_samples: d.n,
      edge_samples: e.n,
      target_added_p50: TARGET_ADDED_P50_MS,
      // Met or not only when the rounds agree to within the target; otherwise the machine's noise decides.
      verdict: shape.rate === undefined ? null : spread > TARGET_ADDED_P50_MS ? 'inconclusive' : added50 <= TARGET_ADDED_P50_MS ? 'met' : 'not met',
      added_p50_iqr_rounds: round(spread, 3),
      upstream: 'one api process (WEB_CONCURRENCY=1), collector running',
      nginx: nginxVersion(),
      node: process.version,
    });
    rows.push([shape.name, 'direct', Math.round(d.reqPerSec), round(d.p50, 3), round(d.p99, 3), round(d.apiCpuUs, 1), '-', '']);
    rows.push([shape.name, 'edge', Math.round(e.reqPerSec), round(e.p50, 3), round(e.p99, 3), round(e.apiCpuUs, 1), round(e.nginxCpuUs, 1), `${signed(added50)} ms p50`]);
  }
  note(`\nEdge latency — GET ${PATH} (${bytes} bytes), autocannon ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds, paced at ${RATE} req/s; nginx ${nginxVersion()}, ${process.version}`);
  table(['load', 'path', 'req/s', 'p50 ms', 'p99 ms', 'api CPU µs/req', 'nginx CPU µs/req', 'added (median of rounds)'], rows);
} finally {
  await load?.stop();
  await topo?.close();
}
