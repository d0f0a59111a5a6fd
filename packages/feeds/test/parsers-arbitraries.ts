/**
 * fast-check generators of events that the vendor formats carry exactly
 * (SSI: whole seconds within one trading day; Alpaca: one book level per
 * side, statuses on the US schedule). Shared by the round-trip and fuzz tests.
 */
import fc from 'fast-check';
import { localParts, phaseAt, US } from '@stock-tracker/rules';
import type { MarketEvent, SessionPhase } from '@stock-tracker/protocol';

export const VN_TZ = 'Asia/Ho_Chi_Minh';
export const DAY0 = Date.parse('2024-03-04T09:00:00+07:00');
export const SYMS = ['SSI', 'FPT', 'HPG', 'VNM'];
const PHASES: SessionPhase[] = ['pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed'];

// SSI has whole seconds and a trading date that follows from the time.
export const ssiTs = fc.integer({ min: 0, max: 6 * 3600 }).map((s) => DAY0 + s * 1000);
export const vnPrice = fc.integer({ min: 200, max: 1000 }).map((k) => k * 50);
export const shares = fc.integer({ min: 1, max: 500 }).map((k) => k * 100);
export const sym = fc.constantFrom(...SYMS);
const level = fc.record({ price: vnPrice, volume: shares });
const count = fc.nat({ max: 400 });

export const ssiEvent: fc.Arbitrary<MarketEvent> = fc.oneof(
  fc.record({ ts: ssiTs, symbol: sym, price: vnPrice, volume: shares, side: fc.constantFrom('buy', 'sell', undefined), phase: fc.constantFrom(...PHASES, undefined) }).map(
    ({ side, phase, ...t }) => ({ type: 'trade' as const, id: '?', ...t, ...(side ? { side } : {}), ...(phase ? { phase } : {}) }),
  ),
  fc.record({ ts: ssiTs, symbol: sym, bids: fc.array(level, { maxLength: 10 }), asks: fc.array(level, { maxLength: 10 }) }).map((q) => ({ type: 'quote' as const, ...q })),
  fc.record({ ts: ssiTs, symbol: sym, buyVolume: fc.nat(), sellVolume: fc.nat(), buyValue: fc.nat(), sellValue: fc.nat(), totalRoom: fc.nat(), currentRoom: fc.nat() }).map((f) => ({ type: 'foreign' as const, ...f })),
  fc.record({
    ts: ssiTs,
    index: fc.constantFrom('VNINDEX', 'VN30', 'HNXINDEX'),
    value: fc.integer({ min: 10_000, max: 200_000 }).map((v) => v / 100),
    prevClose: fc.integer({ min: 10_000, max: 200_000 }).map((v) => v / 100),
    volume: fc.nat(),
    valueTraded: fc.nat(),
    advances: count, declines: count, unchanged: count, ceilings: count, floors: count,
  }).map((i) => ({ type: 'index' as const, ...i })),
  fc.record({ ts: ssiTs, symbol: fc.option(sym, { nil: undefined }), exchange: fc.option(fc.constantFrom('HOSE', 'HNX', 'UPCOM'), { nil: undefined }), phase: fc.constantFrom(...PHASES), halted: fc.boolean() }).map(
    ({ symbol, exchange, ...s }) => ({ type: 'status' as const, ...s, ...(symbol ? { symbol } : {}), ...(exchange ? { exchange } : {}) }),
  ),
  fc.record({ ts: ssiTs.map((t) => Math.floor(t / 60_000) * 60_000), symbol: sym, prices: fc.array(vnPrice, { minLength: 4, maxLength: 4 }), volume: fc.nat(), value: fc.option(fc.nat(), { nil: undefined }) }).map(
    ({ prices, value, ...b }) => {
      const [high, low] = [Math.max(...prices), Math.min(...prices)];
      return { type: 'bar' as const, interval: '1m' as const, open: prices[0]!, high, low, close: prices[1]!, ...b, ...(value !== undefined ? { value } : {}) };
    },
  ),
  fc.record({ ts: ssiTs, symbol: sym, exchange: fc.constantFrom('HOSE', 'HNX', 'UPCOM'), reference: vnPrice }).map(({ ts, symbol, exchange, reference }) => ({
    type: 'reference' as const,
    ts,
    ref: {
      symbol,
      exchange,
      market: 'VN' as const,
      tradingDate: localParts(ts, VN_TZ).date,
      reference,
      ceiling: reference + 1000,
      floor: reference - 1000,
      lotSize: 100,
      indices: [],
      sharesOutstanding: 0,
    },
  })),
);


// Alpaca keeps milliseconds, string or numeric ids, one level per side.
export const usTs = fc.integer({ min: Date.parse('2024-01-16T14:30:00Z'), max: Date.parse('2024-01-16T21:00:00Z') });
export const usPrice = fc.integer({ min: 1, max: 100_000 }).map((c) => c / 100);
export const usSym = fc.constantFrom('AAPL', 'MSFT', 'SPY', 'BRK.B');
const usLevel = fc.array(fc.record({ price: usPrice, volume: fc.integer({ min: 1, max: 10_000 }) }), { maxLength: 1 });

export const alpacaEvent: fc.Arbitrary<MarketEvent> = fc.oneof(
  fc.record({ ts: usTs, symbol: usSym, id: fc.oneof(fc.integer({ min: 1, max: 2 ** 50 }).map(String), fc.stringMatching(/^[A-Za-z0-9]{1,20}$/)), price: usPrice, volume: fc.integer({ min: 1, max: 100_000 }) }).map(
    (t) => ({ type: 'trade' as const, ...t }),
  ),
  fc.record({ ts: usTs, symbol: usSym, bids: usLevel, asks: usLevel }).map((q) => ({ type: 'quote' as const, ...q })),
  fc.record({ ts: usTs, symbol: usSym, interval: fc.constantFrom('1m' as const, '1d' as const), prices: fc.array(usPrice, { minLength: 4, maxLength: 4 }), volume: fc.integer({ min: 1, max: 1e7 }), trades: fc.option(fc.nat(), { nil: undefined }), vwapCents: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }) }).map(
    ({ prices, trades, vwapCents, ...b }) => ({
      type: 'bar' as const,
      ...b,
      open: prices[0]!,
      high: Math.max(...prices),
      low: Math.min(...prices),
      close: prices[1]!,
      ...(trades !== undefined ? { trades } : {}),
      ...(vwapCents !== undefined ? { value: (vwapCents / 100) * b.volume } : {}),
    }),
  ),
  fc.record({ ts: usTs, symbol: usSym, halted: fc.boolean() }).map((s) => ({ type: 'status' as const, ...s, phase: phaseAt(US, s.ts) })),
);

