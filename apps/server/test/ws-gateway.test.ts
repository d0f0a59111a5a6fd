import { Registry } from 'prom-client';
import { WS_CLOSE, type QuoteState } from '@stock-tracker/protocol';
import { assertContiguous, makeQuote, makeTrade, RawClient, refused, startServer, type TestServer } from './ws-test-helpers.ts';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.stop();
  srv = undefined;
});

describe('ws gateway: subscribe, snapshot, updates', () => {
  it('sends subscribed, a snapshot per key, then contiguous updates', async () => {
    srv = await startServer();
    const pub = srv.bus.publisher();
    for (let i = 1; i <= 3; i++) for (const s of ['VNM', 'FPT', 'HPG']) pub.publish('market', s, 'state', makeQuote(s, i));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', id: 'a', symbols: ['VNM', 'FPT'] });
    await c.until((ms) => ms.filter((m) => m.type === 'snapshot').length === 2);
    expect(c.messages[0]).toEqual({ type: 'subscribed', channel: 'market', id: 'a', keys: ['VNM', 'FPT'] });
    const snaps = c.messages.filter((m) => m.type === 'snapshot');
    expect(snaps.map((s) => [s.key, s.seq, s.epoch])).toEqual([
      ['VNM', 3, pub.epoch],
      ['FPT', 3, pub.epoch],
    ]);
    expect(snaps[0].data).toEqual(makeQuote('VNM', 3));

    for (let i = 4; i <= 50; i++) for (const s of ['VNM', 'FPT', 'HPG']) pub.publish('market', s, 'state', makeQuote(s, i));
    await c.until((ms) => ms.filter((m) => m.type === 'update').length === 94);
    const updates = c.messages.filter((m) => m.type === 'update');
    expect(updates.some((u) => u.key === 'HPG')).toBe(false);
    expect(assertContiguous(updates, { VNM: 3, FPT: 3 })).toEqual({ VNM: 50, FPT: 50 });
    expect((updates.at(-1)!.data as QuoteState).totalVolume).toBe(5000);
    c.close();
  });

  it('with trades: true also streams SYM:trades, starting with the recent trades', async () => {
    srv = await startServer({ historyEvents: 5 });
    const pub = srv.bus.publisher();
    for (let i = 1; i <= 8; i++) pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', i));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM'], trades: true });
    const snap = await c.next((m) => m.type === 'snapshot' && m.key === 'VNM:trades');
    expect(snap.seq).toBe(8);
    expect((snap.data as Array<{ id: string }>).map((t) => t.id)).toEqual(['VNM-4', 'VNM-5', 'VNM-6', 'VNM-7', 'VNM-8']);
    pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', 9));
    const u = await c.next((m) => m.type === 'update');
    expect(u).toMatchObject({ key: 'VNM:trades', seq: 9, data: { id: 'VNM-9' } });
    c.close();
  });

  it('`*` follows keys that appear after subscribing; trades only when asked', async () => {
    srv = await startServer();
    const pub = srv.bus.publisher();
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['*'] });
    await c.next((m) => m.type === 'snapshot' && m.key === 'VNM');
    pub.publish('market', 'NEW', 'state', makeQuote('NEW', 1));
    pub.publish('market', 'NEW:trades', 'event', makeTrade('NEW', 1));
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 2));
    await c.until((ms) => ms.some((m) => m.type === 'update' && m.key === 'VNM'));
    expect(c.messages.filter((m) => m.type === 'update').map((m) => `${m.key}@${m.seq}`)).toEqual(['NEW@1', 'VNM@2']);
    c.close();
  });

  it('resumes with since on the raw protocol: recovered + missed updates, or reset + snapshot', async () => {
    srv = await startServer({}, { historyState: 10 });
    const pub = srv.bus.publisher();
    for (let i = 1; i <= 30; i++) pub.publish('market', 'VNM', 'state', makeQuote('VNM', i));
    for (let i = 1; i <= 30; i++) pub.publish('market', 'FPT', 'state', makeQuote('FPT', i));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM', 'FPT'], since: { VNM: { seq: 25, epoch: pub.epoch }, FPT: { seq: 5, epoch: pub.epoch } } });
    await c.until((ms) => ms.some((m) => m.type === 'snapshot'));
    const frames = c.messages.map((m) =>
      m.type === 'subscribed' ? `subscribed:${m.keys}` : m.type === 'recovered' ? `recovered:${m.key}:${m.from}-${m.to}` : `${m.type}:${m.key}:${m.seq ?? m.reason}`,
    );
    expect(frames).toEqual([
      'subscribed:VNM,FPT',
      'recovered:VNM:26-30',
      'update:VNM:26',
      'update:VNM:27',
      'update:VNM:28',
      'update:VNM:29',
      'update:VNM:30',
      'reset:FPT:history_exceeded',
      'snapshot:FPT:30',
    ]);
    c.close();
  });

  it('answers an epoch change under a live subscription with reset + snapshot', async () => {
    srv = await startServer();
    const old = srv.bus.publisher({ newId: () => 'OLD' });
    old.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM'] });
    await c.next((m) => m.type === 'snapshot');
    const fresh = srv.bus.publisher({ newId: () => 'NEW' });
    fresh.publish('market', 'VNM', 'state', makeQuote('VNM', 100)); // seq 1 of NEW: continuous for the client
    await c.next((m) => m.type === 'update' && m.epoch === 'NEW');
    // A client that missed the new epoch's first message is told to start over.
    const c2 = await RawClient.open(srv.url('/ws/market'));
    c2.send({ op: 'subscribe', symbols: ['VNM'] });
    await c2.next((m) => m.type === 'snapshot');
    srv.bus.append({ channel: 'market', key: 'VNM', kind: 'state', seq: 5, epoch: 'NEWER', data: makeQuote('VNM', 205) });
    const reset = await c2.next((m) => m.type === 'reset');
    expect(reset).toMatchObject({ key: 'VNM', reason: 'epoch_changed', epoch: 'NEWER' });
    c.close();
    c2.close();
  });

  it('unsubscribe stops delivery for the key', async () => {
    srv = await startServer();
    const pub = srv.bus.publisher();
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM', 'FPT'], trades: true });
    await c.next((m) => m.type === 'subscribed');
    c.send({ op: 'unsubscribe', id: 'u', symbols: ['VNM'] });
    const u = await c.next((m) => m.type === 'unsubscribed');
    expect(u).toMatchObject({ id: 'u', channel: 'market' });
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    pub.publish('market', 'VNM:trades', 'event', makeTrade('VNM', 1));
    pub.publish('market', 'FPT', 'state', makeQuote('FPT', 1));
    await c.next((m) => m.type === 'update');
    expect(c.messages.filter((m) => m.type === 'update').map((m) => m.key)).toEqual(['FPT']);
    expect(srv.gateway.stats().subscriptions).toBe(2); // FPT, FPT:trades
    c.close();
  });

  it('answers ping with pong', async () => {
    srv = await startServer();
    const c = await RawClient.open(srv.url('/ws/index'));
    c.send({ op: 'ping', id: 'p1' });
    const pong = await c.next((m) => m.type === 'pong');
    expect(pong.id).toBe('p1');
    expect(typeof pong.ts).toBe('number');
    c.close();
  });
});

