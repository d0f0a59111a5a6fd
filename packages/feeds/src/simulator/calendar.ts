/**
 * Time for the compressed trading day.
 *
 * A simulated day lasts `dayMs` of wall time and spans the exchanges' local
 * day from half an hour before the first session (08:30 in Vietnam) to half an
 * hour after the last (15:30). The local day is cut at every session boundary
 * of every simulated exchange into segments; a segment is *trading* when some
 * exchange trades in it (ATO, continuous, ATC, PLO), otherwise a *break*
 * (before the open, lunch, after the close). Breaks are compressed hard, so a
 * fresh start never waits long for a moving market: the lunch break (90 local
 * minutes) lasts `breakMs` of wall time and every break the same wall time per
 * local minute (the half hours before the open and after the close a third of
 * `breakMs` each). Trading segments share the rest of the day in proportion
 * to their local length.
 *
 * The same layout maps wall time to exchange time (`DayLayout.localMs`): a
 * simulated event at wall offset u of day k is stamped at the local time of u
 * on day k's trading date, so a continuous trade carries 09:15–11:30 or
 * 13:00–14:30 Ho Chi Minh City time, exactly what `phaseAt` of
 * @stock-tracker/rules says is continuous (docs/feeds.md, "Simulator").
 */
import type { SessionPhase } from '@stock-tracker/protocol';
import { HNX, HOSE, UPCOM, isTradingPhase, localParts, tradingDateOf, type ExchangeRules } from '@stock-tracker/rules';

const VN_RULES: readonly ExchangeRules[] = [HOSE, HNX, UPCOM];

export const VN_TZ = 'Asia/Ho_Chi_Minh';
const DAY = 86_400_000;
const MINUTE = 60_000;
/** Local minutes of break that last `breakMs` (the lunch break's length). */
const BREAK_UNIT_MIN = 90;

/** Default wall length of the lunch break: 1% of the day (6 s of the default 10-minute day). */
export const defaultBreakMs = (dayMs: number): number => Math.floor(dayMs / 100);

/** Weekends are skipped; exchange holidays are not modelled. */
function isWeekend(d: Date): boolean {
  const wd = d.getUTCDay();
  return wd === 0 || wd === 6;
}

/**
 * Trading date of simulated day `k`: the calendar date of `startTs` in
 * Asia/Ho_Chi_Minh (rolled forward to Monday when it falls on a weekend),
 * advanced by `k` business days.
 */
export function tradingDateForDay(startTs: number, k: number): string {
  const d = new Date(`${tradingDateOf(startTs, VN_TZ)}T00:00:00Z`);
  while (isWeekend(d)) d.setTime(d.getTime() + DAY);
  // Whole weeks first so far-away days stay cheap.
  d.setTime(d.getTime() + Math.floor(k / 5) * 7 * DAY);
  for (let left = k % 5; left > 0; ) {
    d.setTime(d.getTime() + DAY);
    if (!isWeekend(d)) left--;
  }
  return d.toISOString().slice(0, 10);
}

/** The business day after `date` (`YYYY-MM-DD`), skipping Saturday and Sunday. */
export function nextBusinessDate(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  do d.setTime(d.getTime() + DAY);
  while (isWeekend(d));
  return d.toISOString().slice(0, 10);
}

/** Epoch ms of local midnight starting `date` in `timeZone` (offset taken at that midnight's neighbourhood). */
export function localMidnight(date: string, timeZone: string): number {
  const guess = Date.parse(`${date}T00:00:00Z`);
  // The zone's offset at `guess`: local wall clock read as UTC, minus the instant.
  const p = localParts(guess, timeZone);
  const offset = Date.parse(`${p.date}T00:00:00Z`) + p.seconds * 1000 - guess;
  return guess - offset;
}

const hhmm = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/** Local minutes the compressed day spans: half an hour before the first session to half an hour after the last. */
export function dayWindow(rules: readonly ExchangeRules[]): { open: number; close: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const r of rules) {
    for (const w of r.sessions) {
      first = Math.min(first, hhmm(w.start));
      last = Math.max(last, hhmm(w.end));
    }
  }
  return { open: first - 30, close: last + 30 };
}

