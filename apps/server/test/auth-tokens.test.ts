/**
 * Access tokens are refused unless everything holds: HS256 with our key (no
 * `alg: none`, no HS512, no RS256 however well signed), our issuer and
 * audience, the access-token type, `exp`/`iat`/`sub`/`sid` present and not
 * expired, and a live session. Every refusal is 401 INVALID_TOKEN in the
 * error contract with `WWW-Authenticate: Bearer`. Forged tokens carry the
 * real `kid` (it is public), so they are refused for what they forge.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, base64url, generateKeyPair } from 'jose';
import { ACCESS_TOKEN_TYPE, AccessTokens, keyId } from '../src/auth/access-tokens.ts';
import { createAuthFixture, TEST_JWT, type AuthFixture, type Session } from './auth-fixture.ts';

const enc = new TextEncoder();
const nowSec = () => Math.floor(Date.now() / 1000);

let f: AuthFixture;
let alice: Session;
beforeAll(async () => {
  f = await createAuthFixture('pglite');
  alice = await f.signUp('alice');
});
afterAll(() => f?.close());

/** Claims of a token that would be valid, for alice's live session. */
function goodClaims(over: Record<string, unknown> = {}) {
  const sid = JSON.parse(Buffer.from(alice.token.split('.')[1]!, 'base64url').toString()).sid as string;
  return { iss: TEST_JWT.issuer, aud: TEST_JWT.audience, sub: alice.userId, sid, iat: nowSec(), exp: nowSec() + 600, jti: randomUUID(), ...over };
}

function sign(claims: Record<string, unknown>, opts: { alg?: string; secret?: string; typ?: string; kid?: string | null } = {}) {
  const header: Record<string, unknown> = { alg: opts.alg ?? 'HS256', typ: opts.typ ?? ACCESS_TOKEN_TYPE };
  if (opts.kid !== null) header.kid = opts.kid ?? keyId(TEST_JWT.secret);
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(enc.encode(opts.secret ?? TEST_JWT.secret));
}

async function expect401(token: string) {
  const r = await f.as({ ...alice, token }, 'GET', '/api/watchlists');
  expect(r.statusCode).toBe(401);
  expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
  const body = r.json();
  expect(body).toMatchObject({ code: 'INVALID_TOKEN', request_id: r.headers['x-request-id'] });
  expect(Object.keys(body).sort()).toEqual(['code', 'message', 'request_id']);
}

describe('access tokens over HTTP', () => {
  it('a token we signed with the right claims is accepted (the control case)', async () => {
    expect((await f.as(alice, 'GET', '/api/watchlists')).statusCode).toBe(200);
    expect((await f.as({ ...alice, token: await sign(goodClaims()) }, 'GET', '/api/watchlists')).statusCode).toBe(200);
  });

  it('refuses a missing token, a non-bearer header and garbage', async () => {
    await expect401('');
    const basic = await f.as(null, 'GET', '/api/watchlists', undefined, { authorization: 'Basic YWxpY2U6cHc=' });
    expect(basic.statusCode).toBe(401);
    await expect401('not-a-jwt');
    await expect401('a.b.c');
  });

  it('refuses a forged signature (another secret, or a tampered payload)', async () => {
    await expect401(await sign(goodClaims(), { secret: randomBytes(48).toString('base64') }));
    const [h, , s] = alice.token.split('.');
    const evil = base64url.encode(JSON.stringify({ ...goodClaims(), sub: 'someone-else' }));
    await expect401(`${h}.${evil}.${s}`);
  });

  it("refuses alg: none", async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: ACCESS_TOKEN_TYPE, kid: keyId(TEST_JWT.secret) }));
    const payload = base64url.encode(JSON.stringify(goodClaims()));
    await expect401(`${header}.${payload}.`);
    await expect401(`${header}.${payload}`);
  });

  it('refuses other algorithms even when correctly signed: HS512 with our secret, RS256 with a key pair', async () => {
    await expect401(await sign(goodClaims(), { alg: 'HS512' }));
    const { privateKey } = await generateKeyPair('RS256');
    const rs = await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'RS256', typ: ACCESS_TOKEN_TYPE, kid: keyId(TEST_JWT.secret) }).sign(privateKey);
    await expect401(rs);
  });

  it('refuses a missing or past exp, and missing sub/sid/iat', async () => {
    const { exp: _e, ...noExp } = goodClaims();
    await expect401(await sign(noExp));
    await expect401(await sign(goodClaims({ iat: nowSec() - 3600, exp: nowSec() - 60 })));
    const { sub: _s, ...noSub } = goodClaims();
    await expect401(await sign(noSub));
    const { sid: _x, ...noSid } = goodClaims();
    await expect401(await sign(noSid));
    const { iat: _i, ...noIat } = goodClaims();
    await expect401(await sign(noIat));
  });

  it('refuses a wrong audience, issuer, token type or key id', async () => {
    await expect401(await sign(goodClaims({ aud: 'another-api' })));
    await expect401(await sign(goodClaims({ iss: 'https://evil.example.com' })));
    await expect401(await sign(goodClaims(), { typ: 'JWT' }));
    await expect401(await sign(goodClaims(), { kid: null }));
    await expect401(await sign(goodClaims(), { kid: 'unknown-kid' }));
  });

  it('refuses a well-formed token for a session that does not exist', async () => {
    await expect401(await sign(goodClaims({ sid: randomUUID() })));
  });
});

describe('AccessTokens', () => {
  const opts = { secret: TEST_JWT.secret, issuer: 'i', audience: 'a', ttlSeconds: 60 };

  it('signs HS256 with exp = iat + ttl and verifies its own tokens', async () => {
    const t = new AccessTokens({ ...opts, now: () => 1_700_000_000_000 });
    const signed = await t.sign('u1', 's1');
    expect(signed.expiresAt).toBe(1_700_000_060_000);
    const header = JSON.parse(Buffer.from(signed.token.split('.')[0]!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'HS256', typ: ACCESS_TOKEN_TYPE });
    expect(await t.verify(signed.token)).toMatchObject({ userId: 'u1', sessionId: 's1', expiresAt: 1_700_000_060_000 });
  });

  it('expires: valid just before exp, refused after it (beyond the clock tolerance)', async () => {
    let now = 1_700_000_000_000;
    const t = new AccessTokens({ ...opts, now: () => now, clockToleranceSeconds: 0 });
    const { token } = await t.sign('u1', 's1');
    now += 59_000;
    await expect(t.verify(token)).resolves.toMatchObject({ userId: 'u1' });
    now += 2_000;
    await expect(t.verify(token)).rejects.toMatchObject({ code: 'INVALID_TOKEN', message: expect.stringMatching(/expired/) });
  });

  it('after a secret rotation, still verifies tokens of the previous secret but signs with the new one', async () => {
    const oldSecret = randomBytes(48).toString('base64');
    const before = await new AccessTokens({ ...opts, secret: oldSecret }).sign('u1', 's1');
    const rotated = new AccessTokens({ ...opts, previousSecret: oldSecret });
    await expect(rotated.verify(before.token)).resolves.toMatchObject({ userId: 'u1' });
    const after = await rotated.sign('u1', 's1');
    await expect(new AccessTokens({ ...opts, secret: oldSecret }).verify(after.token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    // Without the previous secret configured, the old tokens are refused.
    await expect(new AccessTokens(opts).verify(before.token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });
});
