/**
 * Serves the SPA build (embedded mode). Hashed files under `assets/` are
 * immutable and cached for a year; `index.html` is always revalidated so a new
 * deployment is picked up. Unknown *app* routes (`/s/VNM`, `/foreign`) fall back
 * to index.html; API, WebSocket, metrics and health paths and missing asset
 * files never do — they get the JSON 404.
 */
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SpaFallback } from './not-found.ts';

const NO_FALLBACK_PREFIXES = ['/api', '/ws', '/metrics', '/healthz', '/readyz', '/assets/'];
// Requests for these look like files, not pages: a missing one is a 404, not the app.
const FILE_EXTENSIONS = /\.(js|mjs|css|map|json|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|otf|txt|xml|webmanifest|wasm|html?)$/i;

export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
export const NO_CACHE = 'no-cache';

export function hasWebBuild(webDist: string | null | undefined): webDist is string {
  return !!webDist && fs.existsSync(path.join(webDist, 'index.html'));
}

export function isSpaRoute(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const p = url.split('?')[0] ?? '/';
  if (NO_FALLBACK_PREFIXES.some((pre) => p === pre || p.startsWith(pre.endsWith('/') ? pre : `${pre}/`))) return false;
  return !FILE_EXTENSIONS.test(p);
}

/** Registers static serving and returns the SPA fallback for the not-found handler. */
export async function registerWebApp(app: FastifyInstance, webDist: string): Promise<SpaFallback> {
  await app.register(fastifyStatic, {
    root: webDist,
    prefix: '/',
    wildcard: true,
    index: ['index.html'],
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders(reply, filePath) {
      const rel = path.relative(webDist, filePath).split(path.sep).join('/');
      reply.header('cache-control', rel.startsWith('assets/') ? IMMUTABLE_CACHE : NO_CACHE);
    },
  });
  return (request: FastifyRequest, reply: FastifyReply) => {
    if (!isSpaRoute(request.method, request.url)) return false;
    const accept = request.headers.accept ?? '*/*';
    if (!/text\/html|\*\/\*/.test(accept)) return false;
    reply.header('cache-control', NO_CACHE);
    void reply.code(200).sendFile('index.html', webDist, { cacheControl: false });
    return true;
  };
}
