/**
 * The compressed day's calendar (calendar.ts) and the simulator's exchange
 * clock: stamps that agree with the exchanges' phases per @stock-tracker/rules.
 */
import fc from 'fast-check';
import type { MarketEvent, SessionPhase, SymbolRef } from '@stock-tracker/protocol';
import { HNX, HOSE, UPCOM, US, isTradingPhase, phaseAt, rulesFor, tradingDateOf } from '@stock-tracker/rules';
import {
  Simulator,
  dayLayout,
  encodeEvent,
  localMidnight,
  localMsAt,
  nextBusinessDate,
  nextPhaseChange,
  phaseChanges,
  wallOffsetOfMinute,
} from '../src/index.ts';

const TZ = 'Asia/Ho_Chi_Minh';
const START = Date.parse('2025-01-06T08:30:00+07:00'); // a Monday
const vn = (date: string, h: number, m = 0) => Date.parse(`${date}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+07:00`);
const VN = [HOSE, HNX, UPCOM];

describe('compressed day layout', () => {
  it('cuts the local day at every session boundary and compresses the breaks', () => {
    const l = dayLayout(VN, 600_000, 6_000);
    expect(l.minutes).toEqual([510, 540, 555, 690, 780, 870, 885, 900, 930]); // 08:30 09:00 09:15 11:30 13:00 14:30 14:45 15:00 15:30
    expect(l.trading).toEqual([false, true, true, false, true, true, true, false]);
    const len = (i: number) => l.wall[i + 1]! - l.wall[i]!;
    expect(len(0)).toBeCloseTo(2_000, 6); // 30 min before the open: a third of a lunch break
    expect(len(3)).toBeCloseTo(6_000, 6); // lunch
    expect(len(7)).toBeCloseTo(2_000, 6); // after the close
    // Trading shares the rest in proportion to local minutes: 270 of them.
    const perMinute = (600_000 - 10_000) / 270;
    for (const i of [1, 2, 4, 5, 6]) expect(len(i)).toBeCloseTo((l.minutes[i + 1]! - l.minutes[i]!) * perMinute, 6);
    expect(l.wall[0]).toBe(0);
    expect(l.wall.at(-1)).toBe(600_000);
  });

  it('defaults the lunch break to 1% of the day and refuses breaks that would take over half of it', () => {
    expect(dayLayout(VN, 600_000).breakMs).toBe(6_000);
    expect(dayLayout(VN, 60_000).breakMs).toBe(600);
    expect(() => dayLayout(VN, 60_000, 18_001)).toThrow(RangeError);
    expect(() => dayLayout(VN, 60_000, -1)).toThrow(RangeError);
    expect(() => new Simulator({ seed: 1, startTs: START, dayMs: 60_000, breakMs: 30_000 })).toThrow(/breakMs/);
    expect(() => new Simulator({ seed: 1, startTs: START, clock: 'utc' as never })).toThrow(/clock/);
  });

  it('maps wall offsets to local time monotonically, inside the segment, and back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 86_400_000 }), fc.double({ min: 0, max: 0.3, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (dayMs, share, a, b) => {
        const l = dayLayout(VN, dayMs, Math.floor(dayMs * share));
        const [u, v] = [a * dayMs, b * dayMs].sort((x, y) => x - y) as [number, number];
        const [x, y] = [localMsAt(l, u), localMsAt(l, v)];
        expect(x).toBeLessThanOrEqual(y);
        expect(x).toBeGreaterThanOrEqual(l.window.open * 60_000);
        expect(y).toBeLessThan(l.window.close * 60_000);
        // The local minute maps back to a wall offset at or before u (floors only lose time).
        expect(wallOffsetOfMinute(l, x / 60_000)).toBeLessThanOrEqual(u + 1e-6 * dayMs);
        // A boundary's wall offset maps to exactly the boundary.
        // A boundary's wall offset maps to exactly the boundary (unless its segment lasts no time: breakMs 0 skips it).
        l.minutes.slice(0, -1).forEach((m, i) => {
          if (l.wall[i + 1]! > l.wall[i]!) expect(localMsAt(l, wallOffsetOfMinute(l, m))).toBe(m * 60_000);
        });
      }),
      { numRuns: 200, seed: 14 },
    );
  });

  it('phaseChanges of each exchange follow the layout; the session windows of the rules in order', () => {
    const l = dayLayout(VN, 600_000);
    const changes = phaseChanges(HOSE, 0, 600_000, l);
    expect(changes.map((c) => `${c.phase}@${c.minute}`)).toEqual([
      'pre_open@510', 'ato@540', 'continuous@555', 'lunch_break@690', 'continuous@780', 'atc@870', 'plo@885', 'closed@900',
    ]);
    for (const c of changes) expect(c.ts).toBe(Math.floor(wallOffsetOfMinute(l, c.minute)));
    // Called the old way (a window, no layout): the same instants, as HOSE, HNX and UPCOM share the trading hours.
    expect(phaseChanges(HNX, 0, 600_000, { open: 510, close: 930 })).toEqual(phaseChanges(HNX, 0, 600_000, l));
  });
});

