/**
 * SSI FastConnect code tables: trading session codes, aggressor side and
 * exchange names, in both directions.
 */
import type { SessionPhase, Side } from '@stock-tracker/protocol';

/** Vendor session code (upper-cased) -> phase. Sources disagree on spelling, so several forms map. */
const SESSION_TO_PHASE: Record<string, SessionPhase> = {
  ATO: 'ato',
  ATC: 'atc',
  LO: 'continuous',
  CONTINUOUS: 'continuous',
  PT: 'plo', // HOSE put-through window after ATC
  PLO: 'plo', // HNX post-close session
  BREAK: 'lunch_break',
  LB: 'lunch_break',
  INTERMISSION: 'lunch_break',
  C: 'closed',
  CLOSE: 'closed',
  CLOSED: 'closed',
  PRE: 'pre_open',
  PREOPEN: 'pre_open',
  PRE_OPEN: 'pre_open',
};

const PHASE_TO_SESSION: Record<SessionPhase, string> = {
  pre_open: 'PRE',
  ato: 'ATO',
  continuous: 'LO',
  lunch_break: 'BREAK',
  atc: 'ATC',
  plo: 'PLO',
  closed: 'CLOSED',
};

export const phaseOfSession = (code: string | undefined): SessionPhase | undefined =>
  code === undefined ? undefined : SESSION_TO_PHASE[code.toUpperCase()];
export const sessionOfPhase = (phase: SessionPhase): string => PHASE_TO_SESSION[phase];

/** `BU` buy-up (active buy) and `SD` sell-down (active sell); v3 feeds write `B`/`S`. */
export function sideOfCode(code: string | undefined): Exclude<Side, 'unknown'> | undefined {
  switch (code?.toUpperCase()) {
    case 'BU':
    case 'B':
    case 'BUY':
      return 'buy';
    case 'SD':
    case 'S':
    case 'SELL':
      return 'sell';
    default:
      return undefined;
  }
}
export const codeOfSide = (side: Side | undefined): string => (side === 'buy' ? 'BU' : side === 'sell' ? 'SD' : '');

/** Halted when the status says so; `N` (normal) and anything else trade. */
export const isHaltedStatus = (code: string | undefined) => code !== undefined && ['H', 'HALT', 'HALTED'].includes(code.toUpperCase());

const EXCHANGE_ALIASES: Record<string, string> = { HSX: 'HOSE', HASTC: 'HNX' };
export function normalizeExchange(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  const up = code.toUpperCase();
  return EXCHANGE_ALIASES[up] ?? up;
}
