/** Small pieces of paper trading's server side: /ws/trading key ownership, announcements, market time of outputs. */
import { tradingKeys } from '../src/trading/ws-keys.ts';
import { parseAnnouncement } from '../src/trading/sync.ts';
import { outputTime } from '../src/trading/runner.ts';

describe('/ws/trading keys', () => {
  it('gives a user both of their own keys for * or nothing, and refuses anyone else\'s', () => {
    expect(tradingKeys('u1', undefined)).toEqual({ ok: true, keys: ['user:u1', 'portfolio:u1'] });
    expect(tradingKeys('u1', ['*'])).toEqual({ ok: true, keys: ['user:u1', 'portfolio:u1'] });
    expect(tradingKeys('u1', ['portfolio:u1'])).toEqual({ ok: true, keys: ['portfolio:u1'] });
    for (const other of ['user:u2', 'portfolio:u2', 'user:u1x', 'portfolio:', 'FPT']) {
      const r = tradingKeys('u1', ['user:u1', other]);
      expect(r.ok, other).toBe(false);
      if (!r.ok) expect(r.details).toEqual([{ path: '/symbols/1', issue: 'only your own trading streams' }]);
    }
  });
});

describe('trading announcements', () => {
  it('accepts an account id and counts anything else as malformed', () => {
    expect(parseAnnouncement('{"accountId":"a-1"}')).toBe('a-1');
    for (const raw of ['', 'nope', '{}', '{"accountId":""}', '{"accountId":5}', JSON.stringify({ accountId: 'x'.repeat(65) })]) expect(parseAnnouncement(raw), raw).toBeNull();
  });
});

describe('outputTime (the restore horizon)', () => {
  it('is the trade, quote or foreign time, a closed bar\'s end, and none for outputs without one', () => {
    expect(outputTime({ type: 'trade', trade: { ts: 5 } } as never)).toBe(5);
    expect(outputTime({ type: 'quote', state: { ts: 6 } } as never)).toBe(6);
    expect(outputTime({ type: 'bar', bar: { ts: 60_000, closed: true } } as never)).toBe(120_000);
    expect(outputTime({ type: 'bar', bar: { ts: 60_000, closed: false } } as never)).toBe(60_000);
    expect(outputTime({ type: 'reference', ref: {} } as never)).toBeNull();
  });
});
