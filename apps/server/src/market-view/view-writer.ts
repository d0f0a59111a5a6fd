/**
 * Collector side of the live view: what api replicas need besides the bus
 * streams (reference data, today's session summaries, the open 1m bars, the
 * engine time and feed state) is written to Redis every `intervalMs`, for the
 * symbols that changed since the last write only.
 *
 * Every write is one script that first checks the leader lock's token (the
 * same fencing as the bus): a collector that lost leadership can never
 * overwrite what the new leader wrote. A write that failed (Redis down or
 * restarted empty) makes the next one a full rewrite, as does `markAll()`
 * (called on every election).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Bar, EngineOutput, SessionSummary, SymbolRef } from '@stock-tracker/protocol';
import type { FenceProvider } from '../bus/redis/fence.ts';
import { runScript, type LuaScript } from '../bus/redis/scripts.ts';
import { viewKeys, type ViewKeys, type ViewStatus } from './keys.ts';

/** The engine's read side the writer needs (MarketEngine satisfies it). */
export interface LiveViewSource {
  now(): number;
  reference(symbol: string): SymbolRef | undefined;
  references(): SymbolRef[];
  summary(symbol: string): { day: SessionSummary; phases: SessionSummary[] } | undefined;
  bars(symbol: string): Bar[];
}

export interface ViewWriterLogger {
  warn(obj: object, msg?: string): void;
}

export interface LiveViewWriterOptions {
  redis: Redis;
  prefix: string;
  source: LiveViewSource;
  fence: FenceProvider;
  status: () => Omit<ViewStatus, 'now' | 'at'>;
  /** 1m bars kept per symbol: the open one and the recently closed ones the storage writer may not have flushed yet. Default 5. */
  barsKept?: number;
  /** Status expiry; api replicas report the collector as gone after it. Default 5 s. */
  statusTtlMs?: number;
  log?: ViewWriterLogger;
  /** Wall clock for `ViewStatus.at`. */
  now?: () => number;
}

export type ViewWriteResult = 'written' | 'unchanged' | 'not_leader' | 'fenced' | 'failed';

const script = (name: string, lua: string): LuaScript => ({ name, lua, sha: createHash('sha1').update(lua).digest('hex') });

/**
 * KEYS: lock, refs, summary, bars, status.  ARGV: token, statusJson, statusTtlMs,
 * nRefs, nSummary, nBars, then (field, value) pairs per hash in that order; an
 * empty value deletes the field. Replies 1, or 0 when fenced.
 */
const WRITE_VIEW = script(
  'write_view',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local i = 7
for h = 2, 4 do
  local n = tonumber(ARGV[h + 2])
  for _ = 1, n do
    if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[h], ARGV[i]) else redis.call('HSET', KEYS[h], ARGV[i], ARGV[i + 1]) end
    i = i + 2
  end
end
redis.call('SET', KEYS[5], ARGV[2], 'PX', ARGV[3])
return 1
`,
);

export class LiveViewWriter {
  private readonly keys: ViewKeys;
  private readonly barsKept: number;
  private readonly statusTtlMs: number;
  private readonly clock: () => number;
  private dirtyRefs = new Set<string>();
  private dirtySymbols = new Set<string>();
  private full = true;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<ViewWriteResult> | null = null;
  private lastError: string | null = null;
  private writes = 0;
  private failures = 0;

  constructor(private readonly opts: LiveViewWriterOptions) {
    this.keys = viewKeys(opts.prefix);
    this.barsKept = Math.max(1, opts.barsKept ?? 5);
    this.statusTtlMs = opts.statusTtlMs ?? 5_000;
    this.clock = opts.now ?? Date.now;
  }

  /** Marks what an engine output changed. */
  note(out: EngineOutput): void {
    switch (out.type) {
      case 'reference':
        // A new trading day also resets the symbol's summary and bars.
        this.dirtyRefs.add(out.ref.symbol);
        this.dirtySymbols.add(out.ref.symbol);
        return;
      case 'trade':
        this.dirtySymbols.add(out.trade.symbol);
        return;
      case 'bar':
        this.dirtySymbols.add(out.bar.symbol);
        return;
      case 'session':
        this.dirtySymbols.add(out.summary.symbol);
        return;
      default:
        return;
    }
  }

  /** The next write rewrites every symbol (new leader, or Redis may have lost the view). */
  markAll(): void {
    this.full = true;
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.write(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing;
  }

  stats(): { writes: number; failures: number; lastError: string | null } {
    return { writes: this.writes, failures: this.failures, lastError: this.lastError };
  }

  /** One fenced write of what changed; never throws (a failure schedules a full rewrite). */
  write(): Promise<ViewWriteResult> {
    // Writes never overlap: one in flight answers for the tick that comes during it.
    this.writing ??= this.writeOnce().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private async writeOnce(): Promise<ViewWriteResult> {
    const fence = this.opts.fence.currentFence();
    if (!fence) return 'not_leader';
    const { source } = this.opts;
    const full = this.full;
    const refs = full ? source.references().map((r) => r.symbol) : [...this.dirtyRefs];
    const symbols = full ? refs : [...this.dirtySymbols];
    this.full = false;
    this.dirtyRefs = new Set();
    this.dirtySymbols = new Set();
    const refArgs: string[] = [];
    for (const s of refs) {
      const r = source.reference(s);
      refArgs.push(s, r ? JSON.stringify(r) : '');
    }
    const summaryArgs: string[] = [];
    const barArgs: string[] = [];
    for (const s of symbols) {
      const sum = source.summary(s);
      summaryArgs.push(s, sum ? JSON.stringify(sum) : '');
      const bars = source.bars(s);
      barArgs.push(s, bars.length > 0 ? JSON.stringify(bars.slice(-this.barsKept)) : '');
    }
    const status: ViewStatus = { ...this.opts.status(), now: source.now(), at: this.clock() };
    const k = this.keys;
    try {
      const r = await runScript(this.opts.redis, WRITE_VIEW, [fence.key, k.refs, k.summary, k.bars, k.status], [
        fence.token,
        JSON.stringify(status),
        this.statusTtlMs,
        refs.length,
        symbols.length,
        symbols.length,
        ...refArgs,
        ...summaryArgs,
        ...barArgs,
      ]);
      if (Number(r) !== 1) {
        this.requeue(refs, symbols, full);
        return 'fenced';
      }
      this.writes++;
      this.lastError = null;
      return refs.length + symbols.length > 0 ? 'written' : 'unchanged';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) this.opts.log?.warn({ err: message }, 'live view write failed; the next one rewrites everything');
      this.lastError = message;
      this.failures++;
      // Redis may have restarted empty: rewrite everything rather than only what changed.
      this.full = true;
      return 'failed';
    }
  }

  private requeue(refs: string[], symbols: string[], full: boolean): void {
    if (full) this.full = true;
    for (const s of refs) this.dirtyRefs.add(s);
    for (const s of symbols) this.dirtySymbols.add(s);
  }
}
