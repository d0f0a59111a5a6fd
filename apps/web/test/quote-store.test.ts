import { KeyedStore } from '../src/store/keyed-store.ts';
import { createQuoteStore, isNewerQuote } from '../src/store/quote-store.ts';
import { IndexStore } from '../src/store/index-store.ts';
import { makeQuote } from './helpers.tsx';

/** A scheduler the test runs by hand, standing in for requestAnimationFrame. */
function manualFrames() {
  const queue: (() => void)[] = [];
  return {
    schedule: (fn: () => void) => void queue.push(fn),
    runFrame: () => queue.splice(0).forEach((fn) => fn()),
    pending: () => queue.length,
  };
}

describe('KeyedStore', () => {
  it('applies writes once per frame and notifies only the keys that changed', () => {
    const frames = manualFrames();
    const store = new KeyedStore<number>({ schedule: frames.schedule });
    const seen: string[] = [];
    store.subscribe('A', () => seen.push(`A=${store.get('A')}`));
    store.subscribe('B', () => seen.push(`B=${store.get('B')}`));
    for (let i = 1; i <= 100; i++) store.set('A', i);
    expect(frames.pending()).toBe(1); // one frame scheduled for the whole burst
    expect(store.get('A')).toBeUndefined(); // not visible before the frame
    frames.runFrame();
    expect(seen).toEqual(['A=100']);
    expect(store.version).toBe(1);
  });

  it('keeps the key list identity until a key is added', () => {
    const store = new KeyedStore<number>({ schedule: () => {} });
    store.set('A', 1);
    store.flush();
    const k1 = store.keys();
    let keyEvents = 0;
    store.subscribeKeys(() => keyEvents++);
    store.set('A', 2);
    store.flush();
    expect(store.keys()).toBe(k1);
    expect(keyEvents).toBe(0);
    store.set('B', 1);
    store.flush();
    expect(store.keys()).toEqual(['A', 'B']);
    expect(keyEvents).toBe(1);
  });

  it('sees queued values through latest() and reports changed keys on flush', () => {
    const store = new KeyedStore<number>({ schedule: () => {} });
    const flushed: string[][] = [];
    store.onFlush((keys) => flushed.push([...keys]));
    store.set('X', 5);
    expect(store.latest('X')).toBe(5);
    expect(store.flush()).toBe(1);
    expect(store.flush()).toBe(0); // nothing pending: no notification
    expect(flushed).toEqual([['X']]);
  });

  it('unsubscribes without leaking listeners', () => {
    const store = new KeyedStore<number>({ schedule: () => {} });
    const off = store.subscribe('A', () => {});
    expect(store.listenerCount('A')).toBe(1);
    off();
    expect(store.listenerCount('A')).toBe(0);
  });
});

describe('quote store', () => {
  it('rejects a state older than the one shown (late REST snapshot after a streamed update)', () => {
    const store = createQuoteStore(() => {});
    store.set('VNM', makeQuote('VNM', { ts: 2_000, last: 50_200 }));
    store.flush();
    store.set('VNM', makeQuote('VNM', { ts: 1_000, last: 49_000 }));
    expect(store.flush()).toBe(0);
    expect(store.get('VNM')!.last).toBe(50_200);
  });
  it('accepts a new trading day even with an earlier time of day', () => {
    const prev = makeQuote('VNM', { ts: 5_000, tradingDate: '2024-06-03' });
    expect(isNewerQuote(prev, makeQuote('VNM', { ts: 4_000, tradingDate: '2024-06-04' }))).toBe(true);
    expect(isNewerQuote(prev, makeQuote('VNM', { ts: 9_000, tradingDate: '2024-06-02' }))).toBe(false);
    expect(isNewerQuote(undefined, prev)).toBe(true);
  });
});

describe('index store', () => {
  it('extends the sparkline per update, including several updates in one frame', () => {
    const store = new IndexStore(() => {});
    const base = { name: 'VN-Index', prevClose: 1_200, change: 0, changePct: 0, volume: 0, valueTraded: 0, computed: true,
      breadth: { advances: 0, declines: 0, unchanged: 0, ceilings: 0, floors: 0 } };
    store.update({ ...base, id: 'VNINDEX', ts: 1_000, value: 1_201 });
    store.update({ ...base, id: 'VNINDEX', ts: 2_000, value: 1_202 });
    store.update({ ...base, id: 'VNINDEX', ts: 2_000, value: 1_203 }); // same instant: replaces
    store.update({ ...base, id: 'VNINDEX', ts: 1_500, value: 1_100 }); // late: ignored
    store.states.flush();
    store.series.flush();
    expect(store.series.get('VNINDEX')!.map((p) => p.value)).toEqual([1_201, 1_203]);
    expect(store.states.get('VNINDEX')!.value).toBe(1_203);
    store.seed('VNINDEX', [{ ts: 500, value: 1_199 }, { ts: 1_000, value: 1_201 }]);
    store.series.flush();
    expect(store.series.get('VNINDEX')!.map((p) => p.ts)).toEqual([500, 1_000, 2_000]);
  });
});
