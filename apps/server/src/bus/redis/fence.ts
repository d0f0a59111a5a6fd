/**
 * Fencing for the Redis bus. The publish script refuses a batch unless the
 * lock key still holds the writer's token, checked atomically with the
 * writes, so a collector that lost leadership (paused past its lease,
 * partitioned) can never interleave its messages with the new leader's.
 */
export interface Fence {
  /** Redis key of the leader lock. */
  readonly key: string;
  /** Value this holder wrote into the lock: unique per acquisition. */
  readonly token: string;
}

/** A source of the current fence; null when the holder's lease is not (or no longer) valid. */
export interface FenceProvider {
  currentFence(): Fence | null;
}
