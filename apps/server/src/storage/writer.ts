/**
 * StorageWriter: engine outputs → batched, idempotent inserts.
 *
 * - Bounded: at most `maxBufferedRows` rows wait (queued, in flight, or
 *   coalescing). When full, `offer` refuses (returns false) and the caller
 *   waits on `waitForCapacity()` and offers the same output again:
 *   backpressure, never a silent drop.
 * - Outage-proof: a failed batch is retried, in order, with capped exponential
 *   backoff and jitter until the database answers again. Every insert is
 *   idempotent (primary keys + ON CONFLICT), so a batch that committed but
 *   whose acknowledgement was lost is harmless to retry: nothing accepted is
 *   lost and nothing is stored twice.
 * - Poison rows: a batch the database refuses for its data (SQLSTATE class
 *   22/23) is retried row by row; only the refused rows are dropped, counted
 *   and logged. Malformed outputs are counted and skipped at `offer`.
 * - Samples: foreign flows (per symbol) and index values (per index) are
 *   throttled in event time: per window only the latest state is stored.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { AlertEvent, Bar, ClassifiedTrade, ForeignState, IndexState, SessionSummary, SymbolRef, type EngineOutput } from '@stock-tracker/protocol';
import { isPermanentDbError, type Db } from './db.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { TableSpec } from './sql-batch.ts';
import { alertEventsSpec, barsSpec, foreignSpec, indexSpec, sessionsSpec, tradesSpec, writeRows, writeSymbolRefs, type InsertMode } from './tables.ts';

export const STORED_TABLES = ['symbols', 'trades', 'bars_1m', 'session_summaries', 'foreign_flows', 'index_values', 'alert_events'] as const;
export type StoredTable = (typeof STORED_TABLES)[number];

export interface WriterClock {
  now(): number;
}

export interface StorageWriterOptions {
  /** Rows buffered before `offer` refuses. Default 100,000. */
  maxBufferedRows?: number;
  /** How often a partial batch is written. Default 200 ms. */
  flushIntervalMs?: number;
  /** Rows per transaction. Default 5,000 (see docs/storage.md for the measurement). */
  maxBatchRows?: number;
  registry?: Registry;
  log?: Logger;
  /** Wall clock for lastFlushTs and lag; event times come from the outputs. */
  clock?: WriterClock;
  /** Backoff after a failed batch: min(maxMs, baseMs·2^attempt), jittered to 50–100 %. Defaults 100 ms / 10 s. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Jitter source (tests make it deterministic). */
  random?: () => number;
  /** One stored foreign snapshot per symbol per window of event time. Default 60 s. */
  foreignThrottleMs?: number;
  /** One stored value per index per window of event time. Default 10 s. */
  indexThrottleMs?: number;
  insertMode?: InsertMode;
}

export interface StorageWriterStatus {
  /** Rows accepted and not yet stored (queued + in flight + coalescing samples). */
  buffered: number;
  /** Wall time of the last committed batch. */
  lastFlushTs: number | null;
  /** The last write attempt failed and is being retried. */
  failing: boolean;
  lastError: string | null;
  /** Rows committed per table since start. */
  stored: Record<string, number>;
  /** Outputs skipped as malformed. */
  rejected: number;
  /** Rows the database refused for their data (dropped after isolation). */
  dropped: number;
  /** Times `offer` refused because the buffer was full. */
  backpressure: number;
  retries: number;
}

interface Item {
  table: StoredTable;
  row: unknown;
  /** Wall time accepted, for the lag gauge. */
  at: number;
}

interface PendingSample {
  table: 'foreign_flows' | 'index_values';
  row: ForeignState | IndexState;
  window: number;
}

const checkers: Record<StoredTable, TypeCheck<TSchema>> = {
  symbols: TypeCompiler.Compile(SymbolRef),
  trades: TypeCompiler.Compile(ClassifiedTrade),
  bars_1m: TypeCompiler.Compile(Bar),
  session_summaries: TypeCompiler.Compile(SessionSummary),
  foreign_flows: TypeCompiler.Compile(ForeignState),
  index_values: TypeCompiler.Compile(IndexState),
  alert_events: TypeCompiler.Compile(AlertEvent),
};

