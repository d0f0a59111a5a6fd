/**
 * The `LiveMarket` of an api replica: no market state of its own, every read
 * goes to the shared state in Redis, so all replicas (and all workers) answer
 * the same and a new replica is complete the moment it starts.
 *
 * Per endpoint (docs/scaling.md):
 *   quotes, foreign, indices   the bus's latest state per stream (`<p>latest:<channel>`),
 *                              exactly what a WebSocket snapshot sends
 *   foreign top                computed from every symbol's latest ForeignState (any size)
 *   reference data             `<p>view:refs` (today's references, written by the collector);
 *                              the routes fall back to storage for the rest
 *   session summary, bars      `<p>view:summary` / `<p>view:bars` (at most LIVE_VIEW_INTERVAL_MS old);
 *                              closed bars and past days come from storage
 *   engine time, feed state    `<p>view:status` (the leader's heartbeat)
 *
 * Concurrent identical reads share one round trip. Redis unreachable: the
 * read fails with 503 SERVICE_UNAVAILABLE (never 500). A malformed entry is
 * counted and skipped.
 */
import type { Redis } from 'ioredis';
import {
  AppError,
  type Bar,
  type ForeignState,
  type ForeignTop,
  type IndexState,
  type QuoteState,
  type SessionSummary,
  type SymbolRef,
} from '@stock-tracker/protocol';
import { DEFAULT_INDICES } from '@stock-tracker/engine';
import type { Channel } from '@stock-tracker/protocol';
import { parseLatest, redisBusKeys, type RedisBusKeys } from '../bus/redis/keys.ts';
import { FOREIGN_TOP_KEY } from '@stock-tracker/protocol';
import { whenReady } from '../bus/redis/connection.ts';
import type { FeedInfo, LiveMarket } from '../http/deps.ts';
import { viewKeys, type ViewKeys, type ViewStatus } from './keys.ts';

export interface RedisMarketViewOptions {
  redis: Redis;
  prefix: string;
  /** Size of the foreign top lists when the caller gives none. Default 10 (the engine's). */
  foreignTopSize?: number;
  /** How long a read waits for a reconnecting Redis before answering 503. Default 1000 ms. */
  connectWaitMs?: number;
}

const unavailable = () => new AppError('SERVICE_UNAVAILABLE', 'Live market data is temporarily unavailable; try again shortly.', undefined, { 'Retry-After': '2' });
const INDEX_ORDER = new Map(DEFAULT_INDICES.map((d, i) => [d.id, i]));
const bySymbol = (a: { symbol: string }, b: { symbol: string }) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);

export class RedisMarketView implements LiveMarket {
  private readonly bus: RedisBusKeys;
  private readonly view: ViewKeys;
  private readonly topSize: number;
  private readonly connectWaitMs: number;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private malformedCount = 0;

  constructor(private readonly opts: RedisMarketViewOptions) {
    this.bus = redisBusKeys(opts.prefix);
    this.view = viewKeys(opts.prefix);
    this.topSize = opts.foreignTopSize ?? 10;
    this.connectWaitMs = opts.connectWaitMs ?? 1_000;
  }

  /** Entries skipped because they did not parse. */
  get malformed(): number {
    return this.malformedCount;
  }

  async now(): Promise<number> {
    const s = await this.status();
    if (s) return s.now;
    // No heartbeat (collector down): the newest state anyone published.
    const latest = await this.hashValues(this.bus.latest('index'), (raw) => this.latestData<IndexState>('index', raw));
    return latest.reduce((m, x) => Math.max(m, x.ts), 0);
  }

  quote(symbol: string): Promise<QuoteState | undefined> {
    return this.latestOne<QuoteState>('market', symbol);
  }

  async quotes(): Promise<QuoteState[]> {
    return (await this.hashValues(this.bus.latest('market'), (raw) => this.latestData<QuoteState>('market', raw))).sort(bySymbol);
  }

  reference(symbol: string): Promise<SymbolRef | undefined> {
    return this.hashOne<SymbolRef>(this.view.refs, symbol);
  }

  async references(): Promise<SymbolRef[]> {
    return (await this.hashValues(this.view.refs, (raw) => this.json<SymbolRef>(raw))).sort(bySymbol);
  }

