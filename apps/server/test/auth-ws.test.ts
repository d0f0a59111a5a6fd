/**
 * WebSocket authentication and authorization with the production wiring
 * (config → createAuth → gateway on the app's HTTP server, as roles/all.ts
 * does): tokens in the `bearer.<token>` subprotocol (never echoed) or in an
 * `auth` op, never from the URL; /ws/alerts serves only the caller's own
 * alerts (IDOR); an expired token closes an authenticated channel with 4001
 * unless a fresh `auth` op arrived, while public channels carry on; foreign
 * origins and connections over the per-IP limit are refused before the
 * handshake; PUBLIC_MARKET_DATA=false needs a token on market channels.
 */
import type { IncomingMessage } from 'node:http';
import { SYSTEM_ALERTS_KEY, WS_CLOSE, alertsKey } from '@stock-tracker/protocol';
import { AuthService } from '../src/auth/auth-service.ts';
import { createAuthRepository } from '../src/storage/auth-repo.ts';
import { TEST_JWT, type Session } from './auth-fixture.ts';
import { Client, refusal, startWsEnv as start, type WsEnv as Env } from './auth-ws-helpers.ts';
import { makeQuote } from './ws-test-helpers.ts';
import { clientIpResolver } from '../src/ws/client-ip.ts';

