/**
 * SsiFeed against the fake FastConnect server (real HTTP + classic SignalR
 * over WebSocket on 127.0.0.1): normalized events, reference data, token
 * expiry and renewal, reconnects, malformed input, refused credentials.
 */
import type { MarketEvent, SymbolRef, TradeEvent } from '@stock-tracker/protocol';
import { tradingDateOf } from '@stock-tracker/rules';
import { SsiCredentialsError, SsiFeed, SSI_DEFAULT_CHANNELS, type FeedLogger, type SsiFeedOptions } from '../src/index.ts';
import { FAKE_SSI_ID, FAKE_SSI_SECRET, FakeSsiServer, type FakeSsiOptions } from '../../../test/fakes/ssi-server.ts';
import { harnesses } from './feed-harness.ts';

const VN = 'Asia/Ho_Chi_Minh';

const feeds = harnesses();
afterEach(() => feeds.stopAll());

async function harness(fakeOpts: FakeSsiOptions = {}, feedOpts: Partial<SsiFeedOptions> = {}, start = true) {
  const fake = await FakeSsiServer.start(fakeOpts);
  const makeFeed = (log: FeedLogger) =>
    new SsiFeed({
      consumerId: FAKE_SSI_ID,
      consumerSecret: FAKE_SSI_SECRET,
      restUrl: fake.restUrl,
      streamUrl: fake.streamUrl,
      backoff: { initialMs: 20, maxMs: 100 },
      request: { retries: 2, backoff: { initialMs: 10, maxMs: 50 } },
      startTimeoutMs: 5_000,
      referenceData: false,
      log,
      ...feedOpts,
    });
  return feeds.open(fake, makeFeed, start);
}

/** Now, to the second (SSI times have second resolution), and today's Vietnamese trading date. */
const nowSec = () => Math.floor(Date.now() / 1000) * 1000;
const today = () => tradingDateOf(Date.now(), VN);

function ref(symbol: string, reference: number, exchange = 'HOSE'): SymbolRef {
  const band = exchange === 'HOSE' ? 0.07 : 0.1;
  const step = 100;
  return {
    symbol,
    exchange,
    market: 'VN',
    tradingDate: today(),
    reference,
    ceiling: Math.floor((reference * (1 + band)) / step) * step,
    floor: Math.ceil((reference * (1 - band)) / step) * step,
    lotSize: 100,
    indices: [],
    sharesOutstanding: 0,
  };
}

let tradeSeq = 0;
function trade(symbol: string, price: number, volume: number, side?: 'buy' | 'sell'): TradeEvent {
  return { type: 'trade', ts: nowSec(), symbol, id: `t${++tradeSeq}`, price, volume, ...(side ? { side } : {}) };
}

const trades = (evs: MarketEvent[]) => evs.filter((e): e is TradeEvent => e.type === 'trade');

