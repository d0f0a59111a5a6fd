/**
 * StorageWriter: engine outputs → batched, idempotent inserts.
 *
 * - Bounded: at most `maxBufferedRows` rows wait in memory (queued, in
 *   flight, or coalescing). Without a spill, a full buffer refuses `offer`
 *   (returns false): the caller waits on `waitForCapacity()` and offers the
 *   same output again — backpressure, never a silent drop.
 * - Spill (storage/spill.ts): with a SpillStore, rows past the in-memory
 *   high-water mark go to a durable append-only file instead, and so does
 *   every later row until the file is drained (FIFO order is what keeps the
 *   upserts of bars and sessions right). `offer` then refuses only when the
 *   spill is full (or unwritable): a database outage longer than the buffer
 *   no longer stops the producer, so live data keeps flowing. After the
 *   outage the writer drains memory, then the spill, then returns to memory.
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
import { SpillFullError, SpillStore } from './spill.ts';
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
  /**
   * Durable overflow past the in-memory buffer (see `openSpill`). The writer
   * owns it from here: drains what an earlier process left, closes it on close().
   */
  spill?: SpillStore | null;
}

export interface SpillStatus {
  /** `off`: no spill; `ok`; `full`: at its byte cap, offers refused; `failed`: the last append failed (retried). */
  state: 'off' | 'ok' | 'full' | 'failed';
  /** New rows go to the spill (it holds rows, or the memory buffer passed its high-water mark). */
  active: boolean;
  rows: number;
  bytes: number;
  maxBytes: number;
  /** Rows appended to the spill by this writer / drained from it into the database (this process). */
  spilledRows: number;
  drainedRows: number;
  /** Rows an earlier process left in the spill, found at start. */
  inheritedRows: number;
  /** Offers refused because the spill was full or failing. */
  refused: number;
  corruptRecords: number;
  lastError: string | null;
}

export interface StorageWriterStatus {
  /** Rows accepted and not yet stored, held in memory (queued + in flight + coalescing samples + waiting to be spilled). */
  buffered: number;
  /** Of `buffered`, throttled samples still coalescing: one per symbol / index at most. */
  coalescing: number;
  /** The in-memory bound: `buffered - coalescing` never exceeds it. */
  maxBuffered: number;
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
  spill: SpillStatus;
}

interface Item {
  table: StoredTable;
  row: unknown;
  /** Wall time accepted, for the lag gauge. */
  at: number;
}

