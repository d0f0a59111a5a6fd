export * from './types.ts';
export * from './ring.ts';
export * from './publisher.ts';
export * from './memory-bus.ts';
export * from './engine-output.ts';
export * from './redis/bus.ts';
