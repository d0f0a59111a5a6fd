/**
 * Shows the app when it may be used — always without accounts, after sign-in
 * with them — and the login page otherwise. `onOpen` / `onClose` start and
 * stop whatever needs the user (live streams, cached queries).
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { Link, useInRouterContext } from 'react-router-dom';
import { LoginPage } from '../pages/LoginPage.tsx';
import { useValue } from '../store/value-store.ts';
import type { AuthSession } from './session.ts';

export interface AuthGateProps {
  session: AuthSession;
  onOpen?: () => void;
  onClose?: () => void;
  children: ReactNode;
}

export function AuthGate({ session, onOpen, onClose, children }: AuthGateProps) {
  const { status, user } = useValue(session);
  const usable = status === 'open' || status === 'signed-in';
  const current = useRef<string | null>(null);
  const key = usable ? `${status}:${user?.id ?? ''}` : null;
  useEffect(() => {
    if (current.current === key) return;
    if (current.current !== null) onClose?.();
    current.current = key;
    if (key !== null) onOpen?.();
  }, [key, onOpen, onClose]);

  if (status === 'loading') return <p className="loading" role="status">Loading…</p>;
  if (status === 'unreachable') {
    return (
      <main id="main" className="login">
        <section className="card" role="alert">
          <h1>The server cannot be reached</h1>
          <p>
            <button type="button" onClick={() => void session.init()}>
              Try again
            </button>
          </p>
        </section>
      </main>
    );
  }
  if (!usable) return <LoginPage session={session} />;
  return <>{children}</>;
}

/** The signed-in user (a link to the account page) and a sign-out button, for the header (nothing without accounts). */
export function UserMenu({ session }: { session: AuthSession }) {
  const { status, user } = useValue(session);
  // Outside a router (tests, tools) a Link would throw: the name is then plain text.
  const routed = useInRouterContext();
  if (status !== 'signed-in' || !user) return null;
  return (
    <div className="user-menu">
      {routed ? (
        <Link to="/account" title="Your account (signed in as)">
          {user.username}
        </Link>
      ) : (
        <span className="muted" title="Signed in as">
          {user.username}
        </span>
      )}{' '}
      <button type="button" className="link-btn" onClick={() => void session.logout()}>
        Sign out
      </button>
    </div>
  );
}
