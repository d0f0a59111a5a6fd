import type { AlertRule, EngineOutput, MarketEvent, SymbolRef } from '@stock-tracker/protocol';
import { MarketEngine } from '../src/engine.ts';
import { symbolRef, vn } from './builders.ts';

const DAY = 86_400_000;

const fptRef = (over: Partial<SymbolRef> = {}): SymbolRef => symbolRef({ sharesOutstanding: 1_000_000, ...over });

const rule = (over: Partial<AlertRule>): AlertRule => ({
  id: 'r1',
  userId: 'u1',
  symbol: 'FPT',
  kind: 'price_above',
  threshold: 0,
  cooldownMs: 0,
  enabled: true,
  createdAt: 0,
  ...over,
});

let seq = 0;
const trade = (ts: number, price: number, volume = 100, over: Record<string, unknown> = {}): MarketEvent =>
  ({ type: 'trade', ts, symbol: 'FPT', id: `T${seq++}`, price, volume, ...over }) as MarketEvent;
const book = (ts: number, bid: number, ask: number, symbol = 'FPT'): MarketEvent => ({
  type: 'quote',
  ts,
  symbol,
  bids: [{ price: bid, volume: 1_000 }],
  asks: [{ price: ask, volume: 1_000 }],
});
const status = (ts: number, phase: string, over: Record<string, unknown> = {}): MarketEvent =>
  ({ type: 'status', ts, exchange: 'HOSE', phase, halted: false, ...over }) as MarketEvent;

function harness(opts: ConstructorParameters<typeof MarketEngine>[0] = {}) {
  const engine = new MarketEngine(opts);
  let out: EngineOutput[] = [];
  const emit = (o: EngineOutput) => out.push(o);
  return {
    engine,
    emit,
    apply: (ev: MarketEvent) => engine.apply(ev, emit),
    /** Outputs since the last take. */
    take: () => {
      const o = out;
      out = [];
      return o;
    },
  };
}
const types = (o: EngineOutput[]) => o.map((x) => x.type);
const ofType = <T extends EngineOutput['type']>(o: EngineOutput[], t: T) => o.filter((x): x is Extract<EngineOutput, { type: T }> => x.type === t);

