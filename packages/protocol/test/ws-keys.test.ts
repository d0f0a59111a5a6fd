import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import { CHANNELS, CLIENT_OPS, FOREIGN_TOP_KEY, WS_PATHS, channelForPath, isEventKey, isTradesKey, tradesKey, tradesKeySymbol, wsPath } from '../src/ws.ts';

describe('stream keys and endpoints', () => {
  it('a trades key gives back its symbol, and only trades keys do', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9]{1,10}$/), (sym) => {
        expect(tradesKeySymbol(tradesKey(sym))).toBe(sym);
        expect(isTradesKey(tradesKey(sym))).toBe(true);
        expect(tradesKeySymbol(sym)).toBeNull();
        expect(isEventKey('market', tradesKey(sym))).toBe(true);
        expect(isEventKey('market', sym)).toBe(false);
      }),
    );
    expect(isTradesKey(FOREIGN_TOP_KEY)).toBe(false);
  });

  it('every channel has one path and the path maps back to it', () => {
    expect(Object.values(WS_PATHS).sort()).toEqual([...CHANNELS].sort());
    for (const c of CHANNELS) expect(channelForPath(wsPath(c))).toBe(c);
    expect(channelForPath('/ws/nope')).toBeNull();
    expect(channelForPath('constructor')).toBeNull();
  });

  it('client op schemas are strict (a typo is refused, not ignored)', () => {
    expect(Value.Check(CLIENT_OPS.subscribe, { op: 'subscribe', symbols: ['VNM'], trades: true })).toBe(true);
    expect(Value.Check(CLIENT_OPS.subscribe, { op: 'subscribe', symbol: ['VNM'] })).toBe(false);
    expect(Value.Check(CLIENT_OPS.subscribe, { op: 'subscribe', symbols: ['VNM;DROP'] })).toBe(false);
    expect(Value.Check(CLIENT_OPS.auth, { op: 'auth', token: '' })).toBe(false);
  });
});
