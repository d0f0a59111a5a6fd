import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import {
  ManualClock,
  ReplayFeed,
  TapeOpenError,
  createTapeStats,
  encodeEvent,
  readTape,
  type MalformedLine,
} from '@stock-tracker/feeds';
import type { MarketEvent } from '@stock-tracker/protocol';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'replay-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2024-01-15T09:15:00+07:00');
const trade = (i: number, dt: number): MarketEvent => ({ type: 'trade', ts: T0 + dt, symbol: 'FPT', id: `t${i}`, price: 96_000 + i * 100, volume: 100 * (i + 1) });
const tape = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const collect = async (it: AsyncIterable<MarketEvent>) => {
  const out: MarketEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
};

describe('readTape', () => {
  it('streams events, reports malformed lines with 1-based numbers, handles CRLF and no final newline', async () => {
    const evs = [trade(0, 0), trade(1, 1000), trade(2, 2000)];
    const ssiF = JSON.stringify({ DataType: 'F', Content: JSON.stringify({ RType: 'F', TradingDate: '15/01/2024', Time: '09:15:00', MarketId: 'HOSE', TradingSession: 'LO', TradingStatus: 'N' }) });
    const lines = [encodeEvent(evs[0]!), '', 'not json at all', encodeEvent(evs[1]!), ssiF, '{"type":"trade","ts":1}', encodeEvent(evs[2]!)];
    const path = tape('crlf.tape', lines.join('\r\n')); // no newline after the last line
    const bad: MalformedLine[] = [];
    const stats = createTapeStats();
    const got = await collect(readTape(path, { onMalformed: (m) => bad.push(m), stats }));
    expect(got).toEqual([evs[0], evs[1], { type: 'status', ts: T0, exchange: 'HOSE', phase: 'continuous', halted: false }, evs[2]]);
    expect(bad.map((b) => [b.line, b.kind])).toEqual([
      [3, 'not_json'],
      [6, 'invalid_event'],
    ]);
    expect(stats).toEqual({ lines: 7, formats: { events: 3, ssi: 1, alpaca: 0 }, events: 4, malformed: 2, byKind: { not_json: 1, invalid_event: 1 } });
  });

  it('rejects lines of another format when the format is forced', async () => {
    const path = tape('forced.tape', `${encodeEvent(trade(0, 0))}\n[{"T":"success","msg":"connected"}]\n`);
    const stats = createTapeStats();
    expect(await collect(readTape(path, { format: 'alpaca', stats }))).toEqual([]);
    expect(stats.byKind).toEqual({ unknown_format: 1 });
  });

  it('streams a large tape and survives an oversized line', async () => {
    const path = join(dir, 'large.tape');
    const out = createWriteStream(path);
    const n = 60_000;
    for (let i = 0; i < n; i++) {
      if (!out.write(`${encodeEvent(trade(i, i))}\n`)) await once(out, 'drain');
      if (i === 30_000) out.write(`${'{"x":"'.padEnd(1.5 * 2 ** 20, 'y')}"}\n`);
    }
    out.end();
    await once(out, 'finish');
    const stats = createTapeStats();
    let count = 0;
    let lastId = '';
    for await (const ev of readTape(path, { stats })) {
      count += 1;
      if (ev.type === 'trade') lastId = ev.id;
    }
    expect(count).toBe(n);
    expect(lastId).toBe(`t${n - 1}`);
    expect(stats.byKind).toEqual({ line_too_long: 1 });
    expect(stats.lines).toBe(n + 1);
  });

  it('fails with a clear error for a missing file or a directory', async () => {
    await expect(collect(readTape(join(dir, 'missing.tape')))).rejects.toThrow(TapeOpenError);
    await expect(collect(readTape(join(dir, 'missing.tape')))).rejects.toThrow(/no such file/);
    await expect(collect(readTape(dir))).rejects.toThrow(/is a directory/);
  });
});

