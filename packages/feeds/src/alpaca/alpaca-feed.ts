/**
 * FEED=alpaca: Alpaca Market Data v2 stream (US equities), live.
 *
 *   connect → [{"T":"success","msg":"connected"}] → {"action":"auth",…}
 *   → [{"T":"success","msg":"authenticated"}] → {"action":"subscribe",…}
 *   → [{"T":"subscription",…}] → frames of trades/quotes/bars/statuses
 *
 * Every documented error code has a reaction (alpaca-errors.ts): bad keys
 * (401/402) and a plan without the feed (409 at auth) stop the feed with a
 * clear error instead of hammering; a second connection on the account (406)
 * waits long; auth timeout (404), slow client (407), 410 and 500 reconnect
 * with backoff; a symbol limit (405) keeps what the server accepted.
 * Reconnects re-authenticate and re-subscribe; trades already delivered are
 * not delivered again. Reference prices come from REST snapshots; US rules
 * (no daily limits, lot 1, New York time) apply through `rulesFor(_, 'US')`.
 */
import WebSocket from 'ws';
import type { MarketEvent } from '@stock-tracker/protocol';
import type { Clock, Feed, FeedStatus } from '../feed.ts';
import { systemClock } from '../feed.ts';
import { Backoff, type BackoffOptions } from '../live/backoff.ts';
import { FeedStatusTracker } from '../live/feed-status.ts';
import { FeedLifecycle } from '../live/lifecycle.ts';
import { silentFeedLogger, type FeedLogger } from '../live/log.ts';
import { after, sleep } from '../live/timers.ts';
import { RecentTradeIds } from '../live/trade-ids.ts';
import type { RequestOptions } from '../live/http.ts';
import { parseAlpacaFrame } from '../parsers/alpaca.ts';
import { isObject, type Json } from '../parsers/fields.ts';
import { alpacaErrorRule } from './alpaca-errors.ts';
import { loadAlpacaReference } from './alpaca-reference.ts';
import { ALPACA_DEFAULT_DATA_URL } from './alpaca-rest.ts';

export const ALPACA_FEEDS = ['iex', 'sip', 'delayed_sip', 'test'] as const;
export type AlpacaDataFeed = (typeof ALPACA_FEEDS)[number];
export const alpacaStreamUrl = (feed: AlpacaDataFeed) => `wss://stream.data.alpaca.markets/v2/${feed}`;
/** The always-on test stream's only symbol. */
export const ALPACA_TEST_SYMBOL = 'FAKEPACA';

export interface AlpacaChannels {
  trades?: boolean;
  quotes?: boolean;
  bars?: boolean;
  statuses?: boolean;
}

export interface AlpacaFeedOptions {
  keyId: string;
  secretKey: string;
  /** Default iex (the free feed). */
  feed?: AlpacaDataFeed;
  /** Default wss://stream.data.alpaca.markets/v2/{feed}. */
  streamUrl?: string;
  /** REST host for snapshots. Default https://data.alpaca.markets */
  restUrl?: string;
  /** Symbols to stream. Default FAKEPACA on the test feed; required otherwise. */
  symbols?: string[];
  /** Which channels to subscribe. Default all four. */
  channels?: AlpacaChannels;
  /** Reference prices from snapshots at start. Default true (except on the test feed). */
  referenceData?: boolean;
  clock?: Clock;
  log?: FeedLogger;
  backoff?: BackoffOptions;
  /** After 406 (connection limit): the first wait, growing to 10 min. Default 60 s. */
  connectionLimitBackoffMs?: number;
  /** `start()` resolves after this long even if not connected yet (the feed keeps trying). Default 15 s. */
  startTimeoutMs?: number;
  /** Longest wait for each handshake step (welcome, authenticated, subscription). Default 15 s. */
  stepTimeoutMs?: number;
  /** WebSocket ping interval; two missed answers close the socket. Default 30 s. */
  pingIntervalMs?: number;
  request?: RequestOptions;
  name?: string;
}

