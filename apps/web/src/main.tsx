/** Bootstrap: build the services (REST client, stores, streams, accounts), render; streams start once the app may be used. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RestClient, StreamClient } from '@stock-tracker/client';
import { AuthGate } from './auth/AuthGate.tsx';
import { authRetryFetch } from './auth/auth-fetch.ts';
import { AuthSession } from './auth/session.ts';
import { authenticatedStreams, type ReauthenticatingStream } from './auth/stream-auth.ts';
import { App } from './App.tsx';
import { renderStats, resetRenderStats } from './lib/render-counter.ts';
import { applyTheme, resolveTheme } from './lib/theme.ts';
import { ServicesProvider, type Services } from './services.tsx';
import { AlertFeed } from './store/alert-feed.ts';
import { ConnectionStore } from './store/connection.ts';
import { IndexStore } from './store/index-store.ts';
import { createQuoteStore } from './store/quote-store.ts';
import { MarketHub, wsUrl, type StreamFactory } from './store/streams.ts';
import './styles.css';

// Theme before the first paint (no inline script: the CSP forbids them).
try {
  applyTheme(resolveTheme(localStorage.getItem('stock-tracker.theme'), matchMedia('(prefers-color-scheme: dark)').matches));
} catch {
  applyTheme('light');
}

// Accounts: the session asks the server for its mode; tokens go to REST calls and streams only when it has accounts.
const auth = new AuthSession({ api: new RestClient({ baseUrl: '/api' }) });
const factory: StreamFactory = authenticatedStreams(auth, (opts) => new StreamClient({ ...opts }) as unknown as ReauthenticatingStream);
const services: Services = {
  api: new RestClient({ baseUrl: '/api', token: () => auth.token(), fetch: authRetryFetch(auth) }),
  quotes: createQuoteStore(),
  indices: new IndexStore(),
  connection: new ConnectionStore(),
  alerts: new AlertFeed(),
  streams: { factory, url: (path) => wsUrl(path) },
  auth,
};
const hub = new MarketHub({ ...services, factory });
void auth.init();

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 2, refetchOnWindowFocus: false } },
});
// Live data and cached answers belong to the signed-in user: started on sign-in, dropped on sign-out.
const open = () => hub.start();
const close = () => {
  hub.stop();
  queryClient.clear();
  services.alerts.list.set([]);
  services.alerts.toasts.set([]);
};

// Hooks for the browser benchmark and end-to-end tests.
(window as unknown as { __stockTracker: unknown }).__stockTracker = { renders: renderStats, resetRenders: resetRenderStats, quotes: services.quotes, hub };

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ServicesProvider services={services}>
        <BrowserRouter>
          <AuthGate session={auth} onOpen={open} onClose={close}>
            <App />
          </AuthGate>
        </BrowserRouter>
      </ServicesProvider>
    </QueryClientProvider>
  </StrictMode>,
);
