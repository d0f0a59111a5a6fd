/**
 * Scale-out: the product's fan-out through Redis Streams (RedisStreamPublisher
 * → Redis → RedisBus + WS gateway per api replica) against Socket.IO 4 with
 * @socket.io/redis-streams-adapter, with 1 and 2 replicas, same payloads
 * (recorded simulator quotes, ~1.2 KB JSON each), same machine, same run.
 * Every client subscribes to all quotes.
 *
 *   npm run bench -- scale-out          or   npx tsx bench/scale-out.bench.ts
 *
 * Per case (stack × replicas × clients) a fresh loopback deployment: private
 * redis-server, one publisher process, R replica processes, SCALE_CLIENT_PROCS
 * client processes (`ws` / `socket.io-client` with transports ['websocket'],
 * bench/lib/fanout-clients.ts), connections spread evenly over replicas.
 * 1. warm-up: 20 messages; every client must get every one (readers are live);
 * 2. latency: SCALE_RATE messages/s for SCALE_SECONDS; p50/p99/max
 *    tick-to-client latency (publish time stamped in the payload, read by the
 *    client on the same clock), delivered share, seq gaps, delivered msgs/s;
 * 3. capacity: SCALE_BURST messages published back to back; delivered
 *    messages/s = frames received by all clients / time until the last client
 *    has them all. The burst is small enough per connection (< the gateway's
 *    256 KiB high-water mark) that the gateway never conflates: both stacks
 *    deliver every frame. CPU time of replicas, Redis, publisher and clients
 *    is measured alongside: they all share this machine's cores.
 *
 * Knobs: SCALE_CLIENTS=1000,5000  SCALE_REPLICAS=1,2  SCALE_KINDS=gateway,socketio
 *        SCALE_RATE=5  SCALE_SECONDS=5  SCALE_BURST=(150; 60 at 5,000 and 30 at 10,000 clients)
 *        SCALE_CLIENT_PROCS=2
 *        FANOUT_PARSE=full|scan (client JSON parsing)  SCALE_REPLICA_NODE_ARGS='--cpu-prof'
 *        SCALE_GATEWAY_COALESCE=0 (the gateway without write coalescing, for comparison)
 * Prints {"bench":"scale_out",...} lines; targets at 5,000 clients: gateway
 * ≥ 2× Socket.IO delivered msgs/s, gateway p99 ≤ 50 ms.
 */
import os from 'node:os';
import { SCALE_KINDS, type ScaleKind } from './lib/scale-kinds.ts';
import { connectClients, cpuDelta, cpuSample, loadAvg, startTopology, stopTopology, type Topology } from './lib/scale-topology.ts';
import { fmt, knob, listKnob, mergeSorted, note, percentile, result, round, sleep, table } from './lib/report.ts';

const CLIENTS = listKnob('SCALE_CLIENTS', [1_000, 5_000]);
const REPLICAS = listKnob('SCALE_REPLICAS', [1, 2]);
const KINDS = (process.env.SCALE_KINDS ?? SCALE_KINDS.join(',')).split(',').map((s) => s.trim()) as ScaleKind[];
const RATE = knob('SCALE_RATE', 5, 0.1, 10_000);
const SECONDS = knob('SCALE_SECONDS', 5, 1, 600);
// 180 × ~1.35 KB frames stays under the gateway's 256 KiB high-water mark (see the header).
// Default: 150 messages, fewer for many clients so one burst is ~300,000 frames (seconds, not minutes).
const BURST_KNOB = process.env.SCALE_BURST ? knob('SCALE_BURST', 150, 10, 180) : null;
const burstFor = (clients: number) => BURST_KNOB ?? Math.max(20, Math.min(150, Math.round(300_000 / clients)));
const PROCS = knob('SCALE_CLIENT_PROCS', 2, 1, 16);
const REPLICA_NODE_ARGS = (process.env.SCALE_REPLICA_NODE_ARGS ?? '').split(' ').filter(Boolean);
const WARMUP = 20;
/** The gateway coalesces each connection's writes per event-loop turn unless SCALE_GATEWAY_COALESCE=0. */
const COALESCE = process.env.SCALE_GATEWAY_COALESCE !== '0';
const label = (kind: ScaleKind) => (kind === 'gateway' && !COALESCE ? 'gateway (no coalescing)' : kind);
const P99_TARGET_MS = 50;
const RATIO_TARGET = 2;

for (const k of KINDS) if (!SCALE_KINDS.includes(k)) throw new Error(`SCALE_KINDS: unknown kind '${k}'`);

interface ClientReport {
  clients: number;
  cpuMs: number;
  frames: number;
  conflated: number;
  gaps: number;
  duplicates: number;
  closedUnexpectedly: number;
  errors: number;
  windowMs: number;
  minFrames: number;
  latencies: Float32Array;
}

