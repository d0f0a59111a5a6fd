/**
 * Application rate limits (@fastify/rate-limit, in-process LRU stores): the
 * general per-address limit on /api, and stricter ones that stack on top of
 * it — per address on the auth endpoints (password guessing, account
 * creation) and on writes, per user on alert rule creation. Every refusal is
 * the error contract: 429 RATE_LIMITED with `Retry-After`.
 *
 * Addresses are `request.ip`, so X-Forwarded-For counts only with TRUST_PROXY.
 * Behind several replicas each process counts on its own; the edge's
 * limit_req bounds the total (docs/security.md).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '@stock-tracker/protocol';
import type { HttpSettings } from './deps.ts';

type Limiter = (request: FastifyRequest) => Promise<void>;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Entries of the general limiter store (the stacked ones keep the library default, 5,000); least recently seen keys go first. */
const STORE_ENTRIES = 10_000;

const limited = (seconds: number, what: string) =>
  new AppError('RATE_LIMITED', `Too many ${what}; retry in ${seconds} s.`, undefined, { 'Retry-After': String(Math.max(1, seconds)) });

export interface RateLimits {
  /** Per-user limiter for alert rule creation (a preHandler), or undefined when disabled. */
  alertRuleCreate?: Limiter;
}

export async function installRateLimits(app: FastifyInstance, settings: HttpSettings, userKey: (request: FastifyRequest) => string): Promise<RateLimits> {
  const { max, windowMs, authMax = 0, writeMax = 0, alertRuleMax = 0 } = settings.rateLimit;
  await app.register(rateLimit, {
    global: max > 0,
    max: Math.max(1, max),
    timeWindow: windowMs,
    cache: STORE_ENTRIES,
    // Only the API is limited; probes, docs and static assets are not.
    allowList: (req) => !req.url.startsWith('/api/') || req.url.startsWith('/api/health') || req.url.startsWith('/api/docs'),
    errorResponseBuilder: (_req, ctx) => new AppError('RATE_LIMITED', `Too many requests; retry in ${ctx.after}.`),
  });

  const limiter = (limit: number, what: string, keyGenerator?: (request: FastifyRequest) => string): Limiter => {
    const check = app.createRateLimit({ max: limit, timeWindow: windowMs, allowList: () => false, ...(keyGenerator ? { keyGenerator } : {}) });
    return async (request) => {
      const r = await check(request);
      if (!r.isAllowed && r.isExceeded) throw limited(r.ttlInSeconds, what);
    };
  };

  const path = (request: FastifyRequest) => request.url.split('?', 1)[0]!;
  if (authMax > 0) {
    const auth = limiter(authMax, 'authentication requests from this address');
    app.addHook('onRequest', async (request) => {
      if (request.method === 'POST' && path(request).startsWith('/api/auth/')) await auth(request);
    });
  }
  if (writeMax > 0) {
    const writes = limiter(writeMax, 'changes from this address');
    app.addHook('onRequest', async (request) => {
      const p = path(request);
      if (WRITE_METHODS.has(request.method) && p.startsWith('/api/') && !p.startsWith('/api/auth/')) await writes(request);
    });
  }
  return { alertRuleCreate: alertRuleMax > 0 ? limiter(alertRuleMax, 'alert rules created', (request) => `user:${userKey(request)}`) : undefined };
}
