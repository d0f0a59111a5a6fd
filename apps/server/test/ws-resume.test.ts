import WebSocket from 'ws';
import type { QuoteState } from '@stock-tracker/protocol';
import { StreamClient } from '@stock-tracker/client';
import type { BusMessage } from '../src/bus/index.ts';
import { assertContiguous, makeQuote, marketRounds, sleep, startServer, waitFor, type TestServer } from './ws-test-helpers.ts';
import { recordStream as record } from './stream-recorder.ts';

let srv: TestServer | undefined;
let client: StreamClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await srv?.stop();
  srv = undefined;
});

const newClient = (url: string, extra: Partial<ConstructorParameters<typeof StreamClient>[0]> = {}) =>
  new StreamClient({ url, WebSocket, backoff: { initialMs: 20, maxMs: 100 }, random: () => 0.5, ...extra });

describe('StreamClient against the gateway', () => {
  it('survives a forced disconnect while publishing continues: recovered, no gap, same final state', async () => {
    srv = await startServer({}, { historyState: 10_000, historyEvents: 10_000 });
    const pub = srv.bus.publisher();
    const symbols = ['VNM', 'FPT', 'HPG'];
    const rounds = marketRounds(pub, symbols);
    const { latest } = rounds;
    rounds.publish();

    client = newClient(srv.url('/ws/market'), { symbols, trades: true });
    const log = record(client);
    client.connect();
    await waitFor(() => client!.state === 'live', 'live');

    const ticker = setInterval(() => {
      for (let i = 0; i < 5; i++) rounds.publish();
    }, 2);
    await sleep(30);
    srv.killSockets();
    await waitFor(() => client!.state === 'resumed', 'resumed');
    await sleep(30);
    clearInterval(ticker);
    await waitFor(() => Object.entries(latest).every(([k, m]) => log.last[k] === m.seq), 'final updates');

    expect(log.states).toEqual(['connecting', 'live', 'reconnecting', 'resumed']);
    expect(log.resets).toEqual([]);
    expect(log.gaps).toBe(0);
    expect(log.recovered).toBe(6);
    // Every key: contiguous from its snapshot to the publisher's last seq, across the reconnect.
    const end = assertContiguous(log.updates, log.start);
    for (const [k, m] of Object.entries(latest)) {
      expect(end[k]).toBe(m.seq);
      expect(log.data[k]).toEqual(m.data);
    }
    expect(client.positions()['VNM']).toEqual({ seq: latest.VNM.seq, epoch: pub.epoch });
    expect(rounds.count).toBeGreaterThan(20); // updates really were published while the client was away
  });

  it('gets reset + snapshot when more was published than history holds', async () => {
    srv = await startServer({}, { historyState: 10 });
    const pub = srv.bus.publisher();
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 1));
    client = newClient(srv.url('/ws/market'), { symbols: ['VNM'], backoff: { initialMs: 100, maxMs: 100 } });
    const log = record(client);
    client.connect();
    await waitFor(() => client!.state === 'live', 'live');

    srv.killSockets();
    let last: BusMessage | undefined;
    for (let i = 2; i <= 50; i++) last = pub.publish('market', 'VNM', 'state', makeQuote('VNM', i));
    await waitFor(() => client!.state === 'reset', 'reset state');
    expect(log.resets).toMatchObject([{ key: 'VNM', reason: 'history_exceeded', epoch: pub.epoch }]);
    expect(log.snapshots.at(-1)).toMatchObject({ key: 'VNM', seq: 50 });
    expect(log.data.VNM).toEqual(last!.data);
    expect(log.states).toEqual(['connecting', 'live', 'reconnecting', 'reset']);

    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 51));
    await waitFor(() => log.last.VNM === 51, 'update after reset');
    expect((log.data.VNM as QuoteState).ts).toBe(makeQuote('VNM', 51).ts);
  });

  it('gets reset (epoch_changed) when the publisher was replaced while it was away', async () => {
    srv = await startServer();
    const old = srv.bus.publisher({ newId: () => 'OLD' });
    for (let i = 1; i <= 5; i++) old.publish('market', 'VNM', 'state', makeQuote('VNM', i));
    client = newClient(srv.url('/ws/market'), { symbols: ['VNM'], backoff: { initialMs: 100, maxMs: 100 } });
    const log = record(client);
    client.connect();
    await waitFor(() => client!.state === 'live', 'live');

    srv.killSockets();
    const fresh = srv.bus.publisher({ newId: () => 'NEW' });
    for (let i = 1; i <= 3; i++) fresh.publish('market', 'VNM', 'state', makeQuote('VNM', 100 + i));
    await waitFor(() => client!.state === 'reset', 'reset state');
    expect(log.resets).toMatchObject([{ key: 'VNM', reason: 'epoch_changed', epoch: 'NEW' }]);
    expect(log.snapshots.at(-1)).toMatchObject({ seq: 3, epoch: 'NEW' });
    fresh.publish('market', 'VNM', 'state', makeQuote('VNM', 104));
    await waitFor(() => log.last.VNM === 4, 'update in the new epoch');
    expect(client.positions().VNM).toEqual({ seq: 4, epoch: 'NEW' });
  });

  it('detects a gap in live updates and re-requests a snapshot of that key', async () => {
    srv = await startServer();
    const pub = srv.bus.publisher({ newId: () => 'E' });
    for (let i = 1; i <= 3; i++) pub.publish('market', 'VNM', 'state', makeQuote('VNM', i));
    client = newClient(srv.url('/ws/market'), { symbols: ['VNM'] });
    const log = record(client);
    const gaps: unknown[] = [];
    client.on('gap', (g) => gaps.push(g));
    client.connect();
    await waitFor(() => client!.state === 'live' && log.last.VNM === 3, 'live');
    // Seqs 4 and 5 never reach the bus (e.g. lost by a transport).
    srv.bus.append({ channel: 'market', key: 'VNM', kind: 'state', seq: 6, epoch: 'E', data: makeQuote('VNM', 6) });
    await waitFor(() => log.snapshots.length === 2, 'fresh snapshot');
    expect(gaps).toEqual([{ channel: 'market', key: 'VNM', expected: 4, got: 6, epoch: 'E' }]);
    expect(log.snapshots[1]).toMatchObject({ key: 'VNM', seq: 6 });
    expect(log.updates).toEqual([]); // the gapped update itself is not applied
    expect(client.state).toBe('live');
  });
});

