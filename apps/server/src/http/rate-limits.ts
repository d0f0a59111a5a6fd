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
 *
 * Which limit applies is decided by the ROUTE the router matched
 * (`request.routeOptions.url`, e.g. `/api/auth/login`), never by the raw URL:
 * the router decodes the path, so `/%61pi/auth/login` reaches the login route
 * while its raw text does not start with `/api/` (issue 12 §1). Non-canonical
 * paths are refused before routing anyway (canonicalPathGuard).
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

/**
 * The route pattern the router matched (`/api/alerts/rules/:id`): decoded and
 * normalised by the router, so every spelling of a path gets the same limits.
 * Unmatched requests (404/405 in the not-found handler) have none: ''.
 */
export const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? '';

/** `%XX` escapes of RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~): a canonical URI never has them. */
const ENCODED_UNRESERVED = /%(?:4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|3[0-9]|2D|2E|5F|7E)/i;

/**
 * onRequest hook refusing paths with percent-encoded unreserved characters
 * (`/%61pi/…`, `/api/%2e%2e/…`): such a path means the same route as its
 * plain spelling (RFC 3986 §6.2.2.2), so the only reason to send one is to
 * look different to something that compares text (a limiter, a proxy rule, a
 * log filter). 400 BAD_REQUEST in the error contract. Encoded reserved
 * characters (`%2F`, `%20`, `%3A`) stay allowed: they carry data.
 */
export function canonicalPathGuard(request: FastifyRequest): void {
  const raw = request.raw.url ?? request.url;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  if (path.includes('%') && ENCODED_UNRESERVED.test(path)) {
    throw new AppError('BAD_REQUEST', 'The path is not in canonical form: letters, digits and - . _ ~ must not be percent-encoded.');
  }
}

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
    // Only the API is limited; probes, docs and static assets are not. Decided on the matched route.
    allowList: (req) => {
      const route = routeOf(req);
      return !route.startsWith('/api/') || route.startsWith('/api/health') || route.startsWith('/api/docs');
    },
    errorResponseBuilder: (_req, ctx) => new AppError('RATE_LIMITED', `Too many requests; retry in ${ctx.after}.`),
  });

  const limiter = (limit: number, what: string, keyGenerator?: (request: FastifyRequest) => string): Limiter => {
    const check = app.createRateLimit({ max: limit, timeWindow: windowMs, allowList: () => false, ...(keyGenerator ? { keyGenerator } : {}) });
    return async (request) => {
      const r = await check(request);
      if (!r.isAllowed && r.isExceeded) throw limited(r.ttlInSeconds, what);
    };
  };

  if (authMax > 0) {
    const auth = limiter(authMax, 'authentication requests from this address');
    app.addHook('onRequest', async (request) => {
      if (request.method === 'POST' && routeOf(request).startsWith('/api/auth/')) await auth(request);
    });
  }
  if (writeMax > 0) {
    const writes = limiter(writeMax, 'changes from this address');
    app.addHook('onRequest', async (request) => {
      const route = routeOf(request);
      if (WRITE_METHODS.has(request.method) && route.startsWith('/api/') && !route.startsWith('/api/auth/')) await writes(request);
    });
  }
  return { alertRuleCreate: alertRuleMax > 0 ? limiter(alertRuleMax, 'alert rules created', (request) => `user:${userKey(request)}`) : undefined };
}