/** Reads ALPACA_FEED, ALPACA_STREAM_URL, ALPACA_DATA_URL and ALPACA_SYMBOLS (comma-separated). Throws on a bad ALPACA_FEED. */
export function alpacaOptionsFromEnv(env: Record<string, string | undefined>): Pick<AlpacaFeedOptions, 'feed' | 'streamUrl' | 'restUrl' | 'symbols'> {
  const out: Pick<AlpacaFeedOptions, 'feed' | 'streamUrl' | 'restUrl' | 'symbols'> = {};
  const feed = env['ALPACA_FEED']?.trim().toLowerCase();
  if (feed) {
    if (!(ALPACA_FEEDS as readonly string[]).includes(feed)) throw new Error(`ALPACA_FEED must be one of ${ALPACA_FEEDS.join(', ')} (got '${feed}')`);
    out.feed = feed as AlpacaDataFeed;
  }
  if (env['ALPACA_STREAM_URL']?.trim()) out.streamUrl = env['ALPACA_STREAM_URL'].trim();
  if (env['ALPACA_DATA_URL']?.trim()) out.restUrl = env['ALPACA_DATA_URL'].trim();
  const symbols = env['ALPACA_SYMBOLS']?.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (symbols && symbols.length) out.symbols = symbols;
  return out;
}

/** Stops the feed: the operator has to change something. */
export class AlpacaFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlpacaFatalError';
  }
}

type Outcome = { kind: 'reconnect' | 'reconnect_slowly'; reason: string } | { kind: 'fatal'; reason: string } | { kind: 'stopped' };

export class AlpacaFeed implements Feed {
  readonly name: string;
  readonly feed: AlpacaDataFeed;
  readonly symbols: string[];
  private readonly o: AlpacaFeedOptions;
  private readonly clock: Clock;
  private readonly log: FeedLogger;
  private readonly health: FeedStatusTracker;
  private readonly life: FeedLifecycle;
  private readonly backoff: Backoff;
  private readonly slowBackoff: Backoff;
  private readonly delivered = new RecentTradeIds();
  private sink: ((ev: MarketEvent) => void) | null = null;
  private ws: WebSocket | null = null;
  /** What the server last confirmed (`subscription` message). */
  accepted: Record<string, string[]> = {};

  constructor(opts: AlpacaFeedOptions) {
    if (!opts.keyId || !opts.secretKey) throw new Error('AlpacaFeed: keyId and secretKey are required');
    this.o = opts;
    this.feed = opts.feed ?? 'iex';
    this.symbols = (opts.symbols ?? (this.feed === 'test' ? [ALPACA_TEST_SYMBOL] : [])).map((s) => s.toUpperCase());
    if (this.symbols.length === 0) throw new Error('AlpacaFeed: no symbols to stream (set ALPACA_SYMBOLS)');
    this.name = opts.name ?? 'alpaca';
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentFeedLogger;
    this.health = new FeedStatusTracker(this.name, this.clock, this.log);
    this.life = new FeedLifecycle(this.name, this.clock, this.health);
    this.backoff = new Backoff({ initialMs: 1_000, maxMs: 60_000, ...opts.backoff });
    const slow = opts.connectionLimitBackoffMs ?? 60_000;
    this.slowBackoff = new Backoff({ initialMs: slow, maxMs: Math.max(slow, 600_000), factor: 2, jitter: 0.2 });
  }

  start(sink: (ev: MarketEvent) => void): Promise<void> {
    return this.life.start(this.o.startTimeoutMs ?? 15_000, () => (this.sink = sink), () => this.run());
  }

  stop(): Promise<void> {
    return this.life.stop(() => this.ws?.close(1000, 'stopping'));
  }

  status(): FeedStatus {
    return this.health.status();
  }

