import type { MarketEvent, SymbolRef, TradeEvent } from '@stock-tracker/protocol';
import { HNX, HOSE, UPCOM, isOnTick, priceLimits, rulesFor } from '@stock-tracker/rules';
import { LISTING, Simulator, VN30, encodeEvent, phaseChanges, tradingDateForDay, wallOffsetOfMinute } from '../src/index.ts';

const START = Date.parse('2025-01-06T08:30:00+07:00'); // a Monday
const DAY = 600_000;

const ofType = <T extends MarketEvent['type']>(events: MarketEvent[], type: T) =>
  events.filter((e): e is Extract<MarketEvent, { type: T }> => e.type === type);

// One default full day, shared by the tests that only read it.
const fullDaySim = new Simulator({ seed: 1, startTs: START });
const fullDay = fullDaySim.advanceTo(START + DAY - 1);

describe('simulated universe', () => {
  const refs = ofType(fullDay, 'reference').map((e) => e.ref);

  it('lists at least 40 symbols over HOSE, HNX and UPCOM, with all 30 VN30 names on HOSE', () => {
    expect(refs.length).toBeGreaterThanOrEqual(40);
    expect(new Set(refs.map((r) => r.symbol)).size).toBe(refs.length);
    expect(new Set(refs.map((r) => r.exchange))).toEqual(new Set(['HOSE', 'HNX', 'UPCOM']));
    const vn30 = refs.filter((r) => r.indices.includes('VN30'));
    expect(vn30.map((r) => r.symbol).sort()).toEqual([...VN30].sort());
    expect(vn30.length).toBe(30);
    for (const r of vn30) expect(r.exchange).toBe('HOSE');
    for (const s of ['SHS', 'PVS', 'IDC', 'CEO']) expect(refs.find((r) => r.symbol === s)?.exchange).toBe('HNX');
    for (const s of ['BSR', 'ACV', 'VEA', 'MCH']) expect(refs.find((r) => r.symbol === s)?.exchange).toBe('UPCOM');
  });

  it('gives realistic VND references on the tick grid, limits from the rules, lots of 100 and exchange index membership', () => {
    const bySymbol = new Map(refs.map((r) => [r.symbol, r]));
    expect(bySymbol.get('FPT')!.reference).toBeGreaterThan(80_000);
    expect(bySymbol.get('FPT')!.reference).toBeLessThan(160_000);
    expect(bySymbol.get('VCB')!.reference).toBeGreaterThan(60_000);
    expect(bySymbol.get('HPG')!.reference).toBeLessThan(40_000);
    for (const r of refs) {
      const rules = rulesFor(r.exchange, 'VN');
      expect(isOnTick(rules, r.reference)).toBe(true);
      expect({ ceiling: r.ceiling, floor: r.floor }).toEqual(priceLimits(rules, r.reference));
      expect(r.lotSize).toBe(100);
      expect(r.market).toBe('VN');
      expect(r.tradingDate).toBe('2025-01-06');
      expect(r.indices).toContain({ HOSE: 'VNINDEX', HNX: 'HNXINDEX', UPCOM: 'UPCOMINDEX' }[r.exchange]);
      expect(r.sharesOutstanding).toBeGreaterThan(1e8);
    }
  });

  it('caps foreign ownership at 30% for banks and 49% for others', () => {
    for (const r of refs) {
      const sector = LISTING.find((l) => l.symbol === r.symbol)!.sector;
      const pct = r.foreignLimit! / r.sharesOutstanding;
      expect(pct).toBeCloseTo(sector === 'bank' ? 0.3 : 0.49, 3);
    }
    expect(LISTING.find((l) => l.symbol === 'VCB')!.sector).toBe('bank');
  });

  it('a symbol count interleaves exchanges; a count past the listing adds synthetic names; unknown names are refused', () => {
    const few = new Simulator({ seed: 1, startTs: START, symbols: 3 }).references();
    expect(few.map((r) => r.exchange)).toEqual(['HOSE', 'HNX', 'UPCOM']);
    const many = new Simulator({ seed: 1, startTs: START, symbols: 100 }).references();
    expect(many.length).toBe(100);
    expect(new Set(many.map((r) => r.symbol)).size).toBe(100);
    const picked = new Simulator({ seed: 1, startTs: START, symbols: ['fpt', 'SHS'] }).references();
    expect(picked.map((r) => r.symbol)).toEqual(['FPT', 'SHS']);
    expect(() => new Simulator({ seed: 1, startTs: START, symbols: ['NOPE'] })).toThrow(/NOPE/);
    expect(() => new Simulator({ seed: 1, startTs: START, dayMs: 10 })).toThrow(RangeError);
  });
});

