/**
 * Sign in / create an account, shown instead of the app when the server runs
 * with accounts and nobody is signed in. Plain form posts through the
 * AuthSession; server refusals (wrong password, name taken, throttled) are
 * shown as they come, with the field they concern.
 */
import { useId, useState, type FormEvent } from 'react';
import { ApiError } from '@stock-tracker/client';
import { NewPassword } from '@stock-tracker/protocol';
import type { AuthSession } from '../auth/session.ts';
import { useValue } from '../store/value-store.ts';

/** The server's policy minimum (the protocol's NewPassword schema); the breached-password check stays on the server. */
const MIN_NEW_PASSWORD = NewPassword.minLength ?? 12;

type Mode = 'login' | 'register';

function describe(err: unknown, mode: Mode): { message: string; field?: 'username' | 'password' } {
  if (!(err instanceof ApiError)) return { message: 'Something went wrong; try again.' };
  switch (err.code) {
    case 'INVALID_CREDENTIALS':
      return { message: 'Wrong user name or password.' };
    case 'RATE_LIMITED':
      return { message: err.message };
    case 'CONFLICT':
      return { message: 'This user name is taken.', field: 'username' };
    case 'FORBIDDEN':
      return { message: mode === 'register' ? 'Registration is closed on this server.' : err.message };
    case 'VALIDATION_FAILED': {
      const d = err.details?.[0];
      const field = d?.path.endsWith('username') ? 'username' : d?.path.endsWith('password') ? 'password' : undefined;
      return { message: d ? `${field === 'username' ? 'User name' : 'Password'} ${d.issue}.` : err.message, field };
    }
    case 'NETWORK_ERROR':
      return { message: 'The server cannot be reached.' };
    default:
      return { message: err.message };
  }
}

export function LoginPage({ session }: { session: AuthSession }) {
  const snap = useValue(session);
  const id = useId();
  const [mode, setMode] = useState<Mode>('login');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; field?: 'username' | 'password' } | null>(null);
  const register = mode === 'register';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (register ? session.register(username.trim(), password) : session.login(username.trim(), password));
    } catch (err) {
      setError(describe(err, mode));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="login">
      <section className="card login-card" aria-labelledby={`${id}-title`}>
        <h1 id={`${id}-title`}>{register ? 'Create an account' : 'Sign in'}</h1>
        {snap.notice && <p className="muted" role="status">{snap.notice}</p>}
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor={`${id}-user`}>User name</label>
            <input
              id={`${id}-user`}
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              required
              minLength={register ? 3 : 1}
              maxLength={register ? 32 : 64}
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              aria-invalid={error?.field === 'username' || undefined}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-pw`}>Password</label>
            <input
              id={`${id}-pw`}
              name="password"
              type="password"
              autoComplete={register ? 'new-password' : 'current-password'}
              required
              minLength={register ? MIN_NEW_PASSWORD : 1}
              maxLength={256}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={error?.field === 'password' || undefined}
            />
            {register && <span className="hint">At least {MIN_NEW_PASSWORD} characters, not your user name, not a common or breached password.</span>}
          </div>
          {error && (
            <p className="error" role="alert">
              {error.message}
            </p>
          )}
          <button type="submit" disabled={busy || username.trim() === '' || password === ''}>
            {busy ? 'Please wait…' : register ? 'Create account' : 'Sign in'}
          </button>
        </form>
        {snap.registrationEnabled && (
          <p className="muted">
            {register ? 'Have an account? ' : 'New here? '}
            <button
              type="button"
              className="link-btn"
              onClick={() => {
                setMode(register ? 'login' : 'register');
                setError(null);
              }}
            >
              {register ? 'Sign in' : 'Create an account'}
            </button>
          </p>
        )}
      </section>
    </main>
  );
}
