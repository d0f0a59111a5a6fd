/**
 * Pre-forked api workers (node:cluster): the primary forks WEB_CONCURRENCY
 * workers that share the listening port (the primary accepts and hands
 * connections out round-robin), restarts a crashed worker with capped
 * exponential backoff, and on SIGTERM asks every worker to shut down
 * gracefully (WebSockets closed with 1012, in-flight requests finished),
 * killing what is still alive after SHUTDOWN_TIMEOUT_MS.
 *
 * /metrics answered by any worker covers the whole replica: the worker asks
 * the primary, which aggregates every worker's registry (prom-client's
 * AggregatorRegistry).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../observability/logger.ts';

const MSG = { shutdown: 'st:shutdown', metricsReq: 'st:metrics-req', metricsRes: 'st:metrics-res' } as const;
/** Exit codes that mean "restarting will not help" (sysexits: configuration, unavailable dependency). */
export const FATAL_EXIT_CODES: readonly number[] = [78, 69];

/** Restart delay after `consecutive` crashes in a row: base·2^(n-1), capped. */
export function restartDelay(consecutive: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(consecutive - 1, 30)));
}

export interface SupervisorOptions {
  count: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  shutdownTimeoutMs: number;
  restartMaxDelayMs: number;
  /** First restart delay. Default 250 ms. */
  restartBaseDelayMs?: number;
  /** A worker that ran this long before crashing restarts without backoff. Default 30 s. */
  stableAfterMs?: number;
  /** Extra environment for the workers. */
  env?: Record<string, string>;
}

interface Slot {
  index: number;
  worker: Worker | null;
  startedAt: number;
  crashes: number;
  listening: boolean;
  everListened: boolean;
  timer: NodeJS.Timeout | null;
}

export class WorkerSupervisor {
  /** Resolves with the address once every worker listens. */
  readonly listening: Promise<{ address: string; port: number }>;
  /** Resolves with the exit code when the supervisor is done (after shutdown, or a worker that cannot start). */
  readonly done: Promise<number>;
  private resolveListening!: (a: { address: string; port: number }) => void;
  private resolveDone!: (code: number) => void;
  private readonly slots: Slot[];
  private shuttingDown = false;
  private exitCode = 0;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly aggregator = new AggregatorRegistry();
  restarts = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.listening = new Promise((r) => (this.resolveListening = r));
    this.done = new Promise((r) => (this.resolveDone = r));
    this.slots = Array.from({ length: opts.count }, (_, index) => ({ index, worker: null, startedAt: 0, crashes: 0, listening: false, everListened: false, timer: null }));
  }

  start(): this {
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    cluster.on('listening', (worker, address) => this.onListening(worker, address));
    cluster.on('message', (worker, msg: unknown) => this.onMessage(worker, msg));
    for (const slot of this.slots) this.fork(slot);
    return this;
  }

  pids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.process.pid ? [s.worker.process.pid] : []));
  }

  /** Graceful: every worker closes its WebSockets with 1012 and finishes in-flight requests. Resolves with the exit code. */
  shutdown(): Promise<number> {
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      for (const slot of this.slots) {
        if (slot.timer) clearTimeout(slot.timer);
        slot.timer = null;
        const w = slot.worker;
        if (!w) continue;
        if (w.isConnected()) w.send({ type: MSG.shutdown });
        else w.process.kill('SIGTERM');
      }
      this.killTimer = setTimeout(() => {
        this.opts.log.error({ timeoutMs: this.opts.shutdownTimeoutMs }, 'workers did not stop in time; killing them');
        this.exitCode = 1;
        for (const s of this.slots) s.worker?.process.kill('SIGKILL');
      }, this.opts.shutdownTimeoutMs);
      this.checkDone();
    }
    return this.done;
  }

  private fork(slot: Slot): void {
    const w = cluster.fork({ ...this.opts.env, ST_WORKER_INDEX: String(slot.index) });
    slot.worker = w;
    slot.startedAt = Date.now();
    slot.listening = false;
  }

  private slotOf(worker: Worker): Slot | undefined {
    return this.slots.find((s) => s.worker === worker);
  }

  private onListening(worker: Worker, address: { address: string; port: number }): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.listening = true;
    slot.everListened = true;
    if (this.slots.every((s) => s.listening)) this.resolveListening({ address: address.address, port: address.port });
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.worker = null;
    slot.listening = false;
    if (this.shuttingDown) {
      if (code !== 0) this.exitCode = this.exitCode || 1;
      this.checkDone();
      return;
    }
    // A worker that cannot even start (bad configuration, database unreachable) will not start on a retry either.
    if (!slot.everListened && code !== null && FATAL_EXIT_CODES.includes(code)) {
      this.opts.log.error({ worker: slot.index, code }, 'api worker could not start; stopping the replica');
      this.exitCode = code;
      void this.shutdown();
      return;
    }
    const stable = Date.now() - slot.startedAt >= (this.opts.stableAfterMs ?? 30_000);
    slot.crashes = stable ? 1 : slot.crashes + 1;
    const delay = restartDelay(slot.crashes, this.opts.restartBaseDelayMs ?? 250, this.opts.restartMaxDelayMs);
    this.restarts++;
    this.opts.log.warn({ worker: slot.index, pid: worker.process.pid, code, signal, restartInMs: delay, consecutiveCrashes: slot.crashes }, 'api worker died; restarting');
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (!this.shuttingDown) this.fork(slot);
    }, delay);
  }

  private onMessage(worker: Worker, msg: unknown): void {
    const m = msg as { type?: string; id?: number } | null;
    if (m?.type !== MSG.metricsReq) return;
    this.aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: MSG.metricsRes, id: m.id, text }),
      (err: unknown) => worker.isConnected() && worker.send({ type: MSG.metricsRes, id: m.id, error: err instanceof Error ? err.message : String(err) }),
    );
  }

  private checkDone(): void {
    if (!this.shuttingDown || this.slots.some((s) => s.worker !== null)) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = null;
    this.resolveDone(this.exitCode);
  }
}

// ---------------------------------------------------------------- worker side

/** Resolves when the primary asks this worker to shut down (never outside a cluster worker). */
export function shutdownRequested(): Promise<void> {
  return new Promise((resolve) => {
    if (!cluster.isWorker) return;
    const onMessage = (msg: unknown) => {
      if ((msg as { type?: string } | null)?.type !== MSG.shutdown) return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
  });
}

/**
 * The registry of a worker: metrics register on it as usual, but `metrics()`
 * (what /metrics serves) returns the whole replica's, aggregated by the
 * primary; this worker's alone if the primary does not answer.
 */
export class ReplicaRegistry extends Registry {
  private nextId = 0;

  constructor(defaultLabels: Record<string, string>) {
    super();
    this.setDefaultLabels(defaultLabels);
    collectDefaultMetrics({ register: this });
    AggregatorRegistry.setRegistries([this]);
    new AggregatorRegistry(); // installs the worker's answer to the primary's collection requests
  }

  override async metrics(): Promise<string> {
    if (!cluster.isWorker || !process.send) return super.metrics();
    const id = ++this.nextId;
    const reply = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => finish(null), 3_000);
      const onMessage = (msg: unknown) => {
        const m = msg as { type?: string; id?: number; text?: string } | null;
        if (m?.type === MSG.metricsRes && m.id === id) finish(typeof m.text === 'string' ? m.text : null);
      };
      const finish = (v: string | null) => {
        clearTimeout(timer);
        process.off('message', onMessage);
        resolve(v);
      };
      process.on('message', onMessage);
      process.send!({ type: MSG.metricsReq, id });
    });
    return reply ?? super.metrics();
  }
}
