/**
 * WebSocket fan-out: the product's gateway + in-process bus against a raw `ws`
 * broadcast and Socket.IO, same payloads (recorded simulator quotes, ~1.3 KB
 * each), same machine, same run. Every client subscribes to all quotes.
 *
 *   npm run bench -- ws-fanout          or   npx tsx bench/ws-fanout.bench.ts
 *
 * For each client count and server kind, a fresh server process and
 * WS_CLIENT_PROCS client processes (`ws` / `socket.io-client`) measure:
 * 1. memory per idle connection: server RSS after connecting (and GC) minus before;
 * 2. latency: WS_RATE messages/s for WS_SECONDS; p50/p99/max tick-to-client
 *    latency (publish time stamped in the payload, read by the client on the
 *    same clock), delivered share, seq gaps;
 * 3. throughput: publish as fast as the clients take it for WS_SECONDS (the
 *    publisher holds back while any client has > 64 KiB waiting); delivered
 *    messages/s and server CPU per delivered message.
 *
 * Knobs: WS_CLIENTS=1000,5000  WS_RATE=5  WS_SECONDS=6  WS_CLIENT_PROCS=2
 *        WS_KINDS=gateway,raw,socketio  FANOUT_PARSE=full|scan  WS_SERVER_NODE_ARGS='--cpu-prof'
 * Prints {"bench":"ws_fanout",...} lines; targets: gateway ≥ 0.7× raw ws
 * delivered msgs/s, p99 ≤ 50 ms at 5,000 clients.
 */
import path from 'node:path';
import { BENCH_DIR, startChild, type Child } from './lib/child.ts';
import { FANOUT_KINDS, type FanoutKind } from './lib/fanout-kinds.ts';
import { fmt, knob, listKnob, mergeSorted, note, percentile, result, round, sleep, table } from './lib/report.ts';

