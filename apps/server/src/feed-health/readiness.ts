/** /readyz check for the stale-feed watchdog: not ready while market data is stale, with the watchdog's reason. */
import type { ReadinessCheck } from '../http/readiness.ts';
import type { FeedWatchdog } from './watchdog.ts';

export const FEED_FRESHNESS_CHECK = 'feed_freshness';

export const feedFreshnessCheck = (watchdog: Pick<FeedWatchdog, 'state'>): ReadinessCheck => ({
  name: FEED_FRESHNESS_CHECK,
  async run() {
    const s = watchdog.state();
    return { ok: !s.stale, detail: s.summary };
  },
});
