/**
 * A database outage seen by a request is the service being unavailable, not
 * a bug: `outageAwareDb` turns connection-level failures (refused, reset,
 * timed out, server shutting down) into `503 SERVICE_UNAVAILABLE` with a
 * Retry-After, in the error contract, instead of a 500. Errors about the
 * query or the data pass through unchanged.
 */
import { AppError } from '@stock-tracker/protocol';
import type { Db } from '../storage/db.ts';

const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENETUNREACH', 'ECONNABORTED']);
/** SQLSTATEs of a server that is going away or not there yet (class 08: connection exception). */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
// node-postgres reports some of these without a code.
const MESSAGES = /connection terminated|connection timeout|timeout exceeded when trying to connect|connection error|the database system is (starting up|shutting down|in recovery mode)|query read timeout|cannot use a pool after calling end/i;

export function isDbUnavailable(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isDbUnavailable);
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NET_CODES.has(code) || SQLSTATES.has(code) || (code.length === 5 && code.startsWith('08')))) return true;
  return MESSAGES.test(String((err as { message?: unknown }).message ?? ''));
}

export const dbUnavailable = (): AppError =>
  new AppError('SERVICE_UNAVAILABLE', 'Stored data is temporarily unavailable (database unreachable); live data still works. Try again shortly.', undefined, {
    'Retry-After': '5',
  });

const mapped = <T>(p: Promise<T>): Promise<T> =>
  p.catch((err: unknown) => {
    throw isDbUnavailable(err) ? dbUnavailable() : err;
  });

/** The same Db, answering outages with AppError SERVICE_UNAVAILABLE. For request paths only: the storage writer needs the raw errors to retry. */
export function outageAwareDb(db: Db): Db {
  const wrapped: Db = {
    kind: db.kind,
    query: (sql, params) => mapped(db.query(sql, params)),
    exec: (sql) => mapped(db.exec(sql)),
    transaction: (fn) => mapped(db.transaction((tx) => fn(outageAwareDb(tx)))),
    close: () => db.close(),
    ping: () => db.ping(),
  };
  if (db.copyFrom) wrapped.copyFrom = (sql, chunks) => mapped(db.copyFrom!(sql, chunks));
  return wrapped;
}
