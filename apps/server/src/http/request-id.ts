/**
 * Request ids (ARCHITECTURE §6): a client-supplied X-Request-ID is kept end to
 * end when it is sane (bounded length, a charset that cannot break headers or
 * log lines); otherwise a fresh one is generated.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function isSaneRequestId(v: unknown): v is string {
  return typeof v === 'string' && SANE_REQUEST_ID.test(v);
}

export function requestIdFor(req: Pick<IncomingMessage, 'headers'>): string {
  const h = req.headers[REQUEST_ID_HEADER];
  const v = Array.isArray(h) ? h[0] : h;
  return isSaneRequestId(v) ? v : randomUUID();
}
