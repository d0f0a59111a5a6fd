/**
 * Ingress validation of identifiers (issue 12 §11): a symbol outside the
 * storage's pattern, or a trade id that is empty, too long or holds a control
 * character (NUL cannot be stored in PostgreSQL text), is rejected and counted
 * before it changes any state or reaches storage and the bus.
 */
import fc from 'fast-check';
import type { EngineOutput, MarketEvent } from '@stock-tracker/protocol';
import { MarketEngine } from '../src/engine.ts';

const T0 = Date.UTC(2024, 5, 3, 3, 0);
const trade = (symbol: unknown, id: unknown, n = 0): MarketEvent => ({ type: 'trade', ts: T0 + n, symbol, id, price: 10_000, volume: 100 }) as MarketEvent;

function engine() {
  const out: EngineOutput[] = [];
  const m = new MarketEngine();
  const e = { apply: (ev: MarketEvent) => m.apply(ev, (o: EngineOutput) => out.push(o)), stats: () => m.stats(), quotes: () => m.quotes() };
  return { e, out };
}

describe('engine ingress: symbols and trade ids', () => {
  const badSymbols = ['', 'VN M', 'VNM\u0000', 'A'.repeat(21), 'ĐỨC', 'VNM;DROP', 'a/b', '\u0000', 42, null];
  const badIds = ['', 'x'.repeat(65), 'T\u00001', 'T\n1', '\u007f', 7, undefined];

  it.each(badSymbols.map((s) => [JSON.stringify(s), s]))('rejects the trade symbol %s', (_label, symbol) => {
    const { e, out } = engine();
    expect(e.apply(trade(symbol, 'T1'))).toBe(false);
    expect(e.stats().rejected).toBe(1);
    expect(out).toEqual([]);
    expect(e.quotes()).toEqual([]);
  });

  it.each(badIds.map((s) => [JSON.stringify(s), s]))('rejects the trade id %s', (_label, id) => {
    const { e, out } = engine();
    expect(e.apply(trade('VNM', id))).toBe(false);
    expect(e.stats().rejected).toBe(1);
    expect(out).toEqual([]);
  });

  it('rejects quotes, foreign, status and reference data for symbols outside the pattern', () => {
    const { e, out } = engine();
    const sym = 'BAD\u0000SYM';
    const events = [
      { type: 'quote', ts: T0, symbol: sym, bids: [], asks: [] },
      { type: 'foreign', ts: T0, symbol: sym, buyVolume: 0, sellVolume: 0, buyValue: 0, sellValue: 0, totalRoom: 0, currentRoom: 0 },
      { type: 'status', ts: T0, symbol: sym, phase: 'continuous', halted: false },
      {
        type: 'reference',
        ts: T0,
        ref: { symbol: sym, exchange: 'HOSE', market: 'VN', tradingDate: '2024-06-03', reference: 10_000, ceiling: 10_700, floor: 9_300, lotSize: 100, indices: [], sharesOutstanding: 0 },
      },
    ] as unknown as MarketEvent[];
    for (const ev of events) expect(e.apply(ev), ev.type).toBe(false);
    expect(e.stats().rejected).toBe(events.length);
    expect(out).toEqual([]);
  });

  it('accepts every symbol of the storage pattern and every printable id up to 64 characters (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/),
        fc.string({ minLength: 1, maxLength: 64, unit: fc.constantFrom(...'abcXYZ019-_:/ .é') }),
        (symbol, id) => {
          const { e } = engine();
          expect(e.apply(trade(symbol, id))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