describe('dates', () => {
  it('local midnight and business days', () => {
    expect(localMidnight('2025-01-07', TZ)).toBe(Date.parse('2025-01-06T17:00:00Z'));
    expect(localMidnight('2025-07-01', 'America/New_York')).toBe(Date.parse('2025-07-01T04:00:00Z'));
    expect(nextBusinessDate('2025-01-10')).toBe('2025-01-13');
    expect(nextBusinessDate('2025-01-07')).toBe('2025-01-08');
  });
});

describe('next phase change (for /api/market/status)', () => {
  const at = (date: string, h: number, m = 0) => vn(date, h, m);
  it.each<[string, typeof HOSE, SessionPhase, number, SessionPhase, number]>([
    ['lunch → afternoon session', HOSE, 'lunch_break', at('2025-01-07', 11, 40), 'continuous', at('2025-01-07', 13)],
    ['HOSE pre-open → ATO', HOSE, 'pre_open', at('2025-01-07', 8, 45), 'ato', at('2025-01-07', 9)],
    ['HNX pre-open → continuous', HNX, 'pre_open', at('2025-01-07', 8, 45), 'continuous', at('2025-01-07', 9)],
    ['morning continuous → lunch', HOSE, 'continuous', at('2025-01-07', 10), 'lunch_break', at('2025-01-07', 11, 30)],
    ['afternoon continuous → ATC', HOSE, 'continuous', at('2025-01-07', 13, 5), 'atc', at('2025-01-07', 14, 30)],
    ['UPCOM afternoon → closed', UPCOM, 'continuous', at('2025-01-07', 14, 40), 'closed', at('2025-01-07', 15)],
    ['HOSE put-through → closed', HOSE, 'plo', at('2025-01-07', 14, 50), 'closed', at('2025-01-07', 15)],
    ['closed → next morning', HOSE, 'closed', at('2025-01-07', 15, 10), 'ato', at('2025-01-08', 9)],
    ['closed on Friday → Monday', HNX, 'closed', at('2025-01-10', 15, 10), 'continuous', at('2025-01-13', 9)],
    ['Saturday → Monday', HOSE, 'closed', at('2025-01-11', 10), 'ato', at('2025-01-13', 9)],
    ['closed after midnight → this morning', HOSE, 'closed', at('2025-01-08', 2), 'ato', at('2025-01-08', 9)],
    // A feed that says lunch while the schedule says continuous: the next change away from lunch.
    ['feed disagrees with the schedule', HOSE, 'lunch_break', at('2025-01-07', 10), 'continuous', at('2025-01-07', 13)],
  ])('%s', (_name, rules, phase, ts, nextPhase, nextAt) => {
    expect(nextPhaseChange(rules, phase, ts)).toEqual({ phase: nextPhase, at: nextAt });
  });

  it('US hours in New York time', () => {
    const ts = Date.parse('2025-07-01T12:00:00Z'); // 08:00 EDT
    expect(nextPhaseChange(US, 'pre_open', ts)).toEqual({ phase: 'continuous', at: Date.parse('2025-07-01T13:30:00Z') });
    expect(nextPhaseChange(US, 'continuous', Date.parse('2025-07-01T15:00:00Z'))).toEqual({ phase: 'closed', at: Date.parse('2025-07-01T20:00:00Z') });
  });

  it('is always after ts and enters another phase than the given one (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(HOSE, HNX, UPCOM, US), fc.constantFrom<SessionPhase>('pre_open', 'ato', 'continuous', 'lunch_break', 'atc', 'plo', 'closed'), fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 0, 1) }), (rules, phase, ts) => {
        const n = nextPhaseChange(rules, phase, ts)!;
        expect(n.at).toBeGreaterThan(ts);
        expect(n.phase).not.toBe(phase);
        expect(n.at - ts).toBeLessThan(4 * 86_400_000);
        // The schedule agrees: the exchange is in that phase from then on.
        expect(phaseAt(rules, n.at)).toBe(n.phase);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

/**
 * Every trade stamped inside a trading phase of its exchange per phaseAt (an
 * auction trade inside its own auction, a continuous one in continuous
 * trading), every exchange status event's phase equal to phaseAt at its
 * stamp, and every event on its day's trading date, local time.
 */
function clockViolations(events: MarketEvent[]): string[] {
  const out: string[] = [];
  const fail = (m: string) => void (out.length < 20 && out.push(m));
  const refs = new Map<string, SymbolRef>();
  let date = '';
  let last = -Infinity;
  for (const ev of events) {
    if (ev.ts < last) fail(`stamp went back ${last} -> ${ev.ts}`);
    last = ev.ts;
    // A day opens with its exchanges' pre-open statuses, then its references.
    if (ev.type === 'status' && !ev.symbol && ev.phase === 'pre_open' && tradingDateOf(ev.ts, TZ) !== date) {
      if (tradingDateOf(ev.ts, TZ) < date) fail(`day ${tradingDateOf(ev.ts, TZ)} after ${date}`);
      date = tradingDateOf(ev.ts, TZ);
    }
    if (ev.type === 'reference') {
      refs.set(ev.ref.symbol, ev.ref);
      if (ev.ref.tradingDate !== date) fail(`reference of ${ev.ref.tradingDate} on ${date}`);
    }
    const local = new Date(ev.ts);
    if (tradingDateOf(ev.ts, TZ) !== date) fail(`${ev.type} at ${local.toISOString()} outside trading date ${date}`);
    if (ev.type === 'trade') {
      const ref = refs.get(ev.symbol)!;
      const scheduled = phaseAt(rulesFor(ref.exchange, 'VN'), ev.ts);
      if (!isTradingPhase(scheduled)) fail(`${ev.id} at ${local.toISOString()} during ${scheduled}`);
      if ((ev.phase ?? 'continuous') !== scheduled) fail(`${ev.id} (${ev.phase ?? 'continuous'}) stamped in ${scheduled}`);
    }
    if (ev.type === 'status') {
      const scheduled = phaseAt(rulesFor(ev.exchange!, 'VN'), ev.ts);
      if (ev.phase !== scheduled) fail(`${ev.exchange}${ev.symbol ? `/${ev.symbol}` : ''} status ${ev.phase} at ${local.toISOString()}, schedule says ${scheduled}`);
    }
  }
  return out;
}

describe('exchange clock', () => {
  it('stamps agree with the exchanges phases per packages/rules (property)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1_000, max: 120_000 }),
        fc.double({ min: 0.05, max: 2.5, noNaN: true }),
        fc.integer({ min: 50, max: 600 }),
        fc.option(fc.integer({ min: 1, max: 70 }), { nil: undefined }),
        fc.option(fc.double({ min: 0, max: 0.3, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 0, max: 6 }),
        (seed, dayMs, days, intensity, symbols, breakShare, weekday) => {
          const startTs = START + weekday * 86_400_000 + 3_600_000 * (seed % 5); // any weekday, any hour
          const breakMs = breakShare === undefined ? undefined : Math.floor(dayMs * breakShare);
          const sim = new Simulator({ seed, startTs, dayMs, intensity, symbols, breakMs, clock: 'exchange' });
          const events = sim.advanceToWall(startTs + Math.floor(days * dayMs));
          expect(events.some((e) => e.type === 'status')).toBe(true);
          expect(clockViolations(events), JSON.stringify({ seed, dayMs, days, intensity, symbols, breakMs, weekday })).toEqual([]);
        },
      ),
      { numRuns: 40, seed: 20250107 },
    );
  }, 180_000);

  it('the checker catches a trade stamped in the lunch break or a status at the wrong time', () => {
    const sim = new Simulator({ seed: 3, startTs: START, dayMs: 20_000, symbols: 6, clock: 'exchange' });
    const events = sim.advanceToWall(START + 20_000);
    expect(clockViolations(events)).toEqual([]);
    const copy = structuredClone(events);
    const i = copy.findIndex((e) => e.type === 'trade' && !e.phase);
    copy[i] = { ...copy[i]!, ts: vn('2025-01-06', 12) };
    expect(clockViolations(copy).join()).toMatch(/lunch_break/);
    const wall = new Simulator({ seed: 3, startTs: START, dayMs: 20_000, symbols: 6 }).advanceTo(START + 20_000);
    expect(clockViolations(wall)).not.toEqual([]); // wall stamps (06:56 for a continuous trade) are what this fixes
  });

  it('the first day of a 10-minute loop runs 08:30–15:30 local on its trading date; day k+1 on the next business day', () => {
    const sim = new Simulator({ seed: 2, startTs: START + 4 * 86_400_000, dayMs: 600_000, clock: 'exchange' }); // a Friday
    const events = sim.advanceToWall(START + 4 * 86_400_000 + 2 * 600_000 - 1);
    const refs = events.filter((e) => e.type === 'reference');
    expect([...new Set(refs.map((e) => `${e.ref.tradingDate} ${new Date(e.ts).toISOString()}`))]).toEqual(['2025-01-10 2025-01-10T01:30:00.000Z', '2025-01-13 2025-01-13T01:30:00.000Z']);
    const hose = events.filter((e) => e.type === 'status' && e.exchange === 'HOSE' && !e.symbol).map((e) => `${(e as { phase: string }).phase}@${new Date(e.ts + 7 * 3_600_000).toISOString().slice(11, 16)}`);
    expect(hose.slice(0, 8)).toEqual(['pre_open@08:30', 'ato@09:00', 'continuous@09:15', 'lunch_break@11:30', 'continuous@13:00', 'atc@14:30', 'plo@14:45', 'closed@15:00']);
    expect(sim.exchangeTimeAt(START + 4 * 86_400_000)).toBe(vn('2025-01-10', 8, 30));
    expect(sim.exchangeTimeAt(START + 4 * 86_400_000 + 600_000)).toBe(vn('2025-01-13', 8, 30));
  });

  it('advanceTo takes a target on the exchange clock; chunks give the events of one step', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer({ min: 0, max: 2 * 86_400_000 }), { minLength: 1, maxLength: 8 }), (seed, cuts) => {
        const opts = { seed, startTs: START, dayMs: 20_000, intensity: 300, clock: 'exchange' as const };
        const end = vn('2025-01-07', 15, 30);
        const whole = new Simulator(opts).advanceTo(end);
        expect(whole.every((e) => e.ts <= end)).toBe(true);
        expect(whole.filter((e) => e.type === 'reference').map((e) => e.ref.tradingDate)).toContain('2025-01-07');
        const sim = new Simulator(opts);
        const chunked: string[] = [];
        for (const c of [...cuts].sort((a, b) => a - b)) {
          const target = START + c;
          sim.advanceTo(target, (ev) => {
            if (ev.ts > target) throw new Error(`event at ${ev.ts} beyond target ${target}`);
            chunked.push(encodeEvent(ev));
          });
        }
        sim.advanceTo(end, (ev) => chunked.push(encodeEvent(ev)));
        expect(chunked.join('\n')).toBe(whole.map(encodeEvent).join('\n'));
        // Pacing by wall time gives the very same tape.
        const paced = new Simulator(opts);
        const byWall = paced.advanceToWall(START + 2 * 20_000 - 1);
        expect(byWall.map(encodeEvent).join('\n')).toBe(whole.map(encodeEvent).join('\n'));
      }),
      { numRuns: 12, seed: 99 },
    );
  }, 180_000);
});
