/**
 * The app's long-lived objects (REST client, stores, stream factory), passed
 * down by context so that tests and the benchmark can substitute any of them.
 */
import { createContext, useContext, type ReactNode } from 'react';
import type { RestClient } from '@stock-tracker/client';
import type { AlertFeed } from './store/alert-feed.ts';
import type { ConnectionStore } from './store/connection.ts';
import type { IndexStore } from './store/index-store.ts';
import type { QuoteStore } from './store/quote-store.ts';
import type { StreamFactory } from './store/streams.ts';
import type { AuthSession } from './auth/session.ts';

export interface Services {
  api: RestClient;
  quotes: QuoteStore;
  indices: IndexStore;
  connection: ConnectionStore;
  alerts: AlertFeed;
  streams: { factory: StreamFactory; url: (path: string) => string };
  /** Accounts (sign-in state, tokens); absent in tests and tools that need none. */
  auth?: AuthSession;
}

const ServicesContext = createContext<Services | null>(null);

export function ServicesProvider({ services, children }: { services: Services; children: ReactNode }) {
  return <ServicesContext.Provider value={services}>{children}</ServicesContext.Provider>;
}

export function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) throw new Error('useServices outside ServicesProvider');
  return s;
}
