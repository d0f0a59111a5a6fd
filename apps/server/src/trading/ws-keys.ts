/**
 * Which /ws/trading keys a connection may subscribe to: only its own user's
 * (`user:<id>` events and `portfolio:<id>` account states). Ownership by key,
 * so the gateway needs no database lookup: the trading runner publishes under
 * the owner's user id.
 */
import type { ErrorDetail } from '@stock-tracker/protocol';
import { tradingPortfolioKey, tradingUserKey } from '@stock-tracker/protocol';

export type TradingKeysResult = { ok: true; keys: string[] } | { ok: false; details: ErrorDetail[] };

/** `symbols` as sent: undefined or `*` = both of the user's keys; otherwise the named ones, which must be the user's. */
export function tradingKeys(userId: string, symbols: readonly string[] | undefined): TradingKeysResult {
  const own = tradingUserKey(userId);
  const portfolio = tradingPortfolioKey(userId);
  const mine = (k: string) => k === own || k === portfolio;
  const named = (symbols ?? []).filter((s) => s !== '*');
  const bad = (symbols ?? []).map((s, i) => ({ s, i })).filter(({ s }) => s !== '*' && !mine(s));
  if (bad.length > 0) return { ok: false, details: bad.slice(0, 10).map(({ i }) => ({ path: `/symbols/${i}`, issue: 'only your own trading streams' })) };
  if (symbols === undefined || symbols.includes('*')) return { ok: true, keys: [own, portfolio] };
  return { ok: true, keys: [...new Set(named)] };
}
