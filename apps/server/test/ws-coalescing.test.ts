/**
 * Write coalescing in the gateway: the frames one connection gets in one
 * event-loop turn leave in one socket write (cork until setImmediate), not one
 * write per frame; with coalescing off they do not. Counted on the server's
 * side of the TCP socket (its _write/_writev calls), since a client in the same
 * process would read either way in one chunk. Delivery is unchanged: every
 * frame, in order.
 */
import type { Socket } from 'node:net';
import { RawClient, makeQuote, startServer, type TestServer } from './ws-test-helpers.ts';

/** Counts the socket writes of every upgraded connection of `srv`. */
function countWrites(srv: TestServer): { writes: number } {
  const counter = { writes: 0 };
  srv.server.prependListener('upgrade', (_req, socket: Socket) => {
    const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
    const write = s._write.bind(s);
    s._write = (...a) => {
      counter.writes++;
      write(...a);
    };
    if (s._writev) {
      const writev = s._writev.bind(s);
      s._writev = (...a) => {
        counter.writes++;
        writev(...a);
      };
    }
  });
  return counter;
}

async function burst(coalesceWrites: boolean, n: number): Promise<{ writes: number; seqs: number[] }> {
  const srv = await startServer({ coalesceWrites });
  try {
    const pub = srv.bus.publisher();
    pub.publish('market', 'VNM', 'state', makeQuote('VNM', 0));
    const counter = countWrites(srv);
    const c = await RawClient.open(srv.url('/ws/market'));
    c.send({ op: 'subscribe', symbols: ['VNM'] });
    await c.next((m) => m.type === 'snapshot');
    await new Promise((r) => setImmediate(r));
    const before = counter.writes;
    for (let i = 1; i <= n; i++) pub.publish('market', 'VNM', 'state', makeQuote('VNM', i)); // one turn
    await c.until((ms) => ms.filter((m) => m.type === 'update').length >= n);
    const writes = counter.writes - before;
    c.close();
    return { writes, seqs: c.messages.filter((m) => m.type === 'update').map((m) => m.seq as number) };
  } finally {
    await srv.stop();
  }
}

describe('gateway write coalescing', () => {
  it('sends a burst of 200 updates in a handful of socket writes, in order, and one write per frame when off', async () => {
    const on = await burst(true, 200);
    const off = await burst(false, 200);
    const expected = Array.from({ length: 200 }, (_, i) => i + 2); // seq 1 was the snapshot
    expect(on.seqs).toEqual(expected);
    expect(off.seqs).toEqual(expected);
    expect(on.writes).toBeGreaterThanOrEqual(1);
    expect(on.writes).toBeLessThanOrEqual(3);
    expect(off.writes).toBeGreaterThanOrEqual(100);
  });

  it('still delivers a lone update promptly (uncorked on the next turn, no timer)', async () => {
    const srv = await startServer();
    try {
      const pub = srv.bus.publisher();
      pub.publish('market', 'FPT', 'state', makeQuote('FPT', 0));
      const c = await RawClient.open(srv.url('/ws/market'));
      c.send({ op: 'subscribe', symbols: ['FPT'] });
      await c.next((m) => m.type === 'snapshot');
      pub.publish('market', 'FPT', 'state', makeQuote('FPT', 1));
      const u = await c.next((m) => m.type === 'update');
      expect(u).toMatchObject({ key: 'FPT', seq: 2 });
      c.close();
    } finally {
      await srv.stop();
    }
  });
});
