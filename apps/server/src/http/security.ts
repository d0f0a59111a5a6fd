/**
 * Browser security headers for embedded mode, where this process serves the
 * SPA itself (behind the production edge, nginx sets them). The CSP allows
 * exactly what the SPA and Swagger UI need: own scripts only, inline style
 * attributes (React/chart libraries set them), images from data:/blob:, and
 * WebSocket connections back to the same host.
 */
import type { FastifyInstance } from 'fastify';

export function contentSecurityPolicy(host: string | undefined): string {
  // CSP 'self' covers ws: only in newer browsers; name the same host explicitly for the others.
  const sameHostWs = host && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sameHostWs}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()',
  'cross-origin-opener-policy': 'same-origin',
};

export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    for (const [k, v] of Object.entries(STATIC_SECURITY_HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', contentSecurityPolicy(request.headers.host));
    return payload;
  });
}
