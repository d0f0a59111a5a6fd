/**
 * Opaque page cursors: the (ts, id) of the last item of a page, newest-first
 * pages continue strictly before it. base64url JSON, so clients treat it as a
 * token; a tampered or foreign cursor is a validation error, never a 500.
 */
import { AppError } from '@stock-tracker/protocol';

export interface CursorPos {
  ts: number;
  id: string;
}

export function encodeCursor(pos: CursorPos): string {
  return Buffer.from(JSON.stringify([pos.ts, pos.id]), 'utf8').toString('base64url');
}

const MAX_TS = 8.64e15;

export function decodeCursor(cursor: string, path = 'query.before'): CursorPos {
  const invalid = () => new AppError('VALIDATION_FAILED', 'Invalid pagination cursor.', [{ path, issue: 'is not a cursor returned by this API' }]);
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(v) || v.length !== 2) throw invalid();
  const [ts, id] = v as [unknown, unknown];
  // A NUL cannot be sent to PostgreSQL as text: refused here rather than failing the query.
  if (typeof ts !== 'number' || !Number.isFinite(ts) || Math.abs(ts) > MAX_TS || typeof id !== 'string' || id.length > 128 || id.includes('\u0000')) throw invalid();
  return { ts, id };
}