describe('MarketEngine', () => {
  it('wires a trade through classifier, quote cache, bars, alerts and indices', () => {
    const h = harness({ alertRules: [rule({ threshold: 100_400 })] });
    expect(h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() })).toBe(true);
    expect(types(h.take()).slice(0, 2)).toEqual(['reference', 'quote']);
    h.apply(status(vn(9, 15), 'continuous'));
    h.apply(book(vn(9, 20), 100_000, 100_500));
    expect(types(h.take())).toEqual(['quote', 'quote']);

    expect(h.apply(trade(vn(9, 20, 10), 100_500, 1_000))).toBe(true);
    const out = h.take();
    // (index outputs may follow: the trade moved engine time into a new second)
    expect(types(out).filter((t) => t !== 'index')).toEqual(['trade', 'bar', 'quote', 'alert']);
    // At the ask (above the 100,250 midpoint): an active buy by the quote rule.
    expect(ofType(out, 'trade')[0]!.trade).toMatchObject({ side: 'buy', sideSource: 'quote', phase: 'continuous', price: 100_500, volume: 1_000 });
    expect(ofType(out, 'bar')[0]!.bar).toMatchObject({ ts: vn(9, 20), closed: false, volume: 1_000, buyVolume: 1_000 });
    expect(ofType(out, 'quote')[0]!.state).toMatchObject({ last: 100_500, change: 500, changePct: 0.5, buyVolume: 1_000, totalVolume: 1_000 });
    expect(ofType(out, 'alert')[0]!.alert).toMatchObject({ ruleId: 'r1', symbol: 'FPT', value: 100_500, threshold: 100_400 });

    // Time moves on: the bar closes, and the computed indices follow FPT (their only member): +0.5%.
    h.engine.advance(vn(9, 21), h.emit);
    const later = h.take();
    expect(ofType(later, 'bar').map((b) => b.bar.closed)).toEqual([true]);
    const idx = Object.fromEntries(h.engine.indices().map((i) => [i.id, i.value]));
    expect(idx.VNINDEX).toBeCloseTo(1250 * 1.005, 6);
    expect(idx.VN30).toBeCloseTo(1350 * 1.005, 6);
    expect(h.engine.indices().map((i) => i.id).sort()).toEqual(['VN30', 'VNINDEX']);
    expect(h.engine.now()).toBe(vn(9, 21));
    expect(h.engine.bars('FPT')).toHaveLength(1);
  });

  it('rejects invalid events: false, counted, nothing emitted, nothing changed', () => {
    const h = harness();
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    h.apply(trade(vn(9, 20), 100_000));
    h.take();
    const before = h.engine.quote('FPT');
    const bad: unknown[] = [
      trade(vn(9, 21), -100_000),
      trade(vn(9, 21), 0),
      trade(vn(9, 21), 100_000, 0),
      trade(vn(9, 21), 100_000, -5),
      trade(vn(9, 21), Number.NaN),
      trade(vn(9, 21), Number.POSITIVE_INFINITY),
      trade(Number.NaN, 100_000),
      trade(9e15, 100_000), // beyond the Date range
      trade(vn(9, 21), 107_100), // above the ceiling
      trade(vn(9, 21), 92_900), // below the floor
      trade(vn(9, 21), 100_050), // off the 100 VND grid
      trade(vn(9, 21), 100_000, 100, { side: 'up' }),
      trade(vn(9, 21), 100_000, 100, { id: '' }),
      book(vn(9, 21), 100_000, 120_000), // ask above the ceiling
      book(vn(9, 21), -1, 100_100),
      { type: 'quote', ts: vn(9, 21), symbol: 'FPT', bids: 'nope', asks: [] },
      { type: 'foreign', ts: vn(9, 21), symbol: 'FPT', buyVolume: -1, sellVolume: 0, buyValue: 0, sellValue: 0, totalRoom: 0, currentRoom: 0 },
      { type: 'status', ts: vn(9, 21), phase: 'lunch', halted: false },
      { type: 'reference', ts: vn(9, 21), ref: fptRef({ reference: 120_000 }) }, // reference outside its own limits
      { type: 'reference', ts: vn(9, 21), ref: { symbol: 'X' } },
      { type: 'index', ts: vn(9, 21), index: 'VNINDEX', value: Number.NaN },
      { type: 'bar', ts: vn(9, 21), symbol: 'FPT', interval: '1m', open: 10, high: 9, low: 8, close: 9, volume: 1 },
      { type: 'what', ts: 1 },
      null,
      42,
      {},
    ];
    for (const ev of bad) expect(h.engine.apply(ev as MarketEvent, h.emit)).toBe(false);
    expect(h.take()).toEqual([]);
    expect(h.engine.quote('FPT')).toBe(before);
    expect(h.engine.stats().rejected).toBe(bad.length);
    expect(h.engine.now()).toBe(vn(9, 20));
  });

  it('rejects a re-sent trade within the day, accepts its id again on a new trading day', () => {
    const h = harness();
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    const t = trade(vn(9, 20), 100_000, 300);
    expect(h.apply(t)).toBe(true);
    h.apply(trade(vn(9, 30), 100_100, 100));
    // The feed replays the trade after a reconnect: same id, same ts.
    expect(h.apply({ ...t } as MarketEvent)).toBe(false);
    expect(h.engine.quote('FPT')!.totalVolume).toBe(400);
    expect(h.engine.stats()).toMatchObject({ rejected: 1, duplicates: 1 });
    // The same id at another instant is not a replay: a new trade.
    expect(h.apply({ ...t, ts: vn(9, 31) } as MarketEvent)).toBe(true);
    expect(h.engine.quote('FPT')!.totalVolume).toBe(700);
    h.apply({ type: 'reference', ts: vn(8, 30) + DAY, ref: fptRef({ tradingDate: '2024-01-03' }) });
    expect(h.apply({ ...t, ts: vn(9, 20) + DAY } as MarketEvent)).toBe(true);
    expect(h.apply({ ...t, ts: vn(9, 20) + DAY } as MarketEvent)).toBe(false);
    expect(h.engine.quote('FPT')!.totalVolume).toBe(300);
  });

  it('session summaries: a phase summary when the phase ends, the day at close', () => {
    const h = harness();
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    h.apply(status(vn(9, 0), 'ato'));
    h.apply(trade(vn(9, 14), 101_000, 5_000)); // opening auction print
    h.take();
    h.apply(status(vn(9, 15), 'continuous'));
    const s1 = ofType(h.take(), 'session').map((s) => s.summary);
    expect(s1).toHaveLength(1);
    expect(s1[0]).toMatchObject({ phase: 'ato', volume: 5_000, unknownVolume: 5_000, open: 101_000, close: 101_000, tradingDate: '2024-01-02' });
    h.apply(book(vn(9, 16), 101_000, 101_100));
    h.apply(trade(vn(9, 16, 5), 101_100, 1_000)); // at the ask: buy
    h.apply(trade(vn(9, 16, 6), 101_000, 2_000)); // at the bid: sell
    h.apply(status(vn(14, 30), 'atc'));
    h.apply(trade(vn(14, 44), 102_000, 3_000));
    h.take();
    h.apply(status(vn(15, 0), 'closed'));
    const s2 = ofType(h.take(), 'session').map((s) => s.summary);
    expect(s2.map((s) => s.phase)).toEqual(['atc', 'day']);
    // day: 5000 + 1000 + 2000 + 3000 shares; value 505M + 101.1M + 202M + 306M
    expect(s2[1]).toMatchObject({ volume: 11_000, value: 1_114_100_000, buyVolume: 1_000, sellVolume: 2_000, unknownVolume: 8_000, open: 101_000, close: 102_000, high: 102_000, low: 101_000, trades: 4 });
    expect(h.engine.summary('FPT')!.phases.map((p) => [p.phase, p.volume])).toEqual([
      ['ato', 5_000],
      ['continuous', 3_000],
      ['atc', 3_000],
    ]);
    expect(h.engine.quote('FPT')!.phase).toBe('closed');
  });

  it('foreign flows: state, quote row, alert, and the top list on advance', () => {
    // Derived outputs only on explicit advance() here (a day-long interval).
    const h = harness({ alertRules: [rule({ kind: 'foreign_net_buy_above', threshold: 1_000_000 })], foreignTopSize: 1, derivedIntervalMs: DAY });
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef({ symbol: 'VNM', indices: ['VNINDEX'] }) });
    h.engine.advance(vn(8, 31), h.emit);
    h.take();
    const f = (symbol: string, ts: number, buyValue: number, sellValue: number): MarketEvent => ({
      type: 'foreign',
      ts,
      symbol,
      buyVolume: buyValue / 100_000,
      sellVolume: sellValue / 100_000,
      buyValue,
      sellValue,
      totalRoom: 490_000,
      currentRoom: 245_000,
    });
    h.apply(f('FPT', vn(9, 30), 3_000_000, 500_000));
    const out = h.take();
    expect(types(out)).toEqual(['foreign', 'quote', 'alert']);
    expect(ofType(out, 'foreign')[0]!.state).toMatchObject({ netValue: 2_500_000, netVolume: 25, roomUsagePct: 50 });
    expect(ofType(out, 'quote')[0]!.state.foreign).toBe(ofType(out, 'foreign')[0]!.state);
    h.apply(f('VNM', vn(9, 30, 1), 100_000, 5_000_000));
    h.apply(f('FPT', vn(9, 29), 0, 9_000_000)); // stale: ignored
    expect(h.engine.foreign('FPT')!.netValue).toBe(2_500_000);
    h.take();
    h.engine.advance(vn(9, 31), h.emit);
    const top = ofType(h.take(), 'foreign_top');
    expect(top).toHaveLength(1);
    expect(top[0]!.top.buyers.map((s) => s.symbol)).toEqual(['FPT']);
    expect(top[0]!.top.sellers.map((s) => s.symbol)).toEqual(['VNM']);
    // Nothing changed since: no new top list.
    h.engine.advance(vn(9, 32), h.emit);
    expect(ofType(h.take(), 'foreign_top')).toEqual([]);
    expect(h.engine.stats().stale).toBe(1);
  });

  it('feed-supplied index values pass through', () => {
    const h = harness();
    const ev: MarketEvent = { type: 'index', ts: vn(10, 0), index: 'VNINDEX', value: 1_260.5, prevClose: 1_250, volume: 1e6, valueTraded: 2e10, advances: 200, declines: 150, unchanged: 50, ceilings: 3, floors: 1 };
    expect(h.apply(ev)).toBe(true);
    const idx = ofType(h.take(), 'index');
    expect(idx[0]!.state).toMatchObject({ id: 'VNINDEX', value: 1_260.5, prevClose: 1_250, computed: false, breadth: { advances: 200, declines: 150, unchanged: 50, ceilings: 3, floors: 1 } });
  });

  it('out of order: a stale book is ignored; a late trade corrects its closed bar and the totals, not last', () => {
    const h = harness({ alertRules: [rule({ kind: 'volume_spike', threshold: 2, period: 1 })] });
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    h.apply(status(vn(9, 15), 'continuous'));
    h.apply(book(vn(9, 20), 100_000, 100_500));
    expect(h.apply(book(vn(9, 19), 94_000, 95_000))).toBe(true);
    expect(h.engine.quote('FPT')!.bids[0]!.price).toBe(100_000);
    h.apply(trade(vn(9, 20, 30), 100_500, 100));
    h.apply(trade(vn(9, 21, 30), 100_000, 100));
    h.apply(trade(vn(9, 23, 0), 100_500, 100));
    h.take();
    // Late: belongs to the 09:20 minute, already closed.
    expect(h.apply(trade(vn(9, 20, 40), 101_000, 900))).toBe(true);
    const out = h.take();
    const bars = ofType(out, 'bar').map((b) => b.bar);
    expect(bars).toHaveLength(1);
    expect(bars[0]).toMatchObject({ ts: vn(9, 20), closed: true, volume: 1_000, close: 101_000, high: 101_000 });
    // A 10x volume on a closed bar would fire a volume spike if re-fed to the alerts; it is not.
    expect(ofType(out, 'alert')).toEqual([]);
    const q = ofType(out, 'quote')[0]!.state;
    expect(q).toMatchObject({ last: 100_500, totalVolume: 1_200, high: 101_000, ts: vn(9, 23) });
    expect(h.engine.bars('FPT').map((b) => [b.ts, b.volume, b.closed])).toEqual([
      [vn(9, 20), 1_000, true],
      [vn(9, 21), 100, true],
      [vn(9, 23), 100, false],
    ]);
  });

  it('a tape without reference data (US) lists symbols from their first trade', () => {
    const h = harness();
    const t0 = Date.UTC(2024, 2, 5, 15, 0); // 10:00 New York
    h.apply({ type: 'quote', ts: t0 - 10, symbol: 'AAPL', bids: [{ price: 170.1, volume: 200 }], asks: [{ price: 170.2, volume: 300 }] });
    expect(h.take().filter((o) => o.type === 'quote')).toEqual([]);
    h.apply({ type: 'trade', ts: t0, symbol: 'AAPL', id: 'a1', price: 170.2, volume: 50 });
    const out = h.take();
    expect(types(out).slice(0, 4)).toEqual(['reference', 'trade', 'bar', 'quote']);
    expect(ofType(out, 'reference')[0]!.ref).toMatchObject({ symbol: 'AAPL', market: 'US', reference: 170.2, tradingDate: '2024-03-05' });
    // The book seen before the listing classifies the trade: at the ask, a buy.
    expect(ofType(out, 'trade')[0]!.trade).toMatchObject({ side: 'buy', sideSource: 'quote', phase: 'continuous' });
    h.apply({ type: 'trade', ts: t0 + 1_000, symbol: 'AAPL', id: 'a2', price: 170.15, volume: 25, side: 'sell' });
    expect(h.engine.summary('AAPL')!.day).toMatchObject({ volume: 75, buyVolume: 50, sellVolume: 25, trades: 2 });
    expect(h.engine.references().map((r) => r.symbol)).toEqual(['AAPL']);
  });

  it('reference data arriving after the first trades upgrades the synthetic listing without losing volume', () => {
    const h = harness();
    h.apply(trade(vn(9, 20), 100_000, 300));
    expect(h.engine.reference('FPT')).toMatchObject({ market: 'US', reference: 100_000 });
    h.apply({ type: 'reference', ts: vn(9, 21), ref: fptRef({ reference: 99_000, ceiling: 105_900, floor: 92_100 }) });
    expect(h.engine.quote('FPT')).toMatchObject({ exchange: 'HOSE', tradingDate: '2024-01-02', reference: 99_000, totalVolume: 300, change: 1_000 });
    expect(h.engine.summary('FPT')!.day).toMatchObject({ tradingDate: '2024-01-02', volume: 300 });
    // From now on the real limits apply.
    expect(h.apply(trade(vn(9, 22), 106_000))).toBe(false);
  });

  it('useVendorSide: false classifies by Lee–Ready even when the feed flags the side', () => {
    const vendor = harness();
    const lr = harness({ useVendorSide: false });
    for (const h of [vendor, lr]) {
      h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
      h.apply(status(vn(9, 15), 'continuous'));
      h.apply(book(vn(9, 20), 100_000, 100_500));
      h.apply(trade(vn(9, 21), 100_000, 100, { id: 'x', side: 'buy' }));
    }
    expect(vendor.engine.quote('FPT')).toMatchObject({ buyVolume: 100, sellVolume: 0 });
    expect(lr.engine.quote('FPT')).toMatchObject({ buyVolume: 0, sellVolume: 100 });
  });

  it('a new trading day flushes the old day summary and resets the day', () => {
    const h = harness();
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    h.apply(trade(vn(10, 0), 101_000, 700));
    h.take();
    h.apply({ type: 'reference', ts: vn(8, 30) + DAY, ref: fptRef({ tradingDate: '2024-01-03', reference: 101_000, ceiling: 108_000, floor: 94_000 }) });
    const out = h.take();
    const sessions = ofType(out, 'session').map((s) => s.summary);
    expect(sessions.find((s) => s.phase === 'day')).toMatchObject({ tradingDate: '2024-01-02', volume: 700 });
    expect(ofType(out, 'quote').at(-1)!.state).toMatchObject({ tradingDate: '2024-01-03', totalVolume: 0, last: null });
    expect(h.engine.summary('FPT')!.day).toMatchObject({ tradingDate: '2024-01-03', volume: 0 });
    // A stale (older day) reference is ignored.
    expect(h.apply({ type: 'reference', ts: vn(8, 31), ref: fptRef() })).toBe(true);
    expect(h.engine.reference('FPT')!.tradingDate).toBe('2024-01-03');
    expect(h.engine.stats().events).toMatchObject({ reference: 3, trade: 1 });
  });

  it('rule CRUD goes through engine.alerts', () => {
    const h = harness();
    h.engine.alerts.upsert(rule({ id: 'p', threshold: 100_000 }));
    h.apply({ type: 'reference', ts: vn(8, 30), ref: fptRef() });
    h.apply(trade(vn(10, 0), 100_500));
    expect(ofType(h.take(), 'alert').map((a) => a.alert.ruleId)).toEqual(['p']);
    expect(h.engine.alerts.remove('p')).toBe(true);
  });
});