  private get url(): string {
    return this.o.streamUrl ?? alpacaStreamUrl(this.feed);
  }

  private async run(): Promise<void> {
    if (this.o.referenceData ?? this.feed !== 'test') await this.loadReference();
    let connections = 0;
    while (!this.life.stopped) {
      const outcome = await this.session(() => {
        if (connections++ > 0) this.health.reconnects += 1;
        this.health.state = 'connected';
        this.health.lastError = null;
        this.backoff.reset();
        this.slowBackoff.reset();
        this.life.settle();
        this.log.info({ feed: this.name, url: this.url, accepted: this.accepted }, `${this.name}: streaming`);
      });
      if (outcome.kind === 'stopped' || this.life.stopped) break;
      if (outcome.kind === 'fatal') {
        this.health.state = 'failed';
        this.health.error('fatal', outcome.reason, 'error');
        this.life.settle(new AlpacaFatalError(outcome.reason));
        return;
      }
      this.health.state = 'reconnecting';
      const wait = outcome.kind === 'reconnect_slowly' ? this.slowBackoff.next() : this.backoff.next();
      this.log.warn({ feed: this.name, waitMs: wait }, `${this.name}: ${outcome.reason}; reconnecting in ${Math.round(wait / 1000)} s`);
      await sleep(this.clock, wait, this.life.signal);
    }
  }

