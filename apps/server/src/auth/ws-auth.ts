/**
 * The WebSocket gateway's `authenticate(req, token?)` hook. Without accounts
 * every connection acts for the local default user. With accounts a
 * connection is anonymous until it presents an access token, on the upgrade
 * (`bearer.<token>` subprotocol or Authorization header) or in an `auth` op.
 * A token presented on the upgrade that does not verify refuses the upgrade
 * (HTTP 401); a bad one in an `auth` op closes the connection with 4001.
 */
import type { IncomingMessage } from 'node:http';
import { AppError } from '@stock-tracker/protocol';
import type { AuthUser } from '../ws/options.ts';
import type { AuthService } from './auth-service.ts';
import { invalidToken } from './access-tokens.ts';
import { bearerFromAuthorization, bearerFromWsProtocols } from './bearer.ts';

export type WsAuthMode = { mode: 'none'; defaultUserId: string } | { mode: 'accounts'; service: AuthService };

export function wsAuthenticator(m: WsAuthMode): (req: IncomingMessage, token?: string) => Promise<AuthUser | null> {
  if (m.mode === 'none') return async () => ({ userId: m.defaultUserId });
  const verify = async (token: string): Promise<AuthUser> => {
    const p = await m.service.verifyAccess(token);
    return { userId: p.userId, expiresAt: p.expiresAt, sessionId: p.sessionId };
  };
  return async (req, token) => {
    // A bad token is null (the gateway answers INVALID_TOKEN, 4001); an infrastructure failure
    // (session store down) propagates, so the gateway answers SERVICE_UNAVAILABLE and keeps the connection.
    if (token !== undefined) return verify(token).catch((err: unknown) => (err instanceof AppError && err.status < 500 ? null : Promise.reject(err)));
    const fromHeader = bearerFromAuthorization(req.headers);
    if (fromHeader === null) throw invalidToken();
    const presented = bearerFromWsProtocols(req.headers) ?? fromHeader;
    return presented === undefined ? null : verify(presented);
  };
}
