/**
 * Is a market trading right now? The stale-feed watchdog only expects data
 * while one is: a closed market, a lunch break or a halted exchange is quiet
 * by design.
 *
 * Sources, per exchange present on the board:
 * - the engine's quote states: their `phase`/`halted` come from the vendor's
 *   status messages (else the schedule at the row's time). A row's phase is
 *   believed only while no schedule boundary has passed since the row's time
 *   (same local day, same session window): a vendor status from a minute ago
 *   beats the static schedule (special sessions, a market closed for the
 *   day), one from before the lunch break or yesterday does not, because the
 *   feed that should have announced the change may be the thing that died.
 * - otherwise the exchange's schedule (engine rules) at `now`, with Saturday
 *   and Sunday closed (both markets; holidays are not in the rules, a vendor
 *   status is what tells them).
 *
 * Feeds that run their own session clock (the simulator's compressed day, a
 * replayed tape) are `calendar: 'feed'`: the real exchange calendar says
 * nothing about them, so the phases of the rows of the feed's current
 * trading day are the answer, with no expiry.
 */
import type { QuoteState, SessionPhase } from '@stock-tracker/protocol';
import { daySchedule, isTradingPhase, localParts, phaseInSchedule, rulesFor, type DaySchedule, type ExchangeRules } from '@stock-tracker/rules';

export interface ExchangeActivity {
  exchange: string;
  phase: SessionPhase;
  halted: boolean;
  trading: boolean;
  /** `feed`: from recent quote states (vendor status); `schedule`: the exchange calendar. */
  source: 'feed' | 'schedule';
}

export interface MarketActivity {
  trading: boolean;
  exchanges: ExchangeActivity[];
}

/** Number of session boundaries at or before `ts`: equal for two instants iff no boundary lies between them (within one day). */
function segmentOf(s: DaySchedule, ts: number): number {
  let n = 0;
  for (const w of s.windows) {
    if (w.start <= ts) n++;
    if (w.end <= ts) n++;
  }
  return n;
}

function isWeekend(rules: ExchangeRules, ts: number): boolean {
  const day = new Date(`${localParts(ts, rules.timeZone).date}T00:00:00Z`).getUTCDay();
  return day === 0 || day === 6;
}

function scheduled(rules: ExchangeRules, s: DaySchedule, now: number): SessionPhase {
  return isWeekend(rules, now) ? 'closed' : phaseInSchedule(s, now);
}

/** The phase most of the rows say (ties: the first seen), as the market status route does. */
function majority(rows: readonly QuoteState[]): SessionPhase {
  const counts = new Map<SessionPhase, number>();
  for (const q of rows) counts.set(q.phase, (counts.get(q.phase) ?? 0) + 1);
  let best: SessionPhase = rows[0]!.phase;
  for (const [p, n] of counts) if (n > counts.get(best)!) best = p;
  return best;
}

export interface ActivityOptions {
  /** Markets assumed when the board is empty (nothing delivered or stored yet). */
  fallback?: readonly ExchangeRules[];
  /** `exchange` (default): live feeds, vendor phases expire at schedule boundaries; `feed`: the feed's own phases (simulator, replay). */
  calendar?: 'exchange' | 'feed';
}

function fromRows(exchange: string, current: readonly QuoteState[]): ExchangeActivity {
  const open = current.filter((q) => !q.halted);
  const trading = open.some((q) => isTradingPhase(q.phase));
  return { exchange, phase: majority(open.length > 0 ? open : current), halted: open.length === 0, trading, source: 'feed' };
}

/** The rows of the newest trading day in a group: what a feed on its own clock currently says. */
function latestDay(rows: readonly QuoteState[]): QuoteState[] {
  let newest = rows[0]!;
  for (const q of rows) if (q.ts > newest.ts) newest = q;
  return rows.filter((q) => q.tradingDate === newest.tradingDate);
}

/** Activity of every exchange on the board at `now`. */
export function marketActivity(quotes: Iterable<QuoteState>, now: number, opts: ActivityOptions = {}): MarketActivity {
  const fallback = opts.fallback ?? [];
  const groups = new Map<string, { rules: ExchangeRules; rows: QuoteState[] }>();
  for (const q of quotes) {
    const key = q.exchange.toUpperCase();
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { rules: rulesFor(q.exchange, q.market), rows: [] }));
    g.rows.push(q);
  }
  const exchanges: ExchangeActivity[] = [];
  for (const [exchange, { rules, rows }] of groups) {
    if (opts.calendar === 'feed') {
      exchanges.push(fromRows(exchange, latestDay(rows)));
      continue;
    }
    const s = daySchedule(rules, now);
    const seg = segmentOf(s, now);
    const current = rows.filter((q) => q.ts >= s.start && q.ts < s.end && segmentOf(s, q.ts) === seg);
    if (current.length > 0) {
      exchanges.push(fromRows(exchange, current));
    } else {
      const phase = scheduled(rules, s, now);
      exchanges.push({ exchange, phase, halted: false, trading: isTradingPhase(phase), source: 'schedule' });
    }
  }
  if (groups.size === 0) {
    for (const rules of fallback) {
      const phase = scheduled(rules, daySchedule(rules, now), now);
      exchanges.push({ exchange: rules.exchange, phase, halted: false, trading: isTradingPhase(phase), source: 'schedule' });
    }
  }
  exchanges.sort((a, b) => (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : 0));
  return { trading: exchanges.some((e) => e.trading), exchanges };
}

/** `HOSE continuous, HNX lunch_break (halted)`: for logs, alerts and /readyz. */
export function describeActivity(a: MarketActivity): string {
  if (a.exchanges.length === 0) return 'no market known';
  return a.exchanges.map((e) => `${e.exchange} ${e.phase}${e.halted ? ' (halted)' : ''}`).join(', ');
}
