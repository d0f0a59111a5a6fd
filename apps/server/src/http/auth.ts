/**
 * Who a request acts for. AUTH_MODE=none: the local default user, always.
 * AUTH_MODE=accounts: the user of a valid `Authorization: Bearer` access
 * token; protected routes answer 401 INVALID_TOKEN (with `WWW-Authenticate`)
 * before their body is even read.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from './deps.ts';
import type { Principal } from '../auth/auth-service.ts';
import { invalidToken } from '../auth/access-tokens.ts';
import { bearerFromAuthorization } from '../auth/bearer.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hooks in AUTH_MODE=accounts when a valid access token was sent. */
    principal: Principal | null;
  }
}

/** The user a request acts for (resolved after the auth hook ran). */
export type Owner = (request: FastifyRequest) => Promise<{ id: string }>;

export interface RequestAuth {
  mode: 'none' | 'accounts';
  owner: Owner;
  /** onRequest hook: a valid access token is required (accounts mode; a no-op otherwise). */
  requireUser: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** onRequest hook: verifies a token when one is sent (an invalid one is still a 401), anonymous otherwise. */
  optionalUser: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** onRequest hook: uses a valid token when one is sent and ignores an invalid one (logout must work with an expired token). */
  lenientUser: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

export function createRequestAuth(deps: AppDeps): RequestAuth {
  const mode = deps.settings.auth?.mode ?? 'none';
  if (mode === 'accounts') {
    const service = deps.auth;
    if (!service) throw new Error('buildApp: AUTH_MODE=accounts needs an AuthService (deps.auth)');
    const verify = async (request: FastifyRequest, required: boolean) => {
      const token = bearerFromAuthorization(request.headers);
      if (token === undefined) {
        if (required) throw invalidToken('An access token is required (Authorization: Bearer …).');
        return;
      }
      if (token === null) throw invalidToken('The Authorization header is not a bearer token.');
      request.principal = await service.verifyAccess(token);
    };
    return {
      mode,
      requireUser: (request) => verify(request, true),
      optionalUser: (request) => verify(request, false),
      lenientUser: (request) => verify(request, false).catch(() => undefined),
      owner: async (request) => {
        // Routes that use the owner always run requireUser first; this is the backstop.
        if (!request.principal) throw invalidToken();
        return { id: request.principal.userId };
      },
    };
  }

  let defaultUser: Promise<{ id: string; username: string }> | undefined;
  const local = () => {
    const p =
      defaultUser ??
      deps.repos.users.ensureDefault().catch((err: unknown) => {
        defaultUser = undefined; // retry on the next request rather than caching a failure
        throw err;
      });
    defaultUser = p;
    return p;
  };
  const none = async () => {};
  return { mode, requireUser: none, optionalUser: none, lenientUser: none, owner: () => local() };
}
