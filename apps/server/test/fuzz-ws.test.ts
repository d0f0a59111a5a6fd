/**
 * WebSocket fuzzing (fast-check): at least 10,000 generated client frames
 * (FUZZ_RUNS, default 10000) over real sockets — one per channel, kept open
 * (reopened only when the server closes it for a documented reason) — to the
 * gateway wired as in production with accounts: ops with hostile fields,
 * unknown ops, non-objects, invalid JSON, binary frames, large frames,
 * `since` maps, and `auth` ops with valid, foreign and forged tokens, while
 * the bus publishes quotes and alerts.
 *
 * Every server frame must be JSON of a known type; every `error` must carry a
 * catalogue code and a request id; the only closes are documented ones
 * (4001 for a bad token); the socket keeps answering (a ping barrier after
 * every batch); nobody ever receives another user's alerts; afterwards the
 * process is healthy and its heap and the gateway's queues are bounded.
 * Protocol-error closes (4009) are switched off so one socket can take it all.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { ERRORS, alertsKey, type Channel } from '@stock-tracker/protocol';
import { Client, startWsEnv, type Msg, type WsEnv } from './auth-ws-helpers.ts';
import type { Session } from './auth-fixture.ts';
import { makeQuote } from './ws-test-helpers.ts';

const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 10_000));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const BATCH = 50;
const SERVER_TYPES = new Set(['snapshot', 'update', 'subscribed', 'unsubscribed', 'recovered', 'reset', 'pong', 'error']);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

type Frame = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array };

const HOSTILE = ['*', '', ' ', 'FPT', 'fpt', 'VNM:trades', 'FPT:quotes', 'user:', 'user:*', '../x', '%00', '😀', 'a'.repeat(100), '__proto__', 'top', 'VNINDEX', 'VN30'];

function frameArb(keys: { own: string; other: string; stranger: string }, tokens: { own: string; other: string }): fc.Arbitrary<Frame> {
  const key = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE, keys.own, keys.other, keys.stranger) },
    { weight: 1, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Z0-9]{1,20}(:[a-z]{1,10})?$/) },
  );
  const id = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 70 }), fc.integer());
  const pos = fc.record({ seq: fc.oneof(fc.integer({ min: -5, max: 1e6 }), fc.double(), fc.string()), epoch: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()) }, { requiredKeys: [] });
  const subscribe = fc.record(
    {
      op: fc.constant('subscribe'),
      id,
      symbols: fc.oneof(fc.array(key, { maxLength: 12 }), fc.constant(Array(1200).fill(0).map((_, i) => `S${i}`)), fc.string()),
      trades: fc.oneof(fc.boolean(), fc.string()),
      since: fc.oneof(fc.dictionary(key, pos, { maxKeys: 5 }), fc.string()),
      extra: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['op'] },
  );
  const plausible = fc.record({
    op: fc.constant('subscribe'),
    id: fc.string({ maxLength: 8 }),
    symbols: fc.oneof(fc.constant(['*']), fc.subarray(['FPT', 'VNM', 'VNINDEX', 'top', keys.own], { minLength: 1 })),
    trades: fc.boolean(),
  });
  const unsubscribe = fc.record({ op: fc.constant('unsubscribe'), id, symbols: fc.oneof(fc.array(key, { maxLength: 6 }), fc.constant(['*'])) }, { requiredKeys: ['op'] });
  const ping = fc.record({ op: fc.constant('ping'), id }, { requiredKeys: ['op'] });
  const auth = fc.record({
    op: fc.constant('auth'),
    token: fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom(tokens.own, tokens.other) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(`${tokens.own}x`), fc.constant('')) },
    ),
  });
  const json = fc.oneof(
    { weight: 6, arbitrary: fc.oneof(subscribe, plausible, unsubscribe, ping, auth).map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: fc.record({ op: fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null)) }).map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', '{"op":', '[', 'null', '"ping"', '{"op":"ping"}}', '\u0000')) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 60_000 }).map((n) => JSON.stringify({ op: 'subscribe', symbols: ['FPT'], id: 'x'.repeat(n) })) },
    { weight: 1, arbitrary: fc.integer({ min: 10, max: 2_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
  );
  return fc.oneof({ weight: 12, arbitrary: json.map((text): Frame => ({ kind: 'text', text })) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): Frame => ({ kind: 'binary', bytes })) });
}

function checkFrame(m: Msg, where: string): void {
  expect(m.type, `${where}: ${JSON.stringify(m).slice(0, 200)}`).not.toBe('__not_json__');
  expect(SERVER_TYPES.has(m.type), `${where}: unknown type ${m.type}`).toBe(true);
  if (m.type === 'error') {
    expect(Object.hasOwn(ERRORS, m.code), `${where}: code ${m.code}`).toBe(true);
    expect(typeof m.message).toBe('string');
    expect(m.request_id).toMatch(/^[A-Za-z0-9._:-]+-\d+$/);
    if (m.details !== undefined) {
      expect(Array.isArray(m.details)).toBe(true);
      for (const d of m.details) expect(typeof d.path === 'string' && typeof d.issue === 'string').toBe(true);
    }
  }
}

describe(`WebSocket fuzz (${RUNS} frames, seed ${SEED})`, () => {
  let e: WsEnv;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  beforeAll(async () => {
    e = await startWsEnv({ WS_MAX_CONNECTIONS_PER_IP: '50' }, { maxProtocolErrors: 1e9 });
    [alice, bob, carol] = [await e.f.signUp('alice'), await e.f.signUp('bob'), await e.f.signUp('carol')];
  });
  afterAll(() => e?.close());

  it('answers every frame within the protocol, never leaks alerts, stays healthy and bounded', async () => {
    const channels: Channel[] = ['alerts', 'market', 'index', 'foreign'];
    const sockets = new Map<Channel, Client>();
    const closes: number[] = [];
    let reopened = 0;
    const open = async (ch: Channel) => {
      const c = await Client.open(e.url(`/ws/${ch}`), ['stock-tracker', `bearer.${alice.token}`]);
      void c.closed.then(({ code }) => {
        if (sockets.get(ch) === c) closes.push(code);
      });
      sockets.set(ch, c);
      return c;
    };
    for (const ch of channels) await open(ch);

    // Live traffic meanwhile: quotes, and alerts for three users (only alice and bob ever authenticate here).
    const pub = e.bus.publisher();
    let n = 0;
    const traffic = setInterval(() => {
      n++;
      pub.publish('market', 'FPT', 'state', makeQuote('FPT', n));
      for (const u of [alice, bob, carol]) pub.publish('alerts', alertsKey(u.userId), 'event', { id: `${u.username}-${n}`, userId: u.userId } as never);
    }, 5);

    const keys = { own: alertsKey(alice.userId), other: alertsKey(bob.userId), stranger: alertsKey(carol.userId) };
    const frames = fc.sample(frameArb(keys, { own: alice.token, other: bob.token }), { numRuns: RUNS, seed: SEED });
    const heaps: number[] = [];
    const seen = new Map<string, number>();
    let sent = 0;
    try {
      for (let b = 0; b * BATCH < frames.length; b++) {
        const ch = channels[b % channels.length]!;
        let c = sockets.get(ch)!;
        if (!c.isOpen) {
          reopened++;
          c = await open(ch);
        }
        for (const f of frames.slice(b * BATCH, (b + 1) * BATCH)) {
          if (!c.isOpen) break;
          if (f.kind === 'text') c.ws.send(f.text);
          else c.ws.send(f.bytes, { binary: true });
          sent++;
        }
        if (c.isOpen) {
          // Barrier: ops run in order, so the pong proves every frame before it was handled.
          const id = `barrier-${b}`;
          c.ws.send(JSON.stringify({ op: 'ping', id }));
          await Promise.race([c.next((m) => m.type === 'pong' && m.id === id, 10_000), c.closed]);
        }
        for (const [chan, s] of sockets) {
          for (const m of s.messages) {
            checkFrame(m, `/ws/${chan}`);
            seen.set(m.type, (seen.get(m.type) ?? 0) + 1);
          }
          if (chan === 'alerts') {
            const leaked = s.messages.filter((m) => (m.type === 'update' || m.type === 'snapshot') && m.key === keys.stranger);
            expect(leaked, 'carol never authenticated here').toEqual([]);
          }
          s.messages.length = 0; // checked; keep memory flat
        }
        if (b === 20) heaps.push(heapAfterGc());
      }
    } finally {
      clearInterval(traffic);
    }
    heaps.push(heapAfterGc());

    expect(sent).toBeGreaterThanOrEqual(RUNS * 0.98);
    // Only documented closes: 4001 after a bad `auth` token.
    expect(closes.every((code) => code === 4001), `closes ${closes.join(',')}`).toBe(true);
    expect(reopened).toBeLessThan(RUNS / 20);
    // The frames reached the protocol handlers: refusals, and accepted subscriptions with data.
    expect(seen.get('error') ?? 0).toBeGreaterThan(RUNS * 0.3);
    expect(seen.get('subscribed') ?? 0).toBeGreaterThan(RUNS * 0.005);
    expect((seen.get('update') ?? 0) + (seen.get('snapshot') ?? 0)).toBeGreaterThan(0);
    console.info(`fuzz-ws: ${sent} frames, seed ${SEED}, ${reopened} reopened after 4001, ${n} bus ticks, frames ${JSON.stringify(Object.fromEntries(seen))}`);

    // Healthy: a new connection subscribes and receives, the HTTP side answers.
    const fresh = await Client.open(e.url('/ws/market'));
    fresh.send({ op: 'subscribe', id: 'ok', symbols: ['FPT'] });
    await fresh.next((m) => m.type === 'subscribed');
    pub.publish('market', 'FPT', 'state', makeQuote('FPT', ++n));
    await fresh.next((m) => m.type === 'update' || m.type === 'snapshot');
    expect((await e.f.app.inject('/healthz')).statusCode).toBe(200);
    // Bounded: queues stay under their cap and the heap did not grow with the frame count.
    const stats = e.gateway.stats();
    expect(stats.maxQueuedEntries).toBeLessThan(10_000);
    expect(stats.queuedBytes).toBeLessThan(8 * 1024 * 1024);
    expect(heaps.at(-1)! - heaps[0]!, `heap ${heaps.map((h) => Math.round(h / 1e6)).join(' → ')} MB`).toBeLessThan(64 * 1024 * 1024);
    fresh.ws.close();
    for (const s of sockets.values()) s.ws.close();
  }, 600_000);
});
