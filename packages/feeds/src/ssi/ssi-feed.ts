/**
 * FEED=ssi: SSI FastConnect Data v2, live.
 *
 *   token (REST) → reference data (REST) → SignalR negotiate/connect/start
 *   → SwitchChannels for each channel → Broadcast envelopes → parser → sink
 *
 * Recovery: a lost connection (socket closed, keep-alive timeout, server
 * asking to reconnect) is re-established with jittered exponential backoff; a
 * 401 on negotiate/connect drops the cached token and fetches a new one;
 * channels are switched again on every connection. The token is renewed ahead
 * of its expiry in the background, so reconnects rarely wait for one.
 * Duplicates: the parser's per-symbol cumulative-volume memory survives
 * reconnects (a resent snapshot is not a new trade) and delivered trade ids
 * are remembered as a second guard.
 *
 * Fatal: SSI refusing the consumer ID/secret stops the feed with a clear
 * error (`start()` rejects when it happens first); retrying would only hammer.
 */
import type { MarketEvent, ReferenceEvent, TradeEvent } from '@stock-tracker/protocol';
import { tradingDateOf, localParts } from '@stock-tracker/rules';
import type { Clock, Feed, FeedStatus } from '../feed.ts';
import { systemClock } from '../feed.ts';
import { Backoff, type BackoffOptions } from '../live/backoff.ts';
import { FeedStatusTracker } from '../live/feed-status.ts';
import { FeedLifecycle } from '../live/lifecycle.ts';
import { silentFeedLogger, type FeedLogger } from '../live/log.ts';
import { after, sleep } from '../live/timers.ts';
import { RecentTradeIds } from '../live/trade-ids.ts';
import type { RequestOptions } from '../live/http.ts';
import { parseLine } from '../parsers/parse-line.ts';
import { SSI_TIME_ZONE } from '../parsers/ssi.ts';
import { createParseContext, type ParseContext } from '../parsers/types.ts';
import { loadSsiReference, type SsiReferenceOptions, type SsiStaticInfo } from './ssi-reference.ts';
import { SsiRestClient } from './ssi-rest.ts';
import { SignalRConnection, SignalRError, type HubMessage } from './signalr.ts';
import { joinUrl, SsiCredentialsError, SsiTokenProvider } from './ssi-token.ts';

export const SSI_DEFAULT_REST_URL = 'https://fc-data.ssi.com.vn/';
export const SSI_DEFAULT_STREAM_URL = 'https://fc-datahub.ssi.com.vn/';
export const SSI_HUB = 'FcMarketDataV2Hub';
/** Quotes, trades, foreign room, indices and session status for the whole market. */
export const SSI_DEFAULT_CHANNELS: readonly string[] = ['X-QUOTE:ALL', 'X-TRADE:ALL', 'R:ALL', 'MI:ALL', 'F:ALL'];

export interface SsiFeedOptions {
  consumerId: string;
  consumerSecret: string;
  /** REST base. Default https://fc-data.ssi.com.vn/ */
  restUrl?: string;
  /** Streaming base; the SignalR endpoint is `{streamUrl}/v2.0/signalr`. Default https://fc-datahub.ssi.com.vn/ */
  streamUrl?: string;
  /** `TYPE:ALL` or `TYPE:SYM1-SYM2`, one SwitchChannels call each. */
  channels?: readonly string[];
  /** Load reference data from REST at start and on each new trading day. Default true. */
  referenceData?: boolean;
  reference?: SsiReferenceOptions;
  /** Local time (HH:MM, Asia/Ho_Chi_Minh) from which a new day's reference data is loaded. Default 08:30. */
  referenceReloadAt?: string;
  clock?: Clock;
  log?: FeedLogger;
  backoff?: BackoffOptions;
  /** `start()` resolves after this long even if not connected yet (the feed keeps trying). Default 15 s. */
  startTimeoutMs?: number;
  /** Renew the token this long before it expires. Default 5 min. */
  tokenRefreshMarginMs?: number;
  /** SignalR step timeout (negotiate, connect, start, SwitchChannels). Default 15 s. */
  stepTimeoutMs?: number;
  /** Keep-alive timeout when negotiate does not give one. Default 20 s. */
  keepAliveTimeoutMs?: number;
  /** REST retry policy (tests shorten it). */
  request?: RequestOptions;
  name?: string;
}

