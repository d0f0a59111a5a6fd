/**
 * AlpacaFeed against the fake Alpaca server (real WebSocket + HTTP on
 * 127.0.0.1): handshake, normalized frames, US reference data through the
 * engine, and the reaction to every documented stream error.
 */
import WebSocket from 'ws';
import type { MarketEvent, TradeEvent } from '@stock-tracker/protocol';
import { MarketEngine } from '@stock-tracker/engine';
import { ALPACA_STREAM_ERRORS, AlpacaFatalError, AlpacaFeed, alpacaErrorRule, alpacaOptionsFromEnv, type AlpacaFeedOptions, type FeedLogger } from '../src/index.ts';
import { FAKE_ALPACA_KEY, FAKE_ALPACA_SECRET, FakeAlpacaServer, type FakeAlpacaOptions } from '../../../test/fakes/alpaca-server.ts';
import { harnesses } from './feed-harness.ts';

const feeds = harnesses();
const extraSockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of extraSockets.splice(0)) ws.terminate();
  await feeds.stopAll();
});

async function harness(fakeOpts: FakeAlpacaOptions = {}, feedOpts: Partial<AlpacaFeedOptions> = {}, start = true) {
  const fake = await FakeAlpacaServer.start(fakeOpts);
  const makeFeed = (log: FeedLogger) =>
    new AlpacaFeed({
      keyId: FAKE_ALPACA_KEY,
      secretKey: FAKE_ALPACA_SECRET,
      feed: 'iex',
      streamUrl: fake.streamUrl('iex'),
      restUrl: fake.restUrl,
      symbols: ['AAPL', 'MSFT'],
      referenceData: false,
      backoff: { initialMs: 20, maxMs: 100 },
      connectionLimitBackoffMs: 600,
      startTimeoutMs: 5_000,
      request: { retries: 1, backoff: { initialMs: 10, maxMs: 20 } },
      log,
      ...feedOpts,
    });
  return feeds.open(fake, makeFeed, start);
}

const T0 = Date.parse('2024-07-02T14:00:00.123Z'); // 10:00 New York
let seq = 1000;
const trade = (symbol: string, price: number, volume: number, ts = T0): TradeEvent => ({ type: 'trade', ts, symbol, id: String(++seq), price, volume });
const trades = (evs: MarketEvent[]) => evs.filter((e): e is TradeEvent => e.type === 'trade');

/** A second client holding the account's only connection slot. */
async function occupySlot(fake: FakeAlpacaServer): Promise<WebSocket> {
  const ws = new WebSocket(fake.streamUrl('iex'));
  extraSockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { T: string; msg?: string }[];
      if (m[0]?.msg === 'connected') ws.send(JSON.stringify({ action: 'auth', key: FAKE_ALPACA_KEY, secret: FAKE_ALPACA_SECRET }));
      if (m[0]?.msg === 'authenticated') resolve();
    });
    ws.on('error', reject);
  });
  return ws;
}