/** A row waiting to be appended to the spill, already serialised. */
interface Staged {
  item: Item;
  json: string;
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
  spilled: Counter;
  drained: Counter;
  spillRefused: Counter;
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
    'storage_spill_rows',
    'storage_spill_bytes',
    'storage_spill_max_bytes',
    'storage_spill_active',
    'storage_spill_state',
    'storage_spill_rows_written_total',
    'storage_spill_rows_drained_total',
    'storage_spill_refused_total',
    'storage_coalescing_rows',
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
  const spillGauge = (name: string, help: string, read: (s: SpillStatus) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(writer.status().spill));
      },
    });
  new Gauge({
    name: 'storage_coalescing_rows',
    help: 'Of storage_buffered_rows, throttled samples still coalescing (at most one per symbol / index)',
    registers,
    collect() {
      this.set(writer.status().coalescing);
    },
  });
  spillGauge('storage_spill_rows', 'Rows in the local spill file, waiting to be stored', (s) => s.rows);
  spillGauge('storage_spill_bytes', 'Bytes of the local spill file on disk', (s) => s.bytes);
  spillGauge('storage_spill_max_bytes', 'Byte cap of the local spill (0: no spill)', (s) => s.maxBytes);
  spillGauge('storage_spill_active', '1 while new rows go to the spill (outage longer than the buffer, or draining)', (s) => (s.active ? 1 : 0));
  new Gauge({
    name: 'storage_spill_state',
    help: '1 for the current spill state (off, ok, full: rows refused, failed: appends failing)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const st = writer.status().spill.state;
      for (const s of ['off', 'ok', 'full', 'failed'] as const) this.set({ state: s }, s === st ? 1 : 0);
    },
  });
  return {
    spilled: new Counter({ name: 'storage_spill_rows_written_total', help: 'Rows appended (fsynced) to the local spill', registers }),
    drained: new Counter({ name: 'storage_spill_rows_drained_total', help: 'Rows drained from the local spill into the database', registers }),
    spillRefused: new Counter({ name: 'storage_spill_refused_total', help: 'Rows refused because the spill was full or failing (the collector then pauses or drops, see docs/storage.md)', registers }),
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
  private readonly flushMs: number;

  private queue: Item[] = [];
  private head = 0;
  private inflight: Item[] = [];
  /** The batch in flight came from the spill (it stays there until committed). */
  private inflightFromSpill = false;
  private readonly pending = new Map<string, PendingSample>();
  private maxEventTs = -Infinity;

  // --- spill (see the header) ---
  private readonly spill: SpillStore | null;
  /** With a spill, memory stops taking rows here; the rest of maxBuffered is for rows on their way to disk. */
  private readonly highWater: number;
  /** Staged rows that start an append at once (fewer wait for the flush timer). */
  private readonly spillBatch: number;
  private spilling = false;
  private spillState: SpillStatus['state'];
  private stage: Staged[] = [];
  private stageBytes = 0;
  private appending: Promise<void> | null = null;
  private appendingRows = 0;
  private appendingBytes = 0;
  private spillRetryAt = 0;
  private spillHeadAt: number | null = null;
  /**
   * The drain caught up with the spill: new rows stay staged in memory instead of being appended, so the last append
   * is the last one and the writer can return to memory (otherwise a steady inflow keeps the drain chasing appends).
   * Cleared when a write fails again: the spill is needed once more.
   */
  private windingDown = false;
  private spillEpisodes = 0;
  private spillLoggedAt = -Infinity;
  private drainLoggedAt = -Infinity;
  private spilledRows = 0;
  private drainedRows = 0;
  private inheritedRows = 0;
  private spillRefused = 0;
  private spillError: string | null = null;
  private parking: Promise<void> | null = null;
  /** Rows put in the spill at close because the database stayed down (null: not parked). */
  private parkedRows: number | null = null;

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
    this.spill = opts.spill ?? null;
    this.spillState = this.spill ? 'ok' : 'off';
    // Between the high-water mark and the bound: rows on their way to disk. Appends are group commits (everything
    // staged while the previous fdatasync ran goes in the next one), so a slow disk costs fsyncs, not refusals.
    const reserve = Math.max(1, Math.min(this.maxBatch, Math.floor(this.maxBuffered / 2)));
    this.highWater = this.spill ? Math.max(1, this.maxBuffered - reserve) : this.maxBuffered;
    this.spillBatch = Math.max(1, Math.floor(reserve / 2));
    if (this.spill && this.spill.rows > 0) {
      // An earlier process left rows: they are older than anything offered now, so new rows queue behind them.
      this.inheritedRows = this.spill.rows;
      this.acceptedSeq = this.inheritedRows;
      this.spilling = true;
      this.log.warn({ rows: this.inheritedRows, bytes: this.spill.bytes, dir: this.spill.dir }, 'storage spill holds rows from an earlier run; draining them first');
    }
    this.metrics = registerMetrics(opts.registry ?? new Registry(), this);
    this.flushMs = Math.max(1, opts.flushIntervalMs ?? 200);
    this.timer = setInterval(() => this.tick(), this.flushMs);
    this.timer.unref();
    if (this.spilling) this.kick();
  }

  /**
   * Accepts an engine output for storage. Outputs that are not stored (quotes,
   * open bars, foreign_top) and malformed ones (counted) return true. Returns
   * false when there is no room (memory full without a spill; the spill full
   * or failing): the output was NOT accepted; wait for `waitForCapacity()` and
   * offer it again.
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
    return this.place(table, row, false) || this.refuse();
  }

  /** Whether `offer` would store this output at all (quotes, open bars, foreign_top are live state only). */
  stores(out: EngineOutput): boolean {
    return this.toRow(out) !== null;
  }

  /** Resolves once `offer` can accept again. Rejects after close(). */
  waitForCapacity(): Promise<void> {
    if (this.closed) return Promise.reject(new WriterClosedError());
    if (this.hasRoom()) return Promise.resolve();
    // Coalescing samples only leave on window ends; a blocked producer moves no
    // event time, so push them out now or a full buffer of samples never drains.
    this.releasePending(() => true);
    this.flushStage();
    this.kick();
    return new Promise((resolve, reject) => this.capacityWaiters.push({ resolve, reject }));
  }

  /** Resolves when everything accepted so far (including coalescing samples and the spill) is stored. */
  flush(): Promise<void> {
    this.releasePending(() => true);
    this.flushStage();
    const target = this.acceptedSeq;
    if (this.doneSeq >= target) return Promise.resolve();
    if (this.abandoned) return Promise.reject(new WriterClosedError(`storage writer closed with ${this.unsaved()} rows unsaved`));
    this.kick();
    return new Promise((resolve, reject) => this.flushWaiters.push({ target, resolve, reject }));
  }

  /**
   * Flushes, then stops. With `timeoutMs`, gives up retrying after that long
   * (the database is still down). With a spill, what is still in memory is
   * then parked in the spill (durably) for the next start, and close()
   * resolves; without one the unsaved rows are logged and the promise rejects.
   * Without a timeout it waits for the database as long as it takes.
   */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed && !this.draining && !this.parking) return;
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => this.abandon(), opts.timeoutMs);
      timer.unref();
    }
    try {
      await this.flush();
    } catch (err) {
      // Parked in the spill: durable, stored at the next start — not a loss.
      if (this.parking) await this.parking;
      if (this.parkedRows === null) throw err;
    } finally {
      clearTimeout(timer);
      this.closed = true;
      clearInterval(this.timer);
      for (const w of this.capacityWaiters.splice(0)) w.reject(new WriterClosedError());
      if (this.parking) await this.parking;
      // The drain's last step deletes the emptied spill file; let it finish before the store closes.
      else await this.draining;
      await this.appending?.catch(() => {});
      await this.spill?.close().catch((err: unknown) => this.log.warn({ err }, 'storage spill: close failed'));
    }
  }

  status(): StorageWriterStatus {
    return {
      buffered: this.ramRows(),
      coalescing: this.pending.size,
      maxBuffered: this.maxBuffered,
      lastFlushTs: this.lastFlushTs,
      failing: this.failing,
      lastError: this.lastError,
      stored: { ...this.stored },
      rejected: this.rejected,
      dropped: this.dropped,
      backpressure: this.backpressureCount,
      retries: this.retryCount,
      spill: this.spillStatus(),
    };
  }

  /** Wall-clock age of the oldest row not yet stored (0 when none; samples still coalescing are not counted). */
  lagMs(): number {
    const oldest = this.inflight[0]?.at ?? this.queue[this.head]?.at ?? (this.spilling ? (this.spillHeadAt ?? this.stage[0]?.item.at) : undefined);
    return oldest !== undefined ? Math.max(0, this.clock.now() - oldest) : 0;
  }

  private spillStatus(): SpillStatus {
    const st = this.spill?.stats();
    return {
      state: this.spillState,
      active: this.spilling,
      rows: st?.rows ?? 0,
      bytes: st?.bytes ?? 0,
      maxBytes: st?.maxBytes ?? 0,
      spilledRows: this.spilledRows,
      drainedRows: this.drainedRows,
      inheritedRows: this.inheritedRows,
      refused: this.spillRefused,
      corruptRecords: st?.corrupt ?? 0,
      lastError: this.spillError,
    };
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

  private validRow(table: StoredTable, row: unknown): boolean {
    return checkers[table].Check(row) && this.extraChecks(table, row);
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

  private reject(table: StoredTable, reason = 'malformed'): void {
    this.rejected++;
    this.metrics.rejected.inc({ table, reason });
    if (!this.warnedMalformed.has(`${table}\u0000${reason}`)) {
      this.warnedMalformed.add(`${table}\u0000${reason}`);
      this.log.warn({ table, reason }, 'malformed engine output skipped by the storage writer (logged once per table; see storage_rows_rejected_total)');
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
    if (!this.hasRoom()) return this.refuse();
    if (p) this.place(p.table, p.row, true); // its window is over: its last state is the sample
    this.pending.set(key, { table, row, window });
    return true;
  }

  private releasePending(due: (p: PendingSample) => boolean): void {
    for (const [key, p] of this.pending) {
      if (!due(p)) continue;
      this.pending.delete(key);
      // Already counted in the buffer as a coalescing sample: placing it never fails.
      this.place(p.table, p.row, true);
    }
  }

  /** Whether `place` would accept one more row now. */
  private hasRoom(): boolean {
    if (!this.spilling && this.size() < this.highWater) return true;
    if (!this.spill) return this.size() < this.maxBuffered;
    return this.spillState !== 'failed' && this.ramRows() < this.maxBuffered && this.spill.fits(this.spilledBytesPending() + 256);
  }

  /**
   * Puts an accepted row in memory, or — past the high-water mark, and for as
   * long as the spill holds rows — on its way to the spill. False: no room
   * (the caller refuses the output). `force` (a row already counted, e.g. a
   * released sample) is never refused: it may overshoot the spill batch.
   */
  private place(table: StoredTable, row: unknown, force: boolean): boolean {
    if (!this.spilling) {
      if (this.size() < this.highWater || (this.size() < this.maxBuffered && !this.spill) || (force && (!this.spill || this.spillState === 'failed'))) {
        this.enqueue(table, row);
        if (this.queueLength() >= this.maxBatch) this.kick();
        return true;
      }
      if (!this.spill || this.spillState === 'failed') return false;
      this.spilling = true;
      this.spillEpisodes++;
      // A database that is merely slow can cross the mark often: one line per minute, with the count.
      if (this.clock.now() - this.spillLoggedAt >= 60_000) {
        this.spillLoggedAt = this.clock.now();
        this.log.warn(
          { buffered: this.size(), spillDir: this.spill.dir, maxBytes: this.spill.maxBytes, episodes: this.spillEpisodes, lastError: this.lastError },
          'storage buffer at its high-water mark: new rows go to the spill file until the database catches up',
        );
      }
    }
    if (!force && this.ramRows() >= this.maxBuffered) {
      this.flushStage();
      return this.spillRefuse('the disk is slower than the rows arriving (the previous spill append is still being written)');
    }
    const json = JSON.stringify([table, row]);
    if (!force && !this.spill!.fits(this.spilledBytesPending() + json.length + 64)) {
      if (this.spillState === 'ok') {
        this.spillState = 'full';
        this.log.error(
          { bytes: this.spill!.bytes, maxBytes: this.spill!.maxBytes, rows: this.spill!.rows },
          'storage spill full: new rows are refused until the database drains it (see storage_spill_refused_total)',
        );
      }
      return this.spillRefuse(null);
    }
    if (this.spillState === 'full') {
      this.spillState = 'ok';
      this.log.info({ bytes: this.spill!.bytes }, 'storage spill has room again');
    }
    this.stage.push({ item: { table, row, at: this.clock.now() }, json });
    this.stageBytes += json.length + 1;
    this.acceptedSeq++;
    if (this.stage.length >= this.spillBatch) this.flushStage();
    return true;
  }

  private spillRefuse(why: string | null): false {
    this.spillRefused++;
    this.metrics.spillRefused.inc();
    if (why) this.spillError = why;
    return false;
  }

  /** Bytes accepted for the spill but not appended yet (staged or being appended), with the line overhead. */
  private spilledBytesPending(): number {
    return this.stageBytes + this.appendingBytes + 64;
  }

  /** Appends what is staged as one batch (one write + fdatasync); failures keep the rows staged and retry. */
  private flushStage(): void {
    if (!this.spill || this.appending || this.stage.length === 0 || this.parking || this.windingDown) return;
    if (this.spillState === 'failed' && this.clock.now() < this.spillRetryAt) return;
    const batch = this.stage;
    this.stage = [];
    this.stageBytes = 0;
    const line = this.encodeLines(
      batch.map((b) => b.json),
      this.clock.now(),
    );
    this.appendingRows = batch.length;
    this.appendingBytes = line.length;
    const spill = this.spill;
    this.appending = spill
      .append(line, batch.length)
      .then(
        () => {
          this.spilledRows += batch.length;
          this.metrics.spilled.inc(batch.length);
          if (this.spillState === 'failed') this.log.info({ rows: batch.length }, 'storage spill appends recovered');
          this.spillState = 'ok';
          this.spillError = null;
        },
        (err: unknown) => {
          // Not appended: the rows stay (in front of whatever was staged since) and the append is retried.
          this.stage = batch.concat(this.stage);
          this.stageBytes = this.stage.reduce((n, s) => n + s.json.length + 1, 0);
          const message = err instanceof Error ? err.message : String(err);
          if (err instanceof SpillFullError) {
            this.spillState = 'full';
          } else {
            if (this.spillState !== 'failed') this.log.error({ err: message, dir: spill.dir }, 'storage spill append failed; rows kept in memory and retried (offers are refused meanwhile)');
            this.spillState = 'failed';
          }
          this.spillError = message;
          this.spillRetryAt = this.clock.now() + 1_000;
        },
      )
      .finally(() => {
        this.appending = null;
        this.appendingRows = 0;
        this.appendingBytes = 0;
        // Group commit: what piled up during this fdatasync goes next (a trickle waits for the flush timer).
        if (this.stage.length >= this.spillBatch) this.flushStage();
        this.notify();
        this.kick();
      });
  }

  /** One line per database batch (the drain writes a line per transaction); all of them go in one write + fdatasync. */
  private encodeLines(json: readonly string[], at: number): Buffer {
    const lines: Buffer[] = [];
    for (let i = 0; i < json.length; i += this.maxBatch) lines.push(SpillStore.encode(json.slice(i, i + this.maxBatch), at));
    return lines.length === 1 ? lines[0]! : Buffer.concat(lines);
  }

  private enqueue(table: StoredTable, row: unknown): void {
    this.queue.push({ table, row, at: this.clock.now() });
    this.acceptedSeq++;
  }

  /** Every row held in memory: for the database, coalescing, on its way to the spill, read back from it. */
  private ramRows(): number {
    return this.queueLength() + this.inflight.length + this.pending.size + this.stage.length + this.appendingRows;
  }

  /** Rows held in memory for the database (queued, in flight unless read from the spill, coalescing). */
  private size(): number {
    return this.queueLength() + (this.inflightFromSpill ? 0 : this.inflight.length) + this.pending.size;
  }

  private unsaved(): number {
    return this.size() + this.stage.length + this.appendingRows + (this.spill?.rows ?? 0);
  }

  private queueLength(): number {
    return this.queue.length - this.head;
  }

  private tick(): void {
    if (this.pending.size) {
      const now = this.maxEventTs;
      this.releasePending((p) => Math.floor(now / this.throttle[p.table]) > p.window);
    }
    if (this.stage.length) this.flushStage();
    if (this.queueLength() > 0 || this.spilling) this.kick();
  }

  // --- draining ---------------------------------------------------------------

  private kick(): void {
    if (this.draining || this.abandoned) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
    });
  }

  private async drain(): Promise<void> {
    while (!this.abandoned) {
      if (this.queueLength() > 0) {
        const end = Math.min(this.queue.length, this.head + this.maxBatch);
        this.inflight = this.queue.slice(this.head, end);
        this.inflightFromSpill = false;
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
        continue;
      }
      if (!this.spilling || !this.spill) return;
      if (!(await this.drainSpillBatch(this.spill))) return;
    }
  }

  /**
   * One step of draining the spill (memory is empty: everything in the spill
   * is newer). False: stop the loop (abandoned, or back to memory with
   * nothing queued).
   */
  private async drainSpillBatch(spill: SpillStore): Promise<boolean> {
    let batch: Awaited<ReturnType<SpillStore['peek']>>;
    try {
      batch = await spill.peek<[unknown, unknown]>(this.maxBatch);
    } catch (err) {
      this.spillError = err instanceof Error ? err.message : String(err);
      this.log.error({ err: this.spillError, dir: spill.dir }, 'storage spill: reading failed; retrying');
      await this.sleep(1_000);
      return !this.abandoned;
    }
    if (batch) {
      this.spillHeadAt = batch.at;
      const items: Item[] = [];
      for (const r of batch.rows) {
        const [table, row] = Array.isArray(r) ? (r as [unknown, unknown]) : [undefined, undefined];
        if (typeof table === 'string' && (STORED_TABLES as readonly string[]).includes(table) && this.validRow(table as StoredTable, row)) {
          items.push({ table: table as StoredTable, row, at: batch.at });
        } else {
          this.reject(typeof table === 'string' && (STORED_TABLES as readonly string[]).includes(table) ? (table as StoredTable) : 'trades', 'spill_corrupt');
        }
      }
      this.inflight = items;
      this.inflightFromSpill = true;
      const done = items.length === 0 || (await this.writeWithRetry(items));
      // Abandoned: the batch stays in the spill (stored again at the next start, idempotently).
      if (!done || this.abandoned) return false;
      await spill.commit();
      this.inflight = [];
      this.inflightFromSpill = false;
      this.doneSeq += batch.rows.length;
      this.drainedRows += batch.rows.length;
      this.metrics.drained.inc(batch.rows.length);
      this.notify();
      return true;
    }
    if (this.appending) {
      this.windingDown = true;
      await this.appending;
      return true;
    }
    // Everything appended is stored; what is still staged is the newest: back to memory.
    this.spillHeadAt = null;
    if (!(await spill.compact())) {
      await this.sleep(50); // not read to its end yet (cannot last): no busy loop
      return !this.abandoned;
    }
    const staged = this.stage;
    this.stage = [];
    this.stageBytes = 0;
    // Reconcile: every accepted row is now stored, refused, unreadable (corrupt) or in `staged`.
    this.doneSeq = Math.max(this.doneSeq, this.acceptedSeq - staged.length);
    for (const s of staged) this.queue.push(s.item);
    this.spilling = false;
    this.windingDown = false;
    if (this.spillState === 'full') this.spillState = 'ok';
    if (this.clock.now() - this.drainLoggedAt >= 60_000) {
      this.drainLoggedAt = this.clock.now();
      this.log.info({ drained: this.drainedRows, spilled: this.spilledRows, episodes: this.spillEpisodes }, 'storage spill drained; new rows go to memory again');
    }
    this.notify();
    return this.queueLength() > 0;
  }

  private notify(): void {
    if (this.flushWaiters.length) {
      const still: typeof this.flushWaiters = [];
      for (const w of this.flushWaiters) (this.doneSeq >= w.target ? w.resolve() : still.push(w));
      this.flushWaiters = still;
    }
    if (this.capacityWaiters.length && this.hasRoom()) {
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
        if (this.windingDown) {
          this.windingDown = false;
          this.flushStage();
        }
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
    if (this.spill && !this.parking) {
      this.parking = this.park(this.spill);
      return;
    }
    const unsaved = this.unsaved();
    this.log.error({ unsaved, lastError: this.lastError }, 'storage writer closed before the database came back; rows not stored');
    for (const w of this.flushWaiters.splice(0)) w.reject(new WriterClosedError(`storage writer closed with ${unsaved} rows unsaved`));
  }

  /**
   * Shutdown during an outage, with a spill: nothing accepted is lost. The
   * memory backlog (older than the spill) goes in front of it, staged rows and
   * coalescing samples (newer) after it — both durable before close()
   * resolves; the next start drains them first.
   */
  private async park(spill: SpillStore): Promise<void> {
    // Not waiting for the drain: a batch in flight on a dead connection can hang until the query timeout. It is
    // parked too; if it did commit, storing it again at the next start is harmless (idempotent inserts).
    await this.appending?.catch(() => {});
    const now = this.clock.now();
    const older = [...(this.inflightFromSpill ? [] : this.inflight), ...this.queue.slice(this.head)];
    const newer = [...this.stage.map((s) => s.item), ...[...this.pending.values()].map((p) => ({ table: p.table, row: p.row, at: now }))];
    const line = (items: Item[]) =>
      this.encodeLines(
        items.map((i) => JSON.stringify([i.table, i.row])),
        now,
      );
    try {
      if (older.length) {
        if (this.spilling) await spill.prepend(line(older), older.length);
        else await spill.append(line(older), older.length, { ignoreCap: true });
      }
      if (newer.length) await spill.append(line(newer), newer.length, { ignoreCap: true });
      this.parkedRows = older.length + newer.length;
      this.queue = [];
      this.head = 0;
      if (!this.inflightFromSpill) this.inflight = [];
      this.stage = [];
      this.stageBytes = 0;
      this.pending.clear();
      this.log.warn(
        { parked: this.parkedRows, spillRows: spill.rows, spillBytes: spill.bytes, dir: spill.dir, lastError: this.lastError },
        'storage writer stopped before the database came back; every unsaved row is in the spill and is stored at the next start',
      );
      for (const w of this.flushWaiters.splice(0)) w.reject(new WriterClosedError(`storage writer closed; ${spill.rows} rows wait in the spill for the next start`));
    } catch (err) {
      const unsaved = this.unsaved();
      this.log.error({ unsaved, err: err instanceof Error ? err.message : String(err), lastError: this.lastError }, 'storage writer closed before the database came back and the spill could not take the rest; rows not stored');
      for (const w of this.flushWaiters.splice(0)) w.reject(new WriterClosedError(`storage writer closed with ${unsaved} rows unsaved`));
    }
  }
}

/**
 * The `storage_writer` readiness check (structurally a ReadinessCheck of
 * http/readiness.ts): not ok while writes fail or the spill cannot take rows,
 * with the memory and spill backlog in the detail. `optional` (role `all`):
 * reported under `degraded` without taking the process out of rotation — it
 * still serves live data.
 */
export function storageWriterCheck(status: () => StorageWriterStatus, optional = false): { name: string; optional: boolean; run(): Promise<{ ok: boolean; detail?: string }> } {
  return {
    name: 'storage_writer',
    optional,
    async run() {
      const s = status();
      const sp = s.spill;
      const spill = sp.state === 'off' ? 'no spill' : `spill ${sp.state}: ${sp.rows} rows, ${sp.bytes} of ${sp.maxBytes} bytes`;
      const backlog = `${s.buffered} rows buffered, ${spill}`;
      if (s.failing) return { ok: false, detail: `storage writes failing (${backlog}): ${s.lastError ?? 'unknown error'}` };
      if (sp.state === 'full' || sp.state === 'failed') return { ok: false, detail: `storage spill cannot take rows (${backlog})${sp.lastError ? `: ${sp.lastError}` : ''}` };
      return { ok: true, detail: backlog };
    },
  };
}
