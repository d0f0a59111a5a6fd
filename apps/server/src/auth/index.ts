/**
 * Accounts and authorization (docs/security.md). `createAuth` turns the
 * configuration into what a role wires: the AuthService (accounts mode), the
 * HTTP settings and the WebSocket gateway's auth options.
 */
import type { Channel } from '@stock-tracker/protocol';
import type { Config } from '../config.ts';
import type { Db } from '../storage/db.ts';
import { createAuthRepository } from '../storage/auth-repo.ts';
import type { HttpSettings } from '../http/deps.ts';
import type { AuthUser } from '../ws/options.ts';
import { AuthService, type AuthLogger, type AuthServiceOptions } from './auth-service.ts';
import { wsAuthenticator } from './ws-auth.ts';
import type { IncomingMessage } from 'node:http';

export * from './access-tokens.ts';
export * from './accounts.ts';
export * from './auth-service.ts';
export * from './bearer.ts';
export * from './cookies.ts';
export * from './login-throttle.ts';
export * from './passwords.ts';
export * from './redis-throttle.ts';
export * from './refresh-tokens.ts';
export * from './secrets.ts';
export * from './ws-auth.ts';

export interface AuthWiring {
  service: AuthService | undefined;
  http: NonNullable<HttpSettings['auth']>;
  ws: { authenticate: (req: IncomingMessage, token?: string) => Promise<AuthUser | null>; authRequired: Channel[] };
}

/** `overrides` replace options (tests use cheaper password hashing). */
export function authServiceFromConfig(config: Config, db: Db, log?: AuthLogger, overrides: Partial<AuthServiceOptions> = {}): AuthService {
  return new AuthService({
    repo: createAuthRepository(db),
    jwt: { secret: config.jwtSecret, previousSecret: config.jwtSecretPrevious, issuer: config.auth.jwtIssuer, audience: config.auth.jwtAudience },
    accessTtlSeconds: config.auth.accessTokenTtlSeconds,
    refreshTtlSeconds: config.auth.refreshTokenTtlSeconds,
    refreshReuseGraceSeconds: config.auth.refreshReuseGraceSeconds,
    registrationEnabled: config.auth.registrationEnabled,
    log,
    ...overrides,
  });
}

/** Everything a role needs for auth; `defaultUserId` is the local user of AUTH_MODE=none. */
export function createAuth(config: Config, db: Db, defaultUserId: string, log?: AuthLogger, overrides?: Partial<AuthServiceOptions>): AuthWiring {
  const { mode, registrationEnabled, publicMarketData } = config.auth;
  const http = { mode, registrationEnabled, publicMarketData };
  if (mode === 'none') {
    return { service: undefined, http, ws: { authenticate: wsAuthenticator({ mode, defaultUserId }), authRequired: ['alerts'] } };
  }
  const service = authServiceFromConfig(config, db, log, overrides);
  const authRequired: Channel[] = publicMarketData ? ['alerts'] : ['market', 'foreign', 'index', 'alerts'];
  return { service, http, ws: { authenticate: wsAuthenticator({ mode, service }), authRequired } };
}
