import type { ClientMessage, ServerMessage } from '@stock-tracker/protocol';
import { StreamClient, type ConnectionState } from '../src/index.ts';

/** In-memory stand-in for the WHATWG WebSocket: the test plays the server. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: ClientMessage[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closedByClient: number | undefined;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedByClient = code;
    this.readyState = 3;
  }
  // server side
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(msg: ServerMessage | string) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  /** Answers the subscribe ops sent so far with `subscribed` for the given keys. */
  ack(keys: string[]) {
    for (const op of this.sent) if (op.op === 'subscribe') this.push({ type: 'subscribed', channel: 'market', id: op.id, keys });
  }
}
const last = () => FakeSocket.all[FakeSocket.all.length - 1];

const upd = (key: string, seq: number, epoch = 'E', from?: number): ServerMessage => ({ type: 'update', channel: 'market', key, seq, epoch, data: { seq } as never, ...(from ? { from } : {}) });
const snap = (key: string, seq: number, epoch = 'E'): ServerMessage => ({ type: 'snapshot', channel: 'market', key, seq, epoch, data: { seq } as never });

function makeClient(extra: Partial<ConstructorParameters<typeof StreamClient>[0]> = {}) {
  const c = new StreamClient({ url: 'ws://x/ws/market', WebSocket: FakeSocket, backoff: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 }, ...extra });
  const states: ConnectionState[] = [];
  const updates: number[] = [];
  c.on('state', (s) => states.push(s));
  c.on('update', (m) => updates.push(m.seq));
  return { c, states, updates };
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('StreamClient (fake socket, fake timers)', () => {
  it('subscribes on connect and goes live once the server acknowledges', () => {
    const { c, states } = makeClient({ symbols: ['VNM', 'FPT'], trades: true });
    c.connect();
    expect(c.state).toBe('connecting');
    last().open();
    expect(last().sent).toEqual([{ op: 'subscribe', id: 'c1', symbols: ['VNM', 'FPT'], trades: true }]);
    last().ack(['VNM', 'VNM:trades', 'FPT', 'FPT:trades']);
    expect(states).toEqual(['connecting', 'live']);
  });

  it('delivers updates in order, drops duplicates, and resumes with since after a drop', () => {
    const { c, states, updates } = makeClient({ symbols: ['VNM'] });
    c.connect();
    last().open();
    last().ack(['VNM']);
    last().push(snap('VNM', 5));
    [6, 7, 7, 6, 8].forEach((s) => last().push(upd('VNM', s)));
    expect(updates).toEqual([6, 7, 8]);

    last().drop();
    expect(c.state).toBe('reconnecting');
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(99);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    last().open();
    expect(last().sent).toEqual([{ op: 'subscribe', id: 'c2', symbols: ['VNM'], since: { VNM: { seq: 8, epoch: 'E' } } }]);
    last().ack(['VNM']);
    expect(c.state).toBe('reconnecting'); // waiting for the key's recovery answer
    last().push({ type: 'recovered', channel: 'market', key: 'VNM', from: 9, to: 10, epoch: 'E' });
    [9, 10].forEach((s) => last().push(upd('VNM', s)));
    expect(states).toEqual(['connecting', 'live', 'reconnecting', 'resumed']);
    expect(updates).toEqual([6, 7, 8, 9, 10]);
    expect(c.positions()).toEqual({ VNM: { seq: 10, epoch: 'E' } });
  });

  it('ends a reconnection in `reset` when any key was reset', () => {
    const { c, states } = makeClient({ symbols: ['A', 'B'] });
    c.connect();
    last().open();
    last().ack(['A', 'B']);
    last().push(snap('A', 1));
    last().push(snap('B', 1));
    last().drop();
    vi.advanceTimersByTime(100);
    last().open();
    last().ack(['A', 'B']);
    last().push({ type: 'recovered', channel: 'market', key: 'A', from: 2, to: 1, epoch: 'E' });
    expect(c.state).toBe('reconnecting');
    last().push({ type: 'reset', channel: 'market', key: 'B', reason: 'history_exceeded', epoch: 'E' });
    last().push(snap('B', 50));
    expect(states.at(-1)).toBe('reset');
    expect(c.positions().B).toEqual({ seq: 50, epoch: 'E' });
  });

  it('backs off exponentially while the server stays away, and stops on close()', () => {
    const { c } = makeClient({ symbols: ['A'] });
    c.connect();
    last().drop(); // refused
    const opensAt: number[] = [];
    let t = 0;
    for (let i = 0; i < 4; i++) {
      const before = FakeSocket.all.length;
      while (FakeSocket.all.length === before) {
        vi.advanceTimersByTime(10);
        t += 10;
      }
      opensAt.push(t);
      last().drop();
    }
    expect(opensAt).toEqual([100, 300, 700, 1500]); // waits of 100, 200, 400, 800
    c.close();
    expect(c.state).toBe('closed');
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.all).toHaveLength(5);
  });

  it('on a gap, emits `gap`, ignores that key until a fresh snapshot, and asks for one', () => {
    const { c, updates } = makeClient({ symbols: ['A'] });
    const gaps: unknown[] = [];
    c.on('gap', (g) => gaps.push(g));
    c.connect();
    last().open();
    last().ack(['A']);
    last().push(snap('A', 1));
    last().push(upd('A', 2));
    last().push(upd('A', 5));
    last().push(upd('A', 6)); // still behind the hole: dropped
    expect(gaps).toEqual([{ channel: 'market', key: 'A', expected: 3, got: 5, epoch: 'E' }]);
    expect(last().sent.at(-1)).toEqual({ op: 'subscribe', id: 'c2', symbols: ['A'] });
    last().push(snap('A', 6));
    last().push(upd('A', 7));
    expect(updates).toEqual([2, 7]);
  });

  it('accepts a conflated update whose `from` continues the stream', () => {
    const { c, updates } = makeClient({ symbols: ['A'] });
    c.connect();
    last().open();
    last().ack(['A']);
    last().push(snap('A', 1));
    last().push(upd('A', 40, 'E', 2));
    expect(updates).toEqual([40]);
  });

  it('sends the token in an auth op before subscribing', async () => {
    const { c } = makeClient({ symbols: '*', token: async () => 'tok' });
    c.connect();
    last().open();
    await vi.waitFor(() => expect(last().sent).toHaveLength(2));
    expect(last().sent).toEqual([
      { op: 'auth', token: 'tok' },
      { op: 'subscribe', id: 'c1', symbols: ['*'], trades: false },
    ]);
  });

  it('does not resume keys it unsubscribed, and replays later subscriptions', () => {
    const { c } = makeClient({ symbols: ['A', 'B'] });
    c.connect();
    last().open();
    last().ack(['A', 'B']);
    last().push(snap('A', 3));
    last().push(snap('B', 4));
    c.unsubscribe(['B']);
    c.subscribe(['C'], { trades: true });
    expect(last().sent.slice(1)).toEqual([
      { op: 'unsubscribe', id: 'c2', symbols: ['B'] },
      { op: 'subscribe', id: 'c3', symbols: ['C'], trades: true },
    ]);
    last().drop();
    vi.advanceTimersByTime(100);
    last().open();
    expect(last().sent).toEqual([
      { op: 'subscribe', id: 'c4', symbols: ['C'], trades: true },
      { op: 'subscribe', id: 'c5', symbols: ['A'], since: { A: { seq: 3, epoch: 'E' } } },
    ]);
  });

  it('ignores frames that are not JSON instead of throwing', () => {
    const { c, updates } = makeClient({ symbols: ['A'] });
    c.connect();
    last().open();
    expect(() => last().push('not json')).not.toThrow();
    last().ack(['A']);
    last().push(upd('A', 1));
    expect(updates).toEqual([1]);
    expect(c.state).toBe('live');
  });
});

