/**
 * Stale-feed watchdog on a manual clock: when a market counts as trading
 * (vendor status vs. schedule), one alert/log/metric per episode and one on
 * recovery, the /readyz check, and delivery of the notices through the real
 * WebSocket gateway to every alerts subscriber.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { SYSTEM_ALERTS_KEY, type QuoteState, type SessionPhase, type SystemAlert } from '@stock-tracker/protocol';
import { HOSE, US } from '@stock-tracker/rules';
import { ManualClock, type FeedStatus } from '@stock-tracker/feeds';
import { FeedWatchdog, feedFreshnessCheck, marketActivity, publishSystemAlert } from '../src/feed-health/index.ts';
import { runChecks } from '../src/http/readiness.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { RawClient, startServer, type TestServer } from './ws-test-helpers.ts';

/** Wednesday 5 March 2025, hh:mm Vietnam time (UTC+7, no DST). */
const vn = (hh: number, mm = 0, ss = 0) => Date.UTC(2025, 2, 5, hh - 7, mm, ss);
/** The same instant one weekday later / on Saturday 8 March. */
const DAY = 86_400_000;

function row(symbol: string, ts: number, phase: SessionPhase, over: Partial<QuoteState> = {}): QuoteState {
  return {
    symbol,
    exchange: 'HOSE',
    market: 'VN',
    tradingDate: '2025-03-05',
    ts,
    reference: 10_000,
    ceiling: 10_700,
    floor: 9_300,
    open: null,
    high: null,
    low: null,
    last: null,
    lastVolume: 0,
    change: null,
    changePct: null,
    totalVolume: 0,
    totalValue: 0,
    buyVolume: 0,
    sellVolume: 0,
    unknownVolume: 0,
    bids: [],
    asks: [],
    phase,
    halted: false,
    foreign: null,
    ...over,
  };
}

