/**
 * What every answer of the nginx edge must carry, for the edge test
 * (test/deploy/edge.test.ts) and the production end-to-end test: one
 * definition, so the two cannot drift apart again.
 */
import { expect } from 'vitest';
import { ERRORS, type ErrorCode } from '@stock-tracker/protocol';
import { contentSecurityPolicy, STATIC_SECURITY_HEADERS } from '../../apps/server/src/http/security.ts';

/** A request id as the server and the edge accept and echo it. */
export const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The edge's header policy on every answer: the server's own values (apps/server/src/http/security.ts), each once. */
export function expectEdgeSecurityHeaders(res: Response, edgePort: number): void {
  expect(res.headers.get('content-security-policy')).toBe(contentSecurityPolicy(`127.0.0.1:${edgePort}`));
  // Headers.get joins repeated headers with ", ": an exact match also proves there is one copy.
  for (const [name, value] of Object.entries(STATIC_SECURITY_HEADERS)) expect(res.headers.get(name), name).toBe(value);
  expect(res.headers.get('x-request-id')).toMatch(SANE_ID);
  expect(res.headers.get('strict-transport-security')).toBeNull(); // plain HTTP edge: never HSTS
  expect(res.headers.get('server')).toBe('nginx'); // server_tokens off: no version
}

/** The JSON error contract (docs/errors.md): code, the catalogue's message, the request id of the answer, optional details — nothing else. */
export async function expectJsonError(res: Response, status: number, code: ErrorCode): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const { details, ...body } = (await res.json()) as Record<string, unknown>;
  expect(body).toEqual({ code, message: ERRORS[code].message, request_id: res.headers.get('x-request-id') });
  if (details !== undefined) expect(Array.isArray(details), 'details is an array').toBe(true);
}