describe('one simulated day', () => {
  const trades = ofType(fullDay, 'trade');
  const refs = new Map(ofType(fullDay, 'reference').map((e) => [e.ref.symbol, e.ref]));

  it('has at least one limit-up or limit-down trade (seed 1)', () => {
    const atLimit = trades.filter((t) => t.price === refs.get(t.symbol)!.ceiling || t.price === refs.get(t.symbol)!.floor);
    expect(atLimit.length).toBeGreaterThan(0);
    // A locked name shows a one-sided board at its limit.
    const lockedQuotes = ofType(fullDay, 'quote').filter((q) => {
      const r = refs.get(q.symbol)!;
      return (q.asks.length === 0 && q.bids[0]?.price === r.ceiling) || (q.bids.length === 0 && q.asks[0]?.price === r.floor);
    });
    expect(lockedQuotes.length).toBeGreaterThan(0);
  });

  it('matches one ATO and one ATC auction per HOSE name, one ATC per HNX name and none on UPCOM, without a side', () => {
    const auctions = trades.filter((t) => t.phase);
    for (const r of refs.values()) {
      const mine = auctions.filter((t) => t.symbol === r.symbol).map((t) => t.phase);
      expect(mine).toEqual(r.exchange === 'HOSE' ? ['ato', 'atc'] : r.exchange === 'HNX' ? ['atc'] : []);
    }
    for (const t of auctions) expect(t.side).toBeUndefined();
    const continuous = trades.filter((t) => !t.phase);
    expect(continuous.length).toBeGreaterThan(1_000);
    for (const t of continuous) expect(['buy', 'sell']).toContain(t.side);
    const buys = continuous.filter((t) => t.side === 'buy').length;
    expect(buys / continuous.length).toBeGreaterThan(0.2);
    expect(buys / continuous.length).toBeLessThan(0.8);
  });

  it('walks the book now and then: one order filling at several prices in one instant', () => {
    let walks = 0;
    for (let i = 1; i < trades.length; i++) {
      const [a, b] = [trades[i - 1]!, trades[i]!];
      if (a.symbol === b.symbol && a.ts === b.ts && a.side && a.side === b.side && a.price !== b.price) {
        walks++;
        expect(b.side === 'buy' ? b.price > a.price : b.price < a.price).toBe(true);
      }
    }
    expect(walks).toBeGreaterThan(0);
    expect(walks).toBeLessThan(trades.length * 0.2);
  });

  it('emits exchange phases at the scheduled instants, compressed into the day', () => {
    for (const rules of [HOSE, HNX, UPCOM]) {
      const got = ofType(fullDay, 'status')
        .filter((s) => s.exchange === rules.exchange && !s.symbol)
        .map((s) => ({ ts: s.ts, phase: s.phase }));
      expect(got).toEqual(phaseChanges(rules, START, DAY, fullDaySim.layout).map((c) => ({ ts: c.ts, phase: c.phase })));
    }
    // Breaks are compressed: the lunch break lasts 1% of the day by default, the half hours before
    // the open and after the close a third of that each; trading shares the rest by local minutes.
    const br = DAY / 100;
    const perTradingMinute = (DAY - (5 / 3) * br) / 270;
    const at = (phase: string, exchange = 'HOSE') => ofType(fullDay, 'status').find((s) => s.exchange === exchange && s.phase === phase && !s.symbol)!.ts - START;
    expect(at('ato')).toBe(Math.floor(br / 3));
    expect(at('continuous')).toBe(Math.floor(br / 3 + 15 * perTradingMinute));
    expect(at('continuous', 'HNX')).toBe(Math.floor(br / 3));
    const lunch = at('lunch_break');
    expect(lunch).toBe(Math.floor(br / 3 + 150 * perTradingMinute));
    const afternoon = ofType(fullDay, 'status').filter((s) => s.exchange === 'HOSE' && s.phase === 'continuous' && !s.symbol)[1]!.ts - START;
    expect(afternoon - lunch).toBeGreaterThanOrEqual(br - 1);
    expect(afternoon - lunch).toBeLessThanOrEqual(br + 1);
    expect(Math.abs(at('closed') - (DAY - br / 3))).toBeLessThanOrEqual(1);
  });

  it('has no trading, and no trades, in the breaks: at most 2% of the day', () => {
    const statuses = ofType(fullDay, 'status').filter((s) => s.exchange === 'UPCOM' && !s.symbol);
    const quietMs = statuses.reduce((sum, s, i) => sum + (s.phase === 'continuous' ? 0 : (statuses[i + 1]?.ts ?? START + DAY) - s.ts), 0);
    expect(quietMs / DAY).toBeLessThan(0.02);
    expect(quietMs / DAY).toBeGreaterThan(0.01);
  });

  it('grows foreign flows and uses room as foreigners net buy', () => {
    const flows = ofType(fullDay, 'foreign');
    const last = new Map<string, (typeof flows)[number]>();
    for (const f of flows) last.set(f.symbol, f);
    const active = [...last.values()].filter((f) => f.buyVolume + f.sellVolume > 0);
    expect(active.length).toBeGreaterThan(20);
    for (const f of last.values()) {
      const first = flows.find((x) => x.symbol === f.symbol)!;
      expect(first.buyVolume + first.sellVolume).toBe(0);
      // Room moves exactly by the net foreign volume.
      expect(first.currentRoom - f.currentRoom).toBe(f.buyVolume - f.sellVolume);
      expect(f.totalRoom).toBe(refs.get(f.symbol)!.foreignLimit);
      if (f.buyVolume > 0) expect(f.buyValue / f.buyVolume).toBeGreaterThan(refs.get(f.symbol)!.floor! * 0.99);
    }
  });

  it('produces about `intensity` events per second in continuous trading', () => {
    for (const intensity of [100, 400]) {
      const sim = new Simulator({ seed: 9, startTs: START, dayMs: 120_000, intensity, bursts: false });
      const events = sim.advanceTo(START + 120_000);
      // 10:00–11:00 local: every exchange trades continuously.
      const l = new Simulator({ seed: 9, startTs: START, dayMs: 120_000 }).layout;
      const from = START + wallOffsetOfMinute(l, 10 * 60);
      const to = START + wallOffsetOfMinute(l, 11 * 60);
      const n = events.filter((e) => e.ts >= from && e.ts < to).length;
      const perSecond = n / ((to - from) / 1000);
      expect(perSecond).toBeGreaterThan(intensity * 0.85);
      expect(perSecond).toBeLessThan(intensity * 1.15);
    }
  });

  it('has bursts of activity only when bursts are on', () => {
    const peakToMedian = (bursts: boolean) => {
      const sim = new Simulator({ seed: 4, startTs: START, dayMs: 60_000, intensity: 300, bursts });
      const events = sim.advanceTo(START + 3 * 60_000);
      const buckets = new Map<number, number>();
      for (const e of events) if (e.type === 'trade' || e.type === 'quote') buckets.set(Math.floor(e.ts / 500), (buckets.get(Math.floor(e.ts / 500)) ?? 0) + 1);
      const counts = [...buckets.values()].sort((a, b) => a - b);
      return counts[counts.length - 1]! / counts[Math.floor(counts.length / 2)]!;
    };
    expect(peakToMedian(true)).toBeGreaterThan(2.5);
    expect(peakToMedian(false)).toBeLessThan(2.5);
  });
});

