import fc from 'fast-check';
import {
  createParseContext,
  createSsiEncodeState,
  encodeAlpaca,
  encodeEvent,
  encodeSsi,
  parseLine,
  type ParseContext,
} from '@stock-tracker/feeds';
import { localParts } from '@stock-tracker/rules';
import { alpacaEvent, ssiEvent } from './parsers-arbitraries.ts';
import type { MarketEvent, SymbolRef } from '@stock-tracker/protocol';

const trade: MarketEvent = { type: 'trade', ts: 1_705_285_203_000, symbol: 'FPT', id: 'x1', price: 96_500, volume: 200, side: 'buy' };

describe('normalized event lines', () => {
  it('accepts every event type the protocol defines', () => {
    const ref: SymbolRef = { symbol: 'FPT', exchange: 'HOSE', market: 'VN', tradingDate: '2024-01-15', reference: 96000, ceiling: 102700, floor: 89300, lotSize: 100, indices: ['VN30'], sharesOutstanding: 1.27e9 };
    const events: MarketEvent[] = [
      trade,
      { type: 'quote', ts: 1, symbol: 'FPT', bids: [{ price: 96400, volume: 1000 }], asks: [] },
      { type: 'foreign', ts: 1, symbol: 'FPT', buyVolume: 1, sellVolume: 2, buyValue: 3, sellValue: 4, totalRoom: 5, currentRoom: 6 },
      { type: 'index', ts: 1, index: 'VN30', value: 1200, prevClose: 1190, volume: 1, valueTraded: 2, advances: 1, declines: 2, unchanged: 3, ceilings: 0, floors: 0 },
      { type: 'status', ts: 1, exchange: 'HOSE', phase: 'ato', halted: false },
      { type: 'bar', ts: 60_000, symbol: 'FPT', interval: '5m', open: 1, high: 2, low: 1, close: 2, volume: 10 },
      { type: 'reference', ts: 1, ref },
    ];
    const ctx = createParseContext();
    for (const ev of events) {
      expect(parseLine(JSON.stringify(ev), 'auto', ctx)).toEqual({ events: [ev], format: 'events' });
      expect(parseLine(encodeEvent(ev), 'events', ctx)).toEqual({ events: [ev], format: 'events' });
    }
  });

  it('rejects schema violations with the offending field', () => {
    const bad = (over: object) => parseLine(JSON.stringify({ ...trade, ...over }), 'events', createParseContext()).error;
    expect(bad({ volume: -100 })).toMatchObject({ kind: 'invalid_event', message: expect.stringContaining('/volume') });
    expect(bad({ price: '96500' })).toMatchObject({ kind: 'invalid_event', message: expect.stringContaining('/price') });
    expect(bad({ id: undefined })).toMatchObject({ kind: 'invalid_event', message: expect.stringContaining('/id') });
    expect(bad({ side: 'long' })).toMatchObject({ kind: 'invalid_event', message: expect.stringContaining('/side') });
    expect(bad({ type: 'tick' })).toMatchObject({ kind: 'invalid_event', message: expect.stringContaining('unknown event type') });
  });
});

describe('parseLine: detection and robustness', () => {
  const ssi = JSON.stringify({ DataType: 'F', Content: JSON.stringify({ RType: 'F', TradingDate: '15/01/2024', Time: '09:00:00', MarketId: 'HOSE', TradingSession: 'ATO', TradingStatus: 'N' }) });
  const alpaca = '[{"T":"t","i":1,"S":"AAPL","x":"V","p":100,"s":10,"t":"2024-01-16T15:00:00Z"}]';

  it('detects the format of each line of a mixed tape', () => {
    const ctx = createParseContext();
    expect([JSON.stringify(trade), ssi, alpaca].map((l) => parseLine(l, 'auto', ctx).format)).toEqual(['events', 'ssi', 'alpaca']);
  });

  it('rejects a line of another format when one is forced', () => {
    const r = parseLine(alpaca, 'ssi', createParseContext());
    expect(r).toMatchObject({ events: [], format: 'alpaca', error: { kind: 'unknown_format' } });
  });

  it('skips blank lines silently and reports garbage', () => {
    const ctx = createParseContext();
    expect(parseLine('', 'auto', ctx)).toEqual({ events: [] });
    expect(parseLine('  \r', 'auto', ctx)).toEqual({ events: [] });
    expect(parseLine('\u0000\u00ff garbage', 'auto', ctx).error?.kind).toBe('not_json');
    expect(parseLine('42', 'auto', ctx).error?.kind).toBe('unknown_format');
    expect(parseLine('{"hello":"world"}', 'auto', ctx).error?.kind).toBe('unknown_format');
    expect(parseLine('x'.repeat((1 << 20) + 1), 'auto', ctx).error?.kind).toBe('line_too_long');
  });

  it('tolerates CR line ends and a byte-order mark', () => {
    expect(parseLine(`\uFEFF${JSON.stringify(trade)}\r`, 'auto', createParseContext()).events).toEqual([trade]);
  });
});

