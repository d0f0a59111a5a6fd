/**
 * /ws/trading for the Trading page, through the app's StreamClient factory
 * (the one that authenticates with the access token, as /ws/alerts does):
 * `user:<id>` events (orders, fills, signals, risk) are merged into the
 * cached REST answers, and `portfolio:<id>` states (cash, equity, P&L,
 * positions, kill switch per account) replace what the page shows. So orders,
 * fills, positions and P&L update without a reload; the REST answers seed
 * the page and are re-read after a reconnect that lost history.
 */
import { useCallback, useState } from 'react';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import type { AccountState, Fill, Order, SnapshotMsg, TradingFillsResponse, TradingOrdersResponse, TradingStreamEvent, UpdateMsg } from '@stock-tracker/protocol';
import { useStream } from '../store/use-stream.ts';
import type { ConnectionState } from '../store/connection.ts';

export const tradingKeys = {
  accounts: ['trading', 'accounts'] as const,
  builtin: ['trading', 'builtin'] as const,
  strategies: (accountId: string) => ['trading', 'strategies', accountId] as const,
  orders: (accountId: string) => ['trading', accountId, 'orders'] as const,
  fills: (accountId: string) => ['trading', accountId, 'fills'] as const,
  pnl: (accountId: string) => ['trading', accountId, 'pnl'] as const,
  risk: (accountId: string) => ['trading', accountId, 'risk'] as const,
  backtests: ['trading', 'backtests'] as const,
  backtest: (id: string) => ['trading', 'backtest', id] as const,
  tapes: ['trading', 'tapes'] as const,
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
export const looksLikeTradingEvent = (v: unknown): v is TradingStreamEvent => isObj(v) && typeof v.type === 'string' && typeof v.accountId === 'string';
const looksLikeAccountState = (v: unknown): v is AccountState => isObj(v) && typeof v.accountId === 'string' && typeof v.equity === 'number' && Array.isArray(v.positions);

/** Upserts an order into a cached page (newest first). */
export function mergeOrder(page: TradingOrdersResponse | undefined, o: Order): TradingOrdersResponse | undefined {
  if (!page) return page;
  const items = page.items.filter((x) => x.id !== o.id);
  const prev = page.items.find((x) => x.id === o.id);
  // Events can arrive after a fresher REST read: keep the newer one.
  items.push(prev && prev.updatedTs > o.updatedTs ? prev : o);
  items.sort((a, b) => b.createdTs - a.createdTs || (a.id < b.id ? 1 : -1));
  return { ...page, items };
}

export function mergeFill(page: TradingFillsResponse | undefined, f: Fill): TradingFillsResponse | undefined {
  if (!page || page.items.some((x) => x.id === f.id)) return page;
  return { ...page, items: [f, ...page.items].sort((a, b) => b.ts - a.ts) };
}

/** Applies one stream event to the query cache. */
export function applyTradingEvent(qc: QueryClient, e: TradingStreamEvent): void {
  if (e.type === 'order') qc.setQueryData<TradingOrdersResponse>(tradingKeys.orders(e.accountId), (p) => mergeOrder(p, e.event.order));
  else if (e.type === 'fill') qc.setQueryData<TradingFillsResponse>(tradingKeys.fills(e.accountId), (p) => mergeFill(p, e.fill));
  else if (e.type === 'risk') void qc.invalidateQueries({ queryKey: tradingKeys.risk(e.accountId) });
}

export interface TradingLive {
  state: ConnectionState;
  /** Latest account state per account id from the portfolio stream. */
  portfolio: ReadonlyMap<string, AccountState>;
  /** Events seen live (newest first, bounded): signals are shown from here. */
  recent: readonly TradingStreamEvent[];
  malformed: number;
}

export function useTradingLive(enabled = true): TradingLive {
  const qc = useQueryClient();
  const [portfolio, setPortfolio] = useState<ReadonlyMap<string, AccountState>>(new Map());
  const [recent, setRecent] = useState<readonly TradingStreamEvent[]>([]);
  const [malformed, setMalformed] = useState(0);
  const onMessage = useCallback(
    (msg: SnapshotMsg | UpdateMsg) => {
      if (msg.key.startsWith('portfolio:')) {
        const data: unknown = msg.data;
        const accounts = isObj(data) && Array.isArray(data.accounts) ? (data.accounts as unknown[]) : null;
        if (!accounts || !accounts.every(looksLikeAccountState)) return setMalformed((n) => n + 1);
        setPortfolio(new Map((accounts as AccountState[]).map((a) => [a.accountId, a])));
        return;
      }
      if (!msg.key.startsWith('user:')) return;
      const items: unknown[] = Array.isArray(msg.data) ? msg.data : [msg.data];
      const valid = items.filter(looksLikeTradingEvent);
      if (valid.length !== items.length) setMalformed((n) => n + 1);
      if (msg.type === 'snapshot') {
        // A (re)subscription without history: what was missed is re-read over REST.
        void qc.invalidateQueries({ queryKey: ['trading'] });
      } else for (const e of valid) applyTradingEvent(qc, e);
      if (valid.length) setRecent((cur) => [...[...valid].reverse(), ...cur].slice(0, 100));
    },
    [qc],
  );
  const state = useStream('/ws/trading', '*', { enabled }, onMessage);
  return { state, portfolio, recent, malformed };
}
