/**
 * Accounts under /api/auth: register, login, refresh (rotation + reuse
 * detection), logout, password change and `me`. Access tokens travel in the
 * JSON body and then in `Authorization: Bearer`; the refresh token only ever
 * travels in its HttpOnly cookie (see auth/cookies.ts). The cookie-authenticated
 * endpoints (refresh, logout) also refuse a foreign Origin (CSRF in depth,
 * beside SameSite=Strict). With AUTH_MODE=none only `me` answers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, AuthLogin, AuthPasswordChange, AuthRegister, AuthTokens, Me } from '@stock-tracker/protocol';
import type { AppDeps } from '../deps.ts';
import type { RequestAuth } from '../auth.ts';
import type { AuthService, ClientContext, Issued } from '../../auth/auth-service.ts';
import { clearRefreshCookies, readRefreshCookie, refreshCookie, type CookieContext } from '../../auth/cookies.ts';
import { originAllowed } from '../../ws/origin.ts';
import { errorResponses } from './common.ts';

const tags = ['auth'];
const noContent = { 204: { type: 'null', description: 'done' } } as const;

export function authRoutes(app: FastifyInstance, deps: AppDeps, auth: RequestAuth): void {
  const { settings } = deps;
  const accounts = auth.mode === 'accounts' ? deps.auth : undefined;
  const cookieCtx = (req: FastifyRequest): CookieContext => ({ appEnv: settings.appEnv, protocol: req.protocol === 'https' ? 'https' : 'http' });
  const client = (req: FastifyRequest): ClientContext => ({ ip: req.ip, userAgent: req.headers['user-agent'], log: req.log });

  const service = (): AuthService => {
    if (!accounts) throw new AppError('FORBIDDEN', 'Accounts are not enabled on this server (AUTH_MODE=none): every request acts for the local user.');
    return accounts;
  };
  const assertOrigin = (req: FastifyRequest) => {
    if (req.headers['sec-fetch-site'] === 'cross-site' || !originAllowed(req.raw, { allowedOrigins: settings.corsOrigins, allowSameOrigin: true })) {
      throw new AppError('ORIGIN_NOT_ALLOWED', 'This origin may not use the session cookie.');
    }
  };
  const send = (req: FastifyRequest, reply: FastifyReply, issued: Issued, status: number) => {
    reply.header('set-cookie', refreshCookie(cookieCtx(req), issued.refreshToken, issued.refreshMaxAgeSeconds));
    reply.header('cache-control', 'no-store');
    return reply.code(status).send(issued.body);
  };

  app.post<{ Body: AuthRegister }>(
    '/auth/register',
    { schema: { tags, summary: 'Create an account and log in (REGISTRATION_ENABLED)', body: AuthRegister, response: { 201: AuthTokens, ...errorResponses } } },
    async (req, reply) => send(req, reply, await service().register(req.body, client(req)), 201),
  );

  app.post<{ Body: AuthLogin }>(
    '/auth/login',
    { schema: { tags, summary: 'Log in: access token in the body, refresh token in an HttpOnly cookie', body: AuthLogin, response: { 200: AuthTokens, ...errorResponses } } },
    async (req, reply) => send(req, reply, await service().login(req.body, client(req)), 200),
  );

  app.post(
    '/auth/refresh',
    { schema: { tags, summary: 'New access token from the refresh cookie (the cookie rotates; a reused one ends the session)', response: { 200: AuthTokens, ...errorResponses } } },
    async (req, reply) => {
      const s = service();
      assertOrigin(req);
      try {
        return send(req, reply, await s.refresh(readRefreshCookie(cookieCtx(req), req.headers.cookie), client(req)), 200);
      } catch (err) {
        // Only a refusal of the token itself (401) ends the browser's session. A 503 while PostgreSQL
        // is down, a 429 or a 500 says nothing about the cookie: clearing it would sign the user out
        // over a blip (issue 12 §5).
        if (err instanceof AppError && err.status === 401) reply.header('set-cookie', clearRefreshCookies(cookieCtx(req)));
        throw err;
      }
    },
  );

  app.post(
    '/auth/logout',
    { onRequest: auth.lenientUser, schema: { tags, summary: 'End the session (refresh cookie and/or access token)', response: { ...noContent, ...errorResponses } } },
    async (req, reply) => {
      const s = service();
      assertOrigin(req);
      await s.logout({ refreshToken: readRefreshCookie(cookieCtx(req), req.headers.cookie), sessionId: req.principal?.sessionId });
      reply.header('set-cookie', clearRefreshCookies(cookieCtx(req)));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: AuthPasswordChange }>(
    '/auth/password',
    { onRequest: auth.requireUser, schema: { tags, summary: 'Change your password; your other sessions end', body: AuthPasswordChange, response: { ...noContent, ...errorResponses } } },
    async (req, reply) => {
      const s = service();
      if (!req.principal) throw new AppError('INVALID_TOKEN');
      await s.changePassword(req.principal, req.body, client(req));
      return reply.code(204).send();
    },
  );

  app.get(
    '/auth/me',
    { onRequest: auth.optionalUser, schema: { tags, summary: 'Server auth mode and the caller (user null without a token)', response: { 200: Me, ...errorResponses } } },
    async (req, reply): Promise<Me> => {
      reply.header('cache-control', 'no-store');
      const common = {
        registrationEnabled: accounts?.registrationEnabled ?? false,
        publicMarketData: settings.auth?.publicMarketData ?? true,
        refreshCookie: accounts !== undefined && readRefreshCookie(cookieCtx(req), req.headers.cookie) !== undefined,
      };
      if (!accounts) {
        const local = await deps.repos.users.ensureDefault();
        return { mode: 'none', user: { id: local.id, username: local.username }, ...common };
      }
      const user = req.principal ? await accounts.user(req.principal.userId) : null;
      if (req.principal && !user) throw new AppError('INVALID_TOKEN');
      return { mode: 'accounts', user: user ?? null, ...common };
    },
  );
}