const CLIENTS = listKnob('WS_CLIENTS', [1_000, 5_000]);
const RATE = knob('WS_RATE', 5, 0.1, 100_000);
const SECONDS = knob('WS_SECONDS', 6, 1, 3_600);
const PROCS = knob('WS_CLIENT_PROCS', 2, 1, 16);
const KINDS = (process.env.WS_KINDS ?? FANOUT_KINDS.join(',')).split(',').map((s) => s.trim()) as FanoutKind[];
const MAX_BACKLOG = 64 * 1024;
/** Extra node flags for the server process, e.g. WS_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const SERVER_NODE_ARGS = (process.env.WS_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
const P99_TARGET_MS = 50;
const RATIO_TARGET = 0.7;

for (const k of KINDS) if (!FANOUT_KINDS.includes(k)) throw new Error(`WS_KINDS: unknown kind '${k}'`);

interface ClientReport {
  clients: number;
  cpuMs: number;
  frames: number;
  conflated: number;
  snapshots: number;
  gaps: number;
  duplicates: number;
  closedUnexpectedly: number;
  errors: number;
  windowMs: number;
  minFrames: number;
  latencies: Float32Array;
  latencySeen: number;
}

interface Row {
  kind: FanoutKind;
  clients: number;
  connectSec: number;
  memPerConnKiB: number;
  p50: number;
  p99: number;
  max: number;
  deliveredShare: number;
  gaps: number;
  msgsPerSec: number;
  serverCpuUsPerMsg: number;
  clientCpuUsPerMsg: number;
  serverCpuShare: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function measure(kind: FanoutKind, total: number): Promise<Row> {
  const server = startChild(`fanout-server(${kind})`, path.join(BENCH_DIR, 'lib/fanout-server.ts'), { args: [kind], nodeArgs: ['--expose-gc', ...SERVER_NODE_ARGS] });
  const procs: Child[] = [];
  try {
    const ready = await server.once<{ port: number; frameBytes: number }>('ready', 60_000);
    const url = `http://127.0.0.1:${ready.port}`.replace('http', kind === 'socketio' ? 'http' : 'ws');
    const mem0 = await server.call<{ rss: number }>('mem');
    for (let i = 0; i < PROCS; i++) procs.push(startChild(`fanout-clients(${kind} #${i})`, path.join(BENCH_DIR, 'lib/fanout-clients.ts')));

    // 1. connect (processes in parallel), then let snapshots land and measure idle memory
    const t0 = performance.now();
    const shares = procs.map((_, i) => Math.floor(total / PROCS) + (i < total % PROCS ? 1 : 0));
    const conn = await Promise.all(procs.map((p, i) => p.call<{ connected: number; failed: number }>('connect', { kind, url, count: shares[i] }, 300_000)));
    const connectSec = (performance.now() - t0) / 1000;
    const connected = sum(conn.map((c) => c.connected));
    if (connected !== total) throw new Error(`${kind}: only ${connected}/${total} clients connected`);
    await sleep(1_500);
    const mem1 = await server.call<{ rss: number; connections: number }>('mem');
    if (mem1.connections !== total) throw new Error(`${kind}: server sees ${mem1.connections} connections, expected ${total}`);

    // 2. fixed rate: latency and completeness
    await Promise.all(procs.map((p) => p.call('mark', { record: true })));
    const rate = await server.call<{ published: number; cpuMs: number; maxLateMs: number }>('rate', { rate: RATE, seconds: SECONDS }, (SECONDS + 60) * 1000);
    await Promise.all(procs.map((p) => p.call('settle', { expected: rate.published, timeoutMs: 30_000 }, 60_000)));
    const lat = await Promise.all(procs.map((p) => p.call<ClientReport>('report')));
    const sorted = mergeSorted(lat.map((r) => r.latencies));
    const received = sum(lat.map((r) => r.frames));
    const gaps = sum(lat.map((r) => r.gaps + r.duplicates));
    const broken = sum(lat.map((r) => r.closedUnexpectedly));

    // 3. saturation: delivered messages/s and CPU per message
    await Promise.all(procs.map((p) => p.call('mark', { record: false })));
    const flood = await server.call<{ published: number; cpuMs: number; wallMs: number; throttledMs: number }>('flood', { seconds: SECONDS, maxBacklogBytes: MAX_BACKLOG }, (SECONDS + 60) * 1000);
    const tput = await Promise.all(procs.map((p) => p.call<ClientReport>('report')));
    const delivered = sum(tput.map((r) => r.frames));
    const msgsPerSec = sum(tput.map((r) => r.frames / (r.windowMs / 1000)));
    const clientCpuMs = sum(tput.map((r) => r.cpuMs));

    const row: Row = {
      kind,
      clients: total,
      connectSec: round(connectSec, 1),
      memPerConnKiB: round((mem1.rss - mem0.rss) / total / 1024, 1),
      p50: round(percentile(sorted, 50), 2),
      p99: round(percentile(sorted, 99), 2),
      max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN, 2),
      deliveredShare: round(received / (rate.published * total), 4),
      gaps: gaps + broken,
      msgsPerSec: Math.round(msgsPerSec),
      serverCpuUsPerMsg: round((flood.cpuMs * 1000) / Math.max(1, delivered), 2),
      clientCpuUsPerMsg: round((clientCpuMs * 1000) / Math.max(1, delivered), 2),
      serverCpuShare: round(flood.cpuMs / flood.wallMs, 2),
    };
    result('ws_fanout', {
      case: kind,
      ...row,
      rate: RATE,
      seconds: SECONDS,
      clientProcs: PROCS,
      frameBytes: ready.frameBytes,
      published: rate.published,
      publishMaxLateMs: round(rate.maxLateMs, 1),
      floodPublished: flood.published,
      floodThrottledShare: round(flood.throttledMs / flood.wallMs, 2),
      conflated: sum(lat.map((r) => r.conflated)) + sum(tput.map((r) => r.conflated)),
      parse: process.env.FANOUT_PARSE === 'scan' ? 'scan' : 'full',
    });
    return row;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  }
}

const rows: Row[] = [];
const failures: string[] = [];
for (const total of CLIENTS) {
  for (const kind of KINDS) {
    note(`ws-fanout: ${kind}, ${fmt(total)} clients …`);
    try {
      rows.push(await measure(kind, total));
    } catch (err) {
      failures.push(`${kind} × ${total}: ${(err as Error).message}`);
      note(`  failed: ${(err as Error).message}`);
    }
  }
}

note(`\nws fan-out — ${RATE} msg/s for ${SECONDS} s (latency), then saturation for ${SECONDS} s; ${PROCS} client processes; ${process.version}`);
table(
  ['server', 'clients', 'KiB/conn', 'p50 ms', 'p99 ms', 'max ms', 'delivered', 'gaps', 'msgs/s', 'vs raw', 'srv µs/msg', 'cli µs/msg'],
  rows.map((r) => {
    const raw = rows.find((x) => x.kind === 'raw' && x.clients === r.clients);
    return [
      r.kind,
      r.clients,
      r.memPerConnKiB,
      r.p50,
      r.p99,
      r.max,
      `${round(r.deliveredShare * 100, 2)}%`,
      r.gaps,
      r.msgsPerSec,
      raw ? `${round(r.msgsPerSec / raw.msgsPerSec, 2)}×` : '-',
      r.serverCpuUsPerMsg,
      r.clientCpuUsPerMsg,
    ];
  }),
);

for (const total of CLIENTS) {
  const gw = rows.find((r) => r.kind === 'gateway' && r.clients === total);
  const raw = rows.find((r) => r.kind === 'raw' && r.clients === total);
  if (!gw || !raw) continue;
  const ratio = round(gw.msgsPerSec / raw.msgsPerSec, 2);
  const cpuRatio = round(raw.serverCpuUsPerMsg / gw.serverCpuUsPerMsg, 2);
  result('ws_fanout', {
    case: 'targets',
    clients: total,
    gatewayVsRaw: ratio,
    gatewayVsRawServerCpu: cpuRatio,
    ratioTarget: RATIO_TARGET,
    ratioMet: ratio >= RATIO_TARGET,
    p99: gw.p99,
    p99TargetMs: P99_TARGET_MS,
    p99Met: total < 5_000 ? null : gw.p99 <= P99_TARGET_MS,
    complete: gw.deliveredShare === 1 && gw.gaps === 0,
  });
  note(
    `${fmt(total)} clients: gateway/raw delivered ${ratio}× (target ≥ ${RATIO_TARGET}×), server CPU efficiency ${cpuRatio}× of raw; ` +
      `gateway p99 ${gw.p99} ms${total >= 5_000 ? ` (target ≤ ${P99_TARGET_MS} ms)` : ''}`,
  );
}

if (failures.length > 0) {
  note(`\n${failures.length} case(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
