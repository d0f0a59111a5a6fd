export * from './types.ts';
export * from './fees.ts';
export * from './calendar.ts';
export * from './core.ts';
export * from './paper-broker.ts';
export * from './strategies.ts';
export * from './hub.ts';
export * from './backtest.ts';
