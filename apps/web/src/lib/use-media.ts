import { useSyncExternalStore } from 'react';

/** Whether a media query matches, following changes (false where matchMedia is missing). */
export function useMedia(query: string): boolean {
  const mql = typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(query) : null;
  return useSyncExternalStore(
    (fn) => {
      mql?.addEventListener('change', fn);
      return () => mql?.removeEventListener('change', fn);
    },
    () => mql?.matches ?? false,
    () => false,
  );
}
