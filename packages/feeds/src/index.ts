export * from './feed.ts';
export * from './simulator/index.ts';
export * from './tape.ts';
export * from './parsers/index.ts';
export * from './replay.ts';