describe('SsiFeed: streaming', () => {
  it('speaks classic SignalR: negotiate, connect, start with the bearer token, then SwitchChannels for every channel', async () => {
    const h = await harness();
    const tokenCall = h.fake.calls('AccessToken');
    expect(tokenCall).toHaveLength(1);
    const negotiate = h.fake.calls('/v2.0/signalr/negotiate')[0]!;
    expect(negotiate.query.get('clientProtocol')).toBe('1.5');
    expect(JSON.parse(negotiate.query.get('connectionData')!)).toEqual([{ name: 'FcMarketDataV2Hub' }]);
    expect(negotiate.headers.authorization).toMatch(/^Bearer .+\..+\..+$/);
    const connect = h.fake.calls('/v2.0/signalr/connect')[0]!;
    expect(connect.query.get('transport')).toBe('webSockets');
    expect(connect.query.get('connectionToken')).toBeTruthy();
    expect(connect.headers.authorization).toBe(negotiate.headers.authorization);
    expect(h.fake.calls('/v2.0/signalr/start')).toHaveLength(1);
    await h.fake.waitFor(() => h.fake.switches.length === SSI_DEFAULT_CHANNELS.length, 'channels');
    expect(h.fake.switches).toEqual([...SSI_DEFAULT_CHANNELS]);
    expect(h.feed.status()).toMatchObject({ name: 'ssi', connected: true, state: 'connected', reconnects: 0, malformed: 0 });
  });

  it('delivers every kind of broadcast as normalized events, trades with the vendor side', async () => {
    const h = await harness();
    await h.fake.waitFor(() => h.fake.switches.length === 5, 'channels');
    const ts = nowSec();
    const sent: MarketEvent[] = [
      { type: 'reference', ts, ref: ref('VNM', 70_000) },
      trade('VNM', 70_100, 300, 'buy'),
      trade('VNM', 70_000, 200, 'sell'),
      { type: 'quote', ts, symbol: 'VNM', bids: [{ price: 70_000, volume: 1_000 }, { price: 69_900, volume: 500 }], asks: [{ price: 70_100, volume: 800 }] },
      { type: 'foreign', ts, symbol: 'VNM', buyVolume: 1_000, sellVolume: 400, buyValue: 70_000_000, sellValue: 28_000_000, totalRoom: 1e6, currentRoom: 9e5 },
      { type: 'index', ts, index: 'VN30', value: 1_300.5, prevClose: 1_290, volume: 1e6, valueTraded: 2e10, advances: 10, declines: 15, unchanged: 5, ceilings: 1, floors: 0 },
      { type: 'status', ts, exchange: 'HOSE', phase: 'continuous', halted: false },
    ];
    h.fake.emit(sent);
    await h.fake.waitFor(() => h.events.some((e) => e.type === 'status'), 'status event');

    const got = trades(h.events);
    expect(got.map((t) => [t.symbol, t.price, t.volume, t.side, t.ts])).toEqual([
      ['VNM', 70_100, 300, 'buy', ts],
      ['VNM', 70_000, 200, 'sell', ts],
    ]);
    expect(new Set(got.map((t) => t.id)).size).toBe(2);
    const quote = h.events.find((e) => e.type === 'quote');
    expect(quote).toMatchObject({ symbol: 'VNM', bids: [{ price: 70_000, volume: 1_000 }, { price: 69_900, volume: 500 }], asks: [{ price: 70_100, volume: 800 }] });
    expect(h.events.find((e) => e.type === 'foreign')).toMatchObject({ symbol: 'VNM', buyVolume: 1_000, sellVolume: 400, currentRoom: 9e5 });
    expect(h.events.find((e) => e.type === 'index')).toMatchObject({ index: 'VN30', value: 1_300.5, prevClose: 1_290, advances: 10 });
    expect(h.events.find((e) => e.type === 'status')).toMatchObject({ exchange: 'HOSE', phase: 'continuous', halted: false });
    expect(h.events.find((e) => e.type === 'reference')).toMatchObject({ ref: { symbol: 'VNM', reference: 70_000, market: 'VN', exchange: 'HOSE' } });

    const st = h.feed.status();
    expect(st.events).toBe(h.events.length);
    expect(st.lastEventTs).toBe(ts);
    expect(st.lastMessageAgeMs).toBeGreaterThanOrEqual(0);
    expect(st.lastMessageAgeMs).toBeLessThan(5_000);
  });

  it('subscribes only the configured channels and receives only their symbols', async () => {
    const h = await harness({}, { channels: ['X-TRADE:VNM-FPT'] });
    await h.fake.waitFor(() => h.fake.switches.length === 1, 'channel');
    expect(h.fake.switches).toEqual(['X-TRADE:VNM-FPT']);
    h.fake.emit([trade('HPG', 25_000, 100), trade('FPT', 120_000, 100), trade('VNM', 70_000, 100)]);
    await h.fake.waitFor(() => trades(h.events).length === 2, 'two trades');
    await new Promise((r) => setTimeout(r, 50));
    expect(trades(h.events).map((t) => t.symbol)).toEqual(['FPT', 'VNM']);
  });

  it('counts malformed payloads by kind, logs each kind once, and keeps streaming', async () => {
    const h = await harness();
    await h.fake.waitFor(() => h.fake.switches.length === 5, 'channels');
    h.fake.sendFrame('this is not json');
    h.fake.sendFrame('{also not json');
    h.fake.sendEnvelope('{"DataType":"X-TRADE","Content":"{broken"}');
    // Not routable by channel, so written as a raw hub frame.
    h.fake.sendFrame(JSON.stringify({ C: 'x', M: [{ H: 'FcMarketDataV2Hub', M: 'Broadcast', A: [JSON.stringify({ DataType: 'ZZZ', Content: '{}' })] }] }));
    h.fake.sendEnvelope({ DataType: 'X-TRADE', Content: JSON.stringify({ TradingDate: '06/01/2025', Time: '09:20:00', LastPrice: 1, LastVol: 1 }) });
    h.fake.sendHubError('Channel is not valid');
    h.fake.emit([trade('VNM', 70_000, 100)]);
    await h.fake.waitFor(() => trades(h.events).length === 1, 'trade after the garbage');

    const st = h.feed.status();
    expect(st.connected).toBe(true);
    expect(st.malformed).toBe(5);
    expect(st.errors).toMatchObject({ not_json: 3, unknown_datatype: 1, missing_field: 1, vendor_error: 1 });
    const notJsonLogs = h.warnings.filter((w) => w.includes('(not_json)'));
    expect(notJsonLogs).toHaveLength(1);
    expect(h.warnings.some((w) => w.includes('Channel is not valid'))).toBe(true);
  });
});

