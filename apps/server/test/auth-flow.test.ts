/**
 * Accounts end to end over HTTP, on PGlite and PostgreSQL: register, login,
 * the refresh cookie's attributes, refresh rotation and reuse detection
 * (a replayed refresh token ends the whole session), logout, password change
 * (other sessions end), `me`, registration switched off, AUTH_MODE=none, and
 * the Origin check on the cookie-authenticated endpoints.
 */
import { Value } from '@sinclair/typebox/value';
import { AuthTokens, ErrorResponse, Me } from '@stock-tracker/protocol';
import type { LightMyRequestResponse } from 'fastify';
import { createAuthFixture, PASSWORD, refreshCookieOf, uniqueName, type AuthFixture, type Session } from './auth-fixture.ts';
import { stubApp } from './http-stubs.ts';
import type { StorageKind } from '../../../test/helpers/storage.ts';

const cookies = (r: LightMyRequestResponse): string[] => {
  const raw = r.headers['set-cookie'];
  return Array.isArray(raw) ? raw : raw ? [raw] : [];
};

function expectError(r: LightMyRequestResponse, status: number, code: string) {
  expect(r.statusCode, r.body).toBe(status);
  const body = r.json();
  expect(Value.Check(ErrorResponse, body)).toBe(true);
  expect(body.code).toBe(code);
  expect(body.request_id).toBe(r.headers['x-request-id']);
  return body;
}

