/**
 * Where access tokens travel: `Authorization: Bearer <token>` on HTTP, and on
 * a WebSocket upgrade (browsers cannot set headers there) the subprotocol
 * `bearer.<token>` offered next to the application protocol `stock-tracker`,
 * which is the one the server selects, so the token is never echoed back.
 * Never in the URL: URLs end up in proxy logs and browser history.
 */
import type { IncomingHttpHeaders } from 'node:http';

export const WS_APP_PROTOCOL = 'stock-tracker';
export const WS_BEARER_PREFIX = 'bearer.';

/**
 * The bearer token of an Authorization header: a string, null when the header
 * is present but not a bearer token (malformed), undefined when absent.
 */
export function bearerFromAuthorization(headers: IncomingHttpHeaders): string | null | undefined {
  const h = headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(h);
  return m ? m[1]! : null;
}

/** The token carried in `Sec-WebSocket-Protocol` (undefined when none). */
export function bearerFromWsProtocols(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers['sec-websocket-protocol'];
  if (typeof raw !== 'string') return undefined;
  for (const p of raw.split(',')) {
    const v = p.trim();
    if (v.startsWith(WS_BEARER_PREFIX) && v.length > WS_BEARER_PREFIX.length) return v.slice(WS_BEARER_PREFIX.length);
  }
  return undefined;
}

/** The subprotocol the server answers with: never a token. False (none) when only tokens were offered. */
export function selectWsProtocol(protocols: Set<string>): string | false {
  if (protocols.has(WS_APP_PROTOCOL)) return WS_APP_PROTOCOL;
  for (const p of protocols) if (!p.startsWith(WS_BEARER_PREFIX)) return p;
  return false;
}
