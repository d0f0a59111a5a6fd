/**
 * React bindings for KeyedStore: a component subscribes to exactly the keys it
 * shows, so an update re-renders only the components reading that key.
 */
import { useCallback, useRef, useSyncExternalStore } from 'react';
import type { KeyedStore } from './keyed-store.ts';

/** The current value of one key. */
export function useKeyed<T>(store: KeyedStore<T>, key: string): T | undefined {
  const subscribe = useCallback((fn: () => void) => store.subscribe(key, fn), [store, key]);
  const get = () => store.get(key);
  return useSyncExternalStore(subscribe, get, get);
}

/**
 * A slice of one key's value; the component re-renders only when the slice
 * changes by `isEqual` (e.g. the order book ignores last-price updates).
 */
export function useKeyedSelector<T, S>(
  store: KeyedStore<T>,
  key: string,
  select: (v: T | undefined) => S,
  isEqual: (a: S, b: S) => boolean = Object.is,
): S {
  const memo = useRef<{ input: T | undefined; output: S } | null>(null);
  const subscribe = useCallback((fn: () => void) => store.subscribe(key, fn), [store, key]);
  const get = () => {
    const input = store.get(key);
    const m = memo.current;
    if (m && m.input === input) return m.output;
    const output = select(input);
    if (m && isEqual(m.output, output)) {
      memo.current = { input, output: m.output };
      return m.output;
    }
    memo.current = { input, output };
    return output;
  };
  return useSyncExternalStore(subscribe, get, get);
}

/** The store's key list (changes only when a key is added). */
export function useKeys<T>(store: KeyedStore<T>): readonly string[] {
  const subscribe = useCallback((fn: () => void) => store.subscribeKeys(fn), [store]);
  const get = () => store.keys();
  return useSyncExternalStore(subscribe, get, get);
}