describe('WebSocket auth (accounts, public market data)', () => {
  let e: Env;
  let alice: Session;
  let bob: Session;
  beforeAll(async () => {
    e = await start();
    alice = await e.f.signUp('alice');
    bob = await e.f.signUp('bob');
  });
  afterAll(() => e?.close());
  let shortLived: AuthService;
  let longLived: AuthService;
  // Signers for the same sessions with other lifetimes, to watch a token lapse.
  beforeAll(() => {
    const repo = createAuthRepository(e.f.storage.db);
    const opts = { repo, jwt: TEST_JWT, refreshTtlSeconds: 3600, registrationEnabled: true };
    shortLived = new AuthService({ ...opts, accessTtlSeconds: 2 });
    longLived = new AuthService({ ...opts, accessTtlSeconds: 600 });
  });
  /** A token for the user's live session, from the given signer. */
  const tokenFor = async (svc: AuthService, s: Session) => {
    const sid = JSON.parse(Buffer.from(s.token.split('.')[1]!, 'base64url').toString()).sid as string;
    return (await svc.tokens.sign(s.userId, sid)).token;
  };

  it('a token in the subprotocol authenticates; the server answers `stock-tracker`, never the token', async () => {
    const c = await Client.open(e.url('/ws/alerts'), ['stock-tracker', `bearer.${alice.token}`]);
    expect(c.ws.protocol).toBe('stock-tracker');
    c.send({ op: 'subscribe', id: 's' });
    expect((await c.next((m) => m.type === 'subscribed')).keys).toEqual([alertsKey(alice.userId), SYSTEM_ALERTS_KEY]);
    c.ws.close();
  });

  it('/ws/alerts delivers only the connected user’s alerts; asking for another user’s key is FORBIDDEN', async () => {
    const a = await Client.open(e.url('/ws/alerts'), ['stock-tracker', `bearer.${alice.token}`]);
    a.send({ op: 'subscribe', id: 'x', symbols: [alertsKey(bob.userId)] });
    expect(await a.next((m) => m.type === 'error')).toMatchObject({ code: 'FORBIDDEN', id: 'x' });
    a.send({ op: 'subscribe', id: 'own' });
    await a.next((m) => m.type === 'subscribed');
    const b = await Client.open(e.url('/ws/alerts'));
    b.send({ op: 'auth', token: bob.token });
    b.send({ op: 'subscribe', id: 'own' });
    expect((await b.next((m) => m.type === 'subscribed')).keys).toEqual([alertsKey(bob.userId), SYSTEM_ALERTS_KEY]);
    const pub = e.bus.publisher();
    pub.publish('alerts', alertsKey(bob.userId), 'event', { id: 'for-bob', userId: bob.userId } as never);
    pub.publish('alerts', alertsKey(alice.userId), 'event', { id: 'for-alice', userId: alice.userId } as never);
    expect((await a.next((m) => m.type === 'update')).data).toMatchObject({ id: 'for-alice' });
    expect((await b.next((m) => m.type === 'update')).data).toMatchObject({ id: 'for-bob' });
    await new Promise((r) => setTimeout(r, 100));
    const ids = (c: Client) => c.messages.filter((m) => m.type === 'update').map((m) => (m.data as { id: string }).id);
    expect(ids(a)).toEqual(['for-alice']);
    expect(ids(b)).toEqual(['for-bob']);
    a.ws.close();
    b.ws.close();
  });

  it('without a token the alerts channel says UNAUTHORIZED; a token in the URL is ignored', async () => {
    const c = await Client.open(`${e.url('/ws/alerts')}?token=${alice.token}&access_token=${alice.token}`);
    c.send({ op: 'subscribe', id: 's' });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'UNAUTHORIZED', id: 's' });
    c.ws.close();
  });

  it('a bad token on the upgrade is refused with 401 in the error contract; a bad auth op closes with 4001', async () => {
    const r = await refusal(e.url('/ws/alerts'), ['stock-tracker', 'bearer.not.a.token'], { 'x-request-id': 'ws-bad-token-1' });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ code: 'INVALID_TOKEN', message: expect.any(String), request_id: 'ws-bad-token-1' });
    expect(r.headers['x-request-id']).toBe('ws-bad-token-1');
    expect((await refusal(e.url('/ws/market'), [], { authorization: 'Basic eDp5' })).status).toBe(401);
    const c = await Client.open(e.url('/ws/alerts'));
    c.send({ op: 'auth', token: `${alice.token}x` });
    expect((await c.closed).code).toBe(WS_CLOSE.UNAUTHORIZED);
    expect(c.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('a logged-out session’s token no longer opens the alerts channel', async () => {
    const carol = await e.f.signUp('carol');
    await e.f.as(carol, 'POST', '/api/auth/logout', undefined, { cookie: carol.cookie });
    expect((await refusal(e.url('/ws/alerts'), ['stock-tracker', `bearer.${carol.token}`])).status).toBe(401);
  });

  it('refuses a foreign Origin before the handshake (CSWSH); the allow-list and the same host pass', async () => {
    const r = await refusal(e.url('/ws/alerts'), ['stock-tracker', `bearer.${alice.token}`], { origin: 'https://evil.example.com' });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('ORIGIN_NOT_ALLOWED');
    const ok = await Client.open(e.url('/ws/market'), [], { origin: 'https://allowed.example.com' });
    const host = new URL(e.url('/')).host;
    const same = await Client.open(e.url('/ws/market'), [], { origin: `http://${host}` });
    ok.ws.close();
    same.ws.close();
  });

  it('closes an alerts connection with 4001 at expiry; a fresh auth op in time keeps another open; a public channel carries on', async () => {
    const dave = await e.f.signUp('dave');
    const first = await tokenFor(shortLived, dave);
    const exp = JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()).exp * 1000;

    const lapsing = await Client.open(e.url('/ws/alerts'), ['stock-tracker', `bearer.${first}`]);
    const renewed = await Client.open(e.url('/ws/alerts'), ['stock-tracker', `bearer.${first}`]);
    const market = await Client.open(e.url('/ws/market'), ['stock-tracker', `bearer.${first}`]);
    for (const c of [lapsing, renewed]) c.send({ op: 'subscribe', id: 's' });
    market.send({ op: 'subscribe', id: 'm', symbols: ['FPT'] });
    await Promise.all([lapsing, renewed, market].map((c) => c.next((m) => m.type === 'subscribed')));
    renewed.send({ op: 'auth', token: await tokenFor(longLived, dave) });

    const closed = await lapsing.closed;
    expect(closed.code).toBe(WS_CLOSE.UNAUTHORIZED);
    expect(Date.now()).toBeGreaterThanOrEqual(exp - 50);
    expect(lapsing.messages.at(-1)).toMatchObject({ type: 'error', code: 'INVALID_TOKEN' });
    await new Promise((r) => setTimeout(r, 300));
    expect(renewed.isOpen).toBe(true);
    expect(market.isOpen).toBe(true);
    // The public channel still delivers after its token lapsed.
    e.bus.publisher().publish('market', 'FPT', 'state', makeQuote('FPT', 1));
    await market.next((m) => m.type === 'update' || m.type === 'snapshot');
    renewed.ws.close();
    market.ws.close();
  }, 15_000);

  it('holds the per-IP connection limit (4 here): the next one is 429 with Retry-After, a freed slot is reusable', async () => {
    await new Promise((r) => setTimeout(r, 100)); // earlier tests' sockets finish closing
    const open = await Promise.all([0, 1, 2, 3].map(() => Client.open(e.url('/ws/market'))));
    const r = await refusal(e.url('/ws/market'));
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('TOO_MANY_CONNECTIONS');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    // Spoofed forwarding headers do not help: TRUST_PROXY is off.
    expect((await refusal(e.url('/ws/market'), [], { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
    open[0]!.ws.close();
    await open[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    const again = await Client.open(e.url('/ws/market'));
    for (const c of [...open.slice(1), again]) c.ws.close();
  });
});

describe('PUBLIC_MARKET_DATA=false over WebSocket', () => {
  let e: Env;
  beforeAll(async () => {
    e = await start({ PUBLIC_MARKET_DATA: 'false' });
  });
  afterAll(() => e?.close());

  it('market, foreign and index subscriptions need a token', async () => {
    const erin = await e.f.signUp('erin');
    for (const path of ['/ws/market', '/ws/foreign', '/ws/index']) {
      const anon = await Client.open(e.url(path));
      anon.send({ op: 'subscribe', id: 'a' });
      expect(await anon.next((m) => m.type === 'error')).toMatchObject({ code: 'UNAUTHORIZED' });
      anon.ws.close();
      const authed = await Client.open(e.url(path), ['stock-tracker', `bearer.${erin.token}`]);
      authed.send({ op: 'subscribe', id: 'b' });
      await authed.next((m) => m.type === 'subscribed');
      authed.ws.close();
    }
    expect(e.wiring.ws.authRequired).toEqual(['market', 'foreign', 'index', 'alerts']);
  });
});

describe('WebSocket client address (TRUST_PROXY)', () => {
  const req = (remoteAddress: string, xff?: string) => ({ headers: xff ? { 'x-forwarded-for': xff } : {}, socket: { remoteAddress } }) as unknown as IncomingMessage;

  it('never believes X-Forwarded-For by default', () => {
    expect(clientIpResolver(false)(req('203.0.113.9', '1.2.3.4'))).toBe('203.0.113.9');
  });

  it('with proxy addresses, believes the header only from those proxies', () => {
    const ip = clientIpResolver(['10.0.0.0/8']);
    expect(ip(req('10.1.2.3', '198.51.100.7'))).toBe('198.51.100.7'); // through our proxy
    expect(ip(req('203.0.113.9', '198.51.100.7'))).toBe('203.0.113.9'); // direct: the forged header is ignored
    expect(ip(req('10.1.2.3', '6.6.6.6, 198.51.100.7'))).toBe('198.51.100.7'); // client-supplied entries before ours do not count
    expect(ip(req('::ffff:10.1.2.3', '198.51.100.7'))).toBe('198.51.100.7');
  });

  it('with a hop count, takes the entry the last N proxies vouch for; `true` takes the last entry', () => {
    expect(clientIpResolver(1)(req('10.1.2.3', '6.6.6.6, 198.51.100.7'))).toBe('198.51.100.7');
    expect(clientIpResolver(2)(req('10.1.2.3', '6.6.6.6, 198.51.100.7'))).toBe('6.6.6.6');
    expect(clientIpResolver(true)(req('10.1.2.3', '6.6.6.6, 198.51.100.7'))).toBe('198.51.100.7');
  });
});
