import { Registry } from 'prom-client';
import { feedStatusGauges } from '../src/observability/metrics.ts';

describe('feed gauges', () => {
  it('expose connection, lag, vendor health and errors by kind from the feed status at scrape time', async () => {
    const registry = new Registry();
    let status = {
      connected: true,
      malformed: 3,
      lastEventTs: 1_000_000 as number | null,
      errors: { not_json: 2, auth: 1 } as Record<string, number>,
      lastMessageAgeMs: 2_500 as number | null | undefined,
      messagesPerSecond: 41.5 as number | undefined,
      reconnects: 4 as number | undefined,
    };
    feedStatusGauges(registry, { name: 'ssi', status: () => status }, () => 1_010_000);
    let text = await registry.metrics();
    expect(text).toMatch(/feed_connected\{feed="ssi"\} 1/);
    expect(text).toMatch(/feed_malformed_messages\{feed="ssi"\} 3/);
    expect(text).toMatch(/feed_lag_seconds\{feed="ssi"\} 10/);
    expect(text).toMatch(/feed_last_message_age_seconds\{feed="ssi"\} 2.5/);
    expect(text).toMatch(/feed_messages_per_second\{feed="ssi"\} 41.5/);
    expect(text).toMatch(/feed_reconnects\{feed="ssi"\} 4/);
    expect(text).toMatch(/feed_errors\{feed="ssi",kind="not_json"\} 2/);
    expect(text).toMatch(/feed_errors\{feed="ssi",kind="auth"\} 1/);

    // Read at scrape time: a later status shows up without re-registering.
    status = { ...status, connected: false, reconnects: 5 };
    text = await registry.metrics();
    expect(text).toMatch(/feed_connected\{feed="ssi"\} 0/);
    expect(text).toMatch(/feed_reconnects\{feed="ssi"\} 5/);
  });

  it('leave vendor-only series empty for the simulator', async () => {
    const registry = new Registry();
    feedStatusGauges(registry, { name: 'simulator', status: () => ({ connected: true, malformed: 0, lastEventTs: null, errors: {} }) }, () => 0);
    const text = await registry.metrics();
    expect(text).not.toMatch(/feed_messages_per_second\{/);
    expect(text).not.toMatch(/feed_lag_seconds\{/);
  });
});
