export * from './signalr.ts';
export * from './ssi-token.ts';
export * from './ssi-rest.ts';
export * from './ssi-reference.ts';
export * from './ssi-feed.ts';
