/**
 * Light/dark theme: follows the system (`prefers-color-scheme`) until the
 * user picks one with the toggle; the choice is remembered.
 */
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { useMedia } from './use-media.ts';

export type Theme = 'light' | 'dark';
const KEY = 'stock-tracker.theme';

export function resolveTheme(stored: string | null, prefersDark: boolean): Theme {
  if (stored === 'light' || stored === 'dark') return stored;
  return prefersDark ? 'dark' : 'light';
}

function readStored(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled (private mode, sandboxed frame)
  }
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
}

export function useTheme(): { theme: Theme; toggle: () => void } {
  const prefersDark = useMedia('(prefers-color-scheme: dark)');
  const [stored, setStored] = useState<string | null>(readStored);
  const theme = resolveTheme(stored, prefersDark);
  useEffect(() => applyTheme(theme), [theme]);
  const toggle = useCallback(() => {
    const next: Theme = theme === 'dark' ? 'light' : 'dark';
    try {
      localStorage.setItem(KEY, next);
    } catch {
      /* not persisted; still applied for this session */
    }
    setStored(next);
  }, [theme]);
  return { theme, toggle };
}

/** The theme currently applied to the document (follows the header toggle from anywhere). */
export function useAppliedTheme(): Theme {
  return useSyncExternalStore(
    (fn) => {
      const mo = new MutationObserver(fn);
      mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
      return () => mo.disconnect();
    },
    () => (document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light'),
    () => 'light',
  );
}