describe('marketActivity: is a market trading?', () => {
  it('believes a recent vendor phase within the same session window, the schedule once a boundary has passed', () => {
    const q = [row('VNM', vn(10, 0), 'continuous')];
    expect(marketActivity(q, vn(10, 5))).toMatchObject({ trading: true, exchanges: [{ exchange: 'HOSE', phase: 'continuous', source: 'feed' }] });
    // Lunch (11:30) began since the row: the schedule speaks, and lunch is not trading.
    expect(marketActivity(q, vn(11, 45))).toMatchObject({ trading: false, exchanges: [{ phase: 'lunch_break', source: 'schedule' }] });
    // Afternoon session by the schedule even though nothing new arrived: data is expected.
    expect(marketActivity(q, vn(13, 30))).toMatchObject({ trading: true, exchanges: [{ phase: 'continuous', source: 'schedule' }] });
    expect(marketActivity(q, vn(15, 30)).trading).toBe(false);
  });

  it('a vendor status beats the schedule while it is current: closed for the day, or trading outside the calendar', () => {
    expect(marketActivity([row('VNM', vn(10, 0), 'closed')], vn(10, 20))).toMatchObject({ trading: false, exchanges: [{ phase: 'closed', source: 'feed' }] });
    expect(marketActivity([row('VNM', vn(20, 0), 'continuous')], vn(20, 1))).toMatchObject({ trading: true, exchanges: [{ source: 'feed' }] });
  });

  it('a halted exchange is not trading; one halted symbol among trading ones is', () => {
    const halted = [row('VNM', vn(10), 'continuous', { halted: true }), row('FPT', vn(10), 'continuous', { halted: true })];
    expect(marketActivity(halted, vn(10, 1))).toMatchObject({ trading: false, exchanges: [{ halted: true }] });
    const one = [row('VNM', vn(10), 'continuous', { halted: true }), row('FPT', vn(10), 'continuous')];
    expect(marketActivity(one, vn(10, 1))).toMatchObject({ trading: true, exchanges: [{ halted: false }] });
  });

  it('yesterday’s rows do not count; weekends are closed by the schedule', () => {
    const yesterday = [row('VNM', vn(14, 50) - DAY, 'plo')];
    expect(marketActivity(yesterday, vn(10))).toMatchObject({ trading: true, exchanges: [{ source: 'schedule', phase: 'continuous' }] });
    const friday = vn(14) + 2 * DAY;
    expect(marketActivity([row('VNM', friday, 'continuous')], friday + DAY - 4 * 3_600_000)).toMatchObject({ trading: false, exchanges: [{ phase: 'closed' }] });
  });

  it('groups by exchange (one trading is enough) and uses each exchange’s own time zone', () => {
    // 10:00 in Hanoi is 22:00 in New York the day before: US closed, HOSE trading.
    const mixed = [row('VNM', vn(9, 59), 'continuous'), row('AAPL', vn(9, 59), 'closed', { exchange: 'US', market: 'US' })];
    const a = marketActivity(mixed, vn(10));
    expect(a.trading).toBe(true);
    expect(a.exchanges.map((e) => [e.exchange, e.trading])).toEqual([
      ['HOSE', true],
      ['US', false],
    ]);
  });

  it('calendar "feed" (simulator, replay): the feed’s own phases of its current day, whatever the real clock says', () => {
    // A compressed simulated day: its lunch break at the real 10:00 and its continuous session at the real 03:00 are both the truth.
    const lunch = [row('VNM', vn(10), 'lunch_break'), row('FPT', vn(10), 'lunch_break')];
    expect(marketActivity(lunch, vn(10, 5), { calendar: 'feed' })).toMatchObject({ trading: false, exchanges: [{ phase: 'lunch_break', source: 'feed' }] });
    expect(marketActivity([row('VNM', vn(3), 'continuous')], vn(4), { calendar: 'feed' }).trading).toBe(true);
    // Rows of an earlier simulated day do not outvote the current one.
    const days = [row('VNM', vn(3), 'closed', { tradingDate: '2025-03-04' }), row('FPT', vn(3), 'closed', { tradingDate: '2025-03-04' }), row('HPG', vn(3, 1), 'ato')];
    expect(marketActivity(days, vn(3, 2), { calendar: 'feed' })).toMatchObject({ trading: true, exchanges: [{ phase: 'ato' }] });
    // A simulated session across the real lunch break: the feed's word stands; the exchange calendar would end it at 11:30.
    const across = [row('VNM', vn(11, 20), 'continuous')];
    expect(marketActivity(across, vn(11, 45), { calendar: 'feed' }).trading).toBe(true);
    expect(marketActivity(across, vn(11, 45)).trading).toBe(false);
  });

  it('an empty board falls back to the given markets’ schedules', () => {
    expect(marketActivity([], vn(10), { fallback: [HOSE] }).trading).toBe(true);
    expect(marketActivity([], vn(3), { fallback: [HOSE] }).trading).toBe(false);
    expect(marketActivity([], Date.UTC(2025, 2, 5, 15, 0), { fallback: [US] })).toMatchObject({ trading: true, exchanges: [{ exchange: 'US', phase: 'continuous' }] });
    expect(marketActivity([], vn(10)).trading).toBe(false);
  });
});

