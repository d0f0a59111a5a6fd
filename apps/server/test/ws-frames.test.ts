import type { BusMessage } from '../src/bus/index.ts';
import { conflatedUpdateFrame, eventSnapshotFrame, stateSnapshotFrame, updateFrame } from '../src/ws/frames.ts';
import { makeQuote, makeTrade } from './ws-test-helpers.ts';

const msg = (over: Partial<BusMessage> = {}): BusMessage => ({
  channel: 'market',
  key: 'VNM',
  kind: 'state',
  seq: 7,
  epoch: 'ep"och', // needs escaping
  data: makeQuote('VNM', 7),
  ...over,
});

describe('ws frames', () => {
  it('are the protocol messages, with keys and epochs escaped', () => {
    const m = msg({ key: 'A"B' });
    expect(JSON.parse(updateFrame(m).toString())).toEqual({ type: 'update', channel: 'market', key: 'A"B', seq: 7, epoch: 'ep"och', data: m.data });
    expect(JSON.parse(conflatedUpdateFrame(m, 3))).toEqual({ type: 'update', channel: 'market', key: 'A"B', seq: 7, epoch: 'ep"och', from: 3, data: m.data });
    expect(JSON.parse(stateSnapshotFrame(m).toString())).toMatchObject({ type: 'snapshot', seq: 7, data: m.data });
    const trades = [1, 2].map((n) => msg({ key: 'VNM:trades', kind: 'event', seq: n, data: makeTrade('VNM', n) }));
    expect(JSON.parse(eventSnapshotFrame('market', 'VNM:trades', 2, 'e', trades))).toEqual({
      type: 'snapshot',
      channel: 'market',
      key: 'VNM:trades',
      seq: 2,
      epoch: 'e',
      data: trades.map((t) => t.data),
    });
    expect(JSON.parse(eventSnapshotFrame('market', 'X:trades', 0, '', [])).data).toEqual([]);
  });

  it('serializes a message once, however many receivers', () => {
    const m = msg();
    const spy = vi.spyOn(JSON, 'stringify');
    const frames = Array.from({ length: 100 }, () => updateFrame(m));
    const dataStringifies = spy.mock.calls.filter(([v]) => v === m.data).length;
    spy.mockRestore();
    expect(new Set(frames).size).toBe(1); // the very same Buffer for every connection
    expect(dataStringifies).toBe(1);
  });

  it('uses data JSON that arrived already serialized (e.g. from Redis) as is', () => {
    const m = msg({ dataJson: '{"from":"redis"}' });
    expect(JSON.parse(updateFrame(m).toString()).data).toEqual({ from: 'redis' });
  });
});
