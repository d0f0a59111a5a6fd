/**
 * The address a connection is counted against for the per-IP limit.
 * Behind the edge proxy every socket comes from the proxy, so with
 * `trustProxy` the address is taken from X-Forwarded-For:
 * - `true`: its LAST entry, the one our proxy appended (earlier entries are
 *   client-supplied and spoofable);
 * - a hop count or a list of proxy addresses/CIDRs (TRUST_PROXY=hops:N or
 *   `10.0.0.0/8,…`): the same rule as the REST side (proxy-addr, as Fastify
 *   uses), so a client connecting directly, not through a trusted proxy,
 *   cannot choose its address with a forged header.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';

export type TrustProxySetting = boolean | number | readonly string[];

/** A resolver built once per gateway (a CIDR list is compiled once). */
export function clientIpResolver(trustProxy: TrustProxySetting): (req: IncomingMessage) => string {
  if (trustProxy === true) return lastForwarded;
  if (trustProxy === false) return socketAddress;
  const trust = typeof trustProxy === 'number' ? (_addr: string, hop: number) => hop < trustProxy : proxyaddr.compile([...trustProxy]);
  return (req) => normalizeIp(proxyaddr(req, trust) || (req.socket.remoteAddress ?? 'unknown'));
}

export function clientIp(req: IncomingMessage, trustProxy: TrustProxySetting): string {
  return clientIpResolver(trustProxy)(req);
}

function lastForwarded(req: IncomingMessage): string {
  const xff = req.headers['x-forwarded-for'];
  const value = Array.isArray(xff) ? xff.join(',') : xff;
  const last = value?.split(',').map((s) => s.trim()).filter(Boolean).pop();
  return last ? normalizeIp(last) : socketAddress(req);
}

const socketAddress = (req: IncomingMessage) => normalizeIp(req.socket.remoteAddress ?? 'unknown');

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
