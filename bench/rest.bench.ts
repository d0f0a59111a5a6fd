/**
 * REST throughput and latency of the real server against bare Fastify, same
 * machine, same run.
 *
 *   npm run bench -- rest          or   npx tsx bench/rest.bench.ts
 *
 * Three server processes: the product (`startAll`, role `all`: simulator feed
 * running, embedded PGlite storage being written, production settings, request
 * log at info to /dev/null, rate limiter on with a limit the run never
 * reaches), a Fastify hello world, and a bare Fastify serving a frozen copy of
 * the same board with the same response schemas (same payload, none of the
 * product's hooks). autocannon runs as a fourth process. Cases are interleaved
 * over REST_ROUNDS rounds; the best round of each case is reported.
 *
 * Knobs: REST_SECONDS=5  REST_ROUNDS=2  REST_CONNECTIONS=50  REST_LOG_LEVEL=info
 *        REST_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (profile the product server)
 * Prints {"bench":"rest",...} lines.
 */
import path from 'node:path';
import { autocannon, type LoadResult } from './lib/autocannon.ts';
import { BENCH_DIR, startChild, type Child } from './lib/child.ts';
import { fmt, knob, note, result, round, table } from './lib/report.ts';

const SECONDS = knob('REST_SECONDS', 5, 1, 3_600);
const ROUNDS = knob('REST_ROUNDS', 2, 1, 100);
const CONNECTIONS = knob('REST_CONNECTIONS', 50, 1, 10_000);
const script = path.join(BENCH_DIR, 'lib/rest-server.ts');

interface Ready {
  port: number;
  symbols: string[];
}

const children: Child[] = [];
/** Extra node flags for the product server, e.g. REST_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const APP_NODE_ARGS = (process.env.REST_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

async function start(name: string, args: string[], quiet = false): Promise<Ready> {
  const c = startChild(name, script, { args, quiet, nodeArgs: args[0] === 'app' ? APP_NODE_ARGS : [] });
  children.push(c);
  return c.once<Ready>('ready', 120_000);
}

try {
  const app = await start('rest-server(app)', ['app'], true);
  const appUrl = `http://127.0.0.1:${app.port}`;
  const hello = await start('rest-server(hello)', ['hello']);
  const bare = await start('rest-server(bare)', ['bare', appUrl]);
  const sym = app.symbols.includes('VNM') ? 'VNM' : app.symbols[0]!;
  const bareUrl = `http://127.0.0.1:${bare.port}`;

  const cases: { name: string; baseline: string | null; url: string }[] = [
    { name: 'hello', baseline: null, url: `http://127.0.0.1:${hello.port}/` },
    { name: 'quotes', baseline: 'hello', url: `${appUrl}/api/quotes` },
    { name: 'quotes_bare', baseline: null, url: `${bareUrl}/api/quotes` },
    { name: 'quote', baseline: 'hello', url: `${appUrl}/api/quotes/${sym}` },
    { name: 'quote_bare', baseline: null, url: `${bareUrl}/api/quotes/${sym}` },
  ];
  const bareOf = new Map([
    ['quotes', 'quotes_bare'],
    ['quote', 'quote_bare'],
  ]);

  // Warm-up (JIT, connection pools), not reported.
  for (const c of cases) await autocannon(c.url, { connections: CONNECTIONS, seconds: 1 });

  const best = new Map<string, LoadResult>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const r = await autocannon(c.url, { connections: CONNECTIONS, seconds: SECONDS });
      note(`  round ${round + 1} ${c.name}: ${fmt(r.reqPerSec)} req/s, p99 ${r.p99} ms`);
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${c.name}: ${r.non2xx} non-2xx responses and ${r.errors} errors (${c.url})`);
      if (!best.has(c.name) || r.reqPerSec > best.get(c.name)!.reqPerSec) best.set(c.name, r);
    }
  }

  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const r = best.get(c.name)!;
    const vsHello = c.baseline ? r.reqPerSec / best.get(c.baseline)!.reqPerSec : null;
    const vsBare = bareOf.has(c.name) ? r.reqPerSec / best.get(bareOf.get(c.name)!)!.reqPerSec : null;
    const bytesPerResponse = Math.round(r.bytesPerSec / r.reqPerSec);
    result('rest', {
      case: c.name,
      path: new URL(c.url).pathname,
      reqPerSec: Math.round(r.reqPerSec),
      p50: r.p50,
      p99: r.p99,
      meanLatencyMs: round(r.meanLatency, 2),
      bytesPerResponse,
      vsHello: vsHello === null ? null : round(vsHello, 3),
      vsBare: vsBare === null ? null : round(vsBare, 3),
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds: ROUNDS,
    });
    rows.push([c.name, new URL(c.url).pathname, Math.round(r.reqPerSec), r.p50, r.p99, bytesPerResponse, vsHello === null ? '-' : `${round(vsHello, 2)}×`, vsBare === null ? '-' : `${round(vsBare, 2)}×`]);
  }
  note(`\nREST — autocannon ${CONNECTIONS} connections, ${SECONDS} s × best of ${ROUNDS}; ${process.version}`);
  table(['case', 'path', 'req/s', 'p50 ms', 'p99 ms', 'bytes', 'vs hello', 'vs bare'], rows);
} finally {
  await Promise.all(children.map((c) => c.stop(15_000)));
}
