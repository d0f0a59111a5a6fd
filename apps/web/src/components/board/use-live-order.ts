/**
 * The board's row order. Sorting by a live column (last, change, volume…)
 * follows the market, but at most once per `intervalMs` and only when the
 * order actually changed: a re-sort on every tick would re-render the whole
 * board per message and make rows jump under the reader's eyes.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { QuoteStore } from '../../store/quote-store.ts';
import { sameOrder, sortSymbols, type SortState } from './board-model.ts';

export function useLiveOrder(symbols: readonly string[], store: QuoteStore, sort: SortState, intervalMs = 1000): string[] {
  const [version, setVersion] = useState(0);
  const order = useMemo(() => sortSymbols(symbols, (s) => store.get(s), sort), [symbols, store, sort, version]);
  const latest = useRef({ symbols, order });
  latest.current = { symbols, order };

  useEffect(() => {
    if (sort.key === 'symbol') return; // static order: no need to watch updates
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = store.onFlush(() => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        const { symbols: syms, order: cur } = latest.current;
        const next = sortSymbols(syms, (s) => store.get(s), sort);
        if (!sameOrder(next, cur)) setVersion((v) => v + 1);
      }, intervalMs);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [store, sort, intervalMs]);

  return order;
}
