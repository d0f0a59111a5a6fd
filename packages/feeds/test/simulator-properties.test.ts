import fc from 'fast-check';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MarketEvent, type QuoteEvent, type SessionPhase, type SymbolRef } from '@stock-tracker/protocol';
import { isOnTick, rulesFor } from '@stock-tracker/rules';
import { Simulator, phaseSequence, encodeEvent } from '../src/index.ts';

const START = Date.parse('2025-01-06T08:30:00+07:00');
const schema = TypeCompiler.Compile(MarketEvent);

/**
 * Checks a generated tape against the market's rules; returns the problems
 * found (at most a few of each kind) so a failure says what broke.
 */
function violations(events: MarketEvent[]): string[] {
  const out: string[] = [];
  const fail = (msg: string) => {
    if (out.length < 20) out.push(msg);
  };
  let lastTs = -Infinity;
  let date = '';
  const refs = new Map<string, SymbolRef>();
  const quotes = new Map<string, QuoteEvent>();
  const foreign = new Map<string, MarketEvent & { type: 'foreign' }>();
  const ids = new Set<string>();
  const auctions = new Set<string>();
  const exPhase = new Map<string, SessionPhase>();
  const halted = new Set<string>();
  // Per exchange, the phases of its current day (a day's sequence starts with its pre-open status, which comes before the day's references).
  const phasesToday = new Map<string, SessionPhase[]>();
  const checkPhases = (ex: string, complete: boolean) => {
    const seen = phasesToday.get(ex) ?? [];
    const want = phaseSequence(rulesFor(ex, 'VN'));
    const expected = complete ? want : want.slice(0, seen.length);
    if (JSON.stringify(seen) !== JSON.stringify(expected)) fail(`${date} ${ex} phases ${seen.join(',')} != ${expected.join(',')}`);
  };

  const checkLevelPrices = (ev: QuoteEvent, ref: SymbolRef) => {
    const rules = rulesFor(ref.exchange, 'VN');
    for (const [name, levels, dir] of [['bids', ev.bids, -1], ['asks', ev.asks, 1]] as const) {
      if (levels.length > rules.bookDepth) fail(`${ev.symbol} ${name} depth ${levels.length}`);
      levels.forEach((l, i) => {
        if (!isOnTick(rules, l.price) || l.price < ref.floor! || l.price > ref.ceiling!) fail(`${ev.symbol} ${name} price ${l.price} off grid/band`);
        if (!(l.volume > 0) || l.volume % 100 !== 0) fail(`${ev.symbol} ${name} volume ${l.volume}`);
        if (i > 0 && Math.sign(l.price - levels[i - 1]!.price) !== dir) fail(`${ev.symbol} ${name} not sorted`);
      });
    }
    if (ev.bids.length && ev.asks.length && !(ev.bids[0]!.price < ev.asks[0]!.price)) fail(`${ev.symbol} crossed book ${ev.bids[0]!.price}/${ev.asks[0]!.price}`);
  };

  for (const ev of events) {
    if (!schema.Check(ev)) fail(`schema: ${JSON.stringify(ev).slice(0, 120)}`);
    if (ev.ts < lastTs) fail(`ts went back ${lastTs} -> ${ev.ts}`);
    lastTs = ev.ts;
    switch (ev.type) {
      case 'reference': {
        if (ev.ref.tradingDate !== date) {
          if (date && ev.ref.tradingDate <= date) fail(`trading date ${ev.ref.tradingDate} after ${date}`);
          date = ev.ref.tradingDate;
          quotes.clear();
          foreign.clear();
          auctions.clear();
          halted.clear();
        }
        refs.set(ev.ref.symbol, ev.ref);
        break;
      }
      case 'status': {
        if (ev.symbol) {
          if (ev.halted) halted.add(ev.symbol);
          else halted.delete(ev.symbol);
          if (exPhase.get(ev.exchange!) !== 'continuous') fail(`halt of ${ev.symbol} outside continuous trading`);
        } else {
          if (ev.phase === 'pre_open' && phasesToday.has(ev.exchange!)) {
            checkPhases(ev.exchange!, true);
            phasesToday.delete(ev.exchange!);
          }
          const list = phasesToday.get(ev.exchange!) ?? [];
          list.push(ev.phase);
          phasesToday.set(ev.exchange!, list);
          exPhase.set(ev.exchange!, ev.phase);
        }
        break;
      }
      case 'quote': {
        const ref = refs.get(ev.symbol);
        if (!ref) fail(`quote before reference: ${ev.symbol}`);
        else checkLevelPrices(ev, ref);
        quotes.set(ev.symbol, ev);
        break;
      }
      case 'trade': {
        const ref = refs.get(ev.symbol)!;
        const rules = rulesFor(ref.exchange, 'VN');
        if (!isOnTick(rules, ev.price) || ev.price < ref.floor! || ev.price > ref.ceiling!) fail(`${ev.id} price ${ev.price} outside ${ref.floor}..${ref.ceiling}`);
        if (!(ev.volume > 0) || ev.volume % ref.lotSize !== 0) fail(`${ev.id} volume ${ev.volume}`);
        if (ids.has(ev.id)) fail(`duplicate trade id ${ev.id}`);
        ids.add(ev.id);
        const phase = exPhase.get(ref.exchange);
        if (ev.phase) {
          // Auction match: one per symbol and auction, no aggressor, during that auction.
          if (ev.side !== undefined) fail(`${ev.id} auction trade with side`);
          if (ev.phase !== phase) fail(`${ev.id} ${ev.phase} trade during ${phase}`);
          const key = `${ev.symbol}:${ev.phase}`;
          if (auctions.has(key)) fail(`second ${key} auction trade`);
          auctions.add(key);
        } else {
          if (phase !== 'continuous' || halted.has(ev.symbol)) fail(`${ev.id} continuous trade during ${phase}${halted.has(ev.symbol) ? ' (halted)' : ''}`);
          // Buyer-initiated trades lift a shown ask, seller-initiated ones hit a shown bid.
          const q = quotes.get(ev.symbol);
          const levels = ev.side === 'buy' ? q?.asks : ev.side === 'sell' ? q?.bids : undefined;
          const level = levels?.find((l) => l.price === ev.price);
          if (!level) fail(`${ev.id} ${ev.side} at ${ev.price} not on the shown book`);
          else if (ev.volume > level.volume) fail(`${ev.id} volume ${ev.volume} > shown ${level.volume}`);
        }
        break;
      }
      case 'foreign': {
        const prev = foreign.get(ev.symbol);
        if (prev) {
          for (const k of ['buyVolume', 'sellVolume', 'buyValue', 'sellValue'] as const) if (ev[k] < prev[k]) fail(`${ev.symbol} foreign ${k} decreased`);
        }
        if (ev.currentRoom < 0 || ev.currentRoom > ev.totalRoom) fail(`${ev.symbol} room ${ev.currentRoom}/${ev.totalRoom}`);
        if (ev.buyVolume % 100 !== 0 || ev.sellVolume % 100 !== 0) fail(`${ev.symbol} foreign volume not in lots`);
        foreign.set(ev.symbol, ev);
        break;
      }
      default:
        fail(`unexpected event type ${ev.type}`);
    }
  }
  for (const ex of phasesToday.keys()) checkPhases(ex, false);
  return out;
}

