import { createParseContext, parseLine } from '@stock-tracker/feeds';

// Sample frames written from the Alpaca Market Data v2 stream field lists.
const parse = (line: string) => parseLine(line, 'auto', createParseContext());

describe('Alpaca trades and quotes', () => {
  it('maps a trade, keeping milliseconds of a nanosecond timestamp', () => {
    const r = parse(
      '[{"T":"t","i":96921,"S":"AAPL","x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208123456Z","c":["@","I"],"z":"C"}]',
    );
    expect(r.error).toBeUndefined();
    expect(r.format).toBe('alpaca');
    expect(r.events).toEqual([
      { type: 'trade', ts: Date.UTC(2021, 1, 22, 15, 51, 44, 208), symbol: 'AAPL', id: '96921', price: 126.55, volume: 1 },
    ]);
  });

  it('reads timestamps with a zone offset and string ids', () => {
    const r = parse('[{"T":"t","i":"52983525029461","S":"TSLA","x":"V","p":"190.1","s":"100","t":"2024-03-01T09:30:00.5-05:00","c":[],"z":"C"}]');
    expect(r.events).toEqual([
      { type: 'trade', ts: Date.parse('2024-03-01T14:30:00.500Z'), symbol: 'TSLA', id: '52983525029461', price: 190.1, volume: 100 },
    ]);
  });

  it('maps a quote to one level per side, leaving out an empty side', () => {
    const r = parse(
      '[{"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"t":"2021-02-22T15:51:45.335689322Z","c":["R"],"z":"C"},' +
        '{"T":"q","S":"AMD","bx":"U","bp":0,"bs":0,"ax":"Q","ap":87.7,"as":2,"t":"2021-02-22T15:51:46Z","c":["R"],"z":"C"}]',
    );
    expect(r.error).toBeUndefined();
    expect(r.events).toEqual([
      { type: 'quote', ts: Date.UTC(2021, 1, 22, 15, 51, 45, 335), symbol: 'AMD', bids: [{ price: 87.66, volume: 1 }], asks: [{ price: 87.68, volume: 4 }] },
      { type: 'quote', ts: Date.UTC(2021, 1, 22, 15, 51, 46), symbol: 'AMD', bids: [], asks: [{ price: 87.7, volume: 2 }] },
    ]);
  });
});

describe('Alpaca bars and statuses', () => {
  it('maps minute (b), updated (u) and daily (d) bars; value = vwap x volume', () => {
    const r = parse(
      '[{"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"t":"2021-02-22T19:15:00Z","n":461,"vw":389.062639},' +
        '{"T":"u","S":"SPY","o":388.985,"h":389.2,"l":388.975,"c":389.2,"v":50000,"t":"2021-02-22T19:15:00Z","n":470},' +
        '{"T":"d","S":"SPY","o":387,"h":392,"l":386,"c":389.12,"v":71000000,"t":"2021-02-22T05:00:00Z","n":500000,"vw":389.5}]',
    );
    expect(r.error).toBeUndefined();
    const [b, u, d] = r.events;
    expect(b).toEqual({ type: 'bar', ts: Date.UTC(2021, 1, 22, 19, 15), symbol: 'SPY', interval: '1m', open: 388.985, high: 389.13, low: 388.975, close: 389.12, volume: 49378, value: 389.062639 * 49378, trades: 461 });
    expect(u).toMatchObject({ interval: '1m', close: 389.2, volume: 50000, trades: 470 });
    expect(u).not.toHaveProperty('value');
    expect(d).toMatchObject({ interval: '1d', volume: 71000000, value: 389.5 * 71000000 });
  });

  it('maps halt codes to halted and resumptions to trading, with the scheduled phase', () => {
    const at = '2024-01-16T15:00:00Z'; // 10:00 in New York: regular session
    const frame = ['H', '2', 'P', 'T', 'Q', '3'].map((sc) => ({ T: 's', S: 'GME', sc, sm: '', rc: 'T1', rm: 'News Pending', t: at, z: 'C' }));
    const r = parse(JSON.stringify(frame));
    expect(r.error).toBeUndefined();
    expect(r.events.map((e) => (e.type === 'status' ? e.halted : null))).toEqual([true, true, true, false, false, false]);
    expect(r.events[0]).toEqual({ type: 'status', ts: Date.parse(at), symbol: 'GME', phase: 'continuous', halted: true });
    const night = parse(JSON.stringify([{ ...frame[0], t: '2024-01-16T23:00:00Z' }]));
    expect(night.events[0]).toMatchObject({ phase: 'closed' });
  });
});

describe('Alpaca control and malformed messages', () => {
  it('recognises control messages as Alpaca without events or errors', () => {
    for (const line of [
      '[{"T":"success","msg":"connected"}]',
      '[{"T":"success","msg":"authenticated"}]',
      '[{"T":"subscription","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"],"updatedBars":[],"dailyBars":["VOO"],"statuses":["*"],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]',
      '[{"T":"error","code":406,"msg":"connection limit exceeded"}]',
      '[{"T":"c","S":"AAPL","x":"V","oi":1,"op":1,"os":1,"oc":[],"ci":2,"cp":1,"cs":1,"cc":[],"t":"2024-01-16T15:00:00Z","z":"C"}]',
    ]) {
      expect(parse(line)).toEqual({ events: [], format: 'alpaca' });
    }
  });

  it('keeps the valid messages of a frame and reports the bad one', () => {
    const r = parse(
      '[{"T":"t","i":1,"S":"AAPL","x":"V","p":100,"s":10,"t":"2024-01-16T15:00:00Z"},' +
        '{"T":"t","i":2,"S":"AAPL","x":"V","p":100,"s":-5,"t":"2024-01-16T15:00:01Z"},' +
        '{"T":"t","i":3,"S":"AAPL","x":"V","p":101,"s":20,"t":"2024-01-16T15:00:02Z"}]',
    );
    expect(r.events.map((e) => (e.type === 'trade' ? e.id : ''))).toEqual(['1', '3']);
    expect(r.error).toMatchObject({ kind: 'invalid_value' });
    expect(r.error?.message).toContain('message 2');
  });

  it('gives each problem a kind', () => {
    const kind = (m: object) => parse(JSON.stringify([m])).error?.kind;
    const t = { T: 't', i: 1, S: 'AAPL', x: 'V', p: 100, s: 10, t: '2024-01-16T15:00:00Z' };
    expect(kind({ ...t, T: 'zz' })).toBe('unknown_message');
    expect(kind({ ...t, S: undefined })).toBe('missing_field');
    expect(kind({ ...t, p: -1 })).toBe('invalid_value');
    expect(kind({ ...t, p: 'abc' })).toBe('invalid_value');
    expect(kind({ ...t, s: 0 })).toBe('invalid_value');
    expect(kind({ ...t, t: '2024-13-16T15:00:00Z' })).toBe('invalid_time');
    expect(kind({ ...t, t: 1705417200000 })).toBe('invalid_time');
    expect(kind({ ...t, i: { x: 1 } })).toBe('invalid_value');
    expect(kind({ T: 'b', S: 'SPY', o: 10, h: 9, l: 8, c: 9, v: 1, t: '2024-01-16T15:00:00Z' })).toBe('invalid_value');
    expect(parse('[{"T":"t","i":1,"S":"AAPL","p":10').error?.kind).toBe('not_json');
    expect(parse('[1,2,3]').error?.kind).toBe('unknown_format');
  });
});
