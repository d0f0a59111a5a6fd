/**
 * The signed-in user's paper fills on one symbol, across their accounts, for
 * the symbol page's chart markers. Re-read every 15 s (the symbol page keeps
 * no /ws/trading socket of its own); nothing when trading is off or the
 * user has no account (errors are quiet: the chart is what matters there).
 */
import { useMemo } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { Fill } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';
import { tradingKeys } from './use-trading-live.ts';

const EMPTY: Fill[] = [];

export function useSymbolFills(symbol: string): readonly Fill[] {
  const { api } = useServices();
  const accounts = useQuery({ queryKey: tradingKeys.accounts, queryFn: ({ signal }) => api.tradingAccounts({ signal }), retry: false, staleTime: 60_000, enabled: symbol !== '' });
  const ids = (accounts.data?.items ?? []).map((a) => a.id);
  const fills = useQuery({
    queryKey: ['trading', 'symbol-fills', symbol, ids.join(',')],
    queryFn: async ({ signal }) => (await Promise.all(ids.map((id) => api.fills(id, { symbol, limit: 1000 }, { signal })))).flatMap((p) => p.items),
    enabled: ids.length > 0,
    retry: false,
    refetchInterval: 15_000,
  });
  return useMemo(() => fills.data ?? EMPTY, [fills.data]);
}