/** Where the local day's boundaries fall inside the wall-clock day. */
export interface DayLayout {
  dayMs: number;
  breakMs: number;
  window: { open: number; close: number };
  /** Local minutes of the boundaries, ascending: window.open … window.close. */
  minutes: number[];
  /** Wall offsets (ms from the day's start, fractional) of the same boundaries: 0 … dayMs. */
  wall: number[];
  /** Per segment (between boundary i and i+1): whether some exchange trades in it. */
  trading: boolean[];
}

/**
 * The compressed day of a set of exchanges (see the header comment).
 * `breakMs` must leave at least half of the day to trading.
 */
export function dayLayout(rules: readonly ExchangeRules[], dayMs: number, breakMs: number = defaultBreakMs(dayMs), window = dayWindow(rules)): DayLayout {
  if (!(breakMs >= 0) || !Number.isFinite(breakMs)) throw new RangeError(`breakMs must be a non-negative number (got ${breakMs})`);
  const cuts = new Set<number>([window.open, window.close]);
  for (const r of rules) for (const w of r.sessions) for (const m of [hhmm(w.start), hhmm(w.end)]) if (m > window.open && m < window.close) cuts.add(m);
  const minutes = [...cuts].sort((a, b) => a - b);
  const trading: boolean[] = [];
  for (let i = 0; i + 1 < minutes.length; i++) {
    const m = minutes[i]!;
    trading.push(rules.some((r) => r.sessions.some((w) => isTradingPhase(w.phase) && hhmm(w.start) <= m && m < hhmm(w.end))));
  }
  let tradingMin = 0;
  let breakMin = 0;
  trading.forEach((t, i) => (t ? (tradingMin += minutes[i + 1]! - minutes[i]!) : (breakMin += minutes[i + 1]! - minutes[i]!)));
  const breakWall = (breakMin / BREAK_UNIT_MIN) * breakMs;
  if (tradingMin > 0 && breakWall > dayMs / 2) {
    throw new RangeError(`breaks of ${breakMs} ms per lunch break take ${Math.round(breakWall)} of ${dayMs} ms: keep breakMs at most ${Math.floor((dayMs / 2 / breakMin) * BREAK_UNIT_MIN)} ms for this day length`);
  }
  // Without trading segments (no rules) the whole day is one break.
  const perTradingMin = tradingMin > 0 ? (dayMs - breakWall) / tradingMin : 0;
  const perBreakMin = tradingMin > 0 ? breakMs / BREAK_UNIT_MIN : dayMs / Math.max(1, breakMin);
  const wall = [0];
  trading.forEach((t, i) => wall.push(wall[i]! + (minutes[i + 1]! - minutes[i]!) * (t ? perTradingMin : perBreakMin)));
  wall[wall.length - 1] = dayMs; // exact, whatever the float sums did
  return { dayMs, breakMs, window, minutes, wall, trading };
}

/** Segment index containing wall offset `u` (clamped to the day). */
function segmentAtWall(l: DayLayout, u: number): number {
  let i = 0;
  while (i + 2 < l.wall.length && u >= l.wall[i + 1]!) i++;
  return i;
}

/** Wall offset (fractional ms from the day's start) at which local minute `minute` begins. */
export function wallOffsetOfMinute(l: DayLayout, minute: number): number {
  const m = Math.min(l.window.close, Math.max(l.window.open, minute));
  let i = 0;
  while (i + 2 < l.minutes.length && m >= l.minutes[i + 1]!) i++;
  const [m0, m1, w0, w1] = [l.minutes[i]!, l.minutes[i + 1]!, l.wall[i]!, l.wall[i + 1]!];
  return w0 + ((m - m0) / (m1 - m0)) * (w1 - w0);
}

/**
 * Local time of day, in ms since local midnight, at wall offset `u` of the
 * day: always inside the segment containing `u` (never on its end), so an
 * event is stamped in the phase the simulator was in.
 */
