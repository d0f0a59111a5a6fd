/**
 * The exchanges' session phase (ATO, continuous, lunch, ATC…) and when the
 * next one starts, polled from /api/market/status. Outside trading each
 * exchange says why the board is still and when trading resumes, so a quiet
 * board never looks broken. Times are the exchange's local time on the
 * feed's clock (the simulator's is the simulated exchange clock).
 */
import { useQuery } from '@tanstack/react-query';
import type { MarketStatusResponse, SessionPhase } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import { timeZoneOf } from '../lib/market.ts';

/**
 * Often enough to follow the simulator's compressed day, whose breaks last
 * seconds (docs/feeds.md, "Simulator"); one small request per poll.
 */
export const PHASE_POLL_MS = 2_000;

// Every user-visible string of the phase display lives here (one place for the coming translations).
export const PHASE_LABELS: Record<SessionPhase, string> = {
  pre_open: 'Pre-open',
  ato: 'ATO',
  continuous: 'Continuous',
  lunch_break: 'Lunch break',
  atc: 'ATC',
  plo: 'Put-through / PLO',
  closed: 'Closed',
};

export const PHASE_TEXT = {
  listLabel: 'Session phase by exchange',
  halted: 'Halted — no trading on this exchange for now',
  /** While trading: what comes next. */
  next: (phase: string, time: string) => `next: ${phase} at ${time}`,
  /** Outside trading: why the board is still, and until when. */
  quiet: {
    pre_open: (next: string, time: string) => `Pre-open — ${next} starts at ${time}`,
    lunch_break: (_next: string, time: string) => `Lunch break — trading resumes at ${time}`,
    closed: (_next: string, time: string) => `Closed — trading resumes at ${time}`,
  } as Record<'pre_open' | 'lunch_break' | 'closed', (next: string, time: string) => string>,
  /** Outside trading with no schedule to say when it resumes. */
  quietUnknown: {
    pre_open: 'Pre-open',
    lunch_break: 'Lunch break',
    closed: 'Closed',
  } as Record<'pre_open' | 'lunch_break' | 'closed', string>,
} as const;

const QUIET = new Set<SessionPhase>(['pre_open', 'lunch_break', 'closed']);

const hm = new Map<string, Intl.DateTimeFormat>();
const day = new Map<string, Intl.DateTimeFormat>();
function fmt(cache: Map<string, Intl.DateTimeFormat>, timeZone: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  let f = cache.get(timeZone);
  if (!f) cache.set(timeZone, (f = new Intl.DateTimeFormat('en-GB', { timeZone, ...opts })));
  return f;
}

/** `HH:mm` in the exchange's zone, with the weekday and date when it is not on the day of `now`. */
export function formatNextAt(at: number, now: number, timeZone: string): string {
  const time = fmt(hm, timeZone, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
  const d = fmt(day, timeZone, { weekday: 'short', day: '2-digit', month: '2-digit' });
  return d.format(at) === d.format(now) ? time : `${time} ${d.format(at).replace(',', '')}`;
}

type ExchangeStatus = MarketStatusResponse['exchanges'][number];

/** The words for one exchange: its phase, and either what comes next or why it is quiet. */
export function describeExchange(e: ExchangeStatus, now: number): { phase: string; detail: string; quiet: boolean } {
  const phase = PHASE_LABELS[e.phase] ?? e.phase;
  if (e.halted) return { phase, detail: PHASE_TEXT.halted, quiet: true };
  const next = e.next ?? null;
  const when = next ? formatNextAt(next.at, now, timeZoneOf(e.exchange)) : '';
  const nextName = next ? (PHASE_LABELS[next.phase] ?? next.phase) : '';
  if (QUIET.has(e.phase)) {
    const key = e.phase as 'pre_open' | 'lunch_break' | 'closed';
    return { phase, detail: next ? PHASE_TEXT.quiet[key](nextName, when) : PHASE_TEXT.quietUnknown[key], quiet: true };
  }
  return { phase, detail: next ? PHASE_TEXT.next(nextName, when) : '', quiet: false };
}

export function MarketPhase() {
  const { api } = useServices();
  const { data } = useQuery({ queryKey: ['marketStatus'], queryFn: ({ signal }) => api.marketStatus({ signal }), refetchInterval: PHASE_POLL_MS });
  if (!data) return null;
  return (
    <ul className="phases" aria-label={PHASE_TEXT.listLabel}>
      {data.exchanges.map((e) => {
        const d = describeExchange(e, data.ts);
        return (
          <li key={e.exchange} className={`phase phase-${e.phase}${d.quiet ? ' phase-quiet' : ''}`} data-exchange={e.exchange} data-phase={e.phase}>
            <strong>{e.exchange}</strong> {d.quiet ? d.detail : d.phase}
            {!d.quiet && d.detail && <span className="phase-next"> · {d.detail}</span>}
          </li>
        );
      })}
    </ul>
  );
}
