import { Writable } from 'node:stream';
import fc from 'fast-check';
import type { MarketEvent } from '@stock-tracker/protocol';
import { Simulator, TapeWriter, encodeEvent } from '../src/index.ts';

const START = Date.parse('2025-01-06T08:30:00+07:00');
const sample = new Simulator({ seed: 21, startTs: START, dayMs: 20_000, symbols: 8 }).advanceTo(START + 20_000);

/** Rebuilds a value with its object keys in a shuffled order. */
function reorder(v: unknown, rnd: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => reorder(x, rnd));
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort(() => rnd() - 0.5);
    return Object.fromEntries(keys.map((k) => [k, reorder((v as Record<string, unknown>)[k], rnd)]));
  }
  return v;
}

/** A writable that accepts little at a time and acknowledges later, forcing back-pressure. */
function slowSink(opts: { failAfter?: number } = {}) {
  const chunks: string[] = [];
  let writes = 0;
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk, _enc, cb) {
      writes++;
      if (opts.failAfter !== undefined && writes > opts.failAfter) return setImmediate(() => cb(new Error('disk full')));
      chunks.push(chunk.toString());
      setImmediate(cb);
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('encodeEvent', () => {
  it('has every kind of event in the sample', () => {
    expect(new Set(sample.map((e) => e.type))).toEqual(new Set(['reference', 'foreign', 'status', 'quote', 'trade']));
  });

  it('writes one JSON line that parses back to the event, type and ts first', () => {
    for (const ev of sample) {
      const line = encodeEvent(ev);
      expect(line).not.toContain('\n');
      expect(JSON.parse(line)).toEqual(ev);
      expect(Object.keys(JSON.parse(line)).slice(0, 2)).toEqual(['type', 'ts']);
    }
  });

  it('does not depend on the key order the event was built with', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sample.length - 1 }), fc.integer(), (i, seed) => {
        let s = seed;
        const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) | 0) >>> 0) / 2 ** 32;
        const ev = sample[i]!;
        expect(encodeEvent(reorder(ev, rnd) as MarketEvent)).toBe(encodeEvent(ev));
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('omits undefined fields and sorts keys the schema does not know, after the known ones', () => {
    const ev = { extra: { z: 1, a: [2, { y: 1, b: 2 }] }, volume: 100, price: 25_000, id: 'x-1', symbol: 'FPT', ts: 5, type: 'trade', side: undefined, aaa: 1 };
    expect(encodeEvent(ev as unknown as MarketEvent)).toBe(
      '{"type":"trade","ts":5,"symbol":"FPT","id":"x-1","price":25000,"volume":100,"aaa":1,"extra":{"a":[2,{"b":2,"y":1}],"z":1}}',
    );
  });
});

describe('TapeWriter', () => {
  it('writes every event in order as NDJSON, honouring back-pressure', async () => {
    const { stream, text } = slowSink();
    const writer = new TapeWriter(stream, { chunkChars: 2048 });
    let refused = 0;
    for (const ev of sample) {
      if (!writer.write(ev)) {
        refused++;
        await writer.drain();
      }
    }
    await writer.close();
    expect(refused).toBeGreaterThan(0);
    const expected = sample.map((e) => encodeEvent(e) + '\n').join('');
    expect(text()).toBe(expected);
    expect(writer.events).toBe(sample.length);
    expect(writer.bytes).toBe(Buffer.byteLength(expected));
  });

  it('gives byte-identical tapes for the same events', async () => {
    const a = slowSink();
    const b = slowSink();
    for (const [sink, size] of [[a, 100], [b, 1 << 20]] as const) {
      const w = new TapeWriter(sink.stream, { chunkChars: size });
      for (const ev of sample) {
        w.write(structuredClone(ev));
        await w.drain();
      }
      await w.close();
    }
    expect(a.text()).toBe(b.text());
  });

  it('reports a failing stream instead of losing data silently', async () => {
    const { stream } = slowSink({ failAfter: 1 });
    const writer = new TapeWriter(stream, { chunkChars: 512 });
    const attempt = async () => {
      for (const ev of sample) {
        writer.write(ev);
        await writer.drain();
      }
      await writer.close();
    };
    await expect(attempt()).rejects.toThrow(/disk full/);
  });
});