describe('a resume the bus cannot finish', () => {
  it('answers SERVICE_UNAVAILABLE and restarts the unread keys with reset + snapshot, never a silent seq jump', async () => {
    srv = await startServer();
    const pub = srv.bus.publisher();
    const syms = ['AAA', 'BBB', 'CCC'];
    for (let n = 1; n <= 3; n++) for (const s of syms) pub.publish('market', s, 'state', makeQuote(s, n));
    // The bus fails from the second history read on (as Redis going away mid-subscribe would).
    const bus = srv.bus;
    const history = bus.history.bind(bus);
    let reads = 0;
    bus.history = async (...a: Parameters<typeof history>) => {
      if (++reads >= 2) throw new Error('redis bus unavailable (test)');
      return history(...a);
    };
    const ws = new WebSocket(srv.url('/ws/market'));
    const frames: any[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    const since = Object.fromEntries(syms.map((s) => [s, { seq: 1, epoch: pub.epoch }]));
    ws.send(JSON.stringify({ op: 'subscribe', id: 'r1', symbols: syms, since }));
    await waitFor(() => frames.some((f) => f.type === 'error'), 'the error reply');
    const err = frames.find((f) => f.type === 'error');
    expect(err).toMatchObject({ id: 'r1', code: 'SERVICE_UNAVAILABLE' });
    expect(err.request_id).toBeTruthy();
    // AAA resumed (recovered 2..3); BBB and CCC were not.
    expect(frames.find((f) => f.type === 'recovered')).toMatchObject({ key: 'AAA', from: 2, to: 3 });
    for (const s of syms) pub.publish('market', s, 'state', makeQuote(s, 4));
    await waitFor(() => frames.filter((f) => f.type === 'snapshot').length === 2 && frames.some((f) => f.type === 'update' && f.key === 'AAA' && f.seq === 4), 'restarts');
    for (const s of ['BBB', 'CCC']) {
      const mine = frames.filter((f) => f.key === s && f.type !== 'subscribed');
      expect(mine.map((f) => f.type)).toEqual(['reset', 'snapshot']);
      expect(mine[0]).toMatchObject({ reason: 'unknown_position', epoch: pub.epoch });
      expect(mine[1]).toMatchObject({ seq: 4, data: makeQuote(s, 4) });
    }
    // Later updates continue normally.
    pub.publish('market', 'BBB', 'state', makeQuote('BBB', 5));
    await waitFor(() => frames.some((f) => f.type === 'update' && f.key === 'BBB' && f.seq === 5), 'BBB live');
    ws.close();
  });
});
