/**
 * Stale-feed watchdog: notices when market data stops arriving while a market
 * trades, says so once (log, metric, readiness, a system alert for every
 * user) and once more when it is over.
 *
 * Silence is measured on the injected clock since the feed last delivered a
 * market event (its `events` counter moved), not from the vendor's
 * `lastMessageAgeMs`: vendors keep idle connections open with keep-alives, so
 * a connection can look perfectly alive while no data flows, and the feed
 * adapters already reconnect on their own when keep-alives stop. The
 * message age is still reported, because it tells the two cases apart
 * (connection dead vs. connected but silent). Event time is not used either:
 * vendor clocks and replayed tapes are not the wall clock.
 *
 * Whether a market trades comes from market-activity.ts, evaluated at the
 * collector's market time.
 */
import { randomUUID } from 'node:crypto';
import { Gauge, type Registry } from 'prom-client';
import type { QuoteState, SystemAlert } from '@stock-tracker/protocol';
import type { ExchangeRules } from '@stock-tracker/rules';
import type { Clock, FeedStatus } from '@stock-tracker/feeds';
import { getOrCreate } from '../observability/metrics.ts';
import { describeActivity, marketActivity, type MarketActivity } from './market-activity.ts';

export interface WatchdogLogger {
  info(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface FeedWatchdogOptions {
  feed: { readonly name: string; status(): FeedStatus };
  /** The board: the engine's current quote states. */
  quotes: () => Iterable<QuoteState>;
  clock: Clock;
  /** Silence during trading longer than this is stale. */
  staleAfterMs: number;
  /** The market's "now" (collector.marketTime()); default the clock. */
  marketTime?: () => number;
  /** How often to look. Default staleAfterMs / 5, between 200 ms and 5 s. */
  checkIntervalMs?: number;
  /** Markets assumed when the board is empty. */
  fallbackRules?: readonly ExchangeRules[];
  /** `feed` for feeds on their own session clock (simulator, replay); see market-activity.ts. Default `exchange`. */
  calendar?: 'exchange' | 'feed';
  log?: WatchdogLogger;
  registry?: Registry;
  /** Receives feed_stale / feed_recovered notices (published on the alerts channel by the caller). */
  onAlert?: (alert: SystemAlert) => void;
  newId?: () => string;
}

export interface FeedFreshness {
  stale: boolean;
  /** Since the feed last delivered a market event (ms on the injected clock). */
  silentMs: number;
  /** Vendor feeds: since the last vendor message of any kind. */
  lastMessageAgeMs: number | null;
  /** Whether any market on the board is in a trading phase. */
  trading: boolean;
  activity: MarketActivity;
  /** When the current stale episode began (clock ms), null when fresh. */
  staleSince: number | null;
  /** One line for logs, alerts and /readyz. */
  summary: string;
}

const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export class FeedWatchdog {
  private readonly o: FeedWatchdogOptions;
  private readonly intervalMs: number;
  private readonly gauge: Gauge<'feed'> | undefined;
  private timer: unknown = null;
  private failing = false;
  private lastEvents = -1;
  private lastEventAt: number;
  private staleSince: number | null = null;
  /** lastEventAt when the episode began: the outage is measured from the last data, not from detection. */
  private outageFrom = 0;
  private current: FeedFreshness;

  constructor(opts: FeedWatchdogOptions) {
    if (!(opts.staleAfterMs > 0)) throw new Error('FeedWatchdog: staleAfterMs must be positive');
    this.o = opts;
    this.intervalMs = opts.checkIntervalMs ?? Math.min(5_000, Math.max(200, Math.floor(opts.staleAfterMs / 5)));
    this.lastEventAt = opts.clock.now();
    if (opts.registry) {
      const registry = opts.registry;
      this.gauge = getOrCreate(registry, 'feed_stale', () =>
        new Gauge({ name: 'feed_stale', help: '1 while no market data arrives although a market trades (FEED_STALE_AFTER_MS)', labelNames: ['feed'] as const, registers: [registry] }),
      );
      this.gauge.set({ feed: opts.feed.name }, 0);
    }
    this.current = this.evaluate();
  }

  get staleAfterMs(): number {
    return this.o.staleAfterMs;
  }

  /** Starts periodic checks; the silence clock starts now. */
  start(): void {
    if (this.timer !== null) return;
    this.lastEventAt = this.o.clock.now();
    this.timer = this.o.clock.setInterval(() => this.tick(), this.intervalMs);
  }

  /** A throw in a timer would take the process down; a broken check is logged (once per run of failures) instead. */
  private tick(): void {
    try {
      this.check();
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.o.log?.error({ err, feed: this.o.feed.name }, 'feed watchdog check failed');
      this.failing = true;
    }
  }

  stop(): void {
    if (this.timer !== null) this.o.clock.clearInterval(this.timer);
    this.timer = null;
  }

  /** The last evaluation (what /readyz reports). */
  state(): FeedFreshness {
    return this.current;
  }

  /** Looks now: updates the state and acts on a change (timer-driven; tests call it directly). */
  check(): FeedFreshness {
    const next = this.evaluate();
    const now = this.o.clock.now();
    if (next.stale && this.staleSince === null) {
      this.staleSince = now;
      this.outageFrom = this.lastEventAt;
      this.raise(next, now);
    } else if (!next.stale && this.staleSince !== null) {
      this.staleSince = null;
      this.recover(next, now);
    }
    this.current = { ...next, staleSince: this.staleSince };
    return this.current;
  }

  private evaluate(): FeedFreshness {
    const now = this.o.clock.now();
    const st = this.o.feed.status();
    if (st.events !== this.lastEvents) {
      // The first look only learns the count: events delivered before the watchdog started are not news.
      if (this.lastEvents !== -1) this.lastEventAt = now;
      this.lastEvents = st.events;
    }
    const silentMs = Math.max(0, now - this.lastEventAt);
    const activity = marketActivity(this.o.quotes(), this.o.marketTime?.() ?? now, { fallback: this.o.fallbackRules ?? [], calendar: this.o.calendar ?? 'exchange' });
    const stale = activity.trading && silentMs >= this.o.staleAfterMs;
    const lastMessageAgeMs = typeof st.lastMessageAgeMs === 'number' ? st.lastMessageAgeMs : null;
    return { stale, silentMs, lastMessageAgeMs, trading: activity.trading, activity, staleSince: this.staleSince, summary: this.summarize(stale, silentMs, activity, st) };
  }

  private summarize(stale: boolean, silentMs: number, activity: MarketActivity, st: FeedStatus): string {
    const name = this.o.feed.name;
    const markets = describeActivity(activity);
    if (!stale) {
      if (!activity.trading) return `no market trading (${markets}); feed '${name}' not expected to send data`;
      return `last market data from '${name}' ${secs(silentMs)} ago (${markets})`;
    }
    return `no market data from '${name}' for ${secs(silentMs)} while trading (${markets}); limit ${secs(this.o.staleAfterMs)} (FEED_STALE_AFTER_MS)${this.connectionNote(st)}`;
  }

  /** Why it may be silent, from the feed's own status. */
  private connectionNote(st: FeedStatus): string {
    if (st.state === 'failed' || st.state === 'stopped') return `; feed ${st.state}${st.lastError ? `: ${st.lastError}` : ''}`;
    if (!st.connected) return `; feed not connected${st.state ? ` (${st.state})` : ''}${st.lastError ? `: ${st.lastError}` : ''}`;
    if (typeof st.lastMessageAgeMs === 'number') {
      return st.lastMessageAgeMs < this.o.staleAfterMs
        ? `; the vendor connection is alive (last message ${secs(st.lastMessageAgeMs)} ago) but carries no market data`
        : `; no vendor message at all for ${secs(st.lastMessageAgeMs)}`;
    }
    return '';
  }

  private raise(s: FreshnessLike, now: number): void {
    this.gauge?.set({ feed: this.o.feed.name }, 1);
    this.o.log?.error({ feed: this.o.feed.name, silentMs: s.silentMs, lastMessageAgeMs: s.lastMessageAgeMs, markets: describeActivity(s.activity) }, `feed stale: ${s.summary}`);
    this.o.onAlert?.(this.alert('feed_stale', 'error', now, s.silentMs, `Market data is delayed: ${s.summary}.`));
  }

  private recover(s: FreshnessLike, now: number): void {
    const outageMs = Math.max(0, now - this.outageFrom);
    this.gauge?.set({ feed: this.o.feed.name }, 0);
    const name = this.o.feed.name;
    const why = s.trading ? `market data from '${name}' is flowing again` : `no market is trading any more (${describeActivity(s.activity)})`;
    this.o.log?.info({ feed: name, outageMs }, `feed no longer stale: ${why} (silent for ${secs(outageMs)})`);
    const message = s.trading
      ? `Market data is live again: '${name}' is sending after ${secs(outageMs)} of silence.`
      : `Market data notice cleared: ${why}; '${name}' was silent for ${secs(outageMs)}.`;
    this.o.onAlert?.(this.alert('feed_recovered', 'info', now, outageMs, message));
  }

  private alert(kind: SystemAlert['kind'], severity: SystemAlert['severity'], ts: number, silentMs: number, message: string): SystemAlert {
    return { id: this.o.newId?.() ?? `sys-${randomUUID()}`, kind, severity, ts, feed: this.o.feed.name, silentMs, message };
  }
}

type FreshnessLike = Pick<FeedFreshness, 'silentMs' | 'lastMessageAgeMs' | 'activity' | 'summary' | 'trading'>;
