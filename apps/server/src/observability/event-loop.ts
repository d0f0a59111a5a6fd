/**
 * Event-loop lag, sampled with perf_hooks' histogram (cheap, no timers of our
 * own). Exposed as a gauge for /metrics and read by /healthz.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import { getOrCreate } from './metrics.ts';

export interface EventLoopMonitor {
  /** Recent lag percentiles in milliseconds. */
  lag(): { p50: number; p99: number; max: number };
  stop(): void;
}

export function monitorEventLoop(registry?: Registry, resolutionMs = 20): EventLoopMonitor {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
  const read = () => ({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) });
  if (registry) {
    getOrCreate(registry, 'stock_tracker_event_loop_lag_seconds', () =>
      new Gauge({
        name: 'stock_tracker_event_loop_lag_seconds',
        help: 'Event-loop delay percentiles since the previous scrape',
        labelNames: ['quantile'] as const,
        registers: [registry],
        collect() {
          const l = read();
          this.set({ quantile: '0.5' }, l.p50 / 1000);
          this.set({ quantile: '0.99' }, l.p99 / 1000);
          this.set({ quantile: '1' }, l.max / 1000);
          // Per-scrape window: old spikes must not hide a healthy loop forever.
          h.reset();
        },
      }),
    );
  }
  return { lag: read, stop: () => h.disable() };
}
