/**
 * Full-board reads (`/api/quotes`, `/api/symbols`, `/api/market/status`,
 * `/api/foreign/top`) memoised for a short time: each of them reads every
 * symbol (in the api role, a Redis round trip over the whole board), and a
 * crowd of clients polling them would otherwise multiply that work by the
 * request rate. Within `ttlMs` every caller gets the same snapshot; callers
 * that arrive while a read is in flight share it; a failed read is not kept.
 * Per-symbol reads pass straight through. The data is live data that moves
 * every few ms anyway: a snapshot up to `ttlMs` old (250 ms by default) is
 * what a poller sees regardless.
 */
import type { LiveMarket, MaybePromise } from './deps.ts';

export interface BoardMemoOptions {
  /** How long a full-board read is reused; 0 turns memoisation off. */
  ttlMs: number;
  /** Injectable clock (tests). */
  now?: () => number;
}

export const DEFAULT_BOARD_MEMO_MS = 250;

export function memoBoard(market: LiveMarket, opts: BoardMemoOptions): LiveMarket {
  if (opts.ttlMs <= 0) return market;
  const clock = opts.now ?? Date.now;
  const memo = new Map<string, { until: number; value: Promise<unknown> }>();
  const cached = <T>(key: string, read: () => MaybePromise<T>): Promise<T> => {
    const t = clock();
    const hit = memo.get(key);
    if (hit && hit.until > t) return hit.value as Promise<T>;
    const value = Promise.resolve().then(read);
    memo.set(key, { until: t + opts.ttlMs, value });
    // A failure must not be served for the rest of the window.
    value.catch(() => {
      if (memo.get(key)?.value === value) memo.delete(key);
    });
    return value;
  };
  return {
    now: () => cached('now', () => market.now()),
    quotes: () => cached('quotes', () => market.quotes()),
    references: () => cached('references', () => market.references()),
    foreignTop: (n) => cached(`foreignTop:${n ?? ''}`, () => market.foreignTop(n)),
    indices: () => cached('indices', () => market.indices()),
    quote: (s) => market.quote(s),
    reference: (s) => market.reference(s),
    summary: (s) => market.summary(s),
    bars: (s) => market.bars(s),
    foreign: (s) => market.foreign(s),
  };
}
