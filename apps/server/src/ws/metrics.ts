/**
 * Prometheus metrics of the gateway. Reuses metrics already registered under
 * the same name so that a gateway re-created on the same registry (tests,
 * hot restart) does not throw.
 */
import { Counter, Gauge, Registry } from 'prom-client';

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}
function gauge(registry: Registry, name: string, help: string): Gauge {
  return (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] });
}

export interface WsMetrics {
  connections: Gauge;
  subscriptions: Gauge;
  messagesSent: Counter<'channel' | 'type'>;
  conflated: Counter<'channel'>;
  slowConsumerCloses: Counter<'channel'>;
  protocolErrors: Counter<'code'>;
  refusedUpgrades: Counter<'reason'>;
}

export function createWsMetrics(registry: Registry = new Registry()): WsMetrics {
  return {
    connections: gauge(registry, 'ws_connections', 'Open WebSocket connections.'),
    subscriptions: gauge(registry, 'ws_subscriptions', 'Stream subscriptions across all connections (a wildcard counts once).'),
    messagesSent: counter(registry, 'ws_messages_sent_total', 'Frames sent to clients.', ['channel', 'type']),
    conflated: counter(registry, 'ws_conflated_updates_total', 'State updates replaced by a newer one for a slow client (dropped).', ['channel']),
    slowConsumerCloses: counter(registry, 'ws_slow_consumer_closes_total', 'Connections closed because their queue exceeded its byte cap.', ['channel']),
    protocolErrors: counter(registry, 'ws_protocol_errors_total', 'Error messages sent for invalid client frames.', ['code']),
    refusedUpgrades: counter(registry, 'ws_upgrades_refused_total', 'Upgrade requests refused before the handshake.', ['reason']),
  };
}