const SPECS: Record<Exclude<StoredTable, 'symbols'>, TableSpec<never>> = {
  trades: tradesSpec as TableSpec<never>,
  bars_1m: barsSpec as TableSpec<never>,
  session_summaries: sessionsSpec as TableSpec<never>,
  foreign_flows: foreignSpec as TableSpec<never>,
  index_values: indexSpec as TableSpec<never>,
  alert_events: alertEventsSpec as TableSpec<never>,
};

// timestamptz and Date both accept this range; beyond it toISOString throws.
const MAX_TS = 8.64e15;
const tsOk = (ts: unknown) => typeof ts === 'number' && Number.isFinite(ts) && Math.abs(ts) <= MAX_TS;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Capped exponential backoff with "equal jitter": a delay between 50 % and
 * 100 % of min(maxMs, baseMs·2^attempt). The jitter keeps several writers
 * (API replicas, a restarted collector) from retrying in lockstep; the floor
 * keeps retries from collapsing to zero.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const capped = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return capped * (0.5 + random() * 0.5);
}

export class WriterClosedError extends Error {
  constructor(message = 'storage writer is closed') {
    super(message);
    this.name = 'WriterClosedError';
  }
}

interface Metrics {
  batchRows: Histogram;
  flushSeconds: Histogram;
  retries: Counter;
  failures: Counter<'kind'>;
  backpressure: Counter;
  stored: Counter<'table'>;
  rejected: Counter<'table' | 'reason'>;
}