// ---- round trips: encode -> parse gives back every event the vendor format can express

const VN_TZ = 'Asia/Ho_Chi_Minh';

/**
 * What parsing an SSI tape of `evs` must give: the same events, except that a
 * trade's id is its symbol, date and cumulative volume (SSI carries no ids),
 * and a reference equal to the one already announced is not announced twice.
 */
function expectedFromSsi(evs: MarketEvent[]): MarketEvent[] {
  const totals = new Map<string, number>();
  const announced = new Map<string, string>();
  const out: MarketEvent[] = [];
  for (const ev of evs) {
    if (ev.type === 'trade') {
      const total = (totals.get(ev.symbol) ?? 0) + ev.volume;
      totals.set(ev.symbol, total);
      out.push({ ...ev, id: `${ev.symbol}:${localParts(ev.ts, VN_TZ).date.replaceAll('-', '')}:${total}` });
    } else if (ev.type === 'reference') {
      const key = JSON.stringify(ev.ref);
      if (announced.get(ev.ref.symbol) !== key) out.push(ev);
      announced.set(ev.ref.symbol, key);
    } else {
      out.push(ev);
    }
  }
  return out;
}

function parseAll(lines: string[], format: 'ssi' | 'alpaca', ctx: ParseContext = createParseContext()): MarketEvent[] {
  return lines.flatMap((l) => {
    const r = parseLine(l, format, ctx);
    if (r.error) throw new Error(`${r.error.kind}: ${r.error.message} in ${l}`);
    return r.events;
  });
}

describe('round trip through the SSI encoder', () => {
  it('encode -> parse gives back every mappable event', () => {
    fc.assert(
      fc.property(fc.array(ssiEvent, { maxLength: 40 }), (evs) => {
        const state = createSsiEncodeState();
        const lines = evs.map((ev) => encodeSsi(ev, state));
        expect(lines.every((l) => l !== null)).toBe(true);
        expect(parseAll(lines as string[], 'ssi')).toEqual(expectedFromSsi(evs));
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('returns null for what SSI cannot carry', () => {
    expect(encodeSsi({ type: 'bar', ts: 0, symbol: 'FPT', interval: '5m', open: 1, high: 1, low: 1, close: 1, volume: 1 })).toBeNull();
    const usRef: SymbolRef = { symbol: 'AAPL', exchange: 'NASDAQ', market: 'US', tradingDate: '2024-01-16', reference: 180, ceiling: null, floor: null, lotSize: 1, indices: [], sharesOutstanding: 0 };
    expect(encodeSsi({ type: 'reference', ts: 0, ref: usRef })).toBeNull();
  });
});

describe('round trip through the Alpaca encoder', () => {
  it('encode -> parse gives back every mappable event (bar value up to float rounding)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(alpacaEvent, { maxLength: 8 }), { maxLength: 10 }), (frames) => {
        const parsed = parseAll(frames.map(encodeAlpaca), 'alpaca');
        const want = frames.flat();
        expect(parsed).toHaveLength(want.length);
        parsed.forEach((ev, i) => {
          const w = want[i]!;
          if (ev.type === 'bar' && w.type === 'bar' && w.value !== undefined) {
            expect(ev.value).toBeCloseTo(w.value, 4);
            expect({ ...ev, value: 0 }).toEqual({ ...w, value: 0 });
          } else {
            expect(ev).toEqual(w);
          }
        });
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('drops what Alpaca cannot carry', () => {
    const foreign: MarketEvent = { type: 'foreign', ts: 0, symbol: 'AAPL', buyVolume: 1, sellVolume: 1, buyValue: 1, sellValue: 1, totalRoom: 1, currentRoom: 1 };
    expect(encodeAlpaca([foreign, { type: 'status', ts: 0, exchange: 'NASDAQ', phase: 'closed', halted: false }])).toBe('[]');
  });
});