describe('days', () => {
  const sim = new Simulator({ seed: 11, startTs: START, dayMs: 20_000, intensity: 300 });
  const events = sim.advanceTo(START + 8 * 20_000 - 1);

  it('loops days at startTs + k·dayMs with business-day trading dates', () => {
    const dayStarts = [...new Set(ofType(events, 'reference').map((e) => `${e.ts} ${e.ref.tradingDate}`))];
    expect(dayStarts).toEqual(
      Array.from({ length: 8 }, (_, k) => `${START + k * 20_000} ${tradingDateForDay(START, k)}`),
    );
    expect(tradingDateForDay(START, 4)).toBe('2025-01-10');
    expect(tradingDateForDay(START, 5)).toBe('2025-01-13');
  });

  it("uses the previous day's close as the next reference", () => {
    const refsByDay = new Map<string, Map<string, SymbolRef>>();
    const lastTrade = new Map<string, Map<string, TradeEvent>>();
    for (const e of events) {
      if (e.type === 'reference') {
        if (!refsByDay.has(e.ref.tradingDate)) refsByDay.set(e.ref.tradingDate, new Map());
        refsByDay.get(e.ref.tradingDate)!.set(e.ref.symbol, e.ref);
      }
      if (e.type === 'trade') {
        const date = [...refsByDay.keys()].at(-1)!;
        if (!lastTrade.has(date)) lastTrade.set(date, new Map());
        lastTrade.get(date)!.set(e.symbol, e);
      }
    }
    const dates = [...refsByDay.keys()];
    let changed = 0;
    for (let d = 1; d < dates.length; d++) {
      for (const [symbol, ref] of refsByDay.get(dates[d]!)!) {
        const close = lastTrade.get(dates[d - 1]!)?.get(symbol)?.price ?? refsByDay.get(dates[d - 1]!)!.get(symbol)!.reference;
        expect(ref.reference).toBe(close);
        if (ref.reference !== refsByDay.get(dates[d - 1]!)!.get(symbol)!.reference) changed++;
      }
    }
    expect(changed).toBeGreaterThan(0);
  });

  it('halts a name now and then: a symbol status pair with no trades in between', () => {
    const halts = ofType(events, 'status').filter((s) => s.symbol);
    expect(halts.some((h) => h.halted)).toBe(true);
    for (const h of halts.filter((x) => x.halted)) {
      const resume = halts.find((x) => x.symbol === h.symbol && !x.halted && x.ts >= h.ts)!;
      expect(resume).toBeDefined();
      const during = events.filter((e) => e.type === 'trade' && e.symbol === h.symbol && e.ts >= h.ts && e.ts < resume.ts);
      expect(during).toEqual([]);
    }
  });

  it('rolls a weekend start to Monday and skips weekends', () => {
    const saturday = Date.parse('2025-01-04T10:00:00+07:00');
    expect(tradingDateForDay(saturday, 0)).toBe('2025-01-06');
    // Late evening UTC is already the next day in Ho Chi Minh City.
    expect(tradingDateForDay(Date.parse('2025-01-06T20:00:00Z'), 0)).toBe('2025-01-07');
    for (let k = 0; k < 30; k++) {
      const d = new Date(`${tradingDateForDay(START, k)}T00:00:00Z`).getUTCDay();
      expect(d).not.toBe(0);
      expect(d).not.toBe(6);
    }
  });
});

