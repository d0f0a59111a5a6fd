/**
 * WebSocket fan-out: the product's gateway + in-process bus against a raw `ws`
 * broadcast and Socket.IO, same payloads (recorded simulator quotes, ~1.3 KB
 * each), same machine, same run. Every client subscribes to all quotes.
 *
 *   npm run bench -- ws-fanout          or   npx tsx bench/ws-fanout.bench.ts
 *
 * For each client count, one server process per kind is started and gets its
 * clients from WS_CLIENT_PROCS client processes of its own (`ws` /
 * `socket.io-client`). Then the kinds take turns, WS_ROUNDS times, so that a
 * burst of load from elsewhere on the machine cannot favour one of them:
 * 1. memory per idle connection: server RSS after connecting (and GC) minus before;
 * 2. latency: WS_RATE messages/s for WS_SECONDS; p50/p99/max tick-to-client
 *    latency over all rounds (publish time stamped in the payload, read by the
 *    client on the same clock), delivered share, seq gaps;
 * 3. throughput: publish as fast as the clients take it for WS_SECONDS (the
 *    publisher holds back while any client has > 64 KiB waiting); delivered
 *    messages/s (best round) and server CPU per delivered message.
 *
 * Knobs: WS_CLIENTS=1000,5000  WS_RATE=5  WS_SECONDS=4  WS_ROUNDS=2  WS_CLIENT_PROCS=2
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
const SECONDS = knob('WS_SECONDS', 4, 1, 3_600);
const ROUNDS = knob('WS_ROUNDS', 2, 1, 100);
const PROCS = knob('WS_CLIENT_PROCS', 2, 1, 16);
const KINDS = (process.env.WS_KINDS ?? FANOUT_KINDS.join(',')).split(',').map((s) => s.trim()) as FanoutKind[];
const MAX_BACKLOG = 64 * 1024;
/** Extra node flags for the server processes, e.g. WS_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
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

/** One server kind with its clients connected, and what its rounds measured. */
interface Setup {
  kind: FanoutKind;
  server: Child;
  procs: Child[];
  frameBytes: number;
  connectSec: number;
  memPerConnKiB: number;
  latencies: Float32Array[];
  expected: number;
  received: number;
  gaps: number;
  conflated: number;
  maxLateMs: number;
  floods: { msgsPerSec: number; serverCpuUsPerMsg: number; clientCpuUsPerMsg: number; serverCpuShare: number; throttledShare: number }[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const all = <T>(s: Setup, fn: (p: Child) => Promise<T>) => Promise.all(s.procs.map(fn));

async function setUp(kind: FanoutKind, total: number, live: Setup[]): Promise<Setup> {
  const server = startChild(`fanout-server(${kind})`, path.join(BENCH_DIR, 'lib/fanout-server.ts'), { args: [kind], nodeArgs: ['--expose-gc', ...SERVER_NODE_ARGS] });
  const s: Setup = { kind, server, procs: [], frameBytes: 0, connectSec: 0, memPerConnKiB: 0, latencies: [], expected: 0, received: 0, gaps: 0, conflated: 0, maxLateMs: 0, floods: [] };
  live.push(s); // torn down by the caller even if connecting fails
  const ready = await server.once<{ port: number; frameBytes: number }>('ready', 60_000);
  s.frameBytes = ready.frameBytes;
  const url = `${kind === 'socketio' ? 'http' : 'ws'}://127.0.0.1:${ready.port}`;
  const mem0 = await server.call<{ rss: number }>('mem');
  for (let i = 0; i < PROCS; i++) s.procs.push(startChild(`fanout-clients(${kind} #${i})`, path.join(BENCH_DIR, 'lib/fanout-clients.ts')));
  const t0 = performance.now();
  const shares = s.procs.map((_, i) => Math.floor(total / PROCS) + (i < total % PROCS ? 1 : 0));
  const conn = await Promise.all(s.procs.map((p, i) => p.call<{ connected: number }>('connect', { kind, url, count: shares[i] }, 300_000)));
  s.connectSec = round((performance.now() - t0) / 1000, 1);
  const connected = sum(conn.map((c) => c.connected));
  if (connected !== total) throw new Error(`${kind}: only ${connected}/${total} clients connected`);
  await sleep(1_500); // snapshots (gateway) land; the connections go idle
  const mem1 = await server.call<{ rss: number; connections: number }>('mem');
  if (mem1.connections !== total) throw new Error(`${kind}: server sees ${mem1.connections} connections, expected ${total}`);
  s.memPerConnKiB = round((mem1.rss - mem0.rss) / total / 1024, 1);
  return s;
}

/** Fixed rate: latency and completeness. */
async function latencyRound(s: Setup, total: number): Promise<void> {
  await all(s, (p) => p.call('mark', { record: true }));
  const r = await s.server.call<{ published: number; maxLateMs: number }>('rate', { rate: RATE, seconds: SECONDS }, (SECONDS + 60) * 1000);
  await all(s, (p) => p.call('settle', { expected: r.published, timeoutMs: 30_000 }, 60_000));
  const reps = await all(s, (p) => p.call<ClientReport>('report'));
  s.latencies.push(...reps.map((x) => x.latencies));
  s.expected += r.published * total;
  s.received += sum(reps.map((x) => x.frames));
  s.gaps += sum(reps.map((x) => x.gaps + x.duplicates + x.closedUnexpectedly));
  s.conflated += sum(reps.map((x) => x.conflated));
  s.maxLateMs = Math.max(s.maxLateMs, r.maxLateMs);
}

/** Saturation: delivered messages/s and CPU per message. */
async function floodRound(s: Setup): Promise<void> {
  await all(s, (p) => p.call('mark', { record: false }));
  const f = await s.server.call<{ cpuMs: number; wallMs: number; throttledMs: number }>('flood', { seconds: SECONDS, maxBacklogBytes: MAX_BACKLOG }, (SECONDS + 60) * 1000);
  const reps = await all(s, (p) => p.call<ClientReport>('report'));
  const delivered = Math.max(1, sum(reps.map((x) => x.frames)));
  s.gaps += sum(reps.map((x) => x.gaps + x.duplicates + x.closedUnexpectedly));
  s.conflated += sum(reps.map((x) => x.conflated));
  s.floods.push({
    msgsPerSec: sum(reps.map((x) => x.frames / (x.windowMs / 1000))),
    serverCpuUsPerMsg: (f.cpuMs * 1000) / delivered,
    clientCpuUsPerMsg: (sum(reps.map((x) => x.cpuMs)) * 1000) / delivered,
    serverCpuShare: f.cpuMs / f.wallMs,
    throttledShare: f.throttledMs / f.wallMs,
  });
}

async function tearDown(s: Setup): Promise<void> {
  await Promise.all(s.procs.map((p) => p.stop()));
  await s.server.stop();
}

interface Row {
  kind: FanoutKind;
  clients: number;
  memPerConnKiB: number;
  p50: number;
  p99: number;
  max: number;
  deliveredShare: number;
  gaps: number;
  msgsPerSec: number;
  medianMsgsPerSec: number;
  serverCpuUsPerMsg: number;
  clientCpuUsPerMsg: number;
}

function summarize(s: Setup, total: number): Row {
  const sorted = mergeSorted(s.latencies);
  const best = s.floods.reduce((a, b) => (b.msgsPerSec > a.msgsPerSec ? b : a));
  const row: Row = {
    kind: s.kind,
    clients: total,
    memPerConnKiB: s.memPerConnKiB,
    p50: round(percentile(sorted, 50), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN, 2),
    deliveredShare: round(s.received / s.expected, 4),
    gaps: s.gaps,
    msgsPerSec: Math.round(best.msgsPerSec),
    medianMsgsPerSec: Math.round(median(s.floods.map((f) => f.msgsPerSec))),
    // CPU per message is steadier than wall-clock rates on a shared machine: the median round.
    serverCpuUsPerMsg: round(median(s.floods.map((f) => f.serverCpuUsPerMsg)), 2),
    clientCpuUsPerMsg: round(median(s.floods.map((f) => f.clientCpuUsPerMsg)), 2),
  };
  result('ws_fanout', {
    case: s.kind,
    ...row,
    connectSec: s.connectSec,
    rate: RATE,
    seconds: SECONDS,
    rounds: ROUNDS,
    clientProcs: PROCS,
    frameBytes: s.frameBytes,
    publishMaxLateMs: round(s.maxLateMs, 1),
    serverCpuShare: round(median(s.floods.map((f) => f.serverCpuShare)), 2),
    floodThrottledShare: round(median(s.floods.map((f) => f.throttledShare)), 2),
    conflated: s.conflated,
    parse: process.env.FANOUT_PARSE === 'scan' ? 'scan' : 'full',
  });
  return row;
}

const rows: Row[] = [];
const failures: string[] = [];
for (const total of CLIENTS) {
  const live: Setup[] = [];
  try {
    for (const kind of KINDS) {
      note(`ws-fanout: ${kind}: connecting ${fmt(total)} clients …`);
      await setUp(kind, total, live);
    }
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate who goes first so that no kind always follows the same neighbour.
      const order = live.map((_, i) => live[(i + r) % live.length]!);
      note(`ws-fanout: ${fmt(total)} clients, round ${r + 1}/${ROUNDS}`);
      for (const s of order) await latencyRound(s, total);
      for (const s of order) await floodRound(s);
    }
    for (const s of live) rows.push(summarize(s, total));
  } catch (err) {
    failures.push(`${fmt(total)} clients: ${(err as Error).message}`);
    note(`  failed: ${(err as Error).message}`);
  } finally {
    await Promise.all(live.map(tearDown));
  }
}

note(`\nws fan-out — latency at ${RATE} msg/s, saturation; ${ROUNDS} rounds × ${SECONDS} s each; ${PROCS} client processes per server; ${process.version}`);
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
    gatewayVsRawMedian: round(gw.medianMsgsPerSec / raw.medianMsgsPerSec, 2),
    gatewayVsRawServerCpu: cpuRatio,
    ratioTarget: RATIO_TARGET,
    ratioMet: ratio >= RATIO_TARGET,
    p99: gw.p99,
    rawP99: raw.p99,
    p99TargetMs: P99_TARGET_MS,
    p99Met: total < 5_000 ? null : gw.p99 <= P99_TARGET_MS,
    complete: gw.deliveredShare === 1 && gw.gaps === 0,
  });
  note(
    `${fmt(total)} clients: gateway/raw delivered ${ratio}× (target ≥ ${RATIO_TARGET}×), server CPU per message ${cpuRatio}× as efficient as raw; ` +
      `gateway p99 ${gw.p99} ms vs raw ${raw.p99} ms${total >= 5_000 ? ` (target ≤ ${P99_TARGET_MS} ms)` : ''}`,
  );
}

if (failures.length > 0) {
  note(`\n${failures.length} case(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
