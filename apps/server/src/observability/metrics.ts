/**
 * The metrics registry of one process (prom-client). Components register their
 * own metrics on the registry they are given (storage writer, WS gateway);
 * this module owns the process-wide ones: default Node metrics, HTTP latency
 * and the feed/collector counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HttpMetrics {
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
}

export function createRegistry(opts: { defaultLabels?: Record<string, string>; processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  // Process CPU/memory/handles/GC and Node's own event-loop lag gauges.
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Returns the metric already registered under `name` or registers a new one (idempotent per registry). */
export function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function httpMetrics(registry: Registry): HttpMetrics {
  return {
    requestDuration: getOrCreate(
      registry,
      'http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'http_request_duration_seconds',
          help: 'HTTP request latency by route pattern and status',
          labelNames: ['method', 'route', 'status_code'] as const,
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers: [registry],
        }),
    ),
  };
}

export interface FeedMetrics {
  events: Counter<'feed' | 'type'>;
  rejected: Counter<'feed'>;
}

export function feedMetrics(registry: Registry): FeedMetrics {
  return {
    events: getOrCreate(registry, 'feed_events_total', () =>
      new Counter({ name: 'feed_events_total', help: 'Normalized market events received from the feed', labelNames: ['feed', 'type'] as const, registers: [registry] }),
    ),
    rejected: getOrCreate(registry, 'feed_events_rejected_total', () =>
      new Counter({ name: 'feed_events_rejected_total', help: 'Events the engine rejected as invalid (counted and skipped)', labelNames: ['feed'] as const, registers: [registry] }),
    ),
  };
}

/** Gauges read from the feed's own status at scrape time. */
export function feedStatusGauges(registry: Registry, feed: { name: string; status(): { connected: boolean; malformed: number; lastEventTs: number | null } }, now: () => number): void {
  const labels = { feed: feed.name };
  getOrCreate(registry, 'feed_connected', () =>
    new Gauge({ name: 'feed_connected', help: '1 when the feed is connected', labelNames: ['feed'] as const, registers: [registry], collect() { this.set(labels, feed.status().connected ? 1 : 0); } }),
  );
  getOrCreate(registry, 'feed_malformed_messages', () =>
    new Gauge({ name: 'feed_malformed_messages', help: 'Malformed vendor messages the feed adapter skipped so far', labelNames: ['feed'] as const, registers: [registry], collect() { this.set(labels, feed.status().malformed); } }),
  );
  getOrCreate(registry, 'feed_lag_seconds', () =>
    new Gauge({
      name: 'feed_lag_seconds',
      help: 'Wall-clock time minus the timestamp of the latest feed event',
      labelNames: ['feed'] as const,
      registers: [registry],
      collect() {
        const ts = feed.status().lastEventTs;
        if (ts !== null) this.set(labels, Math.max(0, (now() - ts) / 1000));
      },
    }),
  );
}
