export * from './db.ts';
export * from './migrate.ts';
export * from './repositories.ts';
export * from './writer.ts';
export { detectTimescale, timescaleStatements, HYPERTABLES } from './timescale.ts';
export type { Logger as StorageLogger } from './logger.ts';
export * from './auth-repo.ts';
