export * from './backoff.ts';
export * from './reconnect.ts';
export * from './positions.ts';
export * from './stream-client.ts';
export * from './rest.ts';
