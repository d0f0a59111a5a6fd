/**
 * The stale-feed watchdog as every role that runs a feed configures it (`all`,
 * `collector`): from FEED_STALE_AFTER_MS and the feed kind, its notices
 * published as system alerts. Null when FEED_STALE_AFTER_MS=0 turns it off.
 */
import { HNX, HOSE, UPCOM, US } from '@stock-tracker/rules';
import type { Config } from '../config.ts';
import type { StreamPublisher } from '../bus/types.ts';
import { publishSystemAlert } from './system-alerts.ts';
import { FeedWatchdog, type FeedWatchdogOptions } from './watchdog.ts';

export interface ConfiguredWatchdogDeps extends Pick<FeedWatchdogOptions, 'feed' | 'quotes' | 'clock' | 'registry' | 'log'> {
  marketTime: () => number;
  /** Where feed_stale / feed_recovered notices are published (the collector role: its takeover guard). */
  publisher: StreamPublisher;
}

export function configuredWatchdog(feed: Config['feed'], d: ConfiguredWatchdogDeps): FeedWatchdog | null {
  return feed.staleAfterMs > 0
    ? new FeedWatchdog({
        feed: d.feed,
        quotes: d.quotes,
        marketTime: d.marketTime,
        clock: d.clock,
        staleAfterMs: feed.staleAfterMs,
        fallbackRules: feed.kind === 'alpaca' ? [US] : [HOSE, HNX, UPCOM],
        // The simulator's compressed day and replayed tapes keep their own session clock.
        calendar: feed.kind === 'simulator' || feed.kind === 'replay' ? 'feed' : 'exchange',
        registry: d.registry,
        log: d.log,
        onAlert: (alert) => publishSystemAlert(d.publisher, alert),
      })
    : null;
}