interface Row {
  kind: ScaleKind;
  replicas: number;
  clients: number;
  connectSec: number;
  p50: number;
  p99: number;
  max: number;
  deliveredShare: number;
  /** Seq gaps and duplicates seen by clients, plus connections closed by the server. */
  gaps: number;
  deliveredPerSec: number;
  capacityPerSec: number;
  burstComplete: boolean;
  /** Cores busy during the capacity phase (of os.cpus().length). */
  replicaCores: number;
  redisCores: number;
  clientCores: number;
  publisherCores: number;
  /** Replica CPU per delivered message: what a replica on its own cores would be limited by. */
  replicaCpuUsPerMsg: number;
  /** The same during the fixed-rate phase (no bursts: every frame is its own socket write). */
  replicaCpuUsPerMsgAtRate: number;
  /** Replicas + Redis + publisher CPU per delivered message. */
  serverCpuUsPerMsg: number;
  clientCpuUsPerMsg: number;
  /** 1-minute load average when the case started (others' work on a shared machine). */
  loadAvgStart: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Marks every client process, runs `publish`, waits until each client has every published message (or stalls), collects reports. */
async function phase<T extends { published: number }>(t: Topology, record: boolean, publish: () => Promise<T>, timeoutMs: number) {
  await Promise.all(t.clients.map((p) => p.call('mark', { record })));
  const before = await cpuSample(t);
  const pub = await publish();
  await Promise.all(t.clients.map((p) => p.call('settle', { expected: pub.published, timeoutMs, idleMs: 10_000 }, timeoutMs + 30_000)));
  const reports = await Promise.all(t.clients.map((p) => p.call<ClientReport>('report')));
  const cpu = cpuDelta(before, await cpuSample(t));
  const frames = sum(reports.map((r) => r.frames));
  return {
    pub,
    reports,
    cpu,
    frames,
    windowMs: Math.max(...reports.map((r) => r.windowMs)),
    complete: reports.every((r) => r.minFrames >= pub.published),
    gaps: sum(reports.map((r) => r.gaps + r.duplicates)),
    closed: sum(reports.map((r) => r.closedUnexpectedly)),
    errors: sum(reports.map((r) => r.errors)),
    clientCpuMs: sum(reports.map((r) => r.cpuMs)),
  };
}

async function measure(kind: ScaleKind, replicas: number, total: number): Promise<Row> {
  const load = loadAvg();
  const t = await startTopology(kind, replicas, { replicaNodeArgs: REPLICA_NODE_ARGS });
  try {
    const { connectSec } = await connectClients(t, total, PROCS);
    await sleep(1_000); // snapshots land

    const warm = await phase(t, false, () => t.publisher.call<{ published: number }>('rate', { rate: 20, seconds: WARMUP / 20 }), 30_000);
    if (!warm.complete) throw new Error(`warm-up: ${warm.frames} of ${warm.pub.published * total} frames delivered`);

    const lat = await phase(t, true, () => t.publisher.call<{ published: number; maxLateMs: number }>('rate', { rate: RATE, seconds: SECONDS }, (SECONDS + 90) * 1000), 60_000);
    const sorted = mergeSorted(lat.reports.map((r) => r.latencies));

    const burst = burstFor(total);
    const cap = await phase(t, false, () => t.publisher.call<{ published: number; publishMs: number }>('burst', { count: burst }, 120_000), 300_000);
    const capSec = cap.windowMs / 1000;
    const serverCpuMs = cap.cpu.replicasMs + cap.cpu.redisMs + cap.cpu.publisherMs;
    const status = await Promise.all(t.replicas.map((r) => r.child.call<Record<string, number>>('status')));

    const row: Row = {
      kind,
      replicas,
      clients: total,
      connectSec: round(connectSec, 1),
      p50: round(percentile(sorted, 50), 2),
      p99: round(percentile(sorted, 99), 2),
      max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN, 2),
      deliveredShare: round(lat.frames / (lat.pub.published * total), 4),
      gaps: lat.gaps + cap.gaps + lat.closed + cap.closed,
      deliveredPerSec: Math.round(lat.frames / (lat.pub.published / RATE)),
      capacityPerSec: Math.round(cap.frames / capSec),
      burstComplete: cap.complete,
      replicaCores: round(cap.cpu.replicasMs / cap.windowMs, 2),
      redisCores: round(cap.cpu.redisMs / cap.windowMs, 2),
      clientCores: round(cap.clientCpuMs / cap.windowMs, 2),
      publisherCores: round(cap.cpu.publisherMs / cap.windowMs, 2),
      replicaCpuUsPerMsg: round((cap.cpu.replicasMs * 1000) / Math.max(1, cap.frames), 2),
      replicaCpuUsPerMsgAtRate: round((lat.cpu.replicasMs * 1000) / Math.max(1, lat.frames), 2),
      serverCpuUsPerMsg: round((serverCpuMs * 1000) / Math.max(1, cap.frames), 2),
      clientCpuUsPerMsg: round((cap.clientCpuMs * 1000) / Math.max(1, cap.frames), 2),
      loadAvgStart: load,
    };
    result('scale_out', {
      case: `${label(kind)}_x${replicas}`,
      gatewayCoalesce: kind === 'gateway' ? COALESCE : null,
      ...row,
      rate: RATE,
      seconds: SECONDS,
      burst,
      seqGaps: lat.gaps + cap.gaps,
      closedByServer: lat.closed + cap.closed,
      clientErrors: lat.errors + cap.errors,
      clientProcs: PROCS,
      payloadBytes: t.payloadBytes,
      published: lat.pub.published,
      publishMaxLateMs: round(lat.pub.maxLateMs, 1),
      burstSec: round(capSec, 2),
      conflated: sum(lat.reports.map((r) => r.conflated)) + sum(cap.reports.map((r) => r.conflated)),
      slowConsumerCloses: sum(status.map((s) => s.slowConsumerCloses ?? 0)),
      busGapsUnfilled: sum(status.map((s) => s.busGapsUnfilled ?? 0)),
      parse: process.env.FANOUT_PARSE === 'scan' ? 'scan' : 'full',
      cpus: os.cpus().length,
      node: process.version,
    });
    return row;
  } finally {
    await stopTopology(t);
  }
}

