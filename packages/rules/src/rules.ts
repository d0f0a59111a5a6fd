/**
 * Market rules as data: sessions, tick sizes, daily limits, lot sizes and time
 * zone per exchange. No component hard-codes a market; they look the rules up
 * here. Pure: time zone arithmetic uses Intl, never the wall clock.
 */
import type { Market, SessionPhase } from '@stock-tracker/protocol';

export interface TickBand {
  /** Inclusive lower price bound of the band. */
  from: number;
  tick: number;
}

export interface SessionWindow {
  phase: SessionPhase;
  /** Local time `HH:MM`, inclusive. */
  start: string;
  /** Local time `HH:MM`, exclusive. */
  end: string;
}

export interface ExchangeRules {
  exchange: string;
  market: Market;
  timeZone: string;
  /** Daily price limit as a fraction of the reference price; null = no limit. */
  dailyLimit: number | null;
  /** Ascending by `from`. */
  tickBands: TickBand[];
  lotSize: number;
  /** Ordered, non-overlapping. Anything outside is `pre_open` before the first window and `closed` after the last. */
  sessions: SessionWindow[];
  /** Book depth the exchange publishes. */
  bookDepth: number;
}

const VN_TZ = 'Asia/Ho_Chi_Minh';

export const HOSE: ExchangeRules = {
  exchange: 'HOSE',
  market: 'VN',
  timeZone: VN_TZ,
  dailyLimit: 0.07,
  tickBands: [
    { from: 0, tick: 10 },
    { from: 10_000, tick: 50 },
    { from: 50_000, tick: 100 },
  ],
  lotSize: 100,
  bookDepth: 3,
  sessions: [
    { phase: 'ato', start: '09:00', end: '09:15' },
    { phase: 'continuous', start: '09:15', end: '11:30' },
    { phase: 'lunch_break', start: '11:30', end: '13:00' },
    { phase: 'continuous', start: '13:00', end: '14:30' },
    { phase: 'atc', start: '14:30', end: '14:45' },
    { phase: 'plo', start: '14:45', end: '15:00' },
  ],
};

export const HNX: ExchangeRules = {
  exchange: 'HNX',
  market: 'VN',
  timeZone: VN_TZ,
  dailyLimit: 0.1,
  tickBands: [{ from: 0, tick: 100 }],
  lotSize: 100,
  bookDepth: 10,
  sessions: [
    { phase: 'continuous', start: '09:00', end: '11:30' },
    { phase: 'lunch_break', start: '11:30', end: '13:00' },
    { phase: 'continuous', start: '13:00', end: '14:30' },
    { phase: 'atc', start: '14:30', end: '14:45' },
    { phase: 'plo', start: '14:45', end: '15:00' },
  ],
};

export const UPCOM: ExchangeRules = {
  exchange: 'UPCOM',
  market: 'VN',
  timeZone: VN_TZ,
  dailyLimit: 0.15,
  tickBands: [{ from: 0, tick: 100 }],
  lotSize: 100,
  bookDepth: 10,
  sessions: [
    { phase: 'continuous', start: '09:00', end: '11:30' },
    { phase: 'lunch_break', start: '11:30', end: '13:00' },
    { phase: 'continuous', start: '13:00', end: '15:00' },
  ],
};

/** US equities: regular session only, no daily limits (LULD bands are not daily limits), penny ticks, no lots. */
export const US: ExchangeRules = {
  exchange: 'US',
  market: 'US',
  timeZone: 'America/New_York',
  dailyLimit: null,
  tickBands: [
    { from: 0, tick: 0.0001 },
    { from: 1, tick: 0.01 },
  ],
  lotSize: 1,
  bookDepth: 1,
  sessions: [{ phase: 'continuous', start: '09:30', end: '16:00' }],
};

const BY_EXCHANGE: Record<string, ExchangeRules> = { HOSE, HNX, UPCOM };

/** Rules for an exchange code; unknown US venues fall back to the US rule set. */
export function rulesFor(exchange: string, market?: Market): ExchangeRules {
  const r = BY_EXCHANGE[exchange.toUpperCase()];
  if (r) return r;
  if (market === 'VN') return HOSE;
  return US;
}

// Scale to avoid floating point error on fractional ticks (US sub-penny).
const SCALE = 10_000;
const scaled = (x: number) => Math.round(x * SCALE);

export function tickSize(rules: ExchangeRules, price: number): number {
  let tick = rules.tickBands[0]!.tick;
  for (const b of rules.tickBands) if (price >= b.from) tick = b.tick;
  return tick;
}

export function isOnTick(rules: ExchangeRules, price: number): boolean {
  if (!(price > 0) || !Number.isFinite(price)) return false;
  const t = scaled(tickSize(rules, price));
  const p = scaled(price);
  return Math.abs(p - price * SCALE) < 1e-6 * SCALE && p % t === 0;
}