describe('ws gateway: protocol errors', () => {
  it('reports malformed JSON, unknown ops and invalid fields with request ids', async () => {
    srv = await startServer();
    const c = await RawClient.open(srv.url('/ws/market'), { headers: { 'X-Request-ID': 'req-abc' } });
    c.send('{"op": "subscribe", ');
    c.send({ op: 'explode', id: 'x1' });
    c.send({ op: 'subscribe', symbols: 'VNM', since: { VNM: { seq: -1, epoch: 'e' } } });
    c.send({ op: 'subscribe', symbols: ['bad key!'] });
    await c.until((ms) => ms.filter((m) => m.type === 'error').length === 4);
    const [malformed, unknown, invalid, badKey] = c.messages;
    expect(malformed).toMatchObject({ type: 'error', code: 'MALFORMED_JSON' });
    expect(unknown).toMatchObject({ type: 'error', code: 'UNKNOWN_OP', id: 'x1' });
    expect(invalid.code).toBe('VALIDATION_FAILED');
    expect(invalid.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['/symbols', '/since/VNM/seq']));
    expect(badKey.code).toBe('VALIDATION_FAILED');
    const ids = c.messages.map((m) => m.request_id);
    expect(new Set(ids).size).toBe(4);
    ids.forEach((id) => expect(id).toMatch(/^req-abc-\d+$/));
    c.close();
  });

  it('refuses more subscriptions than the limit, keeping the existing ones', async () => {
    srv = await startServer({ maxSubscriptions: 3 });
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['A', 'B'] });
    await c.next((m) => m.type === 'subscribed');
    c.send({ op: 'subscribe', id: 'big', symbols: ['C', 'D'] });
    const err = await c.next((m) => m.type === 'error');
    expect(err).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', id: 'big' });
    expect(srv.gateway.stats().subscriptions).toBe(2);
    c.send({ op: 'subscribe', symbols: ['C'] });
    await c.until((ms) => ms.filter((m) => m.type === 'subscribed').length === 2);
    c.close();
  });

  it('closes with 1009 on an oversized frame', async () => {
    srv = await startServer({ maxFrameBytes: 1024 });
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: Array.from({ length: 200 }, (_, i) => `SYM${i}`) });
    expect((await c.closed).code).toBe(WS_CLOSE.MESSAGE_TOO_BIG);
  });

  it('closes with 4009 after too many protocol errors', async () => {
    srv = await startServer({ maxProtocolErrors: 3 });
    const c = await RawClient.open(srv.url('/ws/market'));
    for (let i = 0; i < 10; i++) c.send('nope');
    expect((await c.closed).code).toBe(WS_CLOSE.PROTOCOL_ERROR);
    expect(c.messages.filter((m) => m.type === 'error')).toHaveLength(4);
  });
});