describe('SsiFeed: recovery', () => {
  it('after a token expires mid-stream: reconnects with a new token, re-subscribes, and delivers no trade twice', async () => {
    const h = await harness();
    await h.fake.waitFor(() => h.fake.switches.length === 5, 'channels');
    h.fake.emit([trade('VNM', 70_000, 100), trade('VNM', 70_100, 200), trade('FPT', 120_000, 300)]);
    await h.fake.waitFor(() => trades(h.events).length === 3, 'first trades');

    h.fake.expireTokens();
    // The feed first tries the cached token (401 on negotiate), then fetches a new one.
    await h.fake.waitFor(() => h.fake.connects === 2 && h.fake.switches.length === 10, 'reconnect and re-subscribe', 10_000);
    expect(h.fake.calls('/v2.0/signalr/negotiate').some((r) => r.status === 401)).toBe(true);
    expect(h.fake.tokensIssued).toBe(2);
    expect(h.fake.switches.slice(5)).toEqual([...SSI_DEFAULT_CHANNELS]);

    // The server resent its latest X-TRADE snapshots on subscribe: they must not count as new trades.
    h.fake.emit([trade('VNM', 70_200, 400)]);
    await h.fake.waitFor(() => trades(h.events).length >= 4, 'trade after reconnect');
    await new Promise((r) => setTimeout(r, 100));
    const got = trades(h.events);
    expect(got.map((t) => t.volume)).toEqual([100, 200, 300, 400]);
    expect(new Set(got.map((t) => `${t.symbol}|${t.id}`)).size).toBe(got.length);

    const st = h.feed.status();
    expect(st).toMatchObject({ connected: true, state: 'connected', reconnects: 1 });
    expect(st.errors['auth']).toBeGreaterThanOrEqual(1);
    expect(st.errors['disconnected']).toBe(1);
  });

  it('renews the token before it expires without dropping the stream', async () => {
    const h = await harness({ tokenTtlMs: 3_000 }, { tokenRefreshMarginMs: 2_000 });
    await h.fake.waitFor(() => h.fake.tokensIssued >= 2, 'token renewal', 5_000);
    expect(h.fake.connects).toBe(1);
    expect(h.feed.status().connected).toBe(true);
  });

  it('reconnects after the server drops the connection and after keep-alives stop', async () => {
    const h = await harness({ keepAliveTimeoutS: 1, keepAliveIntervalMs: 100 });
    await h.fake.waitFor(() => h.fake.switches.length === 5, 'channels');
    h.fake.dropConnections();
    await h.fake.waitFor(() => h.fake.connects === 2 && h.fake.switches.length === 10, 'reconnect after drop');
    // Keep-alives every 100 ms keep a 1 s timeout happy.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(h.fake.connects).toBe(2);
    h.fake.emit([trade('VNM', 70_000, 100)]);
    await h.fake.waitFor(() => trades(h.events).length === 1, 'trade after reconnect');
    expect(h.feed.status().reconnects).toBe(1);
  });

  it('treats a silent connection (no keep-alive within the timeout) as dead and reconnects', async () => {
    const h = await harness({ keepAliveTimeoutS: 0.3 });
    await h.fake.waitFor(() => h.fake.connects >= 2, 'reconnect after silence', 5_000);
    expect(h.warnings.some((w) => w.includes('keep-alive timeout'))).toBe(true);
  });

  it('stops with a clear error when SSI refuses the credentials, without retrying', async () => {
    const h = await harness({}, {}, false);
    h.fake.credentialsValid = false;
    const err = await h.feed.start(() => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SsiCredentialsError);
    expect((err as Error).message).toMatch(/SSI_CONSUMER_ID/);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.calls('AccessToken')).toHaveLength(1);
    expect(h.fake.connects).toBe(0);
    expect(h.feed.status()).toMatchObject({ connected: false, state: 'failed' });
    expect(h.feed.status().lastError).toMatch(/rejected the consumer/);
  });

  it('keeps retrying while the vendor is unreachable, then connects', async () => {
    const h = await harness({}, { startTimeoutMs: 200 }, false);
    h.fake.failNext('negotiate', [{ status: 503 }, { status: 503 }]);
    await h.feed.start((ev) => h.events.push(ev));
    await h.fake.waitFor(() => h.feed.status().connected, 'connected after 503s', 5_000);
    expect(h.fake.calls('negotiate').map((r) => r.status)).toEqual([503, 503, 200]);
    expect(h.feed.status().errors['connect']).toBe(2);
  });
});

