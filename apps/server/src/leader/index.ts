export * from './leader-lock.ts';
export * from './elected-publisher.ts';
