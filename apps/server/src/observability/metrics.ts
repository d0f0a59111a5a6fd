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
interface FeedStatusLike {
  connected: boolean;
  malformed: number;
  lastEventTs: number | null;
  errors?: Record<string, number>;
  lastMessageAgeMs?: number | null;
  messagesPerSecond?: number;
  reconnects?: number;
}

export function feedStatusGauges(registry: Registry, feed: { name: string; status(): FeedStatusLike }, now: () => number): void {
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
  // Vendor feeds report these (simulator/replay leave them undefined: no series).
  getOrCreate(registry, 'feed_last_message_age_seconds', () =>
    new Gauge({
      name: 'feed_last_message_age_seconds',
      help: 'Seconds since the last vendor message of any kind (keep-alives included)',
      labelNames: ['feed'] as const,
      registers: [registry],
      collect() {
        const age = feed.status().lastMessageAgeMs;
        if (typeof age === 'number') this.set(labels, age / 1000);
      },
    }),
  );
  getOrCreate(registry, 'feed_messages_per_second', () =>
    new Gauge({
      name: 'feed_messages_per_second',
      help: 'Vendor messages per second over the last few seconds',
      labelNames: ['feed'] as const,
      registers: [registry],
      collect() {
        const r = feed.status().messagesPerSecond;
        if (typeof r === 'number') this.set(labels, r);
      },
    }),
  );
  getOrCreate(registry, 'feed_reconnects', () =>
    new Gauge({
      name: 'feed_reconnects',
      help: 'Reconnections of the vendor feed since start',
      labelNames: ['feed'] as const,
      registers: [registry],
      collect() {
        const r = feed.status().reconnects;
        if (typeof r === 'number') this.set(labels, r);
      },
    }),
  );
  getOrCreate(registry, 'feed_errors', () =>
    new Gauge({
      name: 'feed_errors',
      help: 'Feed errors since start, by kind',
      labelNames: ['feed', 'kind'] as const,
      registers: [registry],
      collect() {
        for (const [kind, n] of Object.entries(feed.status().errors ?? {})) this.set({ ...labels, kind }, n);
      },
    }),
  );
}