describe.each(['pglite', 'postgres'] as StorageKind[])('accounts over HTTP (%s)', (kind) => {
  let f: AuthFixture;
  beforeAll(async () => {
    f = await createAuthFixture(kind);
  });
  afterAll(() => f?.close());

  const refresh = (cookie: string, headers: Record<string, string> = {}) => f.as(null, 'POST', '/api/auth/refresh', undefined, { cookie, ...headers });
  const login = (username: string, password = PASSWORD) => f.as(null, 'POST', '/api/auth/login', { username, password });

  it('register answers 201 with an access token and sets the refresh token only as a hardened cookie', async () => {
    const username = uniqueName('reg');
    const r = await f.as(null, 'POST', '/api/auth/register', { username, password: PASSWORD });
    expect(r.statusCode).toBe(201);
    const body = r.json();
    expect(Value.Check(AuthTokens, body)).toBe(true);
    expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { username } });
    expect(r.headers['cache-control']).toBe('no-store');
    const [cookie] = cookies(r);
    expect(cookie).toMatch(/^__Secure-st_refresh=[A-Za-z0-9_-]{43}; /);
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/api/auth', 'Max-Age=86400']) expect(cookie.split('; ')).toContain(attr);
    // The refresh token never appears in the body.
    expect(r.body).not.toContain(cookie.split(';')[0]!.split('=')[1]!);
    const me = await f.as({ token: body.accessToken } as Session, 'GET', '/api/auth/me');
    expect(Value.Check(Me, me.json())).toBe(true);
    expect(me.json()).toMatchObject({ mode: 'accounts', user: { id: body.user.id, username }, registrationEnabled: true, publicMarketData: true, refreshCookie: false });
    // `me` sees the cookie (same Path) and says a silent refresh is worth trying.
    expect((await f.as(null, 'GET', '/api/auth/me', undefined, { cookie: cookie.split(';')[0]! })).json()).toMatchObject({ user: null, refreshCookie: true });
  });

  it('user names are case-insensitive and unique; weak passwords are refused with details', async () => {
    const a = await f.signUp('dup');
    expectError(await f.as(null, 'POST', '/api/auth/register', { username: a.username.toUpperCase(), password: PASSWORD }), 409, 'CONFLICT');
    const weak = expectError(await f.as(null, 'POST', '/api/auth/register', { username: uniqueName('weak'), password: 'short' }), 400, 'VALIDATION_FAILED');
    expect(weak.details[0].path).toBe('body.password');
    const name = uniqueName('same');
    const same = expectError(await f.as(null, 'POST', '/api/auth/register', { username: name, password: name }), 400, 'VALIDATION_FAILED');
    expect(same.details).toEqual([{ path: 'body.password', issue: 'must not be the user name' }]);
    expectError(await f.as(null, 'POST', '/api/auth/register', { username: 'a b', password: PASSWORD }), 400, 'VALIDATION_FAILED');
    // Logging in with another case works.
    expect((await login(a.username.toUpperCase())).statusCode).toBe(200);
  });

  it('a wrong password and an unknown user get the same 401 INVALID_CREDENTIALS', async () => {
    const a = await f.signUp('cred');
    const wrong = expectError(await login(a.username, 'not the password'), 401, 'INVALID_CREDENTIALS');
    const unknown = expectError(await login(uniqueName('ghost')), 401, 'INVALID_CREDENTIALS');
    expect(unknown.message).toBe(wrong.message);
    // The local default user has no password and cannot log in.
    expectError(await login('local', 'anything at all'), 401, 'INVALID_CREDENTIALS');
  });

  it('refresh rotates the cookie; replaying a rotated one ends the whole session, not other sessions', async () => {
    const a = await f.signUp('rot');
    const other = refreshCookieOf(await login(a.username)); // a second, independent login
    const r1 = await refresh(a.cookie);
    expect(r1.statusCode, r1.body).toBe(200);
    expect(Value.Check(AuthTokens, r1.json())).toBe(true);
    const c2 = refreshCookieOf(r1);
    expect(c2).not.toBe(a.cookie);
    const token2 = r1.json().accessToken as string;
    expect((await f.as({ ...a, token: token2 }, 'GET', '/api/watchlists')).statusCode).toBe(200);
    const r2 = await refresh(c2);
    expect(r2.statusCode).toBe(200);
    const c3 = refreshCookieOf(r2);

    // The first cookie comes back: someone copied it. The session ends for everyone holding it.
    const replay = await refresh(a.cookie);
    expectError(replay, 401, 'INVALID_TOKEN');
    expect(cookies(replay).join()).toMatch(/Max-Age=0/);
    expectError(await refresh(c3), 401, 'INVALID_TOKEN');
    expectError(await f.as({ ...a, token: token2 }, 'GET', '/api/watchlists'), 401, 'INVALID_TOKEN');
    expectError(await f.as(a, 'GET', '/api/watchlists'), 401, 'INVALID_TOKEN');
    // The other login of the same user is untouched.
    expect((await refresh(other)).statusCode).toBe(200);
  });

  it('refresh without a cookie, with a made-up one, or with the cookie under the insecure name is 401', async () => {
    expectError(await refresh(''), 401, 'INVALID_TOKEN');
    expectError(await refresh(`__Secure-st_refresh=${'A'.repeat(43)}`), 401, 'INVALID_TOKEN');
    expectError(await refresh('__Secure-st_refresh=../../etc'), 401, 'INVALID_TOKEN');
    const a = await f.signUp('plain');
    // Outside development only the __Secure- cookie counts (a plain one could be planted over http).
    expectError(await refresh(a.cookie.replace('__Secure-st_refresh', 'st_refresh')), 401, 'INVALID_TOKEN');
    expect((await refresh(a.cookie)).statusCode).toBe(200);
  });

  it('the cookie endpoints refuse a foreign Origin and cross-site fetches (CSRF in depth)', async () => {
    const a = await f.signUp('csrf');
    expectError(await refresh(a.cookie, { origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    expectError(await refresh(a.cookie, { 'sec-fetch-site': 'cross-site' }), 403, 'ORIGIN_NOT_ALLOWED');
    expectError(await f.as(null, 'POST', '/api/auth/logout', undefined, { cookie: a.cookie, origin: 'https://evil.example.com' }), 403, 'ORIGIN_NOT_ALLOWED');
    // The refused calls did not touch the session; the same host and the CORS allow-list are fine.
    const ok = await refresh(a.cookie, { host: 'app.example.com', origin: 'https://app.example.com', 'sec-fetch-site': 'same-origin' });
    expect(ok.statusCode).toBe(200);
    expect((await refresh(refreshCookieOf(ok), { origin: 'https://allowed.example.com' })).statusCode).toBe(200);
  });

  it('logout revokes: the refresh cookie and the access token stop working, and the cookie is cleared', async () => {
    const a = await f.signUp('bye');
    const out = await f.as(a, 'POST', '/api/auth/logout', undefined, { cookie: a.cookie });
    expect(out.statusCode).toBe(204);
    expect(cookies(out).some((c) => c.startsWith('__Secure-st_refresh=;') && c.includes('Max-Age=0'))).toBe(true);
    expectError(await refresh(a.cookie), 401, 'INVALID_TOKEN');
    expectError(await f.as(a, 'GET', '/api/watchlists'), 401, 'INVALID_TOKEN');
    // Idempotent, and fine without any credential.
    expect((await f.as(null, 'POST', '/api/auth/logout')).statusCode).toBe(204);
  });

  it('logout with only the cookie, or with an expired or bogus access token, still ends the session', async () => {
    const a = await f.signUp('bye2');
    expect((await f.as({ ...a, token: 'expired.or.bogus' }, 'POST', '/api/auth/logout', undefined, { cookie: a.cookie })).statusCode).toBe(204);
    expectError(await f.as(a, 'GET', '/api/watchlists'), 401, 'INVALID_TOKEN');
  });

  it('password change checks the current password, then ends every other session', async () => {
    const a = await f.signUp('pw');
    const second = await login(a.username);
    const secondToken = second.json().accessToken as string;
    const secondCookie = refreshCookieOf(second);
    const NEW = 'a new and better pass';
    expectError(await f.as(a, 'POST', '/api/auth/password', { currentPassword: 'wrong one!', newPassword: NEW }), 401, 'INVALID_CREDENTIALS');
    expectError(await f.as(a, 'POST', '/api/auth/password', { currentPassword: PASSWORD, newPassword: PASSWORD }), 400, 'VALIDATION_FAILED');
    expectError(await f.as(null, 'POST', '/api/auth/password', { currentPassword: PASSWORD, newPassword: NEW }), 401, 'INVALID_TOKEN');
    expect((await f.as(a, 'POST', '/api/auth/password', { currentPassword: PASSWORD, newPassword: NEW })).statusCode).toBe(204);
    // This session goes on; the other one is over.
    expect((await f.as(a, 'GET', '/api/watchlists')).statusCode).toBe(200);
    expect((await refresh(a.cookie)).statusCode).toBe(200);
    expectError(await f.as({ ...a, token: secondToken }, 'GET', '/api/watchlists'), 401, 'INVALID_TOKEN');
    expectError(await refresh(secondCookie), 401, 'INVALID_TOKEN');
    expectError(await login(a.username), 401, 'INVALID_CREDENTIALS');
    expect((await login(a.username, NEW)).statusCode).toBe(200);
  });

  it('me without a token tells the mode (user null); with a bad token it is 401', async () => {
    const anon = await f.as(null, 'GET', '/api/auth/me');
    expect(anon.statusCode).toBe(200);
    expect(anon.json()).toEqual({ mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: false });
    expectError(await f.as({ token: 'x.y.z' } as Session, 'GET', '/api/auth/me'), 401, 'INVALID_TOKEN');
  });
});

describe('accounts: settings', () => {
  it('REGISTRATION_ENABLED=false: register is 403, existing users still log in', async () => {
    const f = await createAuthFixture('pglite', { service: { registrationEnabled: false }, settings: { auth: { mode: 'accounts', registrationEnabled: false, publicMarketData: true } } });
    try {
      await f.service.createUser('admin1', PASSWORD); // what `stock-tracker user create` does
      expectError(await f.as(null, 'POST', '/api/auth/register', { username: 'newbie', password: PASSWORD }), 403, 'FORBIDDEN');
      expect((await f.as(null, 'POST', '/api/auth/login', { username: 'admin1', password: PASSWORD })).statusCode).toBe(200);
      expect((await f.as(null, 'GET', '/api/auth/me')).json()).toMatchObject({ registrationEnabled: false });
    } finally {
      await f.close();
    }
  });

  it('development over plain http: the cookie drops Secure (and the __Secure- prefix), and is read back', async () => {
    const f = await createAuthFixture('pglite', { settings: { appEnv: 'development' } });
    try {
      const r = await f.as(null, 'POST', '/api/auth/register', { username: uniqueName('dev'), password: PASSWORD });
      const [cookie] = cookies(r);
      expect(cookie).toMatch(/^st_refresh=/);
      expect(cookie.split('; ')).not.toContain('Secure');
      expect(cookie.split('; ')).toContain('HttpOnly');
      expect((await f.as(null, 'POST', '/api/auth/refresh', undefined, { cookie: cookie.split(';')[0]! })).statusCode).toBe(200);
    } finally {
      await f.close();
    }
  });

  it('AUTH_MODE=none: everything acts for the local user, the account endpoints answer 403, me says none', async () => {
    const { app } = await stubApp();
    try {
      const me = await app.inject('/api/auth/me');
      expect(me.json()).toEqual({ mode: 'none', user: { id: 'local', username: 'local' }, registrationEnabled: false, publicMarketData: true, refreshCookie: false });
      expectError(await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'a', password: 'b' } }), 403, 'FORBIDDEN');
      expectError(await app.inject({ method: 'POST', url: '/api/auth/refresh' }), 403, 'FORBIDDEN');
      expect((await app.inject('/api/watchlists')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
