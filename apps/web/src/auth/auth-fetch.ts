/**
 * fetch for the app's RestClient: when an authenticated call comes back
 * 401 INVALID_TOKEN (the access token expired or its session was refreshed
 * elsewhere), refresh once and replay the call with the new token. Anything
 * else — including 401 INVALID_CREDENTIALS — is returned as it came.
 */
import type { AuthSession } from './session.ts';

export function authRetryFetch(session: Pick<AuthSession, 'refresh' | 'token'>, base: typeof fetch = globalThis.fetch.bind(globalThis)): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    const headers = new Headers(init?.headers);
    if (res.status !== 401 || !headers.has('authorization')) return res;
    const code = await res
      .clone()
      .json()
      .then((b: { code?: unknown }) => b?.code)
      .catch(() => undefined);
    if (code !== 'INVALID_TOKEN' || !(await session.refresh())) return res;
    const token = await session.token();
    if (!token) return res;
    headers.set('authorization', `Bearer ${token}`);
    return base(input, { ...init, headers });
  };
}