describe('simulator invariants (property)', () => {
  it('every generated tape obeys tick grid, limits, lots, book, phase, id, foreign and time rules', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1_000, max: 60_000 }),
        fc.double({ min: 0.05, max: 2.5, noNaN: true }),
        fc.integer({ min: 50, max: 800 }),
        fc.option(fc.integer({ min: 1, max: 70 }), { nil: undefined }),
        fc.boolean(),
        (seed, dayMs, days, intensity, symbols, bursts) => {
          const sim = new Simulator({ seed, startTs: START, dayMs, intensity, symbols, bursts });
          const events = sim.advanceTo(START + Math.floor(days * dayMs));
          expect(events.length).toBeGreaterThan(0);
          expect(violations(events)).toEqual([]);
        },
      ),
      { numRuns: 50, seed: 20250106 },
    );
  }, 120_000);

  it('the checker itself catches broken tapes', () => {
    const sim = new Simulator({ seed: 3, startTs: START, dayMs: 20_000, symbols: 6 });
    const events = sim.advanceTo(START + 20_000);
    expect(violations(events)).toEqual([]);
    const mutate = (pick: (ev: MarketEvent) => boolean, change: (ev: any) => void) => {
      const copy = structuredClone(events);
      const target = copy.find(pick)!;
      change(target);
      return violations(copy);
    };
    const isContTrade = (e: MarketEvent) => e.type === 'trade' && !e.phase;
    expect(mutate(isContTrade, (t) => (t.price += 1))).not.toEqual([]);
    expect(mutate(isContTrade, (t) => (t.volume = 150))).not.toEqual([]);
    expect(mutate((e) => e.type === 'quote' && e.bids.length > 0 && e.asks.length > 0, (q) => (q.bids[0].price = q.asks[0].price))).not.toEqual([]);
    expect(mutate((e) => e.type === 'status' && !e.symbol && e.phase === 'continuous', (s) => (s.phase = 'atc'))).not.toEqual([]);
    const dup = structuredClone(events);
    const trades = dup.filter(isContTrade) as any[];
    trades[1].id = trades[0].id;
    expect(violations(dup)).not.toEqual([]);
  });

  it('advancing in chunks gives exactly the events of one big step', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 12 }), (seed, cuts) => {
        const opts = { seed, startTs: START, dayMs: 30_000, intensity: 300 };
        const end = START + 40_000;
        const whole = new Simulator(opts).advanceTo(end).map(encodeEvent);
        const sim = new Simulator(opts);
        const chunked: string[] = [];
        for (const c of [...cuts].sort((a, b) => a - b)) sim.advanceTo(START + c, (ev) => chunked.push(encodeEvent(ev)));
        sim.advanceTo(end, (ev) => chunked.push(encodeEvent(ev)));
        expect(chunked.join('\n')).toBe(whole.join('\n'));
      }),
      { numRuns: 20, seed: 42 },
    );
  }, 120_000);
});
