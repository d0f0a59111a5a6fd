/**
 * Issue 12 §11: full-board reads (/api/quotes, /api/symbols, /api/market/status,
 * /api/foreign/top) are memoised for a short time: a crowd of requests within
 * the window costs one read of the live market, concurrent callers share an
 * in-flight read, and the next window reads afresh (new trades visible).
 * Real socket and client; the memo's clock is injected, so nothing depends on speed.
 */
import type { MarketEvent } from '@stock-tracker/protocol';
import type { LiveMarket } from '../src/http/deps.ts';
import { memoBoard } from '../src/http/board-memo.ts';
import { smallMarket } from './auth-fixture.ts';
import { stubApp } from './http-stubs.ts';

/** The engine, counting every full-board read. */
function counting(market: LiveMarket) {
  const calls: Record<string, number> = {};
  const count = <T>(name: string, v: T) => ((calls[name] = (calls[name] ?? 0) + 1), v);
  const wrapped: LiveMarket = {
    now: () => market.now(),
    quote: (s) => market.quote(s),
    reference: (s) => market.reference(s),
    summary: (s) => market.summary(s),
    bars: (s) => market.bars(s),
    foreign: (s) => market.foreign(s),
    quotes: () => count('quotes', market.quotes()),
    references: () => count('references', market.references()),
    foreignTop: (n) => count('foreignTop', market.foreignTop(n)),
    indices: () => count('indices', market.indices()),
  };
  return { wrapped, calls };
}

describe('full-board memo over real HTTP', () => {
  it('one read per window for 40 requests, then a fresh read showing the new trade', async () => {
    const engine = smallMarket();
    const { wrapped, calls } = counting(engine);
    let clock = 1_000;
    const { app } = await stubApp({ deps: { market: wrapped }, settings: { boardMemo: { ttlMs: 250, now: () => clock } } });
    try {
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const get = async (p: string) => {
        const r = await fetch(`${base}${p}`);
        expect(r.status, p).toBe(200);
        return r.json() as Promise<any>;
      };
      const paths = ['/api/quotes', '/api/symbols', '/api/market/status', '/api/foreign/top'];
      const first = await Promise.all(Array.from({ length: 40 }, (_, i) => get(paths[i % 4]!)));
      expect(calls.quotes).toBe(1); // /quotes and /market/status share it
      expect(calls.references).toBe(1);
      expect(calls.foreignTop).toBe(1);
      const volume = (body: any) => body.items.find((q: any) => q.symbol === 'FPT').totalVolume as number;
      const before = volume(first[0]);

      // A trade arrives; within the window the memo still answers (same snapshot, no new read).
      engine.apply({ type: 'trade', ts: engine.now() + 1_000, symbol: 'FPT', id: 'FPT-memo', price: 50_100, volume: 700 } as MarketEvent, () => {});
      clock += 249;
      expect(volume(await get('/api/quotes'))).toBe(before);
      expect(calls.quotes).toBe(1);

      // The window is over: a fresh read, with the trade in it.
      clock += 1;
      expect(volume(await get('/api/quotes'))).toBe(before + 700);
      expect(calls.quotes).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('concurrent callers share one in-flight read; a failed read is not kept', async () => {
    let reads = 0;
    let fail = true;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const engine = smallMarket();
    const slow: LiveMarket = Object.assign(Object.create(null), {
      ...counting(engine).wrapped,
      quotes: async () => {
        reads++;
        await gate;
        if (fail) throw new Error('redis down');
        return engine.quotes();
      },
    });
    const memo = memoBoard(slow, { ttlMs: 60_000, now: () => 0 });
    const all = Promise.allSettled([memo.quotes(), memo.quotes(), memo.quotes()]);
    release();
    expect((await all).every((r) => r.status === 'rejected')).toBe(true);
    expect(reads).toBe(1);
    fail = false;
    expect((await memo.quotes()).length).toBe(3); // retried at once, not the cached failure
    expect(reads).toBe(2);
  });
});
