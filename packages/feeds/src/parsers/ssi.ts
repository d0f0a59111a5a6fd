/**
 * SSI FastConnect Data v2 streaming messages -> normalized events.
 *
 * A message is an envelope `{"DataType": "X-TRADE", "Content": "<JSON>"}`
 * (Content may also be an object), optionally still wrapped in the SignalR
 * hub frame `{"M":"Broadcast","A":["<envelope>"]}`. Keys are matched without
 * regard to case at every level and numbers may arrive as strings.
 *
 * Vendor snapshots repeat themselves: X-TRADE resends the last match, X is a
 * full board snapshot. The ParseContext remembers, per symbol, the reference
 * data already announced and the cumulative volume (TotalVol) already turned
 * into trades, so a replayed snapshot never becomes a second trade.
 */
import type { MarketEvent, QuoteEvent, Level, SymbolRef } from '@stock-tracker/protocol';
import { phaseAt, priceLimits, rulesFor } from '@stock-tracker/rules';
import { Fields, isObject, parseJson, toNumber, type Json, type JsonObject } from './fields.ts';
import { fail } from './line-error.ts';
import type { ParseContext, SsiSymbolState } from './types.ts';
import { parseVendorDate, parseVendorTime, zonedToEpoch } from './time.ts';
import { isHaltedStatus, normalizeExchange, phaseOfSession, sideOfCode } from './ssi-codes.ts';

export const SSI_TIME_ZONE = 'Asia/Ho_Chi_Minh';
export const SSI_DATA_TYPES = ['X-TRADE', 'X-QUOTE', 'X', 'R', 'MI', 'B', 'F'] as const;
export type SsiDataType = (typeof SSI_DATA_TYPES)[number];
/** Book depth SSI publishes at most (HNX/UPCOM; HOSE fills 3). */
export const SSI_LEVELS = 10;

/** True when a parsed JSON object is an SSI message (envelope, bare content or hub frame). */
export function looksLikeSsi(obj: JsonObject): boolean {
  for (const k of Object.keys(obj)) {
    const lk = k.toLowerCase();
    if (lk === 'datatype' || lk === 'rtype') return true;
  }
  const f = new Fields(obj, 'hub');
  return typeof f.raw('M') === 'string' && Array.isArray(f.raw('A'));
}

/** Parse one SSI message (already JSON-decoded) into events. Throws LineError on bad input. */
export function parseSsiObject(obj: JsonObject, ctx: ParseContext): MarketEvent[] {
  const top = new Fields(obj, 'SSI');
  const hubArgs = top.raw('A');
  if (!top.has('DataType', 'RType') && Array.isArray(hubArgs)) {
    // SignalR hub frame: each argument is an envelope (string or object).
    const out: MarketEvent[] = [];
    for (const arg of hubArgs) out.push(...parseSsiObject(asObject(arg, 'hub argument'), ctx));
    return out;
  }
  const content = top.has('Content') ? asObject(top.raw('Content')!, 'Content') : obj;
  const body = new Fields(content, 'SSI');
  const dataType = (top.str('DataType') ?? body.str('RType'))?.toUpperCase();
  if (dataType === undefined) return fail('missing_field', 'SSI: DataType is missing');
  const f = new Fields(content, dataType);
  switch (dataType) {
    case 'X-TRADE':
      return xTrade(f, ctx);
    case 'X-QUOTE':
      return xQuote(f, ctx);
    case 'X':
      return xSnapshot(f, ctx);
    case 'R':
      return foreignRoom(f, ctx);
    case 'MI':
      return marketIndex(f, ctx);
    case 'B':
      return bar(f, ctx);
    case 'F':
      return status(f, ctx);
    default:
      return fail('unknown_datatype', `SSI: unknown DataType ${JSON.stringify(dataType.slice(0, 20))}`);
  }
}

function asObject(v: Json, what: string): JsonObject {
  const decoded = typeof v === 'string' ? parseJson(v, `SSI ${what}`) : v;
  if (!isObject(decoded)) return fail('invalid_value', `SSI: ${what} is not an object`);
  return decoded;
}

// ---- shared pieces

function symbolState(ctx: ParseContext, symbol: string): SsiSymbolState {
  let st = ctx.ssi.symbols.get(symbol);
  if (!st) {
    st = { lastTotalVol: 0, seq: 0 };
    ctx.ssi.symbols.set(symbol, st);
  }
  return st;
}

interface When {
  ts: number;
  /** Trading date YYYY-MM-DD. */
  date: string;
  /** ms since local midnight, for ids. */
  msOfDay: number;
}

