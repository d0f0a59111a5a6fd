export * from './log.ts';
export * from './backoff.ts';
export * from './timers.ts';
export * from './http.ts';
export * from './feed-status.ts';
export * from './trade-ids.ts';
