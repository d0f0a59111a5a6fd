/**
 * The `trade_updates` stream (wss://paper-api.alpaca.markets/stream):
 *
 *   → {"action":"authenticate","data":{"key_id":…,"secret_key":…}}
 *   ← {"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}
 *   → {"action":"listen","data":{"streams":["trade_updates"]}}
 *   ← {"stream":"listening","data":{"streams":["trade_updates"]}}
 *   ← {"stream":"trade_updates","data":{"event":"fill","order":{…},"price":…,"qty":…,…}}
 *
 * The paper endpoint sends binary frames (documented), the live one text
 * frames; both carry JSON here (MessagePack is only used when asked for with
 * a header, which this client never sends). A lost connection reconnects
 * with jittered exponential backoff, authenticates and listens again, then
 * reports `onListening(reconnect=true)` so the broker reconciles what
 * happened during the gap (Alpaca does not replay missed messages). An
 * `unauthorized` answer stops the stream for good: retrying cannot fix keys.
 */
import WebSocket from 'ws';
import { after, Backoff, sleep, systemClock, type BackoffOptions, type Clock, type FeedLogger } from '@stock-tracker/feeds';
import { decodeTradeUpdate, type AlpacaTradeUpdate } from './wire.ts';

export type TradeStreamState = 'idle' | 'connecting' | 'listening' | 'reconnecting' | 'stopped' | 'failed';

export interface TradeStreamStatus {
  state: TradeStreamState;
  /** Connections that reached `listening` after the first. */
  reconnects: number;
  /** Messages skipped as malformed, per kind. */
  malformed: Record<string, number>;
  lastError: string | null;
}

export interface AlpacaTradeStreamOptions {
  keyId: string;
  secretKey: string;
  /** Default wss://paper-api.alpaca.markets/stream */
  url?: string;
  clock?: Clock;
  log?: FeedLogger;
  backoff?: BackoffOptions;
  /** Longest wait for each handshake step (open, authorized, listening). Default 10 s. */
  stepTimeoutMs?: number;
  /** WebSocket ping interval; two unanswered intervals close the socket. Default 20 s. */
  pingIntervalMs?: number;
}

export interface TradeStreamHandlers {
  onUpdate(u: AlpacaTradeUpdate): void;
  /** Every time the stream is (again) listening; `reconnect` after a loss. Awaited before updates of the new connection are delivered. */
  onListening(reconnect: boolean): Promise<void> | void;
  /** The stream stopped for good (credentials refused). */
  onFatal?(reason: string): void;
}

export class AlpacaAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlpacaAuthError';
  }
}

export const alpacaStreamUrlFor = (restBaseUrl: string): string => {
  const u = new URL(restBaseUrl);
  u.protocol = u.protocol === 'http:' ? 'ws:' : 'wss:';
  u.pathname = '/stream';
  u.search = '';
  return u.toString();
};

type Outcome = { kind: 'reconnect'; reason: string } | { kind: 'fatal'; reason: string } | { kind: 'stopped' };

export class AlpacaTradeStream {
  private readonly o: AlpacaTradeStreamOptions;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private ws: WebSocket | null = null;
  private running: Promise<void> | null = null;
  private readonly st: TradeStreamStatus = { state: 'idle', reconnects: 0, malformed: {}, lastError: null };

