// @vitest-environment jsdom
/**
 * The sign-in screen and the gate in front of the app: embedded mode (no
 * accounts) goes straight to the app; with accounts the login page shows
 * until sign-in succeeds, server refusals are shown, registration is offered
 * only when the server allows it, and signing out returns to the login page
 * and stops what needed the user.
 */
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { ApiError } from '@stock-tracker/client';
import type { AuthTokens, Me } from '@stock-tracker/protocol';
import { AuthGate, UserMenu } from '../src/auth/AuthGate.tsx';
import { AuthSession, type AuthApi } from '../src/auth/session.ts';

afterEach(() => cleanup());

const tokens = (username: string): AuthTokens => ({ accessToken: 't', tokenType: 'Bearer', expiresIn: 900, expiresAt: Date.now() + 900_000, user: { id: `id-${username}`, username, createdAt: 0 } });

function setup(me: Me, over: Partial<AuthApi> = {}) {
  const calls: string[] = [];
  const api: AuthApi = {
    me: async () => me,
    refresh: async () => Promise.reject(new ApiError(401, 'INVALID_TOKEN', 'no cookie', 'r')),
    login: async (b) => {
      calls.push(`login ${b.username}`);
      if (b.password !== 'right password') throw new ApiError(401, 'INVALID_CREDENTIALS', 'Wrong user name or password.', 'r');
      return tokens(b.username);
    },
    register: async (b) => {
      calls.push(`register ${b.username}`);
      throw new ApiError(409, 'CONFLICT', 'This user name is taken.', 'r', [{ path: 'body.username', issue: 'already taken' }]);
    },
    logout: async () => void calls.push('logout'),
    ...over,
  };
  const session = new AuthSession({ api, locks: null, setTimer: () => 0, clearTimer: () => {} });
  const events: string[] = [];
  render(
    <AuthGate session={session} onOpen={() => events.push('open')} onClose={() => events.push('close')}>
      <UserMenu session={session} />
      <p>the app</p>
    </AuthGate>,
  );
  return { session, calls, events };
}

const type = (label: RegExp, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

describe('sign-in gate', () => {
  it('embedded mode (no accounts): straight to the app, no login, no sign-out button', async () => {
    const { session, events } = setup({ mode: 'none', user: { id: 'local', username: 'local' }, registrationEnabled: false, publicMarketData: true, refreshCookie: false });
    await act(() => session.init());
    expect(screen.getByText('the app')).toBeTruthy();
    expect(screen.queryByRole('button', { name: /sign out/i })).toBeNull();
    expect(events).toEqual(['open']);
  });

  it('accounts: the login page until sign-in; a wrong password is reported and cleared', async () => {
    const { session, calls, events } = setup({ mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: false });
    await act(() => session.init());
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeTruthy();
    expect(screen.queryByText('the app')).toBeNull();
    type(/user name/i, 'alice');
    type(/password/i, 'wrong password');
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong user name or password.');
    expect((screen.getByLabelText(/password/i) as HTMLInputElement).value).toBe('');
    type(/password/i, 'right password');
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await screen.findByText('the app');
    expect(calls).toEqual(['login alice', 'login alice']);
    expect(screen.getByText('alice')).toBeTruthy();
    expect(events).toEqual(['open']);

    fireEvent.click(screen.getByRole('button', { name: /sign out/i }));
    await screen.findByRole('heading', { name: 'Sign in' });
    expect(events).toEqual(['open', 'close']);
    await waitFor(() => expect(calls.at(-1)).toBe('logout'));
  });

  it('offers registration only when the server allows it, and shows which field a refusal concerns', async () => {
    const closed = setup({ mode: 'accounts', user: null, registrationEnabled: false, publicMarketData: true, refreshCookie: false });
    await act(() => closed.session.init());
    expect(screen.queryByRole('button', { name: /create an account/i })).toBeNull();
    cleanup();

    const open = setup({ mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: false });
    await act(() => open.session.init());
    fireEvent.click(screen.getByRole('button', { name: /create an account/i }));
    expect(screen.getByRole('heading', { name: 'Create an account' })).toBeTruthy();
    expect(screen.getByLabelText(/password/i).getAttribute('autocomplete')).toBe('new-password');
    type(/user name/i, 'taken');
    type(/password/i, 'a long password');
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect((await screen.findByRole('alert')).textContent).toBe('This user name is taken.');
    expect(screen.getByLabelText(/user name/i).getAttribute('aria-invalid')).toBe('true');
  });

  it('a valid refresh cookie skips the login page (reload while signed in)', async () => {
    const { session } = setup({ mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: true }, { refresh: async () => tokens('bob') });
    await act(() => session.init());
    expect(screen.getByText('the app')).toBeTruthy();
    expect(screen.getByText('bob')).toBeTruthy();
  });
});
