/**
 * The address a connection is counted against for the per-IP limit.
 * Behind the edge proxy every socket comes from the proxy, so with
 * `trustProxy` the address is taken from X-Forwarded-For: its LAST entry, the
 * one our proxy appended. Earlier entries are client-supplied and spoofable.
 */
import type { IncomingMessage } from 'node:http';

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const value = Array.isArray(xff) ? xff.join(',') : xff;
    const last = value?.split(',').map((s) => s.trim()).filter(Boolean).pop();
    if (last) return normalizeIp(last);
  }
  return normalizeIp(req.socket.remoteAddress ?? 'unknown');
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
