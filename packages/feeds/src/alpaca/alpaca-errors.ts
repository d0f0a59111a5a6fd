/**
 * What each documented Alpaca stream error code means for the adapter. The
 * reaction decides between carrying on, reconnecting (with normal or long
 * backoff) and stopping for good with a message the operator can act on.
 */
export type AlpacaReaction =
  /** Log, keep the connection. */
  | 'continue'
  /** Close and reconnect with the normal backoff. */
  | 'reconnect'
  /** Another connection holds the account's only slot: wait long before trying again. */
  | 'reconnect_slowly'
  /** Retrying cannot help: stop with the message. */
  | 'fatal';

export interface AlpacaErrorRule {
  code: number;
  meaning: string;
  reaction: AlpacaReaction;
  /** What the operator should do, when there is something to do. */
  hint?: string;
}

export const ALPACA_STREAM_ERRORS: readonly AlpacaErrorRule[] = [
  { code: 400, meaning: 'invalid syntax', reaction: 'continue', hint: 'a message the adapter sent was not understood (a bug: please report it)' },
  { code: 401, meaning: 'not authenticated', reaction: 'fatal', hint: 'check ALPACA_KEY_ID and ALPACA_SECRET_KEY' },
  { code: 402, meaning: 'auth failed', reaction: 'fatal', hint: 'check ALPACA_KEY_ID and ALPACA_SECRET_KEY (paper and live keys differ)' },
  { code: 403, meaning: 'already authenticated', reaction: 'continue' },
  { code: 404, meaning: 'auth timeout', reaction: 'reconnect' },
  { code: 405, meaning: 'symbol limit exceeded', reaction: 'continue', hint: 'the plan limits how many symbols can be streamed; the symbols already accepted keep streaming (reduce ALPACA_SYMBOLS)' },
  { code: 406, meaning: 'connection limit exceeded', reaction: 'reconnect_slowly', hint: 'another client is connected with the same key (most plans allow one connection)' },
  { code: 407, meaning: 'slow client', reaction: 'reconnect', hint: 'the collector did not read fast enough' },
  { code: 409, meaning: 'insufficient subscription', reaction: 'fatal', hint: "the plan does not include this feed: use ALPACA_FEED=iex (free) or upgrade" },
  { code: 410, meaning: 'invalid subscribe action for this feed', reaction: 'reconnect' },
  { code: 500, meaning: 'internal error', reaction: 'reconnect' },
];

const BY_CODE = new Map(ALPACA_STREAM_ERRORS.map((r) => [r.code, r]));

export function alpacaErrorRule(code: number): AlpacaErrorRule {
  return BY_CODE.get(code) ?? { code, meaning: 'unknown error', reaction: 'reconnect' };
}
