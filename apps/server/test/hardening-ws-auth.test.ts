/**
 * WebSocket authentication faults (issue 12, §5 WS part and §11), through
 * the real app and gateway with real `ws` clients:
 * - an `auth` op whose token cannot be checked because the session store is
 *   down answers SERVICE_UNAVAILABLE and keeps the connection; only a bad
 *   token gets INVALID_TOKEN and 4001;
 * - logging out or changing the password closes the WebSockets of the ended
 *   sessions (4001) at once, in-process and on another replica (Redis pub/sub).
 */
import { WS_CLOSE } from '@stock-tracker/protocol';
import { AuthService } from '../src/auth/auth-service.ts';
import { wsAuthenticator } from '../src/auth/ws-auth.ts';
import { createAuthRepository } from '../src/storage/auth-repo.ts';
import { outageAwareDb } from '../src/roles/db-outage.ts';
import { SessionRevocations } from '../src/ws/index.ts';
import { FaultyDb } from '../../../test/helpers/faulty-db.ts';
import { testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.ts';
import { PASSWORD, TEST_JWT, type Session } from './auth-fixture.ts';
import { Client, refusal, startWsEnv, type WsEnv } from './auth-ws-helpers.ts';
import { serveGateway, waitFor, type ServedGateway } from './ws-test-helpers.ts';

const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;

let e: WsEnv;
let faulty: FaultyDb;
let flaky: ServedGateway;
let replicaB: ServedGateway;
let onA: SessionRevocations;
let onB: SessionRevocations;
beforeAll(async () => {
  e = await startWsEnv();
  // The wiring of the api role: the AuthService's hook feeds this replica's gateway and Redis.
  const channel = `${uniquePrefix('revocations')}session-revoked`;
  onA = new SessionRevocations({ redis: { url: testRedisUrl(), channel } });
  onB = new SessionRevocations({ redis: { url: testRedisUrl(), channel } });
  (e.wiring.service as unknown as { opts: { onSessionsRevoked?: unknown } }).opts.onSessionsRevoked = onA.onSessionsRevoked;
  onA.attach(e.gateway);
  // Replica B: its own gateway and AuthService over the same database.
  const serviceB = new AuthService({ repo: createAuthRepository(e.f.storage.db), jwt: TEST_JWT, accessTtlSeconds: 600, refreshTtlSeconds: 3600, registrationEnabled: true });
  replicaB = await serveGateway(e.bus, { authenticate: wsAuthenticator({ mode: 'accounts', service: serviceB }) });
  onB.attach(replicaB.gateway);
  // A gateway authenticating through a database that can fail, reported as outageAwareDb does in the roles.
  faulty = new FaultyDb(e.f.storage.db);
  const flakyService = new AuthService({ repo: createAuthRepository(outageAwareDb(faulty)), jwt: TEST_JWT, accessTtlSeconds: 600, refreshTtlSeconds: 3600, registrationEnabled: true });
  flaky = await serveGateway(e.bus, { authenticate: wsAuthenticator({ mode: 'accounts', service: flakyService }) });
  expect(await onA.ready()).toBe(true);
  expect(await onB.ready()).toBe(true);
});
afterAll(async () => {
  await flaky?.stop();
  await replicaB?.stop();
  await e?.close();
  await onA?.close();
  await onB?.close();
});

describe('WS auth op while the session store is down', () => {
  it('answers SERVICE_UNAVAILABLE and stays open; a bad token still closes with 4001', async () => {
    const alice = await e.f.signUp('alice');
    const c = await Client.open(flaky.url('/ws/alerts'));
    faulty.down = true;
    c.send({ op: 'auth', id: 'a1', token: alice.token });
    expect(await c.next((m) => m.type === 'error' && m.id === 'a1')).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await new Promise((r) => setTimeout(r, 100));
    expect(c.isOpen).toBe(true);
    // The store is back: the same token works on the same connection.
    faulty.down = false;
    c.send({ op: 'auth', id: 'a2', token: alice.token });
    c.send({ op: 'subscribe', id: 's' });
    expect(await c.next((m) => m.type === 'subscribed')).toMatchObject({ id: 's' });
    // A token that is bad in itself is refused even while the store is down.
    faulty.down = true;
    c.send({ op: 'auth', id: 'a3', token: `${alice.token}x` });
    expect((await c.closed).code).toBe(WS_CLOSE.UNAUTHORIZED);
    expect(c.messages.find((m) => m.id === 'a3')).toMatchObject({ type: 'error', code: 'INVALID_TOKEN' });
    faulty.down = false;
  });

  it('a token on the upgrade that cannot be checked is refused with 503 + Retry-After, not served anonymously', async () => {
    const bob = await e.f.signUp('bob');
    faulty.down = true;
    try {
      const r = await refusal(flaky.url('/ws/alerts'), ['stock-tracker', `bearer.${bob.token}`], { 'x-request-id': 'ws-auth-down-1' });
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'SERVICE_UNAVAILABLE', request_id: 'ws-auth-down-1' });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      faulty.down = false;
    }
    const ok = await Client.open(flaky.url('/ws/alerts'), ['stock-tracker', `bearer.${bob.token}`]);
    ok.send({ op: 'subscribe', id: 's' });
    await ok.next((m) => m.type === 'subscribed');
    ok.ws.close();
  });
});

