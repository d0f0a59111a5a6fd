/**
 * The building blocks under the vendor feeds: backoff, Retry-After, token
 * expiry, health counters, trade-id memory, and timer hygiene on stop.
 */
import fc from 'fast-check';
import {
  AlpacaFeed,
  Backoff,
  FeedStatusTracker,
  jwtExpiry,
  ManualClock,
  parseRetryAfter,
  RecentTradeIds,
  requestJson,
  HttpError,
  SsiFeed,
  systemClock,
  type Clock,
} from '../src/index.ts';
import { FAKE_SSI_ID, FAKE_SSI_SECRET, FakeSsiServer } from '../../../test/fakes/ssi-server.ts';
import { FAKE_ALPACA_KEY, FAKE_ALPACA_SECRET, FakeAlpacaServer } from '../../../test/fakes/alpaca-server.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The system clock, counting the intervals it has running. */
class CountingClock implements Clock {
  live = new Set<unknown>();
  now = () => Date.now();
  setInterval(fn: () => void, ms: number): unknown {
    const h = systemClock.setInterval(fn, ms);
    this.live.add(h);
    return h;
  }
  clearInterval(h: unknown): void {
    this.live.delete(h);
    systemClock.clearInterval(h);
  }
}

describe('Backoff', () => {
  it('stays within [(1 - jitter) * d, d] for d = min(max, initial * factor^n), and reset starts over', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (initialMs, maxMs, jitter, r) => {
        const b = new Backoff({ initialMs, maxMs, factor: 2, jitter, random: () => r });
        for (let n = 0; n < 12; n++) {
          const d = Math.min(maxMs, initialMs * 2 ** n);
          const v = b.next();
          expect(v).toBeGreaterThanOrEqual(Math.floor((1 - jitter) * d) - 1);
          expect(v).toBeLessThanOrEqual(d + 1);
        }
        b.reset();
        expect(b.next()).toBeLessThanOrEqual(Math.min(maxMs, initialMs) + 1);
      }),
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and ignores nonsense', () => {
    const now = Date.parse('2025-01-06T02:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Mon, 06 Jan 2025 02:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Mon, 06 Jan 2025 01:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});

describe('requestJson', () => {
  it('retries 5xx and 429 (honouring Retry-After), fails fast on other 4xx', async () => {
    const script = [503, 429, 200, 404];
    const seen: number[] = [];
    const server = createServer((_req, res) => {
      const status = script.shift() ?? 500;
      seen.push(status);
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '0' } : {}) });
      res.end(JSON.stringify({ status }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    try {
      const retries: string[] = [];
      expect(await requestJson(url, {}, { backoff: { initialMs: 5 }, onRetry: (i) => retries.push(`${i.reason}/${i.delayMs}`) })).toEqual({ status: 200 });
      expect(retries[0]).toMatch(/^HTTP 503\//);
      expect(retries[1]).toBe('HTTP 429/0');
      const err = await requestJson(url, {}, { backoff: { initialMs: 5 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(404);
      expect(seen).toEqual([503, 429, 200, 404]);
    } finally {
      server.close();
    }
  });
});

describe('jwtExpiry', () => {
  it('reads exp from a JWT and returns null for anything else', () => {
    const tok = (payload: object) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
    expect(jwtExpiry(tok({ exp: 1_700_000_000 }))).toBe(1_700_000_000_000);
    expect(jwtExpiry(tok({ sub: 'x' }))).toBeNull();
    expect(jwtExpiry('opaque-token')).toBeNull();
    expect(jwtExpiry('a.!!!.c')).toBeNull();
  });
});

describe('FeedStatusTracker', () => {
  it('reports message rate and age from the clock, counts errors per kind and logs a malformed kind once', () => {
    const clock = new ManualClock(1_000_000);
    const logged: string[] = [];
    const log = { info: () => {}, debug: () => {}, error: () => {}, warn: (_o: object | string, m?: string) => logged.push(m ?? '') };
    const h = new FeedStatusTracker('x', clock, log);
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 5; i++) h.message();
      clock.advance(1_000);
    }
    h.malformed('not_json', 'a');
    h.malformed('not_json', 'b');
    h.malformed('missing_field', 'c');
    h.state = 'connected';
    clock.advance(250);
    const st = h.status();
    expect(st.messagesPerSecond).toBe(5);
    expect(st.lastMessageAgeMs).toBe(1_250);
    expect(st).toMatchObject({ connected: true, malformed: 3, errors: { not_json: 2, missing_field: 1 } });
    expect(logged.filter((l) => l.includes('(not_json)'))).toHaveLength(1);
    clock.advance(20_000);
    expect(h.status().messagesPerSecond).toBe(0);
  });
});

describe('RecentTradeIds', () => {
  it('refuses repeats per symbol and stays bounded', () => {
    const ids = new RecentTradeIds(100);
    expect(ids.add('A', '1')).toBe(true);
    expect(ids.add('A', '1')).toBe(false);
    expect(ids.add('B', '1')).toBe(true);
    for (let i = 2; i < 1_000; i++) ids.add('A', String(i));
    // Recent ids are still remembered; the oldest were forgotten to bound memory.
    expect(ids.add('A', '999')).toBe(false);
    expect(ids.add('A', '1')).toBe(true);
  });
});

describe('stopping the vendor feeds', () => {
  it('leaves no timers behind (SSI and Alpaca)', async () => {
    const ssi = await FakeSsiServer.start();
    const alpaca = await FakeAlpacaServer.start();
    try {
      const c1 = new CountingClock();
      const s = new SsiFeed({ consumerId: FAKE_SSI_ID, consumerSecret: FAKE_SSI_SECRET, restUrl: ssi.restUrl, streamUrl: ssi.streamUrl, referenceData: true, clock: c1 });
      await s.start(() => {});
      expect(s.status().connected).toBe(true);
      expect(c1.live.size).toBeGreaterThan(0);
      await s.stop();
      expect(c1.live.size).toBe(0);
      expect(s.status().state).toBe('stopped');

      const c2 = new CountingClock();
      const a = new AlpacaFeed({ keyId: FAKE_ALPACA_KEY, secretKey: FAKE_ALPACA_SECRET, streamUrl: alpaca.streamUrl('iex'), restUrl: alpaca.restUrl, symbols: ['AAPL'], clock: c2 });
      await a.start(() => {});
      expect(a.status().connected).toBe(true);
      await a.stop();
      expect(c2.live.size).toBe(0);
      await alpaca.waitFor(() => alpaca.open.length === 0, 'socket closed');
    } finally {
      await ssi.close();
      await alpaca.close();
    }
  });
});
