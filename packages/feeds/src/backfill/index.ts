export * from './types.ts';
export * from './dates.ts';
export * from './ssi-history.ts';
export * from './alpaca-history.ts';
export * from './run-backfill.ts';
export * from './progress.ts';
