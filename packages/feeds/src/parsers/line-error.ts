/**
 * How parser internals signal a bad line: a LineError carrying the kind is
 * thrown deep inside field access and caught once in parseLine (or per
 * message for Alpaca frames), so no parser needs error plumbing.
 */
import type { ParseErrorKind } from './types.ts';

export class LineError extends Error {
  readonly kind: ParseErrorKind;
  constructor(kind: ParseErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export const fail = (kind: ParseErrorKind, message: string): never => {
  throw new LineError(kind, message);
};
