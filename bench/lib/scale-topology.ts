/**
 * Parent side of the scale-out benchmarks: one loopback deployment per case
 * — a private Redis, one publisher, R replicas and P client processes
 * (bench/lib/fanout-clients.ts, shared with the single-process fan-out
 * benchmark) — plus the bookkeeping both benches need: spreading clients over
 * replicas and reading every process' CPU time.
 *
 * Every process here shares the machine's cores: the clients' CPU time and
 * Redis' are measured next to the replicas' so a result can say who used them.
 */
import path from 'node:path';
import os from 'node:os';
import { BENCH_DIR, startChild, type Child } from './child.ts';
import { startRedis, type PrivateRedis } from './scale-redis.ts';
import type { ScaleKind } from './scale-kinds.ts';

export interface Replica {
  child: Child;
  port: number;
  url: string;
}

export interface Topology {
  kind: ScaleKind;
  redis: PrivateRedis;
  publisher: Child;
  replicas: Replica[];
  clients: Child[];
  /** Bytes of one quote's JSON (the payload inside every frame). */
  payloadBytes: number;
}

export interface CpuSample {
  replicasMs: number;
  publisherMs: number;
  redisMs: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Starts Redis, the publisher and the replicas (in parallel where they do not depend on each other). */
export async function startTopology(kind: ScaleKind, replicas: number, opts: { replicaNodeArgs?: string[] } = {}): Promise<Topology> {
  const redis = await startRedis();
  const env = { SCALE_REDIS_URL: redis.url };
  const started: Child[] = [];
  try {
    const publisher = startChild(`scale-publisher(${kind})`, path.join(BENCH_DIR, 'lib/scale-publisher.ts'), { args: [kind], env });
    started.push(publisher);
    // The gateway's publisher seeds the board first, so replicas and their snapshots find every symbol.
    const ready = await publisher.once<{ frameBytes: number }>('ready', 60_000);
    const reps = Array.from({ length: replicas }, (_, i) => {
      const child = startChild(`scale-replica(${kind} #${i})`, path.join(BENCH_DIR, 'lib/scale-replica.ts'), {
        args: [kind],
        env,
        nodeArgs: ['--expose-gc', ...(opts.replicaNodeArgs ?? [])],
      });
      started.push(child);
      return child;
    });
    const replicaList = await Promise.all(
      reps.map(async (child) => {
        const { port } = await child.once<{ port: number }>('ready', 60_000);
        return { child, port, url: kind === 'socketio' ? `http://127.0.0.1:${port}` : `ws://127.0.0.1:${port}` };
      }),
    );
    return { kind, redis, publisher, replicas: replicaList, clients: [], payloadBytes: ready.frameBytes };
  } catch (err) {
    await Promise.all(started.map((c) => c.stop()));
    await redis.stop();
    throw err;
  }
}

/**
 * Starts `procs` more client processes and opens `total` more connections,
 * spread evenly over processes and, within each process, over replicas (as a
 * load balancer would). Throws unless every replica gains exactly its share.
 */
export async function connectClients(t: Topology, total: number, procs: number): Promise<{ connectSec: number }> {
  const before = await Promise.all(t.replicas.map((r) => r.child.call<{ connections: number }>('status')));
  const fresh = Array.from({ length: procs }, (_, i) => startChild(`scale-clients(${t.kind} #${t.clients.length + i})`, path.join(BENCH_DIR, 'lib/fanout-clients.ts')));
  t.clients.push(...fresh);
  const R = t.replicas.length;
  const perReplica = new Array<number>(R).fill(0);
  const plan = fresh.map((_, i) => {
    const mine = Math.floor(total / procs) + (i < total % procs ? 1 : 0);
    return t.replicas.map((_r, j) => {
      const n = Math.floor(mine / R) + (j < mine % R ? 1 : 0);
      perReplica[j]! += n;
      return n;
    });
  });
  const t0 = performance.now();
  await Promise.all(
    fresh.map(async (p, i) => {
      for (const [j, r] of t.replicas.entries()) {
        const count = plan[i]![j]!;
        if (count === 0) continue;
        const res = await p.call<{ failed: number }>('connect', { kind: t.kind, url: r.url, count }, 600_000);
        if (res.failed > 0) throw new Error(`${p.name}: ${res.failed} of ${count} connections to replica #${j} failed`);
      }
    }),
  );
  const connectSec = (performance.now() - t0) / 1000;
  const seen = await Promise.all(t.replicas.map((r) => r.child.call<{ connections: number }>('status')));
  seen.forEach((s, j) => {
    const expected = before[j]!.connections + perReplica[j]!;
    if (s.connections !== expected) throw new Error(`replica #${j} has ${s.connections} connections, expected ${expected}`);
  });
  return { connectSec };
}

export async function cpuSample(t: Topology): Promise<CpuSample> {
  const [reps, pub, redisMs] = await Promise.all([
    Promise.all(t.replicas.map((r) => r.child.call<{ cpuMs: number }>('status'))),
    t.publisher.call<{ cpuMs: number }>('status'),
    t.redis.cpuMs(),
  ]);
  return { replicasMs: sum(reps.map((r) => r.cpuMs)), publisherMs: pub.cpuMs, redisMs };
}

export const cpuDelta = (a: CpuSample, b: CpuSample): CpuSample => ({
  replicasMs: b.replicasMs - a.replicasMs,
  publisherMs: b.publisherMs - a.publisherMs,
  redisMs: b.redisMs - a.redisMs,
});

export async function stopTopology(t: Topology): Promise<void> {
  await Promise.all(t.clients.map((c) => c.stop()));
  await Promise.all(t.replicas.map((r) => r.child.stop()));
  await t.publisher.stop();
  await t.redis.stop();
}

/** 1-minute load average: other work on a shared machine shows up here. */
export const loadAvg = (): number => Math.round(os.loadavg()[0]! * 100) / 100;
