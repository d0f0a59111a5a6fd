/**
 * Layout and routes. The board is in the initial bundle; the chart, foreign
 * flow, alerts, account and trading pages (lightweight-charts, indicators) load on demand.
 */
import { lazy, Suspense } from 'react';
import { NavLink, Route, Routes } from 'react-router-dom';
import { ConnectionStatus } from './components/ConnectionStatus.tsx';
import { IndexStrip } from './components/IndexStrip.tsx';
import { MarketPhase } from './components/MarketPhase.tsx';
import { Toasts } from './components/Toasts.tsx';
import { useTheme } from './lib/theme.ts';
import BoardPage from './pages/BoardPage.tsx';
import { useServices } from './services.tsx';
import { UserMenu } from './auth/AuthGate.tsx';

const SymbolPage = lazy(() => import('./pages/SymbolPage.tsx'));
const ForeignPage = lazy(() => import('./pages/ForeignPage.tsx'));
const AlertsPage = lazy(() => import('./pages/AlertsPage.tsx'));
const AccountPage = lazy(() => import('./pages/AccountPage.tsx'));
const TradingPage = lazy(() => import('./pages/TradingPage.tsx'));
const BacktestPage = lazy(() => import('./pages/BacktestPage.tsx'));

export function App() {
  const { connection, alerts, auth } = useServices();
  const { theme, toggle } = useTheme();
  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="app-header">
        <span className="brand">
          <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
            <path d="M1 12l4-5 3 3 6-8" stroke="currentColor" strokeWidth="2" fill="none" strokeLinecap="round" strokeLinejoin="round" />
          </svg>{' '}
          stock-tracker
        </span>
        <nav aria-label="Main">
          <NavLink to="/" end>Board</NavLink>
          <NavLink to="/foreign">Foreign flows</NavLink>
          <NavLink to="/alerts">Alerts</NavLink>
          <NavLink to="/trading">Trading</NavLink>
        </nav>
        <MarketPhase />
        <ConnectionStatus store={connection} />
        {auth && <UserMenu session={auth} />}
        <button type="button" className="theme-toggle" onClick={toggle} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
          {theme === 'dark' ? '☀' : '☾'}
        </button>
      </header>
      <IndexStrip />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="loading" role="status">Loading…</p>}>
          <Routes>
            <Route path="/" element={<BoardPage />} />
            <Route path="/s/:symbol" element={<SymbolPage />} />
            <Route path="/foreign" element={<ForeignPage />} />
            <Route path="/alerts" element={<AlertsPage />} />
            <Route path="/account" element={<AccountPage />} />
            <Route path="/trading" element={<TradingPage />} />
            <Route path="/trading/backtests" element={<BacktestPage />} />
            <Route path="/trading/backtests/:id" element={<BacktestPage />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </main>
      <Toasts feed={alerts} />
    </>
  );
}

function NotFound() {
  return (
    <section className="card">
      <h1>Page not found</h1>
      <p>
        <NavLink to="/">Back to the board</NavLink>
      </p>
    </section>
  );
}
