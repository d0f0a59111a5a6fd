/** Public API of the server package (used by tests, benchmarks and future roles). */
export { loadConfig, redactConfig, ConfigError, type Config } from './config.ts';
export { buildApp } from './http/app.ts';
export type { AppDeps, LiveMarket, AlertRuleSink, FeedInfo, HttpSettings } from './http/deps.ts';
export { runChecks, databaseCheck, migrationsCheck, feedCheck, writerCheck, type ReadinessCheck, type ReadinessReport } from './http/readiness.ts';
export { MarketPipeline, type PipelineOptions, type PipelineStatus, type OutputWriter } from './collector/index.ts';
export { startAll, displayUrl, type RunningServer, type StartOptions } from './roles/all.ts';
export { startCollector, type CollectorRoleOptions, type RunningCollector, type CollectorRoleStatus } from './roles/collector.ts';
export { startApi, type ApiRoleOptions, type RunningApi } from './roles/api.ts';
export { RedisMarketView, LiveViewWriter, AlertRulePublisher, AlertRuleFollower, viewKeys } from './market-view/index.ts';
export { createLogger, silentLogger } from './observability/logger.ts';
export { createRegistry } from './observability/metrics.ts';
export { monitorEventLoop } from './observability/event-loop.ts';
export { createAuth, authServiceFromConfig, AuthService, type AuthWiring, type Principal } from './auth/index.ts';