describe('ws gateway: upgrade policy', () => {
  it('404s unknown paths before the upgrade, with the JSON error body', async () => {
    srv = await startServer();
    const r = await refused(srv.url('/ws/nope'));
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
    expect(r.headers['x-request-id']).toBe(r.body.request_id);
  });

  it('refuses a foreign Origin with 403; allows listed, same-origin and absent origins', async () => {
    srv = await startServer({ allowedOrigins: ['https://app.example.com'] });
    const r = await refused(srv.url('/ws/market'), { origin: 'https://evil.example.net' });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('ORIGIN_NOT_ALLOWED');
    const ok = [
      await RawClient.open(srv.url('/ws/market'), { origin: 'https://app.example.com' }),
      await RawClient.open(srv.url('/ws/market')),
      await RawClient.open(srv.url('/ws/market'), { origin: new URL(srv.url('/')).origin.replace('ws:', 'http:') }),
    ];
    ok.forEach((c) => c.close());
  });

  it('refuses connections beyond the per-IP limit with HTTP 429 and frees the slot on close', async () => {
    srv = await startServer({ maxConnectionsPerIp: 2 });
    const a = await RawClient.open(srv.url('/ws/market'));
    const b = await RawClient.open(srv.url('/ws/index'));
    const r = await refused(srv.url('/ws/market'));
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('TOO_MANY_CONNECTIONS');
    expect(r.headers['retry-after']).toBeDefined();
    a.close();
    await a.closed;
    await new Promise((res) => setTimeout(res, 50));
    const c = await RawClient.open(srv.url('/ws/market'));
    c.close();
    b.close();
  });

  it('counts X-Forwarded-For addresses only when trustProxy is set', async () => {
    srv = await startServer({ maxConnectionsPerIp: 1, trustProxy: true });
    const a = await RawClient.open(srv.url('/ws/market'), { headers: { 'X-Forwarded-For': '10.0.0.1' } });
    const b = await RawClient.open(srv.url('/ws/market'), { headers: { 'X-Forwarded-For': '6.6.6.6, 10.0.0.2' } });
    expect((await refused(srv.url('/ws/market'), { headers: { 'X-Forwarded-For': '10.0.0.2' } })).status).toBe(429);
    a.close();
    b.close();
    await srv.stop();
    srv = await startServer({ maxConnectionsPerIp: 1, trustProxy: false });
    const c = await RawClient.open(srv.url('/ws/market'), { headers: { 'X-Forwarded-For': '10.0.0.1' } });
    expect((await refused(srv.url('/ws/market'), { headers: { 'X-Forwarded-For': '10.0.0.2' } })).status).toBe(429);
    c.close();
  });

  it('terminates a client that stops answering pings, keeps one that answers', async () => {
    srv = await startServer({ pingIntervalMs: 40 });
    const silent = await RawClient.open(srv.url('/ws/market'), { autoPong: false });
    const polite = await RawClient.open(srv.url('/ws/market'));
    const { code } = await silent.closed;
    expect(code).toBe(1006); // terminated, no close frame
    expect(polite.ws.readyState).toBe(polite.ws.OPEN);
    polite.close();
  });

  it('close(1012) closes every connection with that code and refuses new upgrades', async () => {
    srv = await startServer();
    const a = await RawClient.open(srv.url('/ws/market'));
    const b = await RawClient.open(srv.url('/ws/alerts'));
    const closing = srv.gateway.close(WS_CLOSE.SERVICE_RESTART);
    expect((await a.closed).code).toBe(1012);
    expect((await b.closed).code).toBe(1012);
    await closing;
    expect((await refused(srv.url('/ws/market'))).status).toBe(503);
  });
});

