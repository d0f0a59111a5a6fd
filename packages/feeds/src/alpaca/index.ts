export * from './alpaca-rest.ts';
export * from './alpaca-errors.ts';
export * from './alpaca-reference.ts';
export * from './alpaca-feed.ts';
