/**
 * Shared vocabulary of the tape parsers: which formats exist, what a parsed
 * line yields, and the per-tape state some vendor formats need.
 */
import type { MarketEvent } from '@stock-tracker/protocol';

/** Concrete line formats. */
export type TapeFormat = 'events' | 'ssi' | 'alpaca';
export const TAPE_FORMATS: readonly TapeFormat[] = ['events', 'ssi', 'alpaca'];
/** What a caller may ask for: a concrete format, or per-line detection. */
export type FormatOption = 'auto' | TapeFormat;
export const FORMAT_OPTIONS: readonly FormatOption[] = ['auto', ...TAPE_FORMATS];

/** Why a line was rejected. Stable strings: they are metric labels and summary keys. */
export type ParseErrorKind =
  /** Not JSON at all (random bytes, truncated line). */
  | 'not_json'
  /** Longer than MAX_LINE_CHARS. */
  | 'line_too_long'
  /** JSON, but not a shape any known format (or the forced format) produces. */
  | 'unknown_format'
  /** A normalized event that fails the MarketEvent schema. */
  | 'invalid_event'
  /** SSI envelope with a DataType this product does not map. */
  | 'unknown_datatype'
  /** Alpaca message with a `T` this product does not know. */
  | 'unknown_message'
  /** A required field (symbol, time, price...) is absent or empty. */
  | 'missing_field'
  /** A field has the wrong type or an impossible value (negative volume, NaN...). */
  | 'invalid_value'
  /** A date or time that does not parse. */
  | 'invalid_time'
  /** An unexpected exception inside a parser: a bug, reported instead of crashing the feed. */
  | 'internal';

export interface ParseError {
  kind: ParseErrorKind;
  message: string;
}

export interface ParseResult {
  /** Events produced by the line, in order; empty for blank lines and control messages. */
  events: MarketEvent[];
  /** The format the line was recognised as (absent for blank lines and undetectable input). */
  format?: TapeFormat;
  /**
   * Set when the line (or, for Alpaca arrays, one of its messages) is malformed.
   * Valid messages of the same line are still returned in `events`.
   */
  error?: ParseError;
}

/** Per-symbol memory of the SSI parser (reference de-duplication, trade de-duplication). */
export interface SsiSymbolState {
  /** Fingerprint of the last emitted reference (date|ref|ceiling|floor|exchange). */
  refKey?: string;
  /** Trading date (YYYY-MM-DD) the cumulative volume belongs to. */
  volDate?: string;
  /** Highest cumulative matched volume (TotalVol) already turned into a trade. */
  lastTotalVol: number;
  /** Exchange last seen for the symbol, used when a message omits it. */
  exchange?: string;
  /** Counter for trades whose message has no TotalVol (keeps ids unique and deterministic). */
  seq: number;
}

/**
 * State carried from line to line of one tape or one connection. Create one
 * per stream with `createParseContext()`; never share it between streams.
 */
export interface ParseContext {
  ssi: {
    symbols: Map<string, SsiSymbolState>;
    /** Last trading date seen on any message, for messages (B) that carry only a time. */
    lastDate?: string;
  };
}

export function createParseContext(): ParseContext {
  return { ssi: { symbols: new Map() } };
}

/** Lines longer than this are rejected before JSON.parse (a vendor message is a few KB). */
export const MAX_LINE_CHARS = 1 << 20;