/** Largest on-grid price <= price. */
export function roundDownToTick(rules: ExchangeRules, price: number): number {
  if (!Number.isFinite(price)) return price;
  const t = scaled(tickSize(rules, price));
  return (Math.floor(scaled(price) / t) * t) / SCALE;
}

/** Smallest on-grid price >= price. */
export function roundUpToTick(rules: ExchangeRules, price: number): number {
  if (!Number.isFinite(price)) return price;
  const t = scaled(tickSize(rules, price));
  const up = (Math.ceil(scaled(price) / t) * t) / SCALE;
  // Crossing into a coarser band can leave the result off that band's grid.
  return isOnTick(rules, up) ? up : roundUpToTick(rules, up + tickSize(rules, up) / 2);
}

/** One tick up/down from an on-grid price, following the band of the destination. */
export function stepPrice(rules: ExchangeRules, price: number, ticks: number): number {
  let p = price;
  const dir = Math.sign(ticks);
  for (let i = 0; i < Math.abs(ticks); i++) {
    if (dir > 0) p = roundUpToTick(rules, p + tickSize(rules, p) / 2);
    else {
      const below = p - tickSize(rules, p - tickSize(rules, p) / 2) / 2;
      p = roundDownToTick(rules, below);
    }
  }
  return p;
}

/** Ceiling and floor for a reference price: the extreme on-grid prices inside the band. */
export function priceLimits(rules: ExchangeRules, reference: number): { ceiling: number | null; floor: number | null } {
  if (rules.dailyLimit === null) return { ceiling: null, floor: null };
  const ceiling = roundDownToTick(rules, reference * (1 + rules.dailyLimit) + 1e-9);
  const floor = roundUpToTick(rules, reference * (1 - rules.dailyLimit) - 1e-9);
  return { ceiling, floor };
}

const dtfCache = new Map<string, Intl.DateTimeFormat>();
function dtf(timeZone: string): Intl.DateTimeFormat {
  let f = dtfCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dtfCache.set(timeZone, f);
  }
  return f;
}

/** Local calendar date and time of an instant in a time zone. */
export function localParts(ts: number, timeZone: string): { date: string; minutes: number; seconds: number } {
  const parts = dtf(timeZone).formatToParts(new Date(ts));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  const hour = Number(get('hour'));
  const minute = Number(get('minute'));
  return {
    date: `${get('year')}-${get('month')}-${get('day')}`,
    minutes: hour * 60 + minute,
    seconds: hour * 3600 + minute * 60 + Number(get('second')),
  };
}

export const tradingDateOf = (ts: number, timeZone: string) => localParts(ts, timeZone).date;

const hhmm = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/** Scheduled phase at an instant (halts and vendor overrides come from status events). */
export function phaseAt(rules: ExchangeRules, ts: number): SessionPhase {
  const { minutes } = localParts(ts, rules.timeZone);
  const first = rules.sessions[0];
  if (!first || minutes < hhmm(first.start)) return 'pre_open';
  for (const w of rules.sessions) if (minutes >= hhmm(w.start) && minutes < hhmm(w.end)) return w.phase;
  return 'closed';
}

export const isAuctionPhase = (phase: SessionPhase) => phase === 'ato' || phase === 'atc' || phase === 'plo';
export const isTradingPhase = (phase: SessionPhase) =>
  phase === 'ato' || phase === 'continuous' || phase === 'atc' || phase === 'plo';

/** One exchange day's session windows as absolute instants, so per-event phase lookups need no Intl call. */
export interface DaySchedule {
  /** Local midnight that starts the day (epoch ms). */
  start: number;
  /** Next local midnight. */
  end: number;
  windows: { phase: SessionPhase; start: number; end: number }[];
}

/**
 * Schedule of the local day containing `ts`. Offsets are taken at `ts`; on a
 * DST-change day windows after the change would be an hour off, which only
 * matters for US Sundays at 02:00 (no trading).
 */
export function daySchedule(rules: ExchangeRules, ts: number): DaySchedule {
  const { seconds } = localParts(ts, rules.timeZone);
  const start = ts - seconds * 1000 - (((ts % 1000) + 1000) % 1000);
  return {
    start,
    end: start + 86_400_000,
    windows: rules.sessions.map((w) => ({ phase: w.phase, start: start + hhmm(w.start) * 60_000, end: start + hhmm(w.end) * 60_000 })),
  };
}

/** Scheduled phase at `ts`, given the schedule of its day (same answer as phaseAt). */
export function phaseInSchedule(s: DaySchedule, ts: number): SessionPhase {
  const w = s.windows;
  if (w.length === 0 || ts < w[0]!.start) return 'pre_open';
  for (let i = 0; i < w.length; i++) if (ts >= w[i]!.start && ts < w[i]!.end) return w[i]!.phase;
  return 'closed';
}