describe('StreamClient subscriptions during the handshake', () => {
  it('sends a subscription made while waiting for the first acknowledgement', () => {
    const { c } = makeClient({ symbols: ['A'] });
    c.connect();
    c.subscribe(['B']); // socket not open yet: goes out with the connect subscriptions
    last().open();
    c.subscribe(['C']); // open, acks pending: must go out now
    expect(last().sent.map((o) => (o as { symbols?: string[] }).symbols)).toEqual([['A', 'B'], ['C']]);
  });
});

describe('StreamClient with the Node `ws` package', () => {
  it('closes a socket still in its handshake without an uncaught error', async () => {
    vi.useRealTimers();
    const net = await import('node:net');
    const { default: WebSocket } = await import('ws');
    // A server that accepts TCP and never answers the upgrade: the client stays CONNECTING.
    const sockets: import('node:net').Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as import('node:net').AddressInfo;
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const client = new StreamClient({ url: `ws://127.0.0.1:${port}/ws/market`, WebSocket });
      const states: ConnectionState[] = [];
      client.on('state', (s) => states.push(s));
      client.connect();
      while (sockets.length === 0) await new Promise((r) => setTimeout(r, 10));
      client.close();
      await new Promise((r) => setTimeout(r, 100)); // ws reports the aborted handshake asynchronously
      expect(uncaught).toEqual([]);
      expect(states.at(-1)).toBe('closed');
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