describe('AlpacaFeed: streaming', () => {
  it('authenticates, subscribes every channel for its symbols and normalizes multi-message frames', async () => {
    const h = await harness();
    expect(h.fake.received[0]).toEqual({ action: 'auth', key: FAKE_ALPACA_KEY, secret: FAKE_ALPACA_SECRET });
    expect(h.fake.received[1]).toEqual({ action: 'subscribe', trades: ['AAPL', 'MSFT'], quotes: ['AAPL', 'MSFT'], bars: ['AAPL', 'MSFT'], statuses: ['AAPL', 'MSFT'] });
    expect(h.feed.accepted['trades']).toEqual(['AAPL', 'MSFT']);

    h.fake.push([
      trade('AAPL', 190.25, 100),
      { type: 'quote', ts: T0, symbol: 'AAPL', bids: [{ price: 190.2, volume: 300 }], asks: [{ price: 190.3, volume: 200 }] },
      { type: 'bar', ts: T0 - 60_000, symbol: 'MSFT', interval: '1m', open: 400, high: 401, low: 399.5, close: 400.5, volume: 5_000, trades: 40 },
      { type: 'status', ts: T0, symbol: 'MSFT', phase: 'continuous', halted: true },
      trade('TSLA', 250, 10), // not subscribed: never sent
    ]);
    await h.fake.waitFor(() => h.events.length === 4, 'four events');
    expect(h.events.map((e) => e.type)).toEqual(['trade', 'quote', 'bar', 'status']);
    expect(h.events[0]).toMatchObject({ symbol: 'AAPL', price: 190.25, volume: 100, ts: T0 });
    expect(h.events[1]).toMatchObject({ bids: [{ price: 190.2, volume: 300 }], asks: [{ price: 190.3, volume: 200 }] });
    expect(h.events[2]).toMatchObject({ symbol: 'MSFT', interval: '1m', close: 400.5, trades: 40 });
    expect(h.events[3]).toMatchObject({ symbol: 'MSFT', halted: true, phase: 'continuous' });
    expect(h.feed.status()).toMatchObject({ name: 'alpaca', connected: true, state: 'connected', events: 4, malformed: 0, lastEventTs: T0 });
  });

  it('loads US reference prices from snapshots: no daily limits, lot 1, and the engine accepts any price', async () => {
    const h = await harness(
      {
        snapshots: {
          AAPL: { prevDailyBar: { t: '2024-07-01T04:00:00Z', o: 187, h: 191, l: 186, c: 190, v: 1e6 }, dailyBar: { t: '2024-07-02T04:00:00Z', o: 190, h: 192, l: 189, c: 191, v: 5e5 } },
          MSFT: { prevDailyBar: { t: '2024-07-01T04:00:00Z', o: 400, h: 405, l: 398, c: 404, v: 1e6 }, dailyBar: { t: '2024-07-02T04:00:00Z', o: 404, h: 406, l: 401, c: 405, v: 5e5 } },
        },
      },
      { referenceData: true },
    );
    const refs = h.events.filter((e) => e.type === 'reference');
    expect(refs).toHaveLength(2);
    expect(refs[0]).toMatchObject({ ref: { symbol: 'AAPL', market: 'US', exchange: 'US', reference: 190, ceiling: null, floor: null, lotSize: 1, tradingDate: '2024-07-02' } });
    expect(h.fake.calls('/v2/stocks/snapshots')[0]!.headers['apca-api-key-id']).toBe(FAKE_ALPACA_KEY);

    // 30% above the reference would be far outside any Vietnamese band; US symbols have none.
    h.fake.push([trade('AAPL', 247.13, 5), trade('AAPL', 0.5, 7)]);
    await h.fake.waitFor(() => trades(h.events).length === 2, 'trades');
    const engine = new MarketEngine();
    for (const ev of h.events) expect(engine.apply(ev, () => {})).toBe(true);
    expect(engine.stats().rejected).toBe(0);
    expect(engine.quote('AAPL')).toMatchObject({ market: 'US', ceiling: null, floor: null, last: 0.5, reference: 190, totalVolume: 12 });
  });

  it('counts malformed frames and messages, keeps the good messages of a mixed frame and stays connected', async () => {
    const h = await harness();
    h.fake.sendRaw('not json at all');
    h.fake.sendRaw(JSON.stringify([{ T: 'zz', S: 'AAPL' }]));
    h.fake.sendRaw(JSON.stringify([{ T: 't', S: 'AAPL', p: 190 }, { T: 't', i: 77, S: 'AAPL', x: 'V', p: 190.5, s: 10, t: '2024-07-02T14:00:01Z', c: ['@'], z: 'C' }]));
    h.fake.sendRaw(JSON.stringify({ no: 'type' }));
    await h.fake.waitFor(() => trades(h.events).length === 1, 'the good trade');
    await h.fake.waitFor(() => h.feed.status().malformed === 4, 'malformed counted');
    expect(h.feed.status().errors).toMatchObject({ not_json: 1, unknown_message: 1, missing_field: 1, unknown_format: 1 });
    expect(trades(h.events)[0]).toMatchObject({ id: '77', price: 190.5 });
    expect(h.feed.status().connected).toBe(true);
  });
});

