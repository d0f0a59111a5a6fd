export * from './market-activity.ts';
export * from './watchdog.ts';
export * from './system-alerts.ts';
export * from './readiness.ts';