describe('ReplayFeed', () => {
  const fourTrades = [trade(0, 0), trade(1, 1000), trade(2, 2000), trade(3, 10_000)];

  it("plays a tape as fast as possible with speed 'max'", async () => {
    const path = tape('max.tape', [...fourTrades.map(encodeEvent), 'oops'].join('\n'));
    const feed = new ReplayFeed({ path, speed: 'max', name: 'max' });
    const got: MarketEvent[] = [];
    await feed.start((ev) => got.push(ev));
    await feed.finished;
    expect(got).toEqual(fourTrades);
    expect(feed.status()).toEqual({ name: 'max', connected: false, lastEventTs: T0 + 10_000, events: 4, malformed: 1, errors: { not_json: 1 } });
  });

  it('paces by event time through the clock at speed N', async () => {
    const path = tape('paced.tape', fourTrades.map(encodeEvent).join('\n'));
    const clock = new ManualClock(5_000);
    const feed = new ReplayFeed({ path, speed: 10, clock, tickMs: 10 });
    const got: string[] = [];
    await feed.start((ev) => got.push(ev.type === 'trade' ? ev.id : ''));
    expect(got).toEqual(['t0']); // the first event is due at once
    expect(feed.status().connected).toBe(true);
    clock.advance(90);
    expect(got).toEqual(['t0']); // t1 is 1000 ms of tape later: due after 100 ms at 10x
    clock.advance(10);
    expect(got).toEqual(['t0', 't1']);
    clock.advance(100);
    expect(got).toEqual(['t0', 't1', 't2']);
    clock.advance(700);
    expect(got).toHaveLength(3); // t3 is due at 1000 ms
    clock.advance(100);
    expect(got).toEqual(['t0', 't1', 't2', 't3']);
    await feed.finished;
    expect(feed.status().connected).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('cuts quiet stretches longer than maxGapMs', async () => {
    const evs = [trade(0, 0), trade(1, 1000), trade(2, 3_600_000), trade(3, 3_601_000)];
    const path = tape('gap.tape', evs.map(encodeEvent).join('\n'));
    const clock = new ManualClock(0);
    const feed = new ReplayFeed({ path, speed: 1, clock, tickMs: 100, maxGapMs: 5_000 });
    let n = 0;
    await feed.start(() => (n += 1));
    clock.advance(1_000);
    expect(n).toBe(2);
    clock.advance(4_900); // the hour of silence now lasts 5 s: t2 due at 6,000
    expect(n).toBe(2);
    clock.advance(100);
    expect(n).toBe(3);
    clock.advance(1_000);
    expect(n).toBe(4);
    await feed.finished;
  });

  it('stops on request: no more events, timers released', async () => {
    const path = tape('stop.tape', fourTrades.map(encodeEvent).join('\n'));
    const clock = new ManualClock(0);
    const feed = new ReplayFeed({ path, speed: 1, clock, tickMs: 50 });
    let n = 0;
    await feed.start(() => (n += 1));
    clock.advance(1_000);
    expect(n).toBe(2);
    await feed.stop();
    clock.advance(60_000);
    expect(n).toBe(2);
    expect(clock.pending).toBe(0);
    expect(feed.status()).toMatchObject({ connected: false, events: 2 });
    await feed.finished;
  });

  it('keeps going when the sink throws, counting the failures', async () => {
    const path = tape('sink.tape', fourTrades.map(encodeEvent).join('\n'));
    const feed = new ReplayFeed({ path });
    let calls = 0;
    await feed.start(() => {
      calls += 1;
      if (calls % 2 === 0) throw new Error('consumer failed');
    });
    await feed.finished;
    expect(calls).toBe(4);
    expect(feed.status()).toMatchObject({ events: 4, errors: { sink: 2 } });
  });

  it('rejects a bad speed and a missing tape', async () => {
    expect(() => new ReplayFeed({ path: 'x', speed: 0 })).toThrow(RangeError);
    expect(() => new ReplayFeed({ path: 'x', speed: Number.NaN })).toThrow(RangeError);
    const feed = new ReplayFeed({ path: join(dir, 'nope.tape'), speed: 2, clock: new ManualClock() });
    await expect(feed.start(() => {})).rejects.toThrow(TapeOpenError);
    await expect(feed.finished).rejects.toThrow(/no such file/);
  });
});