describe('SsiFeed: reference data', () => {
  it('loads names, lot sizes, shares and index membership from REST and keeps them on stream references', async () => {
    const d = today();
    const h = await harness(
      {
        data: {
          listing: [
            { symbol: 'VNM', exchange: 'HOSE', name: 'Vinamilk', listedShare: 2_000_000_000 },
            { symbol: 'FPT', exchange: 'HOSE', name: 'FPT Corp', listedShare: 1_400_000_000 },
            { symbol: 'SHS', exchange: 'HNX', name: 'SHS', listedShare: 800_000_000 },
            { symbol: 'NOPX', exchange: 'UPCOM' },
          ],
          prices: [
            { symbol: 'VNM', date: d, ref: 70_000, ceiling: 74_900, floor: 65_100 },
            { symbol: 'FPT', date: d, ref: 120_000, ceiling: 128_400, floor: 111_600 },
            { symbol: 'SHS', date: d, ref: 15_000, ceiling: 16_500, floor: 13_500 },
          ],
          indexComponents: { VN30: ['VNM', 'FPT'] },
        },
      },
      { referenceData: true, reference: { markets: ['HOSE', 'HNX', 'UPCOM'], indexCodes: ['VN30'] } },
    );
    const refs = h.events.filter((e) => e.type === 'reference').map((e) => (e as { ref: SymbolRef }).ref);
    expect(refs.map((r) => r.symbol)).toEqual(['FPT', 'SHS', 'VNM']);
    expect(refs.find((r) => r.symbol === 'VNM')).toMatchObject({
      exchange: 'HOSE',
      market: 'VN',
      name: 'Vinamilk',
      tradingDate: d,
      reference: 70_000,
      ceiling: 74_900,
      floor: 65_100,
      lotSize: 100,
      indices: ['VN30'],
      sharesOutstanding: 2_000_000_000,
    });
    expect(refs.find((r) => r.symbol === 'SHS')).toMatchObject({ exchange: 'HNX', indices: [] });
    // Paged and authenticated like every REST call.
    expect(h.fake.calls('DailyStockPrice').every((r) => r.headers.authorization?.startsWith('Bearer '))).toBe(true);
    expect(h.fake.calls('DailyStockPrice')[0]!.query.get('lookupRequest.pageSize')).toBe('1000');

    // A new reference price from the stream keeps what only REST knows.
    await h.fake.waitFor(() => h.fake.switches.length === 5, 'channels');
    h.fake.emit([{ type: 'reference', ts: nowSec(), ref: { ...ref('VNM', 71_000), tradingDate: d } }]);
    await h.fake.waitFor(() => h.events.filter((e) => e.type === 'reference').length === 4, 'stream reference');
    expect((h.events.at(-1) as { ref: SymbolRef }).ref).toMatchObject({ symbol: 'VNM', reference: 71_000, name: 'Vinamilk', indices: ['VN30'], sharesOutstanding: 2_000_000_000 });
  });

  it('streams anyway when reference data cannot be loaded, and says why', async () => {
    const h = await harness({}, { referenceData: true, startTimeoutMs: 3_000 }, false);
    h.fake.failNext('SecuritiesDetails', [{ status: 500 }, { status: 500 }, { status: 500 }]);
    await h.feed.start((ev) => h.events.push(ev));
    await h.fake.waitFor(() => h.feed.status().connected, 'connected');
    expect(h.feed.status().errors['reference']).toBe(1);
    expect(h.warnings.some((w) => w.includes('reference data not loaded'))).toBe(true);
  });
});
