/**
 * What the collector keeps in Redis besides the bus (bus/redis/keys.ts), for
 * api replicas that hold no market state of their own. Same prefix as the bus.
 *
 *   <p>view:refs       hash    symbol -> SymbolRef JSON (the current trading day's reference data)
 *   <p>view:summary    hash    symbol -> {day, phases} JSON (today's session summary so far)
 *   <p>view:bars       hash    symbol -> Bar[] JSON (the last few 1m bars, the open one last)
 *   <p>view:status     string  ViewStatus JSON, expires when the leader stops refreshing it
 *   <p>alert-rules     pub/sub channel of alert rule changes (api replicas -> collector)
 *   <p>leader:collector  the collector's leader lock (leader/leader-lock.ts)
 */
export interface ViewKeys {
  readonly refs: string;
  readonly summary: string;
  readonly bars: string;
  readonly status: string;
  readonly alertRules: string;
  readonly leaderLock: string;
}

export function viewKeys(prefix: string): ViewKeys {
  return {
    refs: `${prefix}view:refs`,
    summary: `${prefix}view:summary`,
    bars: `${prefix}view:bars`,
    status: `${prefix}view:status`,
    alertRules: `${prefix}alert-rules`,
    leaderLock: `${prefix}leader:collector`,
  };
}

/** The leading collector's heartbeat: engine time and feed state, for /api/market/status and readiness. */
export interface ViewStatus {
  /** Engine time (event time) when written. */
  now: number;
  /** Wall time when written (epoch ms). */
  at: number;
  /** Leader id (host:pid). */
  leader: string;
  feed: { name: string; connected: boolean; lastEventTs: number | null };
}
