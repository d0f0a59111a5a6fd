/**
 * Issue 12 §11: an access token acts only when its session belongs to its
 * subject. A token signed with the server's key that pairs Bob's `sub` with
 * Alice's live `sid` (what a leaked key or a minting bug would produce) is
 * refused; the control (Bob's own session) works. Real socket, real client.
 */
import { createAuthFixture, type AuthFixture } from './auth-fixture.ts';

let f: AuthFixture;
let base: string;
beforeAll(async () => {
  f = await createAuthFixture('pglite');
  base = await f.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => f?.close());

const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;
const watchlists = (token: string) => fetch(`${base}/api/watchlists`, { headers: { authorization: `Bearer ${token}` } });

describe('verifyAccess: the session must be the subject’s', () => {
  it('Bob’s sub with Alice’s live sid is 401, before and after the session is cached', async () => {
    const [alice, bob] = [await f.signUp('alice'), await f.signUp('bob')];
    // Alice's session is live and cached (her own request just used it).
    expect((await watchlists(alice.token)).status).toBe(200);
    const forged = await f.service.tokens.sign(bob.userId, sidOf(alice.token));
    const r = await watchlists(forged.token);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { code: string }).code).toBe('INVALID_TOKEN');
    // The repository answers the same without any cache.
    expect(await f.authRepo.sessionActive(sidOf(alice.token), Date.now(), bob.userId)).toBe(false);
    expect(await f.authRepo.sessionActive(sidOf(alice.token), Date.now(), alice.userId)).toBe(true);
    const other = await f.service.tokens.sign(alice.userId, sidOf(bob.token));
    expect((await watchlists(other.token)).status).toBe(401);
    // The control: a token for Bob's own session works, and Alice is unaffected.
    const own = await f.service.tokens.sign(bob.userId, sidOf(bob.token));
    expect((await watchlists(own.token)).status).toBe(200);
    expect((await watchlists(alice.token)).status).toBe(200);
  });
});
