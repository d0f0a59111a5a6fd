/**
 * Origin allow-list against cross-site WebSocket hijacking: browsers always
 * send Origin on WebSocket handshakes, so a page on another site can be told
 * apart. Non-browser clients (no Origin) are allowed.
 */
import type { IncomingMessage } from 'node:http';

export interface OriginPolicy {
  /** Allowed origins (`https://app.example.com`); `*` allows any; undefined allows any. */
  allowedOrigins?: readonly string[];
  /** Also allow the page served by this very host (Origin host === Host header). */
  allowSameOrigin?: boolean;
}

const normalize = (o: string) => o.trim().replace(/\/+$/, '').toLowerCase();

export function originAllowed(req: IncomingMessage, policy: OriginPolicy): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || policy.allowedOrigins === undefined) return true;
  const list = policy.allowedOrigins.map(normalize);
  if (list.includes('*') || list.includes(normalize(origin))) return true;
  if (policy.allowSameOrigin ?? true) {
    try {
      return new URL(origin).host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
    } catch {
      return false; // `Origin: null` and other non-URLs
    }
  }
  return false;
}
