/**
 * Unmatched requests: SPA fallback for app routes (when the web build is
 * served), 405 with `Allow` for a known path asked with the wrong method, and
 * 404 ROUTE_NOT_FOUND otherwise — all in the error contract.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.ts';

/** Concrete paths → methods registered for them, built from Fastify's onRoute hook. */
export class RouteTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  add(methods: string | string[], url: string): void {
    // Catch-all routes (static files, swagger assets) would make every path "known".
    if (url.includes('*')) return;
    let entry = this.byUrl.get(url);
    if (!entry) {
      const rx = url
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { pattern: new RegExp(`^${rx}/?$`), methods: new Set() };
      this.byUrl.set(url, entry);
      this.routes.push(entry);
    }
    for (const m of Array.isArray(methods) ? methods : [methods]) entry.methods.add(m.toUpperCase());
    if (entry.methods.has('GET')) entry.methods.add('HEAD');
  }

  /** Methods accepted for a concrete path (empty when the path is unknown). */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}

export type SpaFallback = (request: FastifyRequest, reply: FastifyReply) => boolean;

export function installNotFound(app: FastifyInstance, routes: RouteTable, spa?: SpaFallback): void {
  app.setNotFoundHandler((request, reply) => {
    if (spa && spa(request, reply)) return reply;
    const path = request.url.split('?')[0] ?? '/';
    const allowed = routes.allowed(path).filter((m) => m !== 'OPTIONS');
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      return sendError(reply, request, {
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        message: `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}.`,
        headers: { allow: allowed.join(', ') },
      });
    }
    return sendError(reply, request, { status: 404, code: 'ROUTE_NOT_FOUND', message: `No such endpoint: ${request.method} ${path}` });
  });
}