  constructor(opts: AlpacaTradeStreamOptions) {
    if (!opts.keyId || !opts.secretKey) throw new Error('AlpacaTradeStream: keyId and secretKey are required');
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    this.backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.5, ...opts.backoff });
  }

  get url(): string {
    return this.o.url ?? 'wss://paper-api.alpaca.markets/stream';
  }

  status(): TradeStreamStatus {
    return { ...this.st, malformed: { ...this.st.malformed } };
  }

  /**
   * Connects and resolves once listening (after `onListening(false)` ran).
   * Rejects with AlpacaAuthError when the keys are refused; other failures
   * keep retrying in the background (the promise then waits for success).
   */
  start(h: TradeStreamHandlers): Promise<void> {
    if (this.running) throw new Error('AlpacaTradeStream: already started');
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const ok = () => {
        if (!settled) (settled = true), resolve();
      };
      const fail = (err: Error) => {
        if (!settled) (settled = true), reject(err);
      };
      // stop() before the first `listening` ends the wait too, instead of leaving the caller hanging.
      this.running = this.run(h, ok, fail).then(() => fail(new Error('AlpacaTradeStream: stopped before listening')));
    });
  }

  async stop(): Promise<void> {
    if (this.st.state !== 'failed') this.st.state = 'stopped';
    this.abort.abort();
    this.ws?.close(1000, 'stopping');
    await this.running;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(h: TradeStreamHandlers, ready: () => void, fail: (e: Error) => void): Promise<void> {
    let sessions = 0;
    while (!this.stopped) {
      this.st.state = sessions === 0 ? 'connecting' : 'reconnecting';
      const outcome = await this.session(async () => {
        const reconnect = sessions++ > 0;
        if (reconnect) this.st.reconnects += 1;
        this.st.state = 'listening';
        this.st.lastError = null;
        this.backoff.reset();
        await h.onListening(reconnect);
        ready();
      }, h);
      if (outcome.kind === 'stopped' || this.stopped) break;
      if (outcome.kind === 'fatal') {
        this.st.state = 'failed';
        this.st.lastError = outcome.reason;
        this.o.log?.error({ url: this.url }, `alpaca trade_updates: ${outcome.reason}`);
        h.onFatal?.(outcome.reason);
        fail(new AlpacaAuthError(outcome.reason));
        return;
      }
      this.st.lastError = outcome.reason;
      const wait = this.backoff.next();
      this.o.log?.warn({ url: this.url, waitMs: wait }, `alpaca trade_updates: ${outcome.reason}; reconnecting in ${wait} ms`);
      await sleep(this.clock, wait, this.abort.signal);
    }
    if (this.st.state !== 'failed') this.st.state = 'stopped';
  }

  private malformed(kind: string, what: string): void {
    this.st.malformed[kind] = (this.st.malformed[kind] ?? 0) + 1;
    if (this.st.malformed[kind] === 1) this.o.log?.warn({ kind }, `alpaca trade_updates: skipped a malformed message (${kind}): ${what}`);
  }

  /** One connection from open to close. Updates that arrive while `onReady` (reconciliation) runs wait for it. */
  private session(onReady: () => Promise<void>, h: TradeStreamHandlers): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let phase: 'open' | 'auth' | 'listen' | 'listening' = 'open';
      let outcome: Outcome | null = null;
      let lastSeen = this.clock.now();
      // Delivery is chained so that updates keep their order behind the reconciliation.
      let chain: Promise<void> = Promise.resolve();
      const stepMs = this.o.stepTimeoutMs ?? 10_000;
      const ws = new WebSocket(this.url, { handshakeTimeout: stepMs });
      this.ws = ws;
      const cancels: (() => void)[] = [];
      const finish = (o: Outcome) => {
        outcome ??= o;
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
      };
      const step = (name: string) =>
        cancels.push(
          after(this.clock, stepMs, () => {
            if (phase !== 'listening') finish({ kind: 'reconnect', reason: `no answer while waiting for ${name}` });
          }),
        );
      const send = (m: object) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m));
      ws.on('open', () => {
        phase = 'auth';
        send({ action: 'authenticate', data: { key_id: this.o.keyId, secret_key: this.o.secretKey } });
        step('authorization');
      });
      ws.on('unexpected-response', (_req, res) => {
        const code = res.statusCode ?? 0;
        res.resume();
        if (code === 401 || code === 403) finish({ kind: 'fatal', reason: `Alpaca refused the connection (HTTP ${code}): check ALPACA_TRADING_KEY_ID and ALPACA_TRADING_SECRET_KEY` });
        else finish({ kind: 'reconnect', reason: `Alpaca refused the connection (HTTP ${code})` });
      });
      ws.on('error', (err) => {
        outcome ??= { kind: 'reconnect', reason: `connection error: ${(err as NodeJS.ErrnoException).code ?? err.message}` };
      });
      ws.on('pong', () => (lastSeen = this.clock.now()));
      const pingMs = this.o.pingIntervalMs ?? 20_000;
      const pinger = this.clock.setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (this.clock.now() - lastSeen > 2 * pingMs) finish({ kind: 'reconnect', reason: `no answer to pings for ${2 * pingMs} ms` });
        else ws.ping();
      }, pingMs);
      cancels.push(() => this.clock.clearInterval(pinger));
      ws.on('message', (data, isBinary) => {
        lastSeen = this.clock.now();
        // Binary frames (paper) and text frames (live) both carry JSON.
        const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
        let m: unknown;
        try {
          m = JSON.parse(text);
        } catch {
          return this.malformed('not_json', JSON.stringify(text.slice(0, 80)));
        }
        if (typeof m !== 'object' || m === null || typeof (m as { stream?: unknown }).stream !== 'string') return this.malformed('unknown_format', JSON.stringify(m).slice(0, 80));
        const { stream, data: body } = m as { stream: string; data?: Record<string, unknown> };
        if (stream === 'authorization') {
          if (body?.['status'] === 'authorized') {
            if (phase !== 'auth') return;
            phase = 'listen';
            send({ action: 'listen', data: { streams: ['trade_updates'] } });
            step('listening');
          } else {
            finish({ kind: 'fatal', reason: `Alpaca refused the keys on the trade_updates stream (${String(body?.['status'] ?? 'unauthorized')}): check ALPACA_TRADING_KEY_ID and ALPACA_TRADING_SECRET_KEY (paper and live keys differ)` });
          }
        } else if (stream === 'listening') {
          const streams = Array.isArray(body?.['streams']) ? (body['streams'] as unknown[]) : [];
          if (!streams.includes('trade_updates')) return finish({ kind: 'reconnect', reason: 'the server did not confirm the trade_updates stream' });
          if (phase !== 'listen') return;
          phase = 'listening';
          chain = chain.then(onReady).catch((err: unknown) => {
            // Reconciliation failed (REST down): drop the connection and try the whole thing again.
            finish({ kind: 'reconnect', reason: `reconciliation failed: ${(err as Error).message}` });
          });
        } else if (stream === 'trade_updates') {
          let u: AlpacaTradeUpdate;
          try {
            u = decodeTradeUpdate(body);
          } catch (err) {
            return this.malformed('bad_trade_update', (err as Error).message);
          }
          chain = chain.then(() => {
            if (outcome === null || outcome.kind !== 'fatal') h.onUpdate(u);
          });
        } else {
          this.malformed('unknown_stream', stream);
        }
      });
      ws.on('close', (code) => {
        for (const c of cancels) c();
        if (this.ws === ws) this.ws = null;
        // Updates already received are still delivered (after the reconciliation they queued behind).
        void chain.then(() => {
          if (this.stopped) return resolve({ kind: 'stopped' });
          resolve(outcome ?? { kind: 'reconnect', reason: `connection closed (${code})` });
        });
      });
    });
  }
}