/** Reads SSI_REST_URL, SSI_STREAM_URL and SSI_CHANNELS (comma-separated); credentials are passed separately. */
export function ssiOptionsFromEnv(env: Record<string, string | undefined>): Pick<SsiFeedOptions, 'restUrl' | 'streamUrl' | 'channels'> {
  const out: Pick<SsiFeedOptions, 'restUrl' | 'streamUrl' | 'channels'> = {};
  if (env['SSI_REST_URL']?.trim()) out.restUrl = env['SSI_REST_URL'].trim();
  if (env['SSI_STREAM_URL']?.trim()) out.streamUrl = env['SSI_STREAM_URL'].trim();
  const ch = env['SSI_CHANNELS']?.split(',').map((s) => s.trim()).filter(Boolean);
  if (ch && ch.length) out.channels = ch;
  return out;
}

export class SsiFeed implements Feed {
  readonly name: string;
  private readonly o: SsiFeedOptions;
  private readonly clock: Clock;
  private readonly log: FeedLogger;
  private readonly health: FeedStatusTracker;
  private readonly life: FeedLifecycle;
  private readonly tokens: SsiTokenProvider;
  private readonly rest: SsiRestClient;
  private readonly backoff: Backoff;
  private readonly ctx: ParseContext = createParseContext();
  private readonly delivered = new RecentTradeIds();
  private statics = new Map<string, SsiStaticInfo>();
  private sink: ((ev: MarketEvent) => void) | null = null;
  private conn: SignalRConnection | null = null;
  private cancelTimers: (() => void)[] = [];
  private cancelRenewal: (() => void) | null = null;
  private referenceDate: string | null = null;
  private referenceLoading = false;

  constructor(opts: SsiFeedOptions) {
    if (!opts.consumerId || !opts.consumerSecret) throw new Error('SsiFeed: consumerId and consumerSecret are required');
    this.o = opts;
    this.name = opts.name ?? 'ssi';
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentFeedLogger;
    this.health = new FeedStatusTracker(this.name, this.clock, this.log);
    this.life = new FeedLifecycle(this.name, this.clock, this.health);
    const restUrl = opts.restUrl ?? SSI_DEFAULT_REST_URL;
    this.tokens = new SsiTokenProvider({
      restUrl,
      consumerId: opts.consumerId,
      consumerSecret: opts.consumerSecret,
      clock: this.clock,
      ...(opts.tokenRefreshMarginMs !== undefined ? { refreshMarginMs: opts.tokenRefreshMarginMs } : {}),
      ...(opts.request ? { request: opts.request } : {}),
    });
    this.rest = new SsiRestClient({ restUrl, tokens: this.tokens, clock: this.clock, ...(opts.request ? { request: opts.request } : {}) });
    this.backoff = new Backoff({ initialMs: 1_000, maxMs: 60_000, ...opts.backoff });
  }

  get channels(): readonly string[] {
    return this.o.channels ?? SSI_DEFAULT_CHANNELS;
  }

  start(sink: (ev: MarketEvent) => void): Promise<void> {
    return this.life.start(this.o.startTimeoutMs ?? 15_000, () => (this.sink = sink), () => this.run());
  }

  stop(): Promise<void> {
    return this.life.stop(() => {
      for (const c of this.cancelTimers) c();
      this.cancelTimers = [];
      this.cancelRenewal?.();
      this.cancelRenewal = null;
      this.conn?.close();
      this.conn = null;
    });
  }

  status(): FeedStatus {
    return this.health.status();
  }

  private get stopped(): boolean {
    return this.life.stopped;
  }

