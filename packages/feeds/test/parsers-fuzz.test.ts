/**
 * Fuzz: well over 10,000 generated lines (garbage, truncated vendor lines,
 * vendor lines with mutated fields, negative volumes, unknown symbols, prices
 * off the tick grid) go through parseLine and then the market engine. Nothing
 * may throw; every line ends up parsed, malformed (with a kind) or a known
 * no-op; every event that leaves a parser is a valid MarketEvent; the engine's
 * refusals are counted.
 */
import fc from 'fast-check';
import {
  createParseContext,
  createSsiEncodeState,
  encodeAlpaca,
  encodeEvent,
  encodeSsi,
  marketEventChecker,
  parseLine,
  type ParseErrorKind,
} from '@stock-tracker/feeds';
import { MarketEngine } from '@stock-tracker/engine';
import type { MarketEvent, SymbolRef } from '@stock-tracker/protocol';
import { alpacaEvent, DAY0, ssiEvent, SYMS } from './parsers-arbitraries.ts';

type Category = 'garbage' | 'truncated' | 'mutated' | 'negative' | 'unknown_symbol' | 'off_grid' | 'valid';
interface FuzzLine {
  category: Category;
  line: string;
}

// Reference data first, so that the engine knows limits and ticks and can refuse off-grid prices.
const references: MarketEvent[] = SYMS.map((symbol, i) => {
  const reference = 20_000 + i * 5_000;
  const ref: SymbolRef = { symbol, exchange: 'HOSE', market: 'VN', tradingDate: '2024-03-04', reference, ceiling: Math.floor((reference * 1.07) / 50) * 50, floor: Math.ceil((reference * 0.93) / 50) * 50, lotSize: 100, indices: [], sharesOutstanding: 1e9 };
  return { type: 'reference', ts: DAY0 - 3_600_000, ref };
});

/** A vendor or normalized line for an event, in one of the three formats. */
const encodedLine = (ev: MarketEvent, which: number): string | null => {
  if (which === 0) return encodeEvent(ev);
  if (which === 1) return encodeSsi(ev, createSsiEncodeState());
  const frame = encodeAlpaca([ev]);
  return frame === '[]' ? null : frame;
};
const validLine = fc
  .tuple(fc.oneof(ssiEvent, alpacaEvent), fc.integer({ min: 0, max: 2 }))
  .map(([ev, which]) => encodedLine(ev, which) ?? encodeEvent(ev));

const hostile = fc.constantFrom<unknown>(-1, -1e9, 0, '', 'NaN', 'abc', '1e400', null, true, {}, [], [1], { a: 1 }, 1e308, 'BU', '31/02/2024', '99:99:99');

/** Replace one field, at the top level of the event/message or inside SSI's Content, by a hostile or random value. */
function mutate(line: string, pick: number, value: unknown): string {
  const v = JSON.parse(line) as unknown;
  const target = (o: Record<string, unknown>) => {
    const keys = Object.keys(o);
    if (keys.length > 0) o[keys[pick % keys.length]!] = value;
  };
  if (Array.isArray(v)) {
    if (v.length > 0) target(v[pick % v.length] as Record<string, unknown>);
  } else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['Content'] === 'string') {
      const content = JSON.parse(o['Content']) as Record<string, unknown>;
      target(content);
      o['Content'] = JSON.stringify(content);
    } else target(o);
  }
  return JSON.stringify(v);
}

/** Flip every volume-like number of a line negative. */
const negate = (line: string) => line.replace(/("(?:volume|LastVol|TotalVol|BuyVol|SellVol|s|v|Volume|BidVol1|AskVol1)\\?":)([1-9]\d*)/g, '$1-$2');