  /** One connection from open to close; resolves with what to do next. */
  private session(onReady: () => void): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let phase: 'welcome' | 'auth' | 'subscribe' | 'streaming' = 'welcome';
      let outcome: Outcome | null = null;
      let lastSeen = this.clock.now();
      const ws = new WebSocket(this.url, { handshakeTimeout: this.o.stepTimeoutMs ?? 15_000 });
      this.ws = ws;
      const timers: (() => void)[] = [];
      const finish = (o: Outcome) => {
        outcome ??= o;
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
      };
      const stepTimeout = () => {
        timers.push(
          after(this.clock, this.o.stepTimeoutMs ?? 15_000, () => {
            if (phase !== 'streaming') finish({ kind: 'reconnect', reason: `no answer while waiting for ${phase}` });
          }),
        );
      };
      const send = (msg: object) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
      };
      const ready = () => {
        if (phase === 'streaming') return;
        phase = 'streaming';
        onReady();
      };
      const onError = (code: number, msg: string) => {
        const rule = alpacaErrorRule(code);
        const text = `Alpaca error ${code} (${msg || rule.meaning})${rule.hint ? `: ${rule.hint}` : ''}`;
        this.health.count(`alpaca_${code}`);
        // A plan without some channel, once authenticated, degrades instead of stopping: what was accepted keeps streaming.
        const reaction = code === 409 && (phase === 'subscribe' || phase === 'streaming') ? 'continue' : rule.reaction;
        if (reaction === 'continue') {
          this.health.lastError = text;
          this.log.warn({ feed: this.name, code }, `${this.name}: ${text}`);
          if (phase === 'subscribe' && (code === 405 || code === 409)) ready();
          return;
        }
        finish({ kind: reaction, reason: text });
      };
      ws.on('open', () => stepTimeout());
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        // Header-level refusals: bad keys are final, a busy slot waits long, anything else reconnects.
        if (status === 401 || status === 403) finish({ kind: 'fatal', reason: `Alpaca refused the connection (HTTP ${status}): check ALPACA_KEY_ID and ALPACA_SECRET_KEY` });
        else if (status === 429 || status === 406) finish({ kind: 'reconnect_slowly', reason: `Alpaca refused the connection (HTTP ${status})` });
        else finish({ kind: 'reconnect', reason: `Alpaca refused the connection (HTTP ${status})` });
      });
      ws.on('error', (err) => {
        outcome ??= { kind: 'reconnect', reason: `connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}` };
      });
      ws.on('pong', () => (lastSeen = this.clock.now()));
      const pingEvery = this.o.pingIntervalMs ?? 30_000;
      const pinger = this.clock.setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (this.clock.now() - lastSeen > 2 * pingEvery) finish({ kind: 'reconnect', reason: `no answer to pings for ${2 * pingEvery} ms` });
        else ws.ping();
      }, pingEvery);
      timers.push(() => this.clock.clearInterval(pinger));
      ws.on('message', (data, isBinary) => {
        lastSeen = this.clock.now();
        this.health.message();
        const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
        let frame: Json;
        try {
          frame = JSON.parse(text) as Json;
        } catch {
          this.health.malformed('not_json', `frame ${JSON.stringify(text.slice(0, 80))}`);
          return;
        }
        const messages = Array.isArray(frame) ? frame : [frame];
        for (const m of messages) {
          if (!isObject(m) || typeof m['T'] !== 'string') {
            this.health.malformed('unknown_format', `message ${JSON.stringify(m).slice(0, 80)}`);
            continue;
          }
          const t = m['T'];
          if (t === 'success') {
            if (m['msg'] === 'connected' && phase === 'welcome') {
              phase = 'auth';
              send({ action: 'auth', key: this.o.keyId, secret: this.o.secretKey });
              stepTimeout();
            } else if (m['msg'] === 'authenticated' && phase === 'auth') {
              phase = 'subscribe';
              send(this.subscribeMessage());
              stepTimeout();
            }
          } else if (t === 'subscription') {
            this.accepted = {};
            for (const [k, v] of Object.entries(m)) if (Array.isArray(v)) this.accepted[k] = v.filter((s): s is string => typeof s === 'string');
            ready();
          } else if (t === 'error') {
            onError(Number(m['code']), typeof m['msg'] === 'string' ? m['msg'] : '');
          } else {
            const r = parseAlpacaFrame([m]);
            if (r.error) this.health.malformed(r.error.kind, r.error.message);
            for (const ev of r.events) this.emit(ev);
          }
        }
      });
      ws.on('close', (code) => {
        for (const t of timers) t();
        if (this.ws === ws) this.ws = null;
        if (this.life.stopped) return resolve({ kind: 'stopped' });
        resolve(outcome ?? { kind: 'reconnect', reason: `connection closed (${code})` });
      });
    });
  }

  private subscribeMessage(): Record<string, unknown> {
    const c = this.o.channels ?? {};
    const msg: Record<string, unknown> = { action: 'subscribe' };
    if (c.trades !== false) msg['trades'] = this.symbols;
    if (c.quotes !== false) msg['quotes'] = this.symbols;
    if (c.bars !== false) msg['bars'] = this.symbols;
    if (c.statuses !== false) msg['statuses'] = this.symbols;
    return msg;
  }

  private emit(ev: MarketEvent): void {
    if (ev.type === 'trade' && !this.delivered.add(ev.symbol, ev.id)) return;
    this.health.event(ev);
    this.sink?.(ev);
  }

  private async loadReference(): Promise<void> {
    try {
      const r = await loadAlpacaReference(
        this.o.restUrl ?? ALPACA_DEFAULT_DATA_URL,
        { keyId: this.o.keyId, secretKey: this.o.secretKey },
        this.symbols,
        // The REST `feed` parameter knows iex and sip; otherwise let Alpaca pick what the plan allows.
        this.feed === 'iex' || this.feed === 'sip' ? this.feed : undefined,
        { clock: this.clock, retries: 2, ...this.o.request, signal: this.life.signal },
      );
      for (const s of r.skipped) this.health.malformed('reference_row', s);
      const now = this.clock.now();
      for (const ref of r.refs) this.emit({ type: 'reference', ts: now, ref });
    } catch (err) {
      if (this.life.stopped) return;
      // Not fatal: without a reference the engine lists a symbol from its first trade.
      this.health.error('reference', `reference prices not loaded: ${(err as Error).message}`);
    }
  }
}