const rows: Row[] = [];
const failures: string[] = [];
const started = performance.now();
for (const total of CLIENTS) {
  for (const replicas of REPLICAS) {
    for (const kind of KINDS) {
      note(`scale-out: ${kind} × ${replicas} replica(s), ${fmt(total)} clients …`);
      try {
        const r = await measure(kind, replicas, total);
        rows.push(r);
        note(`  p99 ${r.p99} ms, delivered ${round(r.deliveredShare * 100, 2)}%, capacity ${fmt(r.capacityPerSec)} msgs/s`);
      } catch (err) {
        failures.push(`${kind} × ${replicas} × ${total}: ${(err as Error).message}`);
        note(`  failed: ${(err as Error).message}`);
      }
    }
  }
}

note(
  `\nscale-out through Redis Streams — ${RATE} msg/s for ${SECONDS} s (latency), then a ${BURST_KNOB ?? 'min(150, 300k/clients)'}-message burst (capacity); ` +
    `${PROCS} client processes; ${process.version}; ${Math.round((performance.now() - started) / 1000)} s`,
);
table(
  ['stack', 'replicas', 'clients', 'connect s', 'p50 ms', 'p99 ms', 'max ms', 'delivered', 'gaps', 'msgs/s @rate', 'capacity msgs/s', 'vs sio', 'replica µs/msg', '@rate', 'srv µs/msg', 'cli µs/msg', 'cores rep/redis/cli'],
  rows.map((r) => {
    const sio = rows.find((x) => x.kind === 'socketio' && x.replicas === r.replicas && x.clients === r.clients);
    return [
      label(r.kind),
      r.replicas,
      r.clients,
      r.connectSec,
      r.p50,
      r.p99,
      r.max,
      `${round(r.deliveredShare * 100, 2)}%`,
      r.gaps,
      r.deliveredPerSec,
      `${fmt(r.capacityPerSec)}${r.burstComplete ? '' : ' (incomplete)'}`,
      sio && r.kind !== 'socketio' ? `${round(r.capacityPerSec / sio.capacityPerSec, 2)}×` : '-',
      r.replicaCpuUsPerMsg,
      r.replicaCpuUsPerMsgAtRate,
      r.serverCpuUsPerMsg,
      r.clientCpuUsPerMsg,
      `${r.replicaCores}/${r.redisCores}/${r.clientCores}`,
    ];
  }),
);

for (const total of CLIENTS) {
  for (const replicas of REPLICAS) {
    const gw = rows.find((r) => r.kind === 'gateway' && r.replicas === replicas && r.clients === total);
    const sio = rows.find((r) => r.kind === 'socketio' && r.replicas === replicas && r.clients === total);
    if (!gw) continue;
    const ratio = sio ? round(gw.capacityPerSec / sio.capacityPerSec, 2) : null;
    // Load-independent view: replica CPU per delivered message (> 1: the gateway is cheaper).
    const cpuRatio = sio ? round(sio.replicaCpuUsPerMsg / gw.replicaCpuUsPerMsg, 2) : null;
    const judged = total >= 5_000;
    result('scale_out', {
      case: 'targets',
      replicas,
      clients: total,
      gatewayVsSocketIo: ratio,
      gatewayVsSocketIoReplicaCpu: cpuRatio,
      ratioTarget: RATIO_TARGET,
      ratioMet: judged && ratio !== null ? ratio >= RATIO_TARGET : null,
      p99: gw.p99,
      p99TargetMs: P99_TARGET_MS,
      p99Met: judged ? gw.p99 <= P99_TARGET_MS : null,
      complete: gw.deliveredShare === 1 && gw.gaps === 0 && gw.burstComplete,
    });
    note(
      `${replicas} replica(s), ${fmt(total)} clients: gateway/Socket.IO capacity ${ratio ?? '-'}×${judged ? ` (target ≥ ${RATIO_TARGET}×)` : ''}, ` +
        `replica CPU efficiency ${cpuRatio ?? '-'}× of Socket.IO; ` +
        `gateway p99 ${gw.p99} ms${judged ? ` (target ≤ ${P99_TARGET_MS} ms)` : ''}`,
    );
  }
}

if (failures.length > 0) {
  note(`\n${failures.length} case(s) failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
