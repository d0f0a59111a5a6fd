/**
 * The refresh-token cookie: HttpOnly (scripts cannot read it), SameSite=Strict
 * (never sent by cross-site requests), Path=/api/auth (sent to the auth
 * endpoints only) and Secure. Secure is dropped only in development when the
 * request came over plain http, where a browser would otherwise refuse it.
 * With Secure the name carries the `__Secure-` prefix, which browsers honour
 * only for Secure cookies set over https.
 */
export const REFRESH_COOKIE_PATH = '/api/auth';
export const SECURE_COOKIE_NAME = '__Secure-st_refresh';
export const PLAIN_COOKIE_NAME = 'st_refresh';

export interface CookieContext {
  appEnv: 'development' | 'production' | 'test';
  /** The request's scheme as Fastify sees it (X-Forwarded-Proto only with TRUST_PROXY). */
  protocol: 'http' | 'https';
}

export const cookieSecure = (c: CookieContext): boolean => c.appEnv !== 'development' || c.protocol === 'https';
export const refreshCookieName = (c: CookieContext): string => (cookieSecure(c) ? SECURE_COOKIE_NAME : PLAIN_COOKIE_NAME);

export function refreshCookie(c: CookieContext, token: string, maxAgeSeconds: number): string {
  const parts = [`${refreshCookieName(c)}=${token}`, `Path=${REFRESH_COOKIE_PATH}`, `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Strict'];
  if (cookieSecure(c)) parts.push('Secure');
  return parts.join('; ');
}

/** Expires the cookie under both names (a development server may have set either). */
export function clearRefreshCookies(c: CookieContext): string[] {
  const secure = `${SECURE_COOKIE_NAME}=; Path=${REFRESH_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict; Secure`;
  const plain = `${PLAIN_COOKIE_NAME}=; Path=${REFRESH_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict${cookieSecure(c) ? '; Secure' : ''}`;
  return [secure, plain];
}

/** The value of one cookie from a Cookie header; the first occurrence wins. Bounded work on hostile input. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text || text.length > 8192) return undefined;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/** The refresh token sent by the browser; outside development only the `__Secure-` cookie counts (a plain one could be planted over http). */
export function readRefreshCookie(c: CookieContext, header: string | string[] | undefined): string | undefined {
  return readCookie(header, SECURE_COOKIE_NAME) ?? (c.appEnv === 'development' ? readCookie(header, PLAIN_COOKIE_NAME) : undefined);
}