const fuzzLine: fc.Arbitrary<FuzzLine> = fc.oneof(
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 120 }).map((line) => ({ category: 'garbage' as const, line })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 160 }).map((b) => ({ category: 'garbage' as const, line: Buffer.from(b).toString('utf8') })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((j) => ({ category: 'garbage' as const, line: JSON.stringify(j) ?? 'null' })) },
  { weight: 3, arbitrary: fc.tuple(validLine, fc.nat()).map(([l, k]) => ({ category: 'truncated' as const, line: l.slice(0, 1 + (k % (l.length - 1))) })) },
  {
    weight: 5,
    arbitrary: fc.tuple(validLine, fc.nat(), fc.oneof(hostile, fc.jsonValue({ maxDepth: 2 }))).map(([l, k, val]) => ({ category: 'mutated' as const, line: mutate(l, k, val) })),
  },
  { weight: 2, arbitrary: validLine.filter((l) => negate(l) !== l).map((l) => ({ category: 'negative' as const, line: negate(l) })) },
  {
    weight: 2,
    arbitrary: fc.tuple(validLine, fc.stringMatching(/^[A-Z]{3,6}$/)).map(([l, s]) => ({
      category: 'unknown_symbol' as const,
      line: l.replace(/("(?:symbol|Symbol|S)\\?":\\?")[A-Z.]+/g, `$1Z${s}`),
    })),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(ssiEvent, fc.integer({ min: 1, max: 49 }), fc.boolean()).map(([ev, off, vendor]) => {
      const shifted = ev.type === 'trade' ? { ...ev, price: ev.price + off } : ev.type === 'quote' ? { ...ev, bids: ev.bids.map((b) => ({ ...b, price: b.price + off })) } : ev;
      return { category: 'off_grid' as const, line: (vendor ? encodeSsi(shifted, createSsiEncodeState()) : null) ?? encodeEvent(shifted) };
    }),
  },
  { weight: 3, arbitrary: validLine.map((line) => ({ category: 'valid' as const, line })) },
);

const KINDS: ParseErrorKind[] = ['not_json', 'line_too_long', 'unknown_format', 'invalid_event', 'unknown_datatype', 'unknown_message', 'missing_field', 'invalid_value', 'invalid_time'];

describe('parser + engine fuzz', () => {
  it('survives 12,000 hostile lines: each parsed, malformed or a no-op; the engine counts refusals', () => {
    const lines = fc.sample(fuzzLine, { numRuns: 12_000, seed: 20240304 });
    const ctx = createParseContext();
    const engine = new MarketEngine();
    for (const ev of references) expect(engine.apply(ev, () => {})).toBe(true);

    const outcome = { parsed: 0, malformed: 0, noop: 0 };
    const byCategory = new Map<Category, { lines: number; malformed: number }>();
    let rejected = 0;
    let applied = 0;
    for (const { category, line } of lines) {
      const r = parseLine(line, 'auto', ctx);
      const c = byCategory.get(category) ?? { lines: 0, malformed: 0 };
      c.lines += 1;
      if (r.error) {
        expect(KINDS).toContain(r.error.kind);
        expect(r.error.message.length).toBeGreaterThan(0);
        outcome.malformed += 1;
        c.malformed += 1;
      } else if (r.events.length > 0) outcome.parsed += 1;
      else outcome.noop += 1;
      byCategory.set(category, c);
      for (const ev of r.events) {
        expect(marketEventChecker.Check(ev)).toBe(true);
        applied += 1;
        if (!engine.apply(ev, () => {})) rejected += 1;
      }
    }

    expect(lines.length).toBeGreaterThanOrEqual(10_000);
    expect(outcome.parsed + outcome.malformed + outcome.noop).toBe(lines.length);
    // A no-op line is blank or a message that carries nothing new (Alpaca control frame, repeated snapshot).
    expect(outcome.noop).toBeLessThan(lines.length * 0.05);
    // Cutting a JSON line short always breaks it; negative volumes never pass a parser.
    expect(byCategory.get('truncated')!.malformed).toBe(byCategory.get('truncated')!.lines);
    expect(byCategory.get('negative')!.malformed).toBe(byCategory.get('negative')!.lines);
    expect(byCategory.get('garbage')!.malformed).toBeGreaterThan(byCategory.get('garbage')!.lines * 0.9);
    expect(byCategory.get('mutated')!.malformed).toBeGreaterThan(0);
    expect(byCategory.get('valid')!.malformed).toBe(0);
    // Off-grid prices are the engine's business: parsed, then refused.
    expect(byCategory.get('off_grid')!.malformed).toBe(0);
    expect(rejected).toBeGreaterThan(0);
    expect(engine.stats().rejected).toBe(rejected);
    expect(applied).toBeGreaterThan(lines.length / 3);
  });
});
