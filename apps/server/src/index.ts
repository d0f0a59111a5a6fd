/** Public API of the server package (used by tests, benchmarks and future roles). */
export { loadConfig, redactConfig, ConfigError, type Config } from './config.ts';
export { buildApp } from './http/app.ts';
export type { AppDeps, LiveMarket, AlertRuleSink, FeedInfo, HttpSettings } from './http/deps.ts';
export { runChecks, databaseCheck, migrationsCheck, feedCheck, writerCheck, type ReadinessCheck, type ReadinessReport } from './http/readiness.ts';
export { Collector, type CollectorOptions, type CollectorStatus, type OutputWriter } from './collector/index.ts';
export { startAll, displayUrl, type RunningServer, type StartOptions } from './roles/all.ts';
export { createLogger, silentLogger } from './observability/logger.ts';
export { createRegistry } from './observability/metrics.ts';
export { monitorEventLoop } from './observability/event-loop.ts';
export { createAuth, authServiceFromConfig, AuthService, type AuthWiring, type Principal } from './auth/index.ts';