  summary(symbol: string): Promise<{ day: SessionSummary; phases: SessionSummary[] } | undefined> {
    return this.hashOne(this.view.summary, symbol);
  }

  async bars(symbol: string): Promise<Bar[]> {
    return (await this.hashOne<Bar[]>(this.view.bars, symbol)) ?? [];
  }

  foreign(symbol: string): Promise<ForeignState | undefined> {
    return symbol === FOREIGN_TOP_KEY ? Promise.resolve(undefined) : this.latestOne<ForeignState>('foreign', symbol);
  }

  async foreignTop(n: number = this.topSize): Promise<ForeignTop> {
    const all = await this.hashValues(this.bus.latest('foreign'), (raw, field) => (field === FOREIGN_TOP_KEY ? undefined : this.latestData<ForeignState>('foreign', raw)));
    // Same ranking as the engine's tracker: largest net value first, ties by symbol for a stable answer.
    const buyers = all.filter((s) => s.netValue > 0).sort((a, b) => b.netValue - a.netValue || bySymbol(a, b)).slice(0, Math.max(0, n));
    const sellers = all.filter((s) => s.netValue < 0).sort((a, b) => a.netValue - b.netValue || bySymbol(a, b)).slice(0, Math.max(0, n));
    return { ts: all.reduce((m, s) => Math.max(m, s.ts), 0), buyers, sellers };
  }

  async indices(): Promise<IndexState[]> {
    const all = await this.hashValues(this.bus.latest('index'), (raw) => this.latestData<IndexState>('index', raw));
    const rank = (id: string) => INDEX_ORDER.get(id) ?? INDEX_ORDER.size;
    return all.sort((a, b) => rank(a.id) - rank(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The leading collector's heartbeat; null when it expired (no leader for a few seconds). */
  status(): Promise<ViewStatus | null> {
    return this.shared(`status`, async () => {
      const raw = await this.call((r) => r.get(this.view.status));
      return raw ? (this.json<ViewStatus>(raw) ?? null) : null;
    });
  }

  async feedInfo(): Promise<FeedInfo> {
    const s = await this.status();
    return s ? { ...s.feed } : { name: 'collector', connected: false, lastEventTs: null };
  }

  // ---------- reads ----------

  private latestOne<T>(channel: Channel, key: string): Promise<T | undefined> {
    return this.shared(`l:${channel}:${key}`, async () => {
      const raw = await this.call((r) => r.hget(this.bus.latest(channel), key));
      return raw ? this.latestData<T>(channel, raw) : undefined;
    });
  }

  private hashOne<T>(hash: string, field: string): Promise<T | undefined> {
    return this.shared(`h:${hash}:${field}`, async () => {
      const raw = await this.call((r) => r.hget(hash, field));
      return raw ? this.json<T>(raw) : undefined;
    });
  }

  private hashValues<T>(hash: string, parse: (raw: string, field: string) => T | undefined): Promise<T[]> {
    return this.shared(`a:${hash}`, async () => {
      const all = await this.call((r) => r.hgetall(hash));
      const out: T[] = [];
      for (const [field, raw] of Object.entries(all)) {
        const v = parse(raw, field);
        if (v !== undefined) out.push(v);
      }
      return out;
    });
  }

  private latestData<T>(channel: Channel, raw: string): T | undefined {
    try {
      const msg = parseLatest(channel, '', raw);
      if (msg) return msg.data as T;
    } catch {
      // fall through: counted below
    }
    this.malformedCount++;
    return undefined;
  }

  private json<T>(raw: string): T | undefined {
    try {
      return JSON.parse(raw) as T;
    } catch {
      this.malformedCount++;
      return undefined;
    }
  }

  /** One round trip for concurrent identical reads (a board polled by many clients). */
  private shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing as Promise<T>;
    const p = load().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async call<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = this.opts.redis;
    // A reconnect in progress is waited out briefly; an outage fails fast (the client has no offline queue).
    if (r.status !== 'ready' && !(await whenReady(r, this.connectWaitMs))) throw unavailable();
    try {
      return await fn(r);
    } catch {
      throw unavailable();
    }
  }
}
