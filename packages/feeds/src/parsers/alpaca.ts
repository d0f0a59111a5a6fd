/**
 * Alpaca Market Data v2 stream messages -> normalized events.
 *
 * A frame is a JSON array of messages, each tagged by `T`: `t` trade, `q`
 * quote, `b`/`u` minute bar (new/updated), `d` daily bar, `s` trading status.
 * Control messages (`success`, `subscription`, `error`) and message types
 * the model has no event for (`c` corrections, `x` cancels, `l` LULD bands,
 * `i` imbalances) are recognised and yield nothing. Timestamps are RFC 3339
 * with up to nanoseconds; the model keeps milliseconds.
 */
import type { MarketEvent } from '@stock-tracker/protocol';
import { phaseAt, US } from '@stock-tracker/rules';
import { Fields, isObject, type Json, type JsonObject } from './fields.ts';
import { fail, LineError } from './line-error.ts';
import type { ParseError } from './types.ts';
import { parseRfc3339 } from './time.ts';
import { checkEvent } from './events-format.ts';

export const ALPACA_DATA_TYPES = ['t', 'q', 'b', 'u', 'd', 's'] as const;
/** Recognised, carry no market data for this model. */
export const ALPACA_IGNORED_TYPES = ['success', 'subscription', 'error', 'c', 'x', 'l', 'i', 'n'] as const;
const IGNORED = new Set<string>(ALPACA_IGNORED_TYPES);

/**
 * Status codes that stop trading: CTA `2` trading halt, UTP `H` trading halt,
 * `P` volatility trading pause (LULD). Resumptions (`3`, `T`, `Q`) and
 * informational codes leave the symbol trading.
 */
export const ALPACA_HALT_CODES = ['2', 'H', 'P'] as const;
const HALTS = new Set<string>(ALPACA_HALT_CODES);

/** True when a decoded JSON value looks like an Alpaca frame (array of `T` messages, or one message). */
export function looksLikeAlpaca(value: Json): boolean {
  if (Array.isArray(value)) return value.length === 0 || (isObject(value[0]) && typeof value[0]['T'] === 'string');
  return isObject(value) && typeof value['T'] === 'string';
}

export interface AlpacaFrameResult {
  events: MarketEvent[];
  /** First malformed message of the frame; the others still produce events. */
  error?: ParseError;
}

/** Parse one frame into schema-checked events. A bad message does not discard its valid neighbours. */
export function parseAlpacaFrame(value: Json): AlpacaFrameResult {
  const messages = Array.isArray(value) ? value : [value];
  const events: MarketEvent[] = [];
  let error: ParseError | undefined;
  messages.forEach((m, i) => {
    try {
      const ev = parseAlpacaMessage(m);
      if (ev) events.push(checkEvent(ev));
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      error ??= { kind: e.kind, message: messages.length > 1 ? `message ${i + 1}: ${e.message}` : e.message };
    }
  });
  return error ? { events, error } : { events };
}

/** One message -> an event, or null for recognised messages without market data. */
export function parseAlpacaMessage(m: Json): MarketEvent | null {
  if (!isObject(m)) return fail('invalid_value', 'Alpaca: message is not an object');
  const f = new Fields(strictKeys(m), 'Alpaca');
  const t = m['T'];
  if (typeof t !== 'string') return fail('missing_field', 'Alpaca: T is missing');
  if (IGNORED.has(t)) return null;
  switch (t) {
    case 't':
      return trade(f);
    case 'q':
      return quote(f);
    case 'b':
    case 'u':
      return bar(f, '1m');
    case 'd':
      return bar(f, '1d');
    case 's':
      return status(f);
    default:
      return fail('unknown_message', `Alpaca: unknown message type ${JSON.stringify(t.slice(0, 20))}`);
  }
}

/**
 * Alpaca keys are case-significant (`s` size vs `S` symbol, `c` close vs `C`),
 * so unlike SSI they are matched exactly: the lower-cased lookup of Fields is
 * fed keys that cannot collide.
 */
function strictKeys(m: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(m)) out[k === k.toLowerCase() ? k : `^${k.toLowerCase()}`] = v;
  return out;
}
const SYMBOL = '^s';

const symbolOf = (f: Fields) => f.reqStr(SYMBOL);
const tsOf = (f: Fields) => parseRfc3339(f.reqStr('t'));

function trade(f: Fields): MarketEvent {
  const rawId = f.raw('i');
  if (rawId === undefined) return fail('missing_field', 'Alpaca t: i is missing');
  if (typeof rawId !== 'number' && typeof rawId !== 'string') return fail('invalid_value', 'Alpaca t: i must be a number or string');
  const volume = f.reqNonNeg('s');
  if (volume === 0) fail('invalid_value', 'Alpaca t: size is 0');
  return {
    type: 'trade',
    ts: tsOf(f),
    symbol: symbolOf(f),
    id: String(rawId),
    price: f.reqPrice('p'),
    volume,
  };
}

function quote(f: Fields): MarketEvent {
  // An empty side comes as price 0 / size 0: no level.
  const level = (p: string, s: string) => {
    const price = f.price(p);
    const volume = f.nonNeg(s) ?? 0;
    return price === undefined || volume === 0 ? [] : [{ price, volume }];
  };
  return { type: 'quote', ts: tsOf(f), symbol: symbolOf(f), bids: level('bp', 'bs'), asks: level('ap', 'as') };
}

function bar(f: Fields, interval: '1m' | '1d'): MarketEvent {
  const open = f.reqPrice('o');
  const high = f.reqPrice('h');
  const low = f.reqPrice('l');
  const close = f.reqPrice('c');
  if (high < low || open > high || open < low || close > high || close < low) {
    fail('invalid_value', `Alpaca bar: inconsistent OHLC ${open}/${high}/${low}/${close}`);
  }
  const volume = f.reqNonNeg('v');
  const vwap = f.price('vw');
  const trades = f.count('n');
  return {
    type: 'bar',
    ts: tsOf(f),
    symbol: symbolOf(f),
    interval,
    open,
    high,
    low,
    close,
    volume,
    ...(vwap !== undefined ? { value: vwap * volume } : {}),
    ...(trades !== undefined ? { trades } : {}),
  };
}

function status(f: Fields): MarketEvent {
  const ts = tsOf(f);
  const code = f.reqStr('sc').toUpperCase();
  return {
    type: 'status',
    ts,
    symbol: symbolOf(f),
    // Statuses do not say which session it is; the US schedule does.
    phase: phaseAt(US, ts),
    halted: HALTS.has(code),
  };
}
