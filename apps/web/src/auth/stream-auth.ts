/**
 * Streams that carry the access token: each connection authenticates with
 * the current token when it (re)connects, and again whenever the token is
 * refreshed, so the server never closes it for an expired token (4001).
 * Without accounts `token()` is null and no `auth` op is sent at all.
 */
import type { StreamClientOptions } from '@stock-tracker/client';
import type { StreamFactory, StreamLike, StreamOptions } from '../store/streams.ts';
import type { AuthSession } from './session.ts';

export interface ReauthenticatingStream extends StreamLike {
  reauthenticate(): Promise<void>;
}

export function authenticatedStreams(
  session: Pick<AuthSession, 'token' | 'onToken'>,
  make: (opts: StreamOptions & Pick<StreamClientOptions, 'token'>) => ReauthenticatingStream,
): StreamFactory {
  const open = new Set<ReauthenticatingStream>();
  session.onToken(() => {
    for (const s of open) void s.reauthenticate();
  });
  return (opts) => {
    const stream = make({ ...opts, token: () => session.token() });
    open.add(stream);
    const close = stream.close.bind(stream);
    stream.close = () => {
      open.delete(stream);
      close();
    };
    return stream;
  };
}
