/**
 * Lenient, typed field access for vendor messages: keys matched
 * case-insensitively (vendors disagree on `DataType`/`Datatype`), numbers
 * accepted as JSON numbers or numeric strings, and every bad value turned into
 * a LineError with a kind instead of a NaN that travels downstream.
 */
import { fail } from './line-error.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

// A plain decimal number as vendors write it: optional sign, digits, fraction, exponent.
// Written so that no two quantifiers compete for the same digits (the former `\d+\.?\d*`
// backtracked quadratically: a 50,000-digit field blocked the event loop for seconds).
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Longest numeric string accepted: a double holds 17 significant digits, vendors send far fewer. */
export const MAX_NUMBER_CHARS = 64;
/** Longest string field accepted (symbols, ids, codes, dates and times): a hostile field stays cheap and never travels downstream. */
export const MAX_FIELD_CHARS = 256;

/** A message whose keys are looked up without regard to case. */
export class Fields {
  private readonly byLower = new Map<string, Json>();
  constructor(
    obj: JsonObject,
    /** Names the message in error texts, e.g. `X-TRADE`. */
    readonly label: string,
  ) {
    for (const [k, v] of Object.entries(obj)) {
      const lk = k.toLowerCase();
      // First spelling wins when a message carries two casings of one key.
      if (!this.byLower.has(lk)) this.byLower.set(lk, v);
    }
  }

  /** Raw value of the first present alias; null and '' count as absent. */
  raw(...names: string[]): Json | undefined {
    for (const n of names) {
      const v = this.byLower.get(n.toLowerCase());
      if (v !== undefined && v !== null && v !== '') return v;
    }
    return undefined;
  }

  has(...names: string[]): boolean {
    return this.raw(...names) !== undefined;
  }

  str(...names: string[]): string | undefined {
    const v = this.raw(...names);
    if (v === undefined) return undefined;
    if (typeof v === 'string') {
      if (v.length > MAX_FIELD_CHARS) return fail('invalid_value', `${this.label}: ${names[0]} is too long (${v.length} characters, max ${MAX_FIELD_CHARS})`);
      return v.trim() || undefined;
    }
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return fail('invalid_value', `${this.label}: ${names[0]} must be a string`);
  }

  reqStr(...names: string[]): string {
    return this.str(...names) ?? fail('missing_field', `${this.label}: ${names[0]} is missing`);
  }

  /** A finite number (or numeric string), or undefined when absent. */
  num(...names: string[]): number | undefined {
    const v = this.raw(...names);
    if (v === undefined) return undefined;
    return toNumber(v, `${this.label}: ${names[0]}`);
  }

  reqNum(...names: string[]): number {
    return this.num(...names) ?? fail('missing_field', `${this.label}: ${names[0]} is missing`);
  }

  /** A number >= 0 (volumes, values, counts); negative values are malformed. */
  nonNeg(...names: string[]): number | undefined {
    const n = this.num(...names);
    if (n !== undefined && n < 0) fail('invalid_value', `${this.label}: ${names[0]} is negative (${n})`);
    return n;
  }

  reqNonNeg(...names: string[]): number {
    return this.nonNeg(...names) ?? fail('missing_field', `${this.label}: ${names[0]} is missing`);
  }

  /** A non-negative integer (counts). */
  count(...names: string[]): number | undefined {
    const n = this.nonNeg(...names);
    if (n !== undefined && !Number.isInteger(n)) fail('invalid_value', `${this.label}: ${names[0]} is not an integer (${n})`);
    return n;
  }

  /**
   * A price: > 0, or undefined when absent. Vendors write 0 for "no price yet"
   * (before the first match, empty book levels), so 0 reads as absent; a
   * negative price is malformed.
   */
  price(...names: string[]): number | undefined {
    const n = this.num(...names);
    if (n !== undefined && n < 0) fail('invalid_value', `${this.label}: ${names[0]} is negative (${n})`);
    return n === 0 ? undefined : n;
  }

  reqPrice(...names: string[]): number {
    return this.price(...names) ?? fail('missing_field', `${this.label}: ${names[0]} is missing`);
  }
}

export function toNumber(v: Json, what: string): number {
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    return fail('invalid_value', `${what} is not a finite number`);
  }
  if (typeof v === 'string') {
    if (v.length > MAX_NUMBER_CHARS) return fail('invalid_value', `${what} is too long for a number (${v.length} characters, max ${MAX_NUMBER_CHARS})`);
    // No thousands-separator handling: '25,5' is ambiguous (decimal comma), so it is rejected.
    const s = v.trim();
    if (NUMERIC.test(s)) {
      const n = Number(s);
      if (Number.isFinite(n)) return n;
    }
    return fail('invalid_value', `${what} is not a number (${JSON.stringify(v.slice(0, 40))})`);
  }
  return fail('invalid_value', `${what} is not a number (${typeof v})`);
}

/** JSON.parse that reports a kind instead of throwing SyntaxError. */
export function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return fail('not_json', `${what} is not valid JSON`);
  }
}
