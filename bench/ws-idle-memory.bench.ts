/**
 * Memory per idle WebSocket connection on an api replica: the product's
 * gateway (RedisBus + createWsGateway, clients subscribed to all quotes on
 * /ws/market, so each holds its 58 snapshot streams) and, for reference,
 * Socket.IO 4 with the Redis Streams adapter (connected to the default
 * namespace, which receives every broadcast).
 *
 *   npm run bench -- ws-idle-memory     or   npx tsx bench/ws-idle-memory.bench.ts
 *
 * Per stack and N, a fresh private Redis, publisher (the gateway's seeds the
 * board) and one replica process (--expose-gc). A warm-up batch of
 * IDLE_WARM connections comes first, so one-off costs (code paths compiled,
 * pools and caches allocated by the first connections) stay out of the
 * per-connection figure; then, after two full GCs, the replica's RSS and V8
 * heap are read, N more subscribed connections are opened from separate
 * client processes, the snapshots delivered, and once RSS is steady again
 * (nothing is published meanwhile; see quiet()), both are read again:
 *   per connection = (after − before) / N.
 * RSS is what the machine pays (heap, buffers and what the allocator keeps);
 * heap is what V8 retains for the connections.
 *
 * Knobs: IDLE_CLIENTS=1000,5000  IDLE_KINDS=gateway,socketio  IDLE_CLIENT_PROCS=2
 *        IDLE_WARM=100  IDLE_SETTLE_MS=30000 (longest wait for a steady RSS)
 * Prints {"bench":"ws_idle_memory",...} lines; target: gateway ≤ 30 KB (RSS) per connection.
 */
import type { Child } from './lib/child.ts';
import { SCALE_KINDS, type ScaleKind } from './lib/scale-kinds.ts';
import { connectClients, loadAvg, startTopology, stopTopology } from './lib/scale-topology.ts';
import { fmt, knob, listKnob, note, result, round, sleep, table } from './lib/report.ts';

const CLIENTS = listKnob('IDLE_CLIENTS', [1_000, 5_000]);
const KINDS = (process.env.IDLE_KINDS ?? SCALE_KINDS.join(',')).split(',').map((s) => s.trim()) as ScaleKind[];
const PROCS = knob('IDLE_CLIENT_PROCS', 2, 1, 16);
const WARM = knob('IDLE_WARM', 100, 1, 10_000);
const SETTLE_MS = knob('IDLE_SETTLE_MS', 30_000, 0, 600_000);
/** 30 KB read as 30 KiB: every figure is printed in bytes and KiB, so the stricter reading can be checked too. */
const TARGET_BYTES = 30 * 1024;

for (const k of KINDS) if (!SCALE_KINDS.includes(k)) throw new Error(`IDLE_KINDS: unknown kind '${k}'`);

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  connections: number;
}

interface Row {
  kind: ScaleKind;
  clients: number;
  rssPerConn: number;
  heapPerConn: number;
  heapTotalPerConn: number;
  externalPerConn: number;
  rssMiB: number;
}

/**
 * Waits until every snapshot is written (gateway: nothing pending), then
 * until RSS after GC is stable: the snapshot burst of thousands of
 * subscribes leaves freed memory that V8 and the allocator hand back to the
 * OS only over the next seconds, and that is not what an idle connection costs.
 * It comes back in steps several seconds apart, so steady means six
 * readings a second apart within 1 % (or IDLE_SETTLE_MS has passed).
 */
async function quiet(replica: Child): Promise<Mem> {
  for (let i = 0; i < 600; i++) {
    const s = await replica.call<{ pendingBytes?: number }>('status');
    if (!s.pendingBytes) break;
    await sleep(100);
  }
  const until = performance.now() + SETTLE_MS;
  let last = await replica.call<Mem>('mem');
  let steady = 0;
  let ref = last;
  while (steady < 6 && performance.now() < until) {
    await sleep(1_000);
    last = await replica.call<Mem>('mem');
    if (Math.abs(last.rss - ref.rss) <= ref.rss * 0.01) steady++;
    else {
      steady = 0;
      ref = last;
    }
  }
  return last;
}

async function measure(kind: ScaleKind, n: number): Promise<Row> {
  const load = loadAvg();
  const t = await startTopology(kind, 1);
  const replica = t.replicas[0]!.child;
  try {
    await connectClients(t, WARM, 1);
    const before = await quiet(replica);
    await connectClients(t, n, PROCS);
    const after = await quiet(replica);
    if (after.connections !== WARM + n) throw new Error(`replica has ${after.connections} connections, expected ${WARM + n}`);
    const row: Row = {
      kind,
      clients: n,
      rssPerConn: Math.round((after.rss - before.rss) / n),
      heapPerConn: Math.round((after.heapUsed - before.heapUsed) / n),
      heapTotalPerConn: Math.round((after.heapTotal - before.heapTotal) / n),
      externalPerConn: Math.round((after.external - before.external) / n),
      rssMiB: round(after.rss / 2 ** 20, 1),
    };
    result('ws_idle_memory', {
      case: kind,
      ...row,
      rssPerConnKiB: round(row.rssPerConn / 1024, 1),
      heapPerConnKiB: round(row.heapPerConn / 1024, 1),
      targetBytes: kind === 'gateway' ? TARGET_BYTES : null,
      met: kind === 'gateway' ? row.rssPerConn <= TARGET_BYTES : null,
      warm: WARM,
      settleMs: SETTLE_MS,
      rssBeforeMiB: round(before.rss / 2 ** 20, 1),
      heapAfterMiB: round(after.heapUsed / 2 ** 20, 1),
      loadAvgStart: load,
      node: process.version,
    });
    return row;
  } finally {
    await stopTopology(t);
  }
}

const rows: Row[] = [];
const failures: string[] = [];
for (const n of CLIENTS) {
  for (const kind of KINDS) {
    note(`ws-idle-memory: ${kind}, ${fmt(n)} idle connections …`);
    try {
      rows.push(await measure(kind, n));
    } catch (err) {
      failures.push(`${kind} × ${n}: ${(err as Error).message}`);
      note(`  failed: ${(err as Error).message}`);
    }
  }
}

note(`\nmemory per idle connection (replica process, after GC; ${WARM} warm-up connections excluded); ${process.version}`);
table(
  ['stack', 'connections', 'RSS B/conn', 'RSS KiB/conn', 'heap used B/conn', 'heap total B/conn', 'external B/conn', 'replica RSS MiB'],
  rows.map((r) => [r.kind, r.clients, r.rssPerConn, round(r.rssPerConn / 1024, 1), r.heapPerConn, r.heapTotalPerConn, r.externalPerConn, r.rssMiB]),
);
for (const r of rows.filter((x) => x.kind === 'gateway')) {
  note(`gateway, ${fmt(r.clients)} connections: ${round(r.rssPerConn / 1024, 1)} KiB RSS per connection (target ≤ ${TARGET_BYTES / 1024} KiB): ${r.rssPerConn <= TARGET_BYTES ? 'met' : 'NOT met'}`);
}

if (failures.length > 0) {
  note(`\n${failures.length} case(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