export function localMsAt(l: DayLayout, u: number): number {
  const i = segmentAtWall(l, Math.min(l.dayMs, Math.max(0, u)));
  const [m0, m1, w0, w1] = [l.minutes[i]! * MINUTE, l.minutes[i + 1]! * MINUTE, l.wall[i]!, l.wall[i + 1]!];
  const x = w1 > w0 ? m0 + ((u - w0) / (w1 - w0)) * (m1 - m0) : m0;
  return Math.min(m1 - 1, Math.max(m0, Math.floor(x)));
}

export interface PhaseChange {
  /** Epoch ms (wall). */
  ts: number;
  phase: SessionPhase;
  /** Local minute of the change (its exchange time: `pre_open` at the window's open). */
  minute: number;
  /** Exact wall offset from the day's start (fractional). */
  offset: number;
}

/**
 * Phase changes of one exchange during one simulated day starting at
 * `dayStart`: `pre_open` at the start, each session window at its start,
 * `closed` after the last; wall instants from the layout (floored to ms).
 * `layout` defaults to the exchange's own; the simulator passes the layout of
 * all its exchanges (the same for HOSE, HNX and UPCOM: they share the window,
 * the lunch break and the trading hours' union).
 */
export function phaseChanges(rules: ExchangeRules, dayStart: number, dayMs: number, layout?: DayLayout | { open: number; close: number }, breakMs?: number): PhaseChange[] {
  // Vietnamese exchanges share one day (window, lunch, trading hours): lay it out from all three, as the simulator does.
  const all = rules.market === 'VN' ? VN_RULES : [rules];
  const l = layout && 'wall' in layout ? layout : dayLayout(all, dayMs, breakMs ?? defaultBreakMs(dayMs), layout ?? dayWindow(all));
  const at = (minute: number): PhaseChange => {
    const offset = wallOffsetOfMinute(l, minute);
    return { ts: dayStart + Math.floor(offset), phase: 'pre_open', minute, offset };
  };
  const out: PhaseChange[] = [{ ts: dayStart, phase: 'pre_open', minute: l.window.open, offset: 0 }];
  for (const w of rules.sessions) {
    if (out[out.length - 1]!.phase !== w.phase) out.push({ ...at(hhmm(w.start)), phase: w.phase });
  }
  const last = rules.sessions[rules.sessions.length - 1];
  if (last) out.push({ ...at(hhmm(last.end)), phase: 'closed' });
  return out;
}

/** The phases an exchange goes through in a day, in order (what `phaseChanges` emits). */
export function phaseSequence(rules: ExchangeRules): SessionPhase[] {
  return phaseChanges(rules, 0, 100_000).map((c) => c.phase);
}

/**
 * The next scheduled phase change of an exchange after `ts`, given the phase
 * it is in (from the feed, which may disagree with the schedule): the first
 * session boundary after `ts` that enters another phase, on the next business
 * day once the day's sessions are over (holidays are not known). Used for
 * "trading resumes at 13:00" in /api/market/status.
 */
export function nextPhaseChange(rules: ExchangeRules, phase: SessionPhase, ts: number): { phase: SessionPhase; at: number } | null {
  if (rules.sessions.length === 0) return null;
  const boundaries = (date: string) => {
    const midnight = localMidnight(date, rules.timeZone);
    const out: { phase: SessionPhase; at: number }[] = [];
    rules.sessions.forEach((w, i) => {
      const prev = rules.sessions[i - 1];
      if (!(prev && prev.end === w.start && prev.phase === w.phase)) out.push({ phase: w.phase, at: midnight + hhmm(w.start) * MINUTE });
      const next = rules.sessions[i + 1];
      if (!next || next.start !== w.end) out.push({ phase: 'closed', at: midnight + hhmm(w.end) * MINUTE });
    });
    return out;
  };
  let date = localParts(ts, rules.timeZone).date;
  const d = new Date(`${date}T00:00:00Z`);
  if (isWeekend(d)) date = nextBusinessDate(date);
  for (let tries = 0; tries < 2; tries++) {
    const hit = boundaries(date).find((b) => b.at > ts && b.phase !== phase);
    if (hit) return hit;
    date = nextBusinessDate(date);
  }
  return null;
}
