/**
 * Field bounds in the vendor parsers (issue 12 §11). A hostile or broken feed
 * can send a field of any size: numbers longer than MAX_NUMBER_CHARS and
 * strings longer than MAX_FIELD_CHARS are malformed (`invalid_value`, counted
 * by the feed), never parsed, and never passed downstream. The numeric check
 * is linear: a 50,000-character field is refused like a short bad one (the
 * former regex backtracked quadratically on it).
 */
import fc from 'fast-check';
import { createParseContext, createSsiEncodeState, encodeAlpaca, encodeSsi, parseLine } from '@stock-tracker/feeds';
import type { MarketEvent } from '@stock-tracker/protocol';
import { MAX_FIELD_CHARS, MAX_NUMBER_CHARS, toNumber } from '../src/parsers/fields.ts';

const TS = Date.UTC(2024, 5, 3, 3, 0);
const ref: MarketEvent = {
  type: 'reference',
  ts: TS - 3_600_000,
  ref: { symbol: 'VNM', exchange: 'HOSE', market: 'VN', tradingDate: '2024-06-03', reference: 65_000, ceiling: 69_500, floor: 60_500, lotSize: 100, indices: [], sharesOutstanding: 0 },
};
const trade: MarketEvent = { type: 'trade', ts: TS, symbol: 'VNM', id: 'T1', price: 65_000, volume: 100 };

/** A real SSI X-TRADE line for `trade`, with its Content fields overridden. */
function ssiTrade(over: Record<string, unknown>): string {
  const state = createSsiEncodeState();
  encodeSsi(ref, state);
  const line = encodeSsi(trade, state)!;
  const outer = JSON.parse(line) as { Content: string };
  return JSON.stringify({ ...outer, Content: JSON.stringify({ ...JSON.parse(outer.Content), ...over }) });
}

const parse = (line: string) => parseLine(line, 'auto', createParseContext());

describe('parser field bounds', () => {
  it('the unmodified lines parse (the fixtures are valid)', () => {
    expect(parse(ssiTrade({})).events.some((e) => e.type === 'trade')).toBe(true);
    expect(parse(encodeAlpaca([{ ...trade, price: 65.5 } as MarketEvent])).events).toHaveLength(1);
  });

  it('a 50,000-digit price is malformed, even when it is a valid number (leading zeros)', () => {
    for (const price of [`${'0'.repeat(50_000)}65000`, `${'1'.repeat(50_000)}x`, `${'9'.repeat(25_000)}.${'9'.repeat(25_000)}`, `1e${'0'.repeat(50_000)}1`]) {
      const r = parse(ssiTrade({ LastPrice: price }));
      expect(r.error?.kind, price.slice(0, 12)).toBe('invalid_value');
      expect(r.events).toEqual([]);
    }
    const alpaca = JSON.parse(encodeAlpaca([{ ...trade, price: 65.5 } as MarketEvent])) as Array<Record<string, unknown>>;
    alpaca[0]!.p = `${'0'.repeat(50_000)}65.5`;
    const r = parse(JSON.stringify(alpaca));
    expect(r.error?.kind).toBe('invalid_value');
    expect(r.events).toEqual([]);
  });

  it('string fields longer than the bound are malformed (symbol, trade id)', () => {
    for (const over of [{ Symbol: 'V'.repeat(100_000) }, { Symbol: 'V'.repeat(MAX_FIELD_CHARS + 1) }]) {
      const r = parse(ssiTrade(over));
      expect(r.error?.kind).toBe('invalid_value');
      expect(r.events).toEqual([]);
    }
    const alpaca = JSON.parse(encodeAlpaca([{ ...trade, price: 65.5 } as MarketEvent])) as Array<Record<string, unknown>>;
    alpaca[0]!.i = 'x'.repeat(MAX_FIELD_CHARS + 1);
    const r = parse(JSON.stringify(alpaca));
    expect(['invalid_value', 'invalid_event']).toContain(r.error?.kind); // refused by the field bound or the event schema
    expect(r.events).toEqual([]);
  });

  it('numeric strings: within the bound they read as Number does; past it they are refused (property)', () => {
    const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
    const numeric = fc
      .tuple(fc.constantFrom('', '+', '-'), digits(1, 30), fc.option(digits(0, 20)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3))))
      .map(([sign, int, frac, exp]) => `${sign}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`);
    fc.assert(
      fc.property(numeric, (s) => {
        if (s.length > MAX_NUMBER_CHARS || !Number.isFinite(Number(s))) expect(() => toNumber(s, 'x')).toThrow();
        else expect(toNumber(s, 'x')).toBe(Number(s));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(digits(MAX_NUMBER_CHARS + 1, 5_000), (s) => {
        expect(() => toNumber(s, 'x')).toThrow(/too long/);
      }),
      { numRuns: 100 },
    );
  });
});
