/**
 * Watchlists of the user (REST CRUD) with the operations the board and the
 * symbol page need: membership lookup and add/remove of one symbol.
 */
import { useMemo } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Watchlist } from '@stock-tracker/protocol';
import { useServices } from '../services.tsx';

export const WATCHLISTS_KEY = ['watchlists'] as const;
export const DEFAULT_WATCHLIST_NAME = 'My watchlist';

/** A list with the symbol added (at the end) or removed. */
export function toggleSymbol(symbols: readonly string[], symbol: string): string[] {
  return symbols.includes(symbol) ? symbols.filter((s) => s !== symbol) : [...symbols, symbol];
}

export function useWatchlists() {
  const { api } = useServices();
  const qc = useQueryClient();
  const query = useQuery({ queryKey: WATCHLISTS_KEY, queryFn: ({ signal }) => api.watchlists({ signal }), staleTime: 30_000 });
  const lists: Watchlist[] = query.data?.items ?? [];

  const bySymbols = useMemo(() => new Map(lists.map((w) => [w.id, w.symbols] as const)), [lists]);
  const watched = useMemo(() => new Set(lists.flatMap((w) => w.symbols)), [lists]);

  const invalidate = () => qc.invalidateQueries({ queryKey: WATCHLISTS_KEY });
  const create = useMutation({
    mutationFn: (input: { name: string; symbols?: string[] }) => api.createWatchlist(input),
    onSuccess: invalidate,
  });
  const update = useMutation({
    mutationFn: (input: { id: string; name?: string; symbols?: string[] }) =>
      api.updateWatchlist(input.id, { ...(input.name !== undefined && { name: input.name }), ...(input.symbols && { symbols: input.symbols }) }),
    // Show the new membership at once; the refetch confirms it.
    onMutate: (input) => {
      qc.setQueryData(WATCHLISTS_KEY, (old: { items: Watchlist[] } | undefined) =>
        old && { ...old, items: old.items.map((w) => (w.id === input.id ? { ...w, ...input } : w)) },
      );
    },
    onSettled: invalidate,
  });
  const remove = useMutation({ mutationFn: (id: string) => api.deleteWatchlist(id), onSuccess: invalidate });

  /** Adds or removes a symbol; without any list, creates the default one holding it. */
  const toggle = (symbol: string, listId?: string) => {
    const list = lists.find((w) => w.id === listId) ?? (listId === undefined ? lists[0] : undefined);
    if (!list) return create.mutate({ name: DEFAULT_WATCHLIST_NAME, symbols: [symbol] });
    update.mutate({ id: list.id, symbols: toggleSymbol(list.symbols, symbol) });
  };

  return { query, lists, bySymbols, watched, create, update, remove, toggle };
}
