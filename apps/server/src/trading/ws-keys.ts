/**
 * Which /ws/trading keys a connection may subscribe to: only its own user's
 * (`user:<id>` events and `user:<id>:account:<accountId>` account states).
 * Ownership by key prefix, so the gateway needs no database lookup: account
 * keys are published under the owner's user id by the trading runner.
 */
import type { ErrorDetail } from '@stock-tracker/protocol';
import { tradingUserKey } from '@stock-tracker/protocol';

export type TradingKeysResult = { ok: true; keys: string[] } | { ok: false; details: ErrorDetail[] };

const ACCOUNT_ID_RE = /^[A-Za-z0-9_\-.]{1,64}$/;

/**
 * `symbols` as sent (undefined or `*` = everything of the user's); `known` = every key the bus
 * knows on the channel (for the wildcard: the accounts that have published a state).
 */
export function tradingKeys(userId: string, symbols: readonly string[] | undefined, known: readonly string[]): TradingKeysResult {
  const own = tradingUserKey(userId);
  const accountPrefix = `${own}:account:`;
  const mine = (k: string) => k === own || (k.startsWith(accountPrefix) && ACCOUNT_ID_RE.test(k.slice(accountPrefix.length)));
  const named = (symbols ?? []).filter((s) => s !== '*');
  const bad = (symbols ?? []).map((s, i) => ({ s, i })).filter(({ s }) => s !== '*' && !mine(s));
  if (bad.length > 0) return { ok: false, details: bad.slice(0, 10).map(({ i }) => ({ path: `/symbols/${i}`, issue: 'only your own trading streams' })) };
  if (symbols === undefined || symbols.includes('*')) return { ok: true, keys: [...new Set([own, ...named, ...known.filter(mine)])] };
  return { ok: true, keys: [...new Set(named)] };
}
