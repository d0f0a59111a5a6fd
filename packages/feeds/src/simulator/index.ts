export { Simulator, DEFAULT_DAY_MS, DEFAULT_INTENSITY, MIN_DAY_MS, type SimulatorOptions } from './simulator.ts';
export { SimulatorFeed, type SimulatorFeedOptions } from './simulator-feed.ts';
export { LISTING, VN30, EXCHANGE_INDEX, selectUniverse, type ListedSymbol, type Sector, type VnExchange } from './universe.ts';
export { tradingDateForDay, phaseChanges, phaseSequence, dayWindow, type PhaseChange } from './calendar.ts';
export { Rng } from './rng.ts';