  /** Resolves when stop() is called (ends the wait on a live connection). */
  private aborted(): Promise<string> {
    const signal = this.life.signal;
    return new Promise((resolve) => {
      if (signal.aborted) resolve('stopped');
      else signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
  }

  private async run(): Promise<void> {
    this.scheduleDailyReference();
    let everConnected = false;
    let referenceTried = false;
    while (!this.stopped) {
      let reason: string;
      try {
        await this.tokens.get();
        // Once before the first connection; after that the daily check retries (a slow REST API must not delay reconnects).
        if (this.o.referenceData !== false && !referenceTried) {
          referenceTried = true;
          await this.loadReference();
        }
        if (this.stopped) break;
        const { lost } = await this.connect();
        if (everConnected) this.health.reconnects += 1;
        everConnected = true;
        this.health.state = 'connected';
        this.health.lastError = null;
        this.backoff.reset();
        this.life.settle();
        this.log.info({ feed: this.name, channels: this.channels }, `${this.name}: streaming`);
        reason = await Promise.race([lost, this.aborted()]);
        if (this.stopped) break;
        this.health.error('disconnected', `connection lost: ${reason}; reconnecting`);
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof SsiCredentialsError) {
          this.health.state = 'failed';
          this.health.error('auth', err.message, 'error');
          this.life.settle(err);
          return;
        }
        if (err instanceof SignalRError && err.status === 401) {
          // The token expired or was revoked: the next attempt fetches a fresh one.
          this.tokens.invalidate();
          this.health.error('auth', `stream refused the access token (HTTP 401); renewing it`);
        } else {
          this.health.error('connect', `cannot connect: ${(err as Error).message}`);
        }
      }
      this.conn?.close();
      this.conn = null;
      this.health.state = 'reconnecting';
      await sleep(this.clock, this.backoff.next(), this.life.signal);
    }
  }

  /** Opens a connection and switches channels; `lost` resolves with the reason the connection ends. */
  private async connect(): Promise<{ lost: Promise<string> }> {
    const token = await this.tokens.get();
    let onLost!: (reason: string) => void;
    const lost = new Promise<string>((resolve) => (onLost = resolve));
    const conn = await SignalRConnection.open(
      {
        url: joinUrl(this.o.streamUrl ?? SSI_DEFAULT_STREAM_URL, 'v2.0/signalr'),
        hub: SSI_HUB,
        headers: { authorization: `Bearer ${token}` },
        clock: this.clock,
        ...(this.o.stepTimeoutMs !== undefined ? { stepTimeoutMs: this.o.stepTimeoutMs } : {}),
        ...(this.o.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: this.o.keepAliveTimeoutMs } : {}),
      },
      {
        onFrame: () => this.health.message(),
        onHubMessage: (m) => this.onHubMessage(m),
        onMalformed: (kind, text) => this.health.malformed(kind, `frame ${JSON.stringify(text.slice(0, 80))}`),
        onClose: (reason) => onLost(reason),
      },
    );
    this.conn = conn;
    this.scheduleTokenRenewal();
    for (const channel of this.channels) {
      try {
        await conn.invoke('SwitchChannels', [channel]);
      } catch (err) {
        // One refused channel should not take the others down; a closed socket ends the connection anyway.
        if (err instanceof SignalRError && err.message === 'connection closed') throw err;
        this.health.error('subscribe', `SwitchChannels ${channel} failed: ${(err as Error).message}`);
      }
    }
    return { lost };
  }

  private onHubMessage(m: HubMessage): void {
    const method = m.method.toLowerCase();
    if (method === 'error') {
      this.health.error('vendor_error', `SSI stream error: ${m.args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ').slice(0, 300)}`);
      return;
    }
    if (method !== 'broadcast') {
      this.health.malformed('unknown_method', `hub method ${JSON.stringify(m.method.slice(0, 40))}`);
      return;
    }
    // Each argument is one envelope; a bad one is skipped without losing its neighbours.
    for (const arg of m.args) {
      const text = typeof arg === 'string' ? arg : JSON.stringify(arg);
      const r = parseLine(text, 'ssi', this.ctx);
      if (r.error) this.health.malformed(r.error.kind, r.error.message);
      for (const ev of r.events) this.emit(ev);
    }
  }

