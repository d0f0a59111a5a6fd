export { Simulator, DEFAULT_DAY_MS, DEFAULT_INTENSITY, MIN_DAY_MS, type SimulatorOptions, type SimulatorClock } from './simulator.ts';
export { SimulatorFeed, SIM_START_PHASES, type SimulatorFeedOptions, type SimStartPhase } from './simulator-feed.ts';
export { LISTING, VN30, EXCHANGE_INDEX, selectUniverse, type ListedSymbol, type Sector, type VnExchange } from './universe.ts';
export {
  tradingDateForDay,
  nextBusinessDate,
  localMidnight,
  phaseChanges,
  phaseSequence,
  dayWindow,
  dayLayout,
  defaultBreakMs,
  localMsAt,
  wallOffsetOfMinute,
  nextPhaseChange,
  type PhaseChange,
  type DayLayout,
} from './calendar.ts';
export { Rng } from './rng.ts';