describe('determinism', () => {
  const tape = (seed: number) => new Simulator({ seed, startTs: START, dayMs: 30_000 }).advanceTo(START + 45_000).map(encodeEvent).join('\n');

  it('gives the same tape for the same seed and a different one for another seed', () => {
    const a = tape(5);
    expect(tape(5)).toBe(a);
    expect(tape(6)).not.toBe(a);
  });

  it('on the exchange clock: the same tape for the same seed, and the same events as the wall clock but for their stamps', () => {
    const run = (seed: number, clock: 'wall' | 'exchange') => {
      const sim = new Simulator({ seed, startTs: START, dayMs: 30_000, clock });
      return sim.advanceToWall(START + 45_000);
    };
    const a = run(5, 'exchange').map(encodeEvent).join('\n');
    expect(run(5, 'exchange').map(encodeEvent).join('\n')).toBe(a);
    expect(run(6, 'exchange').map(encodeEvent).join('\n')).not.toBe(a);
    const unstamped = (evs: MarketEvent[]) => evs.map((e) => encodeEvent({ ...e, ts: 0 }));
    const wall = run(5, 'wall');
    const exchange = run(5, 'exchange');
    expect(unstamped(exchange)).toEqual(unstamped(wall));
    // The stamps differ: local exchange time on the simulated trading date, not the wall instant.
    expect(exchange.filter((e, i) => e.ts !== wall[i]!.ts).length).toBeGreaterThan(exchange.length * 0.9);
  });

  it('never reads Math.random or the wall clock', () => {
    const random = vi.spyOn(Math, 'random');
    const now = vi.spyOn(Date, 'now');
    try {
      new Simulator({ seed: 2, startTs: START, dayMs: 10_000 }).advanceTo(START + 10_000);
      new Simulator({ seed: 2, startTs: START, dayMs: 10_000, clock: 'exchange' }).advanceToWall(START + 10_000);
      expect(random).not.toHaveBeenCalled();
      expect(now).not.toHaveBeenCalled();
    } finally {
      random.mockRestore();
      now.mockRestore();
    }
  });
});
