/**
 * The manual order ticket's client-side checks, with the same market rules
 * the server's trading core applies (@stock-tracker/rules): VN lot 100, the
 * tick grid of the price's band, ceiling/floor around the day's reference;
 * US lot 1, penny ticks, no daily limits. The server stays the authority
 * (buying power, settled shares, risk limits are checked there); this only
 * stops an order the core would refuse for a reason visible here, and says
 * which field and what the nearest valid values are.
 */
import type { OrderRequest, OrderSide, OrderType, TimeInForce } from '@stock-tracker/protocol';
import { isOnTick, priceLimits, roundDownToTick, roundUpToTick, rulesFor, tickSize, type ExchangeRules } from '@stock-tracker/rules';
import { formatPrice, parseAmount } from '../lib/format.ts';
import { T } from './strings.ts';

export interface TicketValues {
  symbol: string;
  side: OrderSide;
  type: OrderType;
  qty: string;
  limitPrice: string;
  stopPrice: string;
  tif: TimeInForce;
}
export type TicketField = keyof TicketValues;

/** What the ticket knows about the symbol: its exchange and lot (reference data) and today's reference/band (live quote or reference data). */
export interface TicketSymbolInfo {
  symbol: string;
  exchange: string;
  market: 'VN' | 'US';
  lotSize?: number;
  reference: number | null;
  /** The feed's ceiling/floor when it gives them; otherwise computed from the reference with the exchange's rules. */
  ceiling?: number | null;
  floor?: number | null;
}

/** A Map fits; the page passes a lookup that reads the live quote at each check. */
export interface SymbolLookup {
  get(symbol: string): TicketSymbolInfo | undefined;
}

export interface TicketContext {
  /** Known symbols (from /api/symbols, band from the live quote): null while loading (then only the format is checked). */
  symbols: SymbolLookup | null;
}

export type TicketResult =
  | { ok: true; value: OrderRequest; errors: Record<string, never> }
  | { ok: false; errors: Partial<Record<TicketField, string>> };

export const emptyTicket = (symbol = ''): TicketValues => ({ symbol, side: 'buy', type: 'limit', qty: '100', limitPrice: '', stopPrice: '', tif: 'day' });

const SYMBOL_RE = /^[A-Z0-9._-]{1,20}$/;

/** The rules, lot and band of a symbol (band null where the market has none, or without a reference). */
export function symbolRules(info: TicketSymbolInfo): { rules: ExchangeRules; lot: number; ceiling: number | null; floor: number | null } {
  const rules = rulesFor(info.exchange, info.market);
  const lot = info.lotSize ?? rules.lotSize;
  let ceiling = info.ceiling ?? null;
  let floor = info.floor ?? null;
  if ((ceiling === null || floor === null) && info.reference !== null && info.reference > 0) {
    const l = priceLimits(rules, info.reference);
    ceiling ??= l.ceiling;
    floor ??= l.floor;
  }
  return { rules, lot, ceiling, floor };
}

const fmt = (p: number, market: 'VN' | 'US') => formatPrice(p, market);

/** A price field: parsed, on the grid, inside the band. */
function checkPrice(raw: string, info: TicketSymbolInfo | undefined): { value?: number; error?: string } {
  const s = raw.trim();
  if (s === '') return { error: T.errors.enterPrice };
  const v = parseAmount(s);
  if (v === null || !(v > 0)) return { error: T.errors.priceNum };
  if (!info) return { value: v };
  const { rules, ceiling, floor } = symbolRules(info);
  if (!isOnTick(rules, v)) {
    const down = roundDownToTick(rules, v);
    const up = roundUpToTick(rules, v);
    return { error: T.errors.tick(String(tickSize(rules, v)), fmt(down, info.market), fmt(up, info.market)) };
  }
  if (ceiling !== null && v > ceiling) return { error: T.errors.aboveCeiling(fmt(ceiling, info.market)) };
  if (floor !== null && v < floor) return { error: T.errors.belowFloor(fmt(floor, info.market)) };
  return { value: v };
}

export function validateTicket(v: TicketValues, ctx: TicketContext): TicketResult {
  const errors: Partial<Record<TicketField, string>> = {};
  const symbol = v.symbol.trim().toUpperCase();
  let info: TicketSymbolInfo | undefined;
  if (!symbol) errors.symbol = T.errors.enterSymbol;
  else if (!SYMBOL_RE.test(symbol)) errors.symbol = T.errors.badSymbol(symbol);
  else if (ctx.symbols) {
    info = ctx.symbols.get(symbol);
    if (!info) errors.symbol = T.errors.unknownSymbol(symbol);
  }

  let qty = 0;
  const rawQty = v.qty.trim().replace(/,/g, '');
  if (rawQty === '') errors.qty = T.errors.enterQty;
  else if (!/^\d+$/.test(rawQty) || Number(rawQty) < 1) errors.qty = T.errors.qtyInt;
  else {
    qty = Number(rawQty);
    const lot = info ? symbolRules(info).lot : null;
    if (lot !== null && qty % lot !== 0) {
      const down = Math.floor(qty / lot) * lot;
      errors.qty = T.errors.lot(lot, down, down + lot);
    }
  }

  const needLimit = v.type === 'limit' || v.type === 'stop_limit';
  const needStop = v.type === 'stop' || v.type === 'stop_limit';
  let limitPrice: number | undefined;
  let stopPrice: number | undefined;
  if (needLimit) {
    const r = checkPrice(v.limitPrice, info);
    if (r.error) errors.limitPrice = r.error;
    limitPrice = r.value;
  }
  if (needStop) {
    const r = checkPrice(v.stopPrice, info);
    if (r.error) errors.stopPrice = r.error;
    stopPrice = r.value;
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const value: OrderRequest = { symbol, side: v.side, type: v.type, qty, tif: v.tif };
  if (limitPrice !== undefined) value.limitPrice = limitPrice;
  if (stopPrice !== undefined) value.stopPrice = stopPrice;
  return { ok: true, value, errors: {} };
}

/** The rules line under the ticket: lot, tick at the reference, band. */
export function describeRules(info: TicketSymbolInfo | undefined): string | null {
  if (!info) return null;
  const { rules, lot, ceiling, floor } = symbolRules(info);
  const at = info.reference ?? 0;
  const tick = String(tickSize(rules, at));
  if (rules.dailyLimit === null) return T.ticket.rulesUs(tick);
  return T.ticket.rules(lot, tick, floor !== null ? fmt(floor, info.market) : '—', ceiling !== null ? fmt(ceiling, info.market) : '—');
}

/** Maps a server VALIDATION_FAILED detail path (`body.qty`, `/limitPrice`) to a ticket field. */
export function ticketFieldOfPath(path: string): TicketField | null {
  const last = path.split(/[/.]/).filter(Boolean).pop() ?? '';
  return (['symbol', 'side', 'type', 'qty', 'limitPrice', 'stopPrice', 'tif'] as const).find((f) => f === last) ?? null;
}

/** Which field a core refusal code is about (shown under it as well as in the banner). */
export function ticketFieldOfCode(code: string, type: OrderType): TicketField | null {
  if (code === 'ORDER_REJECTED_LOT' || code === 'INSUFFICIENT_SETTLED_SHARES') return 'qty';
  if (code === 'ORDER_REJECTED_TICK' || code === 'ORDER_REJECTED_BAND') return type === 'stop' ? 'stopPrice' : type === 'market' ? null : 'limitPrice';
  if (code === 'UNKNOWN_SYMBOL') return 'symbol';
  return null;
}