describe('AlpacaFeed: error codes', () => {
  it('has a reaction for every documented stream error code', () => {
    const codes = ALPACA_STREAM_ERRORS.map((r) => r.code);
    expect(codes).toEqual([400, 401, 402, 403, 404, 405, 406, 407, 409, 410, 500]);
    expect(alpacaErrorRule(402).reaction).toBe('fatal');
    expect(alpacaErrorRule(406).reaction).toBe('reconnect_slowly');
    expect(alpacaErrorRule(407).reaction).toBe('reconnect');
    expect(alpacaErrorRule(999).reaction).toBe('reconnect');
  });

  it('402 auth failed: stops with a clear error and does not try again', async () => {
    const h = await harness({}, { secretKey: 'wrong' }, false);
    const err = await h.feed.start(() => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlpacaFatalError);
    expect((err as Error).message).toMatch(/402.*ALPACA_KEY_ID/);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.authAttempts).toBe(1);
    expect(h.fake.sessions).toHaveLength(1);
    expect(h.feed.status()).toMatchObject({ state: 'failed', connected: false });
  });

  it('409 at auth (plan without the feed): stops and says which feed to use', async () => {
    const h = await harness({ plan: ['iex'] }, {}, false);
    const sip = new AlpacaFeed({ keyId: FAKE_ALPACA_KEY, secretKey: FAKE_ALPACA_SECRET, feed: 'sip', streamUrl: h.fake.streamUrl('sip'), symbols: ['AAPL'], referenceData: false, backoff: { initialMs: 20 } });
    h.feed = sip;
    const err = await sip.start(() => {}).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/409.*ALPACA_FEED=iex/);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.sessions).toHaveLength(1);
  });

  it('404 auth timeout: reconnects and authenticates', async () => {
    const h = await harness({ authTimeoutMs: 150 }, {}, false);
    h.fake.ignoreNextAuth(1);
    await h.feed.start((ev) => h.events.push(ev));
    await h.fake.waitFor(() => h.feed.status().connected, 'connected after the timeout');
    expect(h.fake.sessions.map((s) => s.errors)).toEqual([[404], []]);
    expect(h.feed.status().errors['alpaca_404']).toBe(1);
  });

  it('406 connection limit: backs off long instead of hammering, connects once the slot is free', async () => {
    // A long wait (1.5 s) against a 20 ms normal backoff: the difference shows whichever the feed used.
    const h = await harness({}, { connectionLimitBackoffMs: 1_500 }, false);
    const other = await occupySlot(h.fake);
    void h.feed.start((ev) => h.events.push(ev));
    await h.fake.waitFor(() => h.fake.sessions.length === 2, 'refused attempt');
    await new Promise((r) => setTimeout(r, 300));
    // One refused attempt; the normal backoff (20 ms) would have tried about ten times by now.
    expect(h.fake.sessions).toHaveLength(2);
    expect(h.fake.sessions[1]!.errors).toEqual([406]);
    expect(h.feed.status()).toMatchObject({ connected: false, state: 'reconnecting' });
    other.close();
    await h.fake.waitFor(() => h.feed.status().connected, 'connected after the slot was freed', 5_000);
    expect(h.feed.status().errors['alpaca_406']).toBe(1);
  });

  it('407 slow client: reconnects, re-authenticates, re-subscribes, and delivers no trade twice', async () => {
    const h = await harness();
    const first = [trade('AAPL', 190, 10), trade('AAPL', 190.1, 20)];
    h.fake.push(first);
    await h.fake.waitFor(() => trades(h.events).length === 2, 'first trades');
    h.fake.sendError(407, 'slow client', true);
    await h.fake.waitFor(() => h.fake.open.length === 1 && h.fake.open[0]!.authenticated && h.fake.sessions.length === 2 && h.feed.status().connected, 'reconnected');
    expect(h.fake.received.filter((m) => m['action'] === 'auth')).toHaveLength(2);
    expect(h.fake.received.filter((m) => m['action'] === 'subscribe')).toHaveLength(2);
    // A replay of what was already delivered plus one new trade.
    h.fake.push([...first, trade('AAPL', 190.2, 30)]);
    await h.fake.waitFor(() => trades(h.events).length >= 3, 'new trade');
    await new Promise((r) => setTimeout(r, 50));
    expect(trades(h.events).map((t) => t.volume)).toEqual([10, 20, 30]);
    expect(h.feed.status()).toMatchObject({ reconnects: 1, connected: true });
    expect(h.feed.status().errors['alpaca_407']).toBe(1);
  });

  it('405 symbol limit: logs it and keeps streaming the symbols the server accepted', async () => {
    const h = await harness({ symbolLimit: 2 }, { symbols: ['AAPL', 'MSFT', 'NVDA'] });
    expect(h.feed.status().connected).toBe(true);
    expect(h.feed.accepted['trades']).toEqual(['AAPL', 'MSFT']);
    expect(h.warnings.some((w) => w.includes('405') && w.includes('reduce ALPACA_SYMBOLS'))).toBe(true);
    h.fake.push([trade('NVDA', 120, 1), trade('MSFT', 400, 2)]);
    await h.fake.waitFor(() => trades(h.events).length === 1, 'accepted symbol trade');
    expect(trades(h.events)[0]!.symbol).toBe('MSFT');
    expect(h.fake.sessions).toHaveLength(1);
  });

  it.each([410, 500])('%i: reconnects with backoff', async (code) => {
    const h = await harness();
    h.fake.sendError(code, code === 500 ? 'internal error' : 'invalid subscribe action for this feed');
    await h.fake.waitFor(() => h.fake.sessions.length === 2 && h.feed.status().connected, 'reconnected');
    expect(h.feed.status().errors[`alpaca_${code}`]).toBe(1);
    expect(h.feed.status().reconnects).toBe(1);
  });

  it('reconnects after the connection drops', async () => {
    const h = await harness();
    h.fake.dropConnections();
    await h.fake.waitFor(() => h.fake.sessions.length === 2 && h.feed.status().connected, 'reconnected');
    h.fake.push([trade('MSFT', 401, 3)]);
    await h.fake.waitFor(() => trades(h.events).length === 1, 'trade after reconnect');
  });
});

describe('alpacaOptionsFromEnv', () => {
  it('reads feed, URLs and symbols, and refuses an unknown feed', () => {
    expect(alpacaOptionsFromEnv({ ALPACA_FEED: 'SIP', ALPACA_SYMBOLS: 'aapl, msft,,', ALPACA_STREAM_URL: 'ws://x/v2/sip', ALPACA_DATA_URL: 'http://y' })).toEqual({
      feed: 'sip',
      symbols: ['AAPL', 'MSFT'],
      streamUrl: 'ws://x/v2/sip',
      restUrl: 'http://y',
    });
    expect(() => alpacaOptionsFromEnv({ ALPACA_FEED: 'crypto' })).toThrow(/ALPACA_FEED/);
  });
});