function registerMetrics(registry: Registry, writer: StorageWriter): Metrics {
  // The newest writer owns the names: a process that rebuilds its writer
  // (tests, restarts in place) must not fail on duplicate registration.
  const names = [
    'storage_buffered_rows',
    'storage_lag_seconds',
    'storage_failing',
    'storage_batch_rows',
    'storage_flush_duration_seconds',
    'storage_flush_retries_total',
    'storage_flush_failures_total',
    'storage_backpressure_total',
    'storage_rows_stored_total',
    'storage_rows_rejected_total',
  ];
  for (const n of names) registry.removeSingleMetric(n);
  const registers = [registry];
  new Gauge({
    name: 'storage_buffered_rows',
    help: 'Rows accepted by the storage writer and not yet stored',
    registers,
    collect() {
      this.set(writer.status().buffered);
    },
  });
  new Gauge({
    name: 'storage_lag_seconds',
    help: 'Age of the oldest row waiting to be stored (0 when none)',
    registers,
    collect() {
      this.set(writer.lagMs() / 1000);
    },
  });
  new Gauge({
    name: 'storage_failing',
    help: '1 while database writes are failing and being retried',
    registers,
    collect() {
      this.set(writer.status().failing ? 1 : 0);
    },
  });
  return {
    batchRows: new Histogram({ name: 'storage_batch_rows', help: 'Rows per committed batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000], registers }),
    flushSeconds: new Histogram({
      name: 'storage_flush_duration_seconds',
      help: 'Time to write one batch (successful attempts)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    retries: new Counter({ name: 'storage_flush_retries_total', help: 'Batch writes retried after a transient failure', registers }),
    failures: new Counter({ name: 'storage_flush_failures_total', help: 'Failed batch write attempts', labelNames: ['kind'] as const, registers }),
    backpressure: new Counter({ name: 'storage_backpressure_total', help: 'Outputs refused because the writer buffer was full (the caller waits)', registers }),
    stored: new Counter({ name: 'storage_rows_stored_total', help: 'Rows committed, by table', labelNames: ['table'] as const, registers }),
    rejected: new Counter({
      name: 'storage_rows_rejected_total',
      help: 'Rows not stored: malformed at offer, or refused by the database for their data',
      labelNames: ['table', 'reason'] as const,
      registers,
    }),
  };
}

export class StorageWriter {
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private readonly log: Logger;
  private readonly clock: WriterClock;
  private readonly random: () => number;
  private readonly retryBase: number;
  private readonly retryMax: number;
  private readonly throttle: Record<PendingSample['table'], number>;
  private readonly insertMode: InsertMode;
  private readonly metrics: Metrics;
  private readonly timer: NodeJS.Timeout;

  private queue: Item[] = [];
  private head = 0;
  private inflight: Item[] = [];
  private readonly pending = new Map<string, PendingSample>();
  private maxEventTs = -Infinity;

  /** Items ever enqueued / finished (stored or dropped), in FIFO order. */
  private acceptedSeq = 0;
  private doneSeq = 0;
  private flushWaiters: { target: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private capacityWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  private draining: Promise<void> | null = null;
  private closed = false;
  /** Set by close() on timeout: stop retrying, report what is left. */
  private abandoned = false;
  private wake: (() => void) | null = null;

  private lastFlushTs: number | null = null;
  private failing = false;
  private lastError: string | null = null;
  private readonly stored: Record<string, number> = Object.fromEntries(STORED_TABLES.map((t) => [t, 0]));
  private rejected = 0;
  private dropped = 0;
  private backpressureCount = 0;
  private retryCount = 0;
  private readonly warnedMalformed = new Set<string>();

  constructor(
    private readonly db: Db,
    opts: StorageWriterOptions = {},
  ) {
    this.maxBuffered = Math.max(1, opts.maxBufferedRows ?? 100_000);
    this.maxBatch = Math.max(1, Math.min(opts.maxBatchRows ?? 5_000, this.maxBuffered));
    this.log = opts.log ?? silentLogger;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.random = opts.random ?? Math.random;
    this.retryBase = opts.retry?.baseMs ?? 100;
    this.retryMax = opts.retry?.maxMs ?? 10_000;
    this.throttle = { foreign_flows: opts.foreignThrottleMs ?? 60_000, index_values: opts.indexThrottleMs ?? 10_000 };
    this.insertMode = opts.insertMode ?? 'auto';
    this.metrics = registerMetrics(opts.registry ?? new Registry(), this);
    this.timer = setInterval(() => this.tick(), Math.max(1, opts.flushIntervalMs ?? 200));
    this.timer.unref();
  }

  /**
   * Accepts an engine output for storage. Outputs that are not stored (quotes,
   * open bars, foreign_top) and malformed ones (counted) return true. Returns
   * false when the buffer is full: the output was NOT accepted; wait for
   * `waitForCapacity()` and offer it again.
   */
  offer(out: EngineOutput): boolean {
    if (this.closed) return false;
    const item = this.toRow(out);
    if (!item) return true;
    const { table, row } = item;
    if (!checkers[table].Check(row) || !this.extraChecks(table, row)) {
      this.reject(table);
      return true;
    }
    const ts = (row as { ts?: unknown }).ts;
    if (typeof ts === 'number' && ts > this.maxEventTs) this.maxEventTs = ts;
    if (table === 'foreign_flows' || table === 'index_values') return this.offerSample(table, row as ForeignState | IndexState);
    if (this.size() >= this.maxBuffered) return this.refuse();
    this.enqueue(table, row);
    if (this.queueLength() >= this.maxBatch) this.kick();
    return true;
  }

  /** Resolves once `offer` can accept again. Rejects after close(). */
  waitForCapacity(): Promise<void> {
    if (this.closed) return Promise.reject(new WriterClosedError());
    if (this.size() < this.maxBuffered) return Promise.resolve();
    // Coalescing samples only leave on window ends; a blocked producer moves no
    // event time, so push them out now or a full buffer of samples never drains.
    this.releasePending(() => true);
    this.kick();
    return new Promise((resolve, reject) => this.capacityWaiters.push({ resolve, reject }));
  }

  /** Resolves when everything accepted so far (including coalescing samples) is stored. */
  flush(): Promise<void> {
    this.releasePending(() => true);
    const target = this.acceptedSeq;
    if (this.doneSeq >= target) return Promise.resolve();
    if (this.abandoned) return Promise.reject(new WriterClosedError(`storage writer closed with ${this.size()} rows unsaved`));
    this.kick();
    return new Promise((resolve, reject) => this.flushWaiters.push({ target, resolve, reject }));
  }

  /**
   * Flushes, then stops. With `timeoutMs`, gives up retrying after that long
   * (the database is still down): the unsaved rows are logged and the returned
   * promise rejects. Without it, waits for the database as long as it takes.
   */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed && !this.draining) return;
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => this.abandon(), opts.timeoutMs);
      timer.unref();
    }
    try {
      await this.flush();
    } finally {
      clearTimeout(timer);
      this.closed = true;
      clearInterval(this.timer);
      for (const w of this.capacityWaiters.splice(0)) w.reject(new WriterClosedError());
    }
  }

  status(): StorageWriterStatus {
    return {
      buffered: this.size(),
      lastFlushTs: this.lastFlushTs,
      failing: this.failing,
      lastError: this.lastError,
      stored: { ...this.stored },
      rejected: this.rejected,
      dropped: this.dropped,
      backpressure: this.backpressureCount,
      retries: this.retryCount,
    };
  }

  /** Wall-clock age of the oldest row not yet stored (0 when none; samples still coalescing are not counted). */
  lagMs(): number {
    const oldest = this.inflight[0] ?? this.queue[this.head];
    return oldest ? Math.max(0, this.clock.now() - oldest.at) : 0;
  }

  // --- intake -----------------------------------------------------------------

  private toRow(out: EngineOutput): { table: StoredTable; row: unknown } | null {
    switch (out.type) {
      case 'trade':
        return { table: 'trades', row: out.trade };
      case 'bar':
        // Open bars change every trade; only the final state of a closed 1m bar is history.
        return out.bar?.closed && out.bar.interval === '1m' ? { table: 'bars_1m', row: out.bar } : null;
      case 'session':
        return { table: 'session_summaries', row: out.summary };
      case 'foreign':
        return { table: 'foreign_flows', row: out.state };
      case 'index':
        return { table: 'index_values', row: out.state };
      case 'alert':
        return { table: 'alert_events', row: out.alert };
      case 'reference':
        return { table: 'symbols', row: out.ref };
      default:
        return null;
    }
  }

  private extraChecks(table: StoredTable, row: unknown): boolean {
    if (table === 'symbols' || table === 'session_summaries') {
      const d = (row as { tradingDate: string }).tradingDate;
      return DATE_RE.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`));
    }
    if (!tsOk((row as { ts: unknown }).ts)) return false;
    if (table === 'trades') return (row as ClassifiedTrade).id.length > 0 && (row as ClassifiedTrade).id.length <= 64;
    return true;
  }

  private reject(table: StoredTable): void {
    this.rejected++;
    this.metrics.rejected.inc({ table, reason: 'malformed' });
    if (!this.warnedMalformed.has(table)) {
      this.warnedMalformed.add(table);
      this.log.warn({ table }, 'malformed engine output skipped by the storage writer (logged once per table; see storage_rows_rejected_total)');
    }
  }

  private refuse(): false {
    this.backpressureCount++;
    this.metrics.backpressure.inc();
    return false;
  }

  private offerSample(table: PendingSample['table'], row: ForeignState | IndexState): boolean {
    const key = `${table}\u0000${'symbol' in row ? row.symbol : row.id}`;
    const window = Math.floor(row.ts / this.throttle[table]);
    const p = this.pending.get(key);
    if (p && p.window === window) {
      // Same window: replace, the buffer does not grow.
      if (row.ts >= (p.row as { ts: number }).ts) p.row = row;
      return true;
    }
    if (p && window < p.window) return true; // an older window already superseded: nothing new to keep
    if (this.size() >= this.maxBuffered) return this.refuse();
    if (p) this.enqueue(p.table, p.row); // its window is over: its last state is the sample
    this.pending.set(key, { table, row, window });
    return true;
  }

  private releasePending(due: (p: PendingSample) => boolean): void {
    for (const [key, p] of this.pending) {
      if (!due(p)) continue;
      this.pending.delete(key);
      this.enqueue(p.table, p.row);
    }
  }

  private enqueue(table: StoredTable, row: unknown): void {
    this.queue.push({ table, row, at: this.clock.now() });
    this.acceptedSeq++;
  }

  private size(): number {
    return this.queueLength() + this.inflight.length + this.pending.size;
  }

  private queueLength(): number {
    return this.queue.length - this.head;
  }

  private tick(): void {
    if (this.pending.size) {
      const now = this.maxEventTs;
      this.releasePending((p) => Math.floor(now / this.throttle[p.table]) > p.window);
    }
    if (this.queueLength() > 0) this.kick();
  }

  // --- draining ---------------------------------------------------------------

  private kick(): void {
    if (this.draining || this.abandoned) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.queueLength() > 0 && !this.abandoned) {
      const end = Math.min(this.queue.length, this.head + this.maxBatch);
      this.inflight = this.queue.slice(this.head, end);
      this.head = end;
      if (this.head > 65_536 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const done = await this.writeWithRetry(this.inflight);
      if (!done) return; // abandoned: keep the batch counted as unsaved
      this.doneSeq += this.inflight.length;
      this.inflight = [];
      this.notify();
    }
  }

  private notify(): void {
    if (this.flushWaiters.length) {
      const still: typeof this.flushWaiters = [];
      for (const w of this.flushWaiters) (this.doneSeq >= w.target ? w.resolve() : still.push(w));
      this.flushWaiters = still;
    }
    if (this.capacityWaiters.length && this.size() < this.maxBuffered) {
      for (const w of this.capacityWaiters.splice(0)) w.resolve();
    }
  }

  /** Writes a batch until it is stored (true) or the writer is abandoned (false). */
  private async writeWithRetry(batch: Item[]): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.abandoned) return false;
      const started = performance.now();
      try {
        const counts = await this.db.transaction((tx) => this.writeBatch(tx, batch));
        this.metrics.flushSeconds.observe((performance.now() - started) / 1000);
        this.metrics.batchRows.observe(batch.length);
        for (const [table, n] of Object.entries(counts)) {
          this.stored[table] = (this.stored[table] ?? 0) + n;
          this.metrics.stored.inc({ table }, n);
        }
        this.lastFlushTs = this.clock.now();
        if (this.failing) this.log.info({ attempts: attempt + 1 }, 'storage writes recovered');
        this.failing = false;
        return true;
      } catch (err) {
        const message = err instanceof Error ? err.message || (err as NodeJS.ErrnoException).code || err.name : String(err);
        this.lastError = message;
        if (isPermanentDbError(err)) {
          this.metrics.failures.inc({ kind: 'permanent' });
          if (batch.length === 1) {
            const item = batch[0]!;
            this.dropped++;
            this.metrics.rejected.inc({ table: item.table, reason: 'refused' });
            this.log.error({ table: item.table, row: item.row, err: message }, 'database refused a row; dropped');
            return true;
          }
          // Isolate the refused rows; the rest still go in, in order.
          for (const item of batch) if (!(await this.writeWithRetry([item]))) return false;
          return true;
        }
        this.metrics.failures.inc({ kind: 'transient' });
        if (!this.failing) this.log.warn({ err: message, buffered: this.size() }, 'storage write failed; retrying with backoff');
        this.failing = true;
        this.retryCount++;
        this.metrics.retries.inc();
        await this.sleep(this.backoff(attempt));
      }
    }
  }

  private async writeBatch(tx: Db, batch: Item[]): Promise<Record<string, number>> {
    const groups = new Map<StoredTable, unknown[]>();
    for (const item of batch) {
      let g = groups.get(item.table);
      if (!g) groups.set(item.table, (g = []));
      g.push(item.row);
    }
    const counts: Record<string, number> = {};
    // Reference data first: readers joining on symbols then see consistent rows.
    for (const table of STORED_TABLES) {
      const rows = groups.get(table);
      if (!rows) continue;
      counts[table] =
        table === 'symbols' ? await writeSymbolRefs(tx, rows as SymbolRef[]) : await writeRows(tx, SPECS[table], rows as never[], this.insertMode);
    }
    return counts;
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, this.retryBase, this.retryMax, this.random);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private abandon(): void {
    this.abandoned = true;
    this.wake?.();
    const unsaved = this.size();
    this.log.error({ unsaved, lastError: this.lastError }, 'storage writer closed before the database came back; rows not stored');
    for (const w of this.flushWaiters.splice(0)) w.reject(new WriterClosedError(`storage writer closed with ${unsaved} rows unsaved`));
  }
}
