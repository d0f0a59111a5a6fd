/**
 * Time for the compressed trading day: which trading date a simulated day
 * carries, and where each exchange's session boundaries fall inside `dayMs`.
 */
import type { SessionPhase } from '@stock-tracker/protocol';
import { tradingDateOf, type ExchangeRules } from '@stock-tracker/rules';

const VN_TZ = 'Asia/Ho_Chi_Minh';
const DAY = 86_400_000;

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

export interface PhaseChange {
  /** Epoch ms. */
  ts: number;
  phase: SessionPhase;
}

/**
 * Phase changes of one exchange during one simulated day starting at
 * `dayStart`: `pre_open` at the start, each session window at its start
 * (local time mapped proportionally into `dayMs`), `closed` after the last.
 */
export function phaseChanges(rules: ExchangeRules, dayStart: number, dayMs: number, window: { open: number; close: number }): PhaseChange[] {
  const at = (local: string) => dayStart + Math.floor(((hhmm(local) - window.open) / (window.close - window.open)) * dayMs);
  const out: PhaseChange[] = [{ ts: dayStart, phase: 'pre_open' }];
  for (const w of rules.sessions) {
    if (out[out.length - 1]!.phase !== w.phase) out.push({ ts: at(w.start), phase: w.phase });
  }
  const last = rules.sessions[rules.sessions.length - 1];
  if (last) out.push({ ts: at(last.end), phase: 'closed' });
  return out;
}

/** The phases an exchange goes through in a day, in order (what `phaseChanges` emits). */
export function phaseSequence(rules: ExchangeRules): SessionPhase[] {
  return phaseChanges(rules, 0, 1_000, dayWindow([rules])).map((c) => c.phase);
}
