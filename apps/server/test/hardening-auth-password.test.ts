/**
 * Issue 12 §11: password policy at OWASP ASVS L2: at least 12 characters,
 * and no password from the breached/common list shipped with the project
 * (≥ 10,000 entries), for registration and password changes, over real HTTP.
 */
import { NewPassword } from '@stock-tracker/protocol';
import { breachedPasswords, isBreachedPassword, MIN_PASSWORD_LENGTH, passwordProblems } from '../src/auth/passwords.ts';
import { createAuthFixture, PASSWORD, uniqueName, type AuthFixture } from './auth-fixture.ts';

describe('the policy', () => {
  it('is 12 characters minimum, on the server and in the contract the SPA reads', () => {
    expect(MIN_PASSWORD_LENGTH).toBe(12);
    expect(NewPassword.minLength).toBe(12);
    expect(passwordProblems('elevenchars', 'bob')).toEqual([{ path: 'body.password', issue: 'must be at least 12 characters' }]);
    expect(passwordProblems('twelve chars', 'bob')).toEqual([]);
  });

  it('ships a breached-password list of at least 10,000 entries, checked case-insensitively', () => {
    expect(breachedPasswords().size).toBeGreaterThanOrEqual(10_000);
    for (const p of ['123456', 'password', 'qwerty', 'iloveyou']) expect(isBreachedPassword(p), p).toBe(true);
    for (const p of ['1qaz2wsx3edc', 'QWERTY123456', '123qweasdzxc']) {
      expect(p.length).toBeGreaterThanOrEqual(12);
      expect(passwordProblems(p, 'bob')[0]?.issue, p).toMatch(/commonly used/);
    }
    expect(isBreachedPassword(PASSWORD)).toBe(false);
  });
});

describe('over HTTP', () => {
  let f: AuthFixture;
  let base: string;
  beforeAll(async () => {
    f = await createAuthFixture('pglite');
    base = await f.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => f?.close());

  const post = async (path: string, body: unknown, token?: string) => {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    return { status: r.status, body: (r.status === 204 ? null : await r.json()) as { code: string; details?: { path: string; issue: string }[] } };
  };

  it('registration refuses 11 characters and a breached 12-character password, accepts a good one', async () => {
    const short = await post('/api/auth/register', { username: uniqueName('pw'), password: 'abcdefghijk' });
    expect(short.status).toBe(400);
    expect(short.body.code).toBe('VALIDATION_FAILED');
    const breached = await post('/api/auth/register', { username: uniqueName('pw'), password: '1qaz2wsx3edc' });
    expect(breached.status).toBe(400);
    expect(breached.body.details?.[0]).toMatchObject({ path: 'body.password', issue: expect.stringMatching(/commonly used/) });
    expect((await post('/api/auth/register', { username: uniqueName('pw'), password: 'mauve lantern 42 quietly' })).status).toBe(201);
  });

  it('a password change to a breached password is refused', async () => {
    const u = await f.signUp('chg');
    const r = await post('/api/auth/password', { currentPassword: PASSWORD, newPassword: 'qwerty123456' }, u.token);
    expect(r.status).toBe(400);
    expect(r.body.details?.[0]).toMatchObject({ path: 'body.newPassword', issue: expect.stringMatching(/commonly used/) });
  });
});