describe('ended sessions close their WebSockets', () => {
  const open = async (url: string, s: Session) => {
    const c = await Client.open(url, ['stock-tracker', `bearer.${s.token}`]);
    c.send({ op: 'subscribe', id: 's' });
    await c.next((m) => m.type === 'subscribed');
    return c;
  };

  it('logout: the session’s alerts and market connections close with 4001; another user’s stay open', async () => {
    const alice = await e.f.signUp('alice');
    const bob = await e.f.signUp('bob');
    const alerts = await open(e.url('/ws/alerts'), alice);
    const market = await open(e.url('/ws/market'), alice);
    const other = await open(e.url('/ws/alerts'), bob);
    const res = await e.f.as(alice, 'POST', '/api/auth/logout', undefined, { cookie: alice.cookie });
    expect(res.statusCode).toBeLessThan(300);
    for (const c of [alerts, market]) {
      expect((await c.closed).code).toBe(WS_CLOSE.UNAUTHORIZED);
      expect(c.messages.at(-1)).toMatchObject({ type: 'error', code: 'INVALID_TOKEN' });
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(other.isOpen).toBe(true);
    other.ws.close();
  });

  it('password change: the other sessions’ connections close, the current session’s stays open', async () => {
    const carol = await e.f.signUp('carol');
    const login = await e.f.as(null, 'POST', '/api/auth/login', { username: carol.username, password: PASSWORD });
    expect(login.statusCode).toBe(200);
    const second: Session = { ...carol, token: login.json().accessToken };
    expect(sessionOf(second.token)).not.toBe(sessionOf(carol.token));
    const mine = await open(e.url('/ws/alerts'), carol);
    const elsewhere = await open(e.url('/ws/alerts'), second);
    const res = await e.f.as(carol, 'POST', '/api/auth/password', { currentPassword: PASSWORD, newPassword: 'an entirely new passphrase 42' });
    expect(res.statusCode).toBeLessThan(300);
    expect((await elsewhere.closed).code).toBe(WS_CLOSE.UNAUTHORIZED);
    await new Promise((r) => setTimeout(r, 100));
    expect(mine.isOpen).toBe(true);
    mine.ws.close();
  });

  it('a logout on replica A closes the session’s connection on replica B (Redis pub/sub) with 4001', async () => {
    const dave = await e.f.signUp('dave');
    const before = onB.counts.received;
    const c = await open(replicaB.url('/ws/alerts'), dave);
    await e.f.as(dave, 'POST', '/api/auth/logout', undefined, { cookie: dave.cookie });
    expect((await c.closed).code).toBe(WS_CLOSE.UNAUTHORIZED);
    expect(c.messages.at(-1)).toMatchObject({ type: 'error', code: 'INVALID_TOKEN' });
    await waitFor(() => onB.counts.received > before, 'replica B received the announcement');
  });
});