/** TradingDate + Time (either may also come combined in Time) in Vietnam time -> epoch ms. */
function when(f: Fields, ctx: ParseContext, timeKeys: string[] = ['Time']): When {
  let dateText = f.str('TradingDate');
  let timeText = f.str(...timeKeys);
  if (timeText !== undefined) {
    // Some sources send `dd/mm/yyyy HH:mm:ss` or ISO `yyyy-mm-ddTHH:mm:ss` in Time.
    const combined = /^(\S+)[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/.exec(timeText);
    if (combined) {
      dateText ??= combined[1];
      timeText = combined[2];
    }
  }
  const date = dateText !== undefined ? parseVendorDate(dateText) : ctx.ssi.lastDate;
  if (date === undefined) return fail('missing_field', `${f.label}: TradingDate is missing`);
  if (timeText === undefined) return fail('missing_field', `${f.label}: ${timeKeys[0]} is missing`);
  const msOfDay = parseVendorTime(timeText);
  ctx.ssi.lastDate = date;
  return { ts: zonedToEpoch(date, msOfDay, SSI_TIME_ZONE), date, msOfDay };
}

const reqSymbol = (f: Fields) => f.reqStr('Symbol');

function exchangeOf(f: Fields, st?: SsiSymbolState): string | undefined {
  const ex = normalizeExchange(f.str('Exchange', 'MarketId'));
  if (ex !== undefined && st) st.exchange = ex;
  return ex ?? st?.exchange;
}

/**
 * A reference event when the message carries a reference price that differs
 * from what was already announced for the symbol (new day, new limits).
 */
function reference(f: Fields, symbol: string, w: When, st: SsiSymbolState): MarketEvent[] {
  const ref = f.price('RefPrice', 'Reference', 'BasicPrice');
  if (ref === undefined) return [];
  // SSI does not name the exchange on every message; HOSE is the main board.
  const exchange = exchangeOf(f, st) ?? 'HOSE';
  const rules = rulesFor(exchange, 'VN');
  const limits = priceLimits(rules, ref);
  const ceiling = f.price('Ceiling') ?? limits.ceiling;
  const floor = f.price('Floor') ?? limits.floor;
  const key = `${w.date}|${ref}|${ceiling}|${floor}|${exchange}`;
  if (key === st.refKey) return [];
  st.refKey = key;
  const out: SymbolRef = {
    symbol,
    exchange,
    market: 'VN',
    tradingDate: w.date,
    reference: ref,
    ceiling,
    floor,
    lotSize: rules.lotSize,
    indices: [],
    sharesOutstanding: 0,
  };
  return [{ type: 'reference', ts: w.ts, ref: out }];
}

// Auction market orders show as text instead of a price on the book.
const PRICELESS = new Set(['ATO', 'ATC', 'MP', 'MAK', 'MOK', 'MTL', 'PLO']);

function levels(f: Fields, side: 'Bid' | 'Ask'): Level[] {
  const out: Level[] = [];
  for (let i = 1; i <= SSI_LEVELS; i++) {
    const rawPrice = f.raw(`${side}Price${i}`);
    if (rawPrice === undefined) continue;
    if (typeof rawPrice === 'string' && PRICELESS.has(rawPrice.trim().toUpperCase())) continue;
    const price = toNumber(rawPrice, `${f.label}: ${side}Price${i}`);
    if (price < 0) fail('invalid_value', `${f.label}: ${side}Price${i} is negative (${price})`);
    const volume = f.nonNeg(`${side}Vol${i}`) ?? 0;
    // A price with nothing behind it (or 0 for an empty slot) is not a level.
    if (price === 0 || volume === 0) continue;
    out.push({ price, volume });
  }
  return out;
}

function quote(f: Fields, symbol: string, ts: number): QuoteEvent {
  return { type: 'quote', ts, symbol, bids: levels(f, 'Bid'), asks: levels(f, 'Ask') };
}

const compactDate = (date: string) => date.replaceAll('-', '');

// ---- one function per DataType

function xTrade(f: Fields, ctx: ParseContext): MarketEvent[] {
  const symbol = reqSymbol(f);
  const w = when(f, ctx);
  const st = symbolState(ctx, symbol);
  const out = reference(f, symbol, w, st);
  const price = f.price('LastPrice');
  const volume = f.nonNeg('LastVol');
  const total = f.nonNeg('TotalVol');
  // Before the first match of the day the vendor sends zeros: reference data only.
  if (price === undefined || !volume) return out;
  if (st.volDate !== w.date) {
    st.volDate = w.date;
    st.lastTotalVol = 0;
    st.seq = 0;
  }
  let id: string;
  if (total !== undefined && total > 0) {
    // TotalVol grows with every match, so it identifies the match; a repeat is not a new trade.
    if (total <= st.lastTotalVol) return out;
    st.lastTotalVol = total;
    id = `${symbol}:${compactDate(w.date)}:${total}`;
  } else {
    st.seq += 1;
    id = `${symbol}:${compactDate(w.date)}:t${Math.floor(w.msOfDay / 1000)}:${st.seq}`;
  }
  const side = sideOfCode(f.str('Side'));
  const phase = phaseOfSession(f.str('TradingSession'));
  out.push({
    type: 'trade',
    ts: w.ts,
    symbol,
    id,
    price,
    volume,
    ...(side ? { side } : {}),
    ...(phase ? { phase } : {}),
  });
  return out;
}

function xQuote(f: Fields, ctx: ParseContext): MarketEvent[] {
  const symbol = reqSymbol(f);
  const w = when(f, ctx);
  const st = symbolState(ctx, symbol);
  exchangeOf(f, st);
  return [...reference(f, symbol, w, st), quote(f, symbol, w.ts)];
}

/** X: trade + quote snapshot in one. It repeats the last match, so it never yields a trade. */
function xSnapshot(f: Fields, ctx: ParseContext): MarketEvent[] {
  const symbol = reqSymbol(f);
  const w = when(f, ctx);
  const st = symbolState(ctx, symbol);
  return [...reference(f, symbol, w, st), quote(f, symbol, w.ts)];
}

function foreignRoom(f: Fields, ctx: ParseContext): MarketEvent[] {
  const symbol = reqSymbol(f);
  const w = when(f, ctx);
  exchangeOf(f, symbolState(ctx, symbol));
  // The JSON stream says BuyVol..., the documentation and .NET model FBuyVol...: accept both.
  return [
    {
      type: 'foreign',
      ts: w.ts,
      symbol,
      buyVolume: f.reqNonNeg('BuyVol', 'FBuyVol'),
      sellVolume: f.reqNonNeg('SellVol', 'FSellVol'),
      buyValue: f.nonNeg('BuyVal', 'FBuyVal') ?? 0,
      sellValue: f.nonNeg('SellVal', 'FSellVal') ?? 0,
      totalRoom: f.nonNeg('TotalRoom') ?? 0,
      currentRoom: f.nonNeg('CurrentRoom') ?? 0,
    },
  ];
}

function marketIndex(f: Fields, ctx: ParseContext): MarketEvent[] {
  const index = f.reqStr('IndexId', 'IndexName').toUpperCase();
  const w = when(f, ctx);
  const value = f.reqPrice('IndexValue');
  let prevClose = f.price('PriorIndexValue');
  if (prevClose === undefined) {
    const change = f.num('Change');
    if (change === undefined) return fail('missing_field', 'MI: PriorIndexValue is missing');
    prevClose = value - change;
  }
  return [
    {
      type: 'index',
      ts: w.ts,
      index,
      value,
      prevClose,
      volume: f.nonNeg('TotalQtty', 'TotalVol', 'TotalQuantity') ?? 0,
      valueTraded: f.nonNeg('TotalValue', 'TotalVal') ?? 0,
      advances: f.count('Advances') ?? 0,
      declines: f.count('Declines') ?? 0,
      unchanged: f.count('NoChanges', 'NoChange') ?? 0,
      ceilings: f.count('Ceilings') ?? 0,
      floors: f.count('Floors') ?? 0,
    },
  ];
}

function bar(f: Fields, ctx: ParseContext): MarketEvent[] {
  const symbol = reqSymbol(f);
  const w = when(f, ctx, ['TradingTime', 'Time']);
  const open = f.reqPrice('Open');
  const high = f.reqPrice('High');
  const low = f.reqPrice('Low');
  const close = f.reqPrice('Close');
  if (high < low || open > high || open < low || close > high || close < low) {
    fail('invalid_value', `B: inconsistent OHLC ${open}/${high}/${low}/${close}`);
  }
  const value = f.nonNeg('Value');
  return [
    {
      type: 'bar',
      ts: Math.floor(w.ts / 60_000) * 60_000,
      symbol,
      interval: '1m',
      open,
      high,
      low,
      close,
      volume: f.reqNonNeg('Volume'),
      ...(value !== undefined ? { value } : {}),
    },
  ];
}

function status(f: Fields, ctx: ParseContext): MarketEvent[] {
  const symbol = f.str('Symbol');
  const w = when(f, ctx);
  // Only the message's own exchange: a symbol's status must not turn into an exchange-wide one.
  const exchange = normalizeExchange(f.str('Exchange', 'MarketId'));
  if (symbol && exchange) symbolState(ctx, symbol).exchange = exchange;
  // An unknown session code still tells us about a halt; the schedule supplies the phase.
  const phase = phaseOfSession(f.str('TradingSession')) ?? phaseAt(rulesFor(exchange ?? 'HOSE', 'VN'), w.ts);
  return [
    {
      type: 'status',
      ts: w.ts,
      ...(exchange ? { exchange } : {}),
      ...(symbol ? { symbol } : {}),
      phase,
      halted: isHaltedStatus(f.str('TradingStatus')),
    },
  ];
}