describe('ws gateway: alerts and auth', () => {
  const authenticate = async (req: import('node:http').IncomingMessage, token?: string) => {
    if (token) return token === 'good' ? { userId: 'u2' } : null;
    return req.headers.authorization === 'Bearer u1' ? { userId: 'u1' } : null;
  };

  it("serves only the user's own alerts stream", async () => {
    srv = await startServer({ authenticate });
    const pub = srv.bus.publisher();
    const c = await RawClient.open(srv.url('/ws/alerts'), { headers: { Authorization: 'Bearer u1' } });
    c.send({ op: 'subscribe', id: 'x', symbols: ['user:u9'] });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'FORBIDDEN', id: 'x' });
    c.send({ op: 'subscribe' });
    const sub = await c.next((m) => m.type === 'subscribed');
    expect(sub.keys).toEqual(['user:u1', 'system']);
    pub.publish('alerts', 'user:u9', 'event', { id: 'a9', userId: 'u9' } as never);
    pub.publish('alerts', 'user:u1', 'event', { id: 'a1', userId: 'u1' } as never);
    const u = await c.next((m) => m.type === 'update');
    expect(u).toMatchObject({ key: 'user:u1', data: { id: 'a1' } });
    expect(c.messages.filter((m) => m.type === 'update')).toHaveLength(1);
    c.close();
  });

  it('requires authentication for alerts; an auth op can provide it, a bad token closes with 4001', async () => {
    srv = await startServer({ authenticate });
    const c = await RawClient.open(srv.url('/ws/alerts'));
    c.send({ op: 'subscribe' });
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'UNAUTHORIZED' });
    c.send({ op: 'auth', token: 'good' });
    c.send({ op: 'subscribe' });
    expect((await c.next((m) => m.type === 'subscribed')).keys).toEqual(['user:u2', 'system']);
    c.send({ op: 'auth', token: 'bad' });
    expect((await c.closed).code).toBe(WS_CLOSE.UNAUTHORIZED);
  });
});

describe('ws gateway: metrics', () => {
  it('exposes connections, subscriptions, messages and errors on the registry', async () => {
    const registry = new Registry();
    srv = await startServer({ registry });
    const pub = srv.bus.publisher();
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM'] });
    await c.next((m) => m.type === 'subscribed');
    for (let i = 1; i <= 5; i++) pub.publish('market', 'VNM', 'state', makeQuote('VNM', i));
    c.send('garbage');
    await c.next((m) => m.type === 'error');
    const text = await registry.metrics();
    expect(text).toMatch(/^ws_connections 1$/m);
    expect(text).toMatch(/^ws_subscriptions 1$/m);
    expect(text).toMatch(/^ws_messages_sent_total\{channel="market",type="update"\} 5$/m);
    expect(text).toMatch(/^ws_protocol_errors_total\{code="MALFORMED_JSON"\} 1$/m);
    c.close();
    await c.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(await registry.metrics()).toMatch(/^ws_connections 0$/m);
  });
});