  private emit(ev: MarketEvent): void {
    if (ev.type === 'trade' && !this.delivered.add(ev.symbol, ev.id)) return;
    const out = ev.type === 'reference' ? this.enrich(ev) : ev.type === 'trade' ? this.withCumVolume(ev) : ev;
    this.health.event(out);
    this.sink?.(out);
  }

  /**
   * Gap detection (docs/engine.md "Gaps"): SSI's X-TRADE carries TotalVol, the
   * day's cumulative matched volume including this match. The parser turned
   * it into the trade's id (`SYM:YYYYMMDD:<TotalVol>`) and remembers it as the
   * symbol's `lastTotalVol`; passed on as `cumVolume`, it lets the engine —
   * which knows the volume it counted today, restored across a collector
   * takeover — report trades nobody received (a reconnect, a failover) as a
   * `gap` instead of under-counting silently. Trades without TotalVol (ids
   * with a `t` sequence) carry none.
   */
  private withCumVolume(ev: TradeEvent): TradeEvent {
    const total = this.ctx.ssi.symbols.get(ev.symbol)?.lastTotalVol;
    if (total === undefined || !(total > 0) || !ev.id.endsWith(`:${total}`)) return ev;
    return { ...ev, cumVolume: total };
  }

  /** The stream's reference lacks names, index membership and share counts: fill them from REST. */
  private enrich(ev: ReferenceEvent): ReferenceEvent {
    const s = this.statics.get(ev.ref.symbol);
    if (!s) return ev;
    return {
      ...ev,
      ref: { ...ev.ref, ...(s.name ? { name: s.name } : {}), lotSize: s.lotSize, indices: [...s.indices], sharesOutstanding: s.sharesOutstanding },
    };
  }

  private async loadReference(): Promise<void> {
    if (this.referenceLoading) return;
    this.referenceLoading = true;
    const now = this.clock.now();
    try {
      const r = await loadSsiReference(this.rest, this.o.reference ?? {}, now, this.life.signal);
      this.statics = r.statics;
      for (const s of r.skipped) this.health.malformed('reference_row', `${s.endpoint}: ${s.message}`);
      for (const ref of r.refs) this.emit({ type: 'reference', ts: now, ref });
      this.referenceDate = tradingDateOf(now, SSI_TIME_ZONE);
      this.log.info({ feed: this.name, symbols: r.refs.length }, `${this.name}: reference data loaded`);
    } catch (err) {
      if (err instanceof SsiCredentialsError) throw err;
      if (this.stopped) return;
      // Not fatal: the stream carries reference prices too. Retried by the daily check.
      this.health.error('reference', `reference data not loaded: ${(err as Error).message}`);
    } finally {
      this.referenceLoading = false;
    }
  }

  /** Once a minute: on a new local trading date, after the reload time, load the day's reference data. */
  private scheduleDailyReference(): void {
    if (this.o.referenceData === false) return;
    const [hh, mm] = (this.o.referenceReloadAt ?? '08:30').split(':').map(Number) as [number, number];
    const h = this.clock.setInterval(() => {
      const now = this.clock.now();
      const today = tradingDateOf(now, SSI_TIME_ZONE);
      if (today === this.referenceDate || localParts(now, SSI_TIME_ZONE).minutes < hh * 60 + mm) return;
      void this.loadReference().catch((err: Error) => {
        this.health.state = 'failed';
        this.health.error('auth', err.message, 'error');
        this.conn?.close();
        this.life.abort();
      });
    }, 60_000);
    this.cancelTimers.push(() => this.clock.clearInterval(h));
  }

  /** Renew the cached token ahead of expiry so that a reconnect does not have to wait for one. */
  private scheduleTokenRenewal(): void {
    this.cancelRenewal?.();
    this.cancelRenewal = null;
    const at = this.tokens.renewAt;
    if (at === null || this.stopped) return;
    this.cancelRenewal = after(this.clock, Math.max(1_000, at - this.clock.now()), () => {
      this.cancelRenewal = null;
      this.tokens
        .get()
        .then(() => this.scheduleTokenRenewal())
        .catch((err: Error) => this.health.error('auth', `token renewal failed: ${err.message}`));
    });
  }
}