describe('marketActivity: properties', () => {
  const PHASES: SessionPhase[] = ['pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed'];
  const rowArb = (from: number, to: number): fc.Arbitrary<QuoteState> =>
    fc
      .record({ symbol: fc.constantFrom('VNM', 'FPT', 'HPG', 'SSI'), ts: fc.integer({ min: from, max: to }), phase: fc.constantFrom(...PHASES), halted: fc.boolean() })
      .map((r) => row(r.symbol, r.ts, r.phase, { halted: r.halted }));
  // Any instant of a Wednesday (Vietnam time) and rows from that day up to it.
  const dayStart = vn(0);
  const scenario = fc.integer({ min: dayStart, max: dayStart + DAY - 1 }).chain((now) =>
    fc.record({ now: fc.constant(now), today: fc.array(rowArb(dayStart, now), { maxLength: 8 }), older: fc.array(rowArb(dayStart - 3 * DAY, dayStart - 1), { minLength: 1, maxLength: 8 }) }),
  );

  it('rows from earlier days never change the answer; row order does not matter', () => {
    fc.assert(
      fc.property(scenario, ({ now, today, older }) => {
        const base = marketActivity(today, now, { fallback: [HOSE] });
        const withOld = marketActivity([...older, ...today], now, { fallback: [HOSE] });
        expect(withOld.trading).toBe(today.length > 0 ? base.trading : marketActivity([], now, { fallback: [HOSE] }).trading);
        expect(marketActivity([...today].reverse(), now, { fallback: [HOSE] }).trading).toBe(base.trading);
      }),
      { numRuns: 300, seed: 20250305 },
    );
  });

  it('when every row is halted, nothing trades unless the schedule is asked (no current row)', () => {
    fc.assert(
      fc.property(scenario, ({ now, today }) => {
        const halted = today.map((q) => ({ ...q, halted: true }));
        const a = marketActivity(halted, now);
        const current = a.exchanges.every((e) => e.source === 'feed');
        if (halted.length > 0 && current) expect(a.trading).toBe(false);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

// ------------------------------------------------------------------ watchdog

class FakeFeed {
  readonly name = 'ssi';
  st: FeedStatus = { name: 'ssi', connected: true, state: 'connected', lastEventTs: null, events: 0, malformed: 0, errors: {}, lastMessageAgeMs: 0, lastError: null };
  status(): FeedStatus {
    return { ...this.st };
  }
  deliver(n = 1): void {
    this.st = { ...this.st, events: this.st.events + n };
  }
}

interface Rig {
  clock: ManualClock;
  feed: FakeFeed;
  quotes: QuoteState[];
  alerts: SystemAlert[];
  errors: string[];
  infos: string[];
  registry: Registry;
  dog: FeedWatchdog;
}

function rig(start = vn(10), staleAfterMs = 30_000): Rig {
  const clock = new ManualClock(start);
  const feed = new FakeFeed();
  const r: Rig = { clock, feed, quotes: [row('VNM', start, 'continuous')], alerts: [], errors: [], infos: [], registry: new Registry(), dog: undefined as never };
  r.dog = new FeedWatchdog({
    feed,
    quotes: () => r.quotes,
    clock,
    staleAfterMs,
    registry: r.registry,
    log: { info: (_o, m) => r.infos.push(m ?? ''), error: (_o, m) => r.errors.push(m ?? '') },
    onAlert: (a) => r.alerts.push(a),
  });
  r.dog.start();
  return r;
}

const staleGauge = async (registry: Registry) => (await registry.getSingleMetric('feed_stale')!.get()).values.find((v) => v.labels.feed === 'ssi')?.value;

describe('FeedWatchdog', () => {
  it('during trading: silent past the limit → one error log, one feed_stale alert, gauge 1, not ready; data again → one recovery', async () => {
    const r = rig();
    const ready = feedFreshnessCheck(r.dog);
    r.clock.advance(25_000);
    expect(r.dog.state().stale).toBe(false);
    expect(await staleGauge(r.registry)).toBe(0);
    r.clock.advance(10_000);
    expect(r.dog.state()).toMatchObject({ stale: true, trading: true });
    expect(r.alerts.map((a) => a.kind)).toEqual(['feed_stale']);
    expect(r.alerts[0]).toMatchObject({ severity: 'error', feed: 'ssi' });
    expect(r.alerts[0]!.silentMs).toBeGreaterThanOrEqual(30_000);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain("no market data from 'ssi'");
    expect(await staleGauge(r.registry)).toBe(1);
    const report = await runChecks([ready]);
    expect(report.ready).toBe(false);
    expect(report.checks['feed_freshness']!.detail).toMatch(/no market data from 'ssi' for \d+(\.\d)? s while trading \(HOSE continuous\)/);

    // Still silent for minutes: nothing repeats.
    r.clock.advance(120_000);
    expect(r.alerts).toHaveLength(1);
    expect(r.errors).toHaveLength(1);

    r.feed.deliver();
    r.clock.advance(5_000);
    expect(r.dog.state().stale).toBe(false);
    expect(r.alerts.map((a) => a.kind)).toEqual(['feed_stale', 'feed_recovered']);
    // The outage is measured from the last data (t=0) to the recovery (≈155 s), not from detection.
    expect(r.alerts[1]!.silentMs).toBeGreaterThanOrEqual(150_000);
    expect(r.alerts[1]!.message).toMatch(/live again/);
    expect(r.infos.filter((m) => m.includes('no longer stale'))).toHaveLength(1);
    expect(await staleGauge(r.registry)).toBe(0);
    expect((await runChecks([ready])).ready).toBe(true);
    expect(new Set(r.alerts.map((a) => a.id)).size).toBe(2);
  });

  it('a steady trickle of events is never stale, however long', () => {
    const r = rig(vn(9, 20));
    for (let i = 0; i < 300; i++) {
      r.feed.deliver();
      r.clock.advance(20_000);
    }
    expect(r.alerts).toEqual([]);
    expect(r.errors).toEqual([]);
  });

  it('a closed market, or a lunch break, is quiet by design: no alert', () => {
    const r = rig(vn(15, 30));
    r.quotes = [row('VNM', vn(15, 30), 'closed')];
    r.clock.advance(3_600_000);
    expect(r.alerts).toEqual([]);
    const lunch = rig(vn(11, 31));
    lunch.quotes = [row('VNM', vn(11, 31), 'lunch_break')];
    lunch.clock.advance(80 * 60_000); // 11:31 → 12:51
    expect(lunch.alerts).toEqual([]);
  });

  it('stale when the afternoon session opens without data; cleared when the market closes', () => {
    const r = rig(vn(12, 0));
    r.quotes = [row('VNM', vn(11, 59), 'lunch_break')];
    r.clock.advance(60 * 60_000 + 40_000); // 13:00:40: trading by the schedule, no data since 12:00
    expect(r.alerts.map((a) => a.kind)).toEqual(['feed_stale']);
    r.clock.advance(2 * 3_600_000); // 15:00:40
    expect(r.alerts.map((a) => a.kind)).toEqual(['feed_stale', 'feed_recovered']);
    expect(r.alerts[1]!.message).toMatch(/no market is trading/);
  });

  it('says why it may be silent: connection alive but no data, or the feed’s own failure', () => {
    const alive = rig();
    alive.feed.st.lastMessageAgeMs = 900;
    alive.clock.advance(40_000);
    expect(alive.dog.state().summary).toMatch(/connection is alive .* but carries no market data/);

    const failed = rig();
    failed.feed.st = { ...failed.feed.st, connected: false, state: 'failed', lastError: 'SSI refused the consumer ID/secret' };
    failed.clock.advance(40_000);
    expect(failed.dog.state().summary).toContain('feed failed: SSI refused the consumer ID/secret');
    expect(failed.alerts[0]!.message).toContain('SSI refused');
  });

  it('a failing alert sink is logged once, never thrown out of the timer; checks go on', () => {
    const clock = new ManualClock(vn(10));
    const errors: string[] = [];
    const feed = new FakeFeed();
    const dog = new FeedWatchdog({
      feed,
      quotes: () => [row('VNM', vn(10), 'continuous')],
      clock,
      staleAfterMs: 30_000,
      log: { info: () => {}, error: (_o, m) => errors.push(m ?? '') },
      onAlert: () => {
        throw new Error('bus down');
      },
    });
    dog.start();
    expect(() => clock.advance(120_000)).not.toThrow();
    expect(errors.filter((m) => m.includes('watchdog check failed'))).toHaveLength(1);
    expect(dog.state().stale).toBe(true);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new FeedWatchdog({ feed: new FakeFeed(), quotes: () => [], clock: new ManualClock(0), staleAfterMs: 0 })).toThrow(/positive/);
  });
});

// ------------------------------------------------------------------ delivery

describe('system alerts through the real WebSocket gateway', () => {
  let srv: TestServer | undefined;
  afterEach(async () => {
    await srv?.stop();
    srv = undefined;
  });

  it('every alerts subscriber gets the stale notice live; a late one finds it in its snapshot; then the recovery', async () => {
    const authenticate = async (req: import('node:http').IncomingMessage) => {
      const m = /^Bearer (u\d)$/.exec(req.headers.authorization ?? '');
      return m ? { userId: m[1]! } : null;
    };
    srv = await startServer({ authenticate, historyEvents: 10 });
    const publisher = srv.bus.publisher();
    const r = rig();
    // The same wiring as roles/all.ts: the watchdog's notices go to the bus.
    const dog = new FeedWatchdog({ feed: r.feed, quotes: () => r.quotes, clock: r.clock, staleAfterMs: 30_000, onAlert: (a) => publishSystemAlert(publisher, a) });
    dog.start();

    const open = async (user: string) => {
      const c = await RawClient.open(srv!.url('/ws/alerts'), { headers: { Authorization: `Bearer ${user}` } });
      c.send({ op: 'subscribe', id: 's', symbols: ['*'] });
      const sub = await c.next((m) => m.type === 'subscribed');
      expect(sub.keys).toEqual([`user:${user}`, SYSTEM_ALERTS_KEY]);
      return c;
    };
    const u1 = await open('u1');
    const u2 = await open('u2');
    // Let the (empty) system snapshot arrive first, so the notice comes as an update.
    await u1.next((m) => m.type === 'snapshot' && m.key === SYSTEM_ALERTS_KEY);
    await u2.next((m) => m.type === 'snapshot' && m.key === SYSTEM_ALERTS_KEY);

    r.clock.advance(35_000);
    for (const c of [u1, u2]) {
      const u = await c.next((m) => m.type === 'update' && m.key === SYSTEM_ALERTS_KEY);
      expect(u).toMatchObject({ channel: 'alerts', data: { kind: 'feed_stale', severity: 'error', feed: 'ssi' } });
      expect(u.data.message).toContain('Market data is delayed');
    }

    const late = await open('u3');
    const snap = await late.next((m) => m.type === 'snapshot' && m.key === SYSTEM_ALERTS_KEY);
    expect(snap.data).toHaveLength(1);
    expect(snap.data[0]).toMatchObject({ kind: 'feed_stale' });

    r.feed.deliver();
    r.clock.advance(6_000);
    for (const c of [u1, u2, late]) {
      const u = await c.next((m) => m.type === 'update' && m.key === SYSTEM_ALERTS_KEY && (m.data as SystemAlert).kind === 'feed_recovered');
      expect(u.data.severity).toBe('info');
    }
    // Each user saw each notice once, in order, with consecutive seqs.
    const seqs = u1.messages.filter((m) => m.type === 'update' && m.key === SYSTEM_ALERTS_KEY).map((m) => [m.seq, m.data.kind]);
    expect(seqs).toEqual([
      [1, 'feed_stale'],
      [2, 'feed_recovered'],
    ]);
    dog.stop();
    for (const c of [u1, u2, late]) c.close();
  });

  it('a client may ask for the system key alone (what the web client does after a gap); other users’ keys stay forbidden', async () => {
    srv = await startServer({ authenticate: async () => ({ userId: 'u1' }) });
    const c = await RawClient.open(srv.url('/ws/alerts'));
    c.send({ op: 'subscribe', id: 'a', symbols: [SYSTEM_ALERTS_KEY] });
    expect((await c.next((m) => m.type === 'subscribed' && m.id === 'a')).keys).toEqual([SYSTEM_ALERTS_KEY]);
    c.send({ op: 'subscribe', id: 'b', symbols: [SYSTEM_ALERTS_KEY, 'user:u2'] });
    expect(await c.next((m) => m.type === 'error' && m.id === 'b')).toMatchObject({ code: 'FORBIDDEN' });
    c.close();
  });
});

describe('FEED_STALE_AFTER_MS', () => {
  it('defaults to 30 s, 0 turns the watchdog off, sub-second and non-numbers are refused by name', () => {
    expect(loadConfig({}).feed.staleAfterMs).toBe(30_000);
    expect(loadConfig({ FEED_STALE_AFTER_MS: '0' }).feed.staleAfterMs).toBe(0);
    expect(loadConfig({ FEED_STALE_AFTER_MS: '120000' }).feed.staleAfterMs).toBe(120_000);
    for (const bad of ['500', 'soon', '-1']) {
      let err: unknown;
      try {
        loadConfig({ FEED_STALE_AFTER_MS: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toMatch(/^FEED_STALE_AFTER_MS: /m);
    }
  });
});
