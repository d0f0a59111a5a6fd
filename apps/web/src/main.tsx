/** Bootstrap: build the services (REST client, stores, streams), start the streams, render. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RestClient, StreamClient } from '@stock-tracker/client';
import { App } from './App.tsx';
import { renderStats, resetRenderStats } from './lib/render-counter.ts';
import { applyTheme, resolveTheme } from './lib/theme.ts';
import { ServicesProvider, type Services } from './services.tsx';
import { AlertFeed } from './store/alert-feed.ts';
import { ConnectionStore } from './store/connection.ts';
import { IndexStore } from './store/index-store.ts';
import { createQuoteStore } from './store/quote-store.ts';
import { MarketHub, wsUrl, type StreamFactory, type StreamLike } from './store/streams.ts';
import './styles.css';

// Theme before the first paint (no inline script: the CSP forbids them).
try {
  applyTheme(resolveTheme(localStorage.getItem('stock-tracker.theme'), matchMedia('(prefers-color-scheme: dark)').matches));
} catch {
  applyTheme('light');
}

const factory: StreamFactory = (opts) => new StreamClient({ ...opts }) as unknown as StreamLike;
const services: Services = {
  api: new RestClient({ baseUrl: '/api' }),
  quotes: createQuoteStore(),
  indices: new IndexStore(),
  connection: new ConnectionStore(),
  alerts: new AlertFeed(),
  streams: { factory, url: (path) => wsUrl(path) },
};
const hub = new MarketHub({ ...services, factory });
hub.start();

// Hooks for the browser benchmark and end-to-end tests.
(window as unknown as { __stockTracker: unknown }).__stockTracker = { renders: renderStats, resetRenders: resetRenderStats, quotes: services.quotes, hub };

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 2, refetchOnWindowFocus: false } },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <ServicesProvider services={services}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </ServicesProvider>
    </QueryClientProvider>
  </StrictMode>,
);
