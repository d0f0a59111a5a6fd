// @vitest-environment jsdom
/**
 * The account page: who is signed in, the password form's own checks (which
 * never reach the server), the change itself (the exact body, a status
 * message, the session still signed in with the same token), the server's
 * refusals on the fields they concern, the page without accounts, and the
 * header's user name as the way there.
 */
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import fc from 'fast-check';
import { ApiError } from '@stock-tracker/client';
import type { AuthPasswordChange, AuthTokens, Me } from '@stock-tracker/protocol';
import { UserMenu } from '../src/auth/AuthGate.tsx';
import { AuthSession, type AuthApi } from '../src/auth/session.ts';
import AccountPage, { fieldOfDetail, validatePasswordChange } from '../src/pages/AccountPage.tsx';
import type { Services } from '../src/services.tsx';
import { fakeApi, makeServices, Providers } from './helpers.tsx';

afterEach(() => cleanup());

const USER = 'alice-trader';
const CURRENT = 'correct horse battery';
const NEXT = 'another horse staple';
const accounts: Me = { mode: 'accounts', user: null, registrationEnabled: true, publicMarketData: true, refreshCookie: true };
const tokens = (): AuthTokens => ({ accessToken: 'tok-1', tokenType: 'Bearer', expiresIn: 900, expiresAt: Date.now() + 900_000, user: { id: 'u1', username: USER, createdAt: 0 } });

/** The server's answers to POST /api/auth/password, as auth-service.ts gives them. */
async function fakeChangePassword(body: AuthPasswordChange): Promise<void> {
  if (body.currentPassword !== CURRENT) {
    throw new ApiError(401, 'INVALID_CREDENTIALS', 'The current password is wrong.', 'req-1', [{ path: 'body.currentPassword', issue: 'does not match' }]);
  }
  if (body.newPassword === 'changeme1234') {
    throw new ApiError(400, 'VALIDATION_FAILED', 'The new password does not meet the policy.', 'req-2', [{ path: 'body.newPassword', issue: 'is a commonly used password' }]);
  }
}

async function setup(opts: { me?: Me; withAuth?: boolean; path?: string } = {}) {
  const sessionCalls: string[] = [];
  const authApi: AuthApi = {
    me: async () => opts.me ?? accounts,
    refresh: async () => (sessionCalls.push('refresh'), tokens()),
    login: async () => (sessionCalls.push('login'), tokens()),
    register: async () => (sessionCalls.push('register'), tokens()),
    logout: async () => void sessionCalls.push('logout'),
  };
  const session = new AuthSession({ api: authApi, locks: null, setTimer: () => 0, clearTimer: () => {} });
  await session.init();
  const { api, calls } = fakeApi({ overrides: { changePassword: (body) => fakeChangePassword(body as AuthPasswordChange) } });
  const services: Services = { ...makeServices(api), ...(opts.withAuth === false ? {} : { auth: session }) };
  render(
    <Providers services={services} path={opts.path ?? '/account'}>
      <UserMenu session={session} />
      <Routes>
        <Route path="/" element={<p>the board</p>} />
        <Route path="/account" element={<AccountPage />} />
      </Routes>
    </Providers>,
  );
  const sent = () => calls.filter((c) => c.method === 'changePassword').map((c) => c.args[0]);
  return { session, sessionCalls, sent };
}

const input = (label: string) => screen.getByLabelText(label) as HTMLInputElement;
const type = (label: string, value: string) => fireEvent.change(input(label), { target: { value } });
const submit = () => fireEvent.click(screen.getByRole('button', { name: 'Change password' }));
/** The error text a field points at through aria-describedby (hints excluded), or null. */
function errorOf(label: string): string | null {
  const el = input(label);
  const ids = (el.getAttribute('aria-describedby') ?? '').split(' ').filter((x) => x.endsWith('-err'));
  return ids.length ? document.getElementById(ids[0]!)!.textContent : null;
}
function fill(current: string, next: string, confirm = next) {
  type('Current password', current);
  type('New password', next);
  type('Confirm new password', confirm);
}

describe('account page', () => {
  it('shows who is signed in and labelled password fields', async () => {
    await setup();
    expect(screen.getByRole('heading', { name: 'Account' })).toBeTruthy();
    expect(screen.getByText(USER, { selector: 'strong' })).toBeTruthy();
    expect(input('Current password').getAttribute('autocomplete')).toBe('current-password');
    expect(input('New password').getAttribute('autocomplete')).toBe('new-password');
    expect(input('Confirm new password').type).toBe('password');
    expect(screen.getByRole('form', { name: 'Change password' })).toBeTruthy();
  });

  it('client checks: messages on the fields, aria-invalid, focus on the first, and no request', async () => {
    const { sent } = await setup();
    submit();
    expect(errorOf('Current password')).toBe('Enter your current password.');
    expect(errorOf('New password')).toBe('Enter a new password.');
    expect(errorOf('Confirm new password')).toBeNull();
    expect(input('Current password').getAttribute('aria-invalid')).toBe('true');
    expect(input('Confirm new password').getAttribute('aria-invalid')).toBe('false');
    expect(document.activeElement).toBe(input('Current password'));

    // After a first attempt the checks follow the typing.
    type('Current password', CURRENT);
    expect(errorOf('Current password')).toBeNull();
    type('New password', 'short');
    expect(errorOf('New password')).toBe('New password must be at least 12 characters.');
    type('New password', 'Alice-Trader');
    expect(errorOf('New password')).toBe('New password must not be your user name.');
    type('New password', 'abababababab');
    expect(errorOf('New password')).toMatch(/too simple/);
    type('New password', CURRENT);
    expect(errorOf('New password')).toBe('New password must differ from the current password.');
    type('New password', 'x'.repeat(257));
    expect(errorOf('New password')).toBe('New password must be at most 256 characters.');
    // The hint stays described alongside the error.
    expect(input('New password').getAttribute('aria-describedby')).toMatch(/-hint .*-err$/);
    submit();
    expect(document.activeElement).toBe(input('New password'));
    expect(sent()).toEqual([]);
  });

  it('a confirmation that does not match never calls the API', async () => {
    const { sent } = await setup();
    fill(CURRENT, NEXT, `${NEXT}!`);
    submit();
    expect(errorOf('Confirm new password')).toBe('The new passwords do not match.');
    expect(input('Confirm new password').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(input('Confirm new password'));
    expect(errorOf('New password')).toBeNull();
    await act(async () => {}); // nothing pending could still send it
    expect(sent()).toEqual([]);
    type('Confirm new password', NEXT);
    expect(errorOf('Confirm new password')).toBeNull();
  });

  it('success: the exact body is sent, the status says so, the form is cleared and the session stays signed in', async () => {
    const { session, sessionCalls, sent } = await setup();
    const before = await session.token();
    fill(CURRENT, NEXT);
    submit();
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/^Password changed\. Your other sessions have been signed out/));
    expect(sent()).toEqual([{ currentPassword: CURRENT, newPassword: NEXT }]);
    expect(input('Current password').value).toBe('');
    expect(input('New password').value).toBe('');
    expect(input('Confirm new password').value).toBe('');
    expect(screen.queryByRole('alert')).toBeNull();
    // The server keeps the caller's session: same token, no extra refresh, still signed in.
    expect(session.get()).toMatchObject({ status: 'signed-in', user: { username: USER } });
    expect(await session.token()).toBe(before);
    expect(sessionCalls).toEqual(['refresh']); // the silent sign-in of init() only
  });

  it('a wrong current password shows the server message, marks that field and clears it', async () => {
    const { session, sent } = await setup();
    fill('not my password', NEXT);
    submit();
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('The current password is wrong.');
    expect(alert.getAttribute('data-code')).toBe('INVALID_CREDENTIALS');
    expect(sent()).toEqual([{ currentPassword: 'not my password', newPassword: NEXT }]);
    expect(errorOf('Current password')).toBe('Current password does not match.');
    expect(input('Current password').getAttribute('aria-invalid')).toBe('true');
    expect(input('Current password').value).toBe('');
    expect(document.activeElement).toBe(input('Current password'));
    expect(input('New password').value).toBe(NEXT);
    expect(screen.getByRole('status').textContent).toBe('');
    expect(session.get().status).toBe('signed-in');

    // Typing again lifts the server's mark; a retry with the right one succeeds.
    type('Current password', CURRENT);
    expect(errorOf('Current password')).toBeNull();
    submit();
    await waitFor(() => expect(screen.getByRole('status').textContent).toMatch(/^Password changed/));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(sent()).toHaveLength(2);
  });

  it("a policy refusal only the server knows (common password) lands on the new-password field", async () => {
    await setup();
    fill(CURRENT, 'changeme1234');
    submit();
    expect((await screen.findByRole('alert')).textContent).toBe('The new password does not meet the policy.');
    expect(errorOf('New password')).toBe('New password is a commonly used password.');
    expect(input('Current password').value).toBe(CURRENT);
  });

  it('without accounts the page says so and offers no form', async () => {
    await setup({ withAuth: false });
    expect(screen.getByText(/Accounts are not enabled on this server/)).toBeTruthy();
    expect(screen.queryByLabelText('Current password')).toBeNull();
    cleanup();
    // AUTH_MODE=none: the session exists but is open to everyone.
    const open = await setup({ me: { mode: 'none', user: { id: 'local', username: 'local' }, registrationEnabled: false, publicMarketData: true, refreshCookie: false } });
    expect(open.session.get().status).toBe('open');
    expect(screen.getByText(/Accounts are not enabled on this server/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Change password' })).toBeNull();
  });

  it("the header's user name links to the account page", async () => {
    await setup({ path: '/' });
    expect(screen.getByText('the board')).toBeTruthy();
    const link = screen.getByRole('link', { name: USER });
    expect(link.getAttribute('href')).toBe('/account');
    fireEvent.click(link);
    expect(await screen.findByRole('heading', { name: 'Account' })).toBeTruthy();
  });
});

describe('AuthSession.changePassword', () => {
  it('refuses without a signed-in session, before any request', async () => {
    const session = new AuthSession({
      api: { me: async () => ({ ...accounts, refreshCookie: false }), refresh: async () => tokens(), login: async () => tokens(), register: async () => tokens(), logout: async () => {} },
      locks: null,
      setTimer: () => 0,
      clearTimer: () => {},
    });
    await session.init();
    const calls: unknown[] = [];
    const api = { changePassword: async (b: AuthPasswordChange) => void calls.push(b) };
    await expect(session.changePassword(CURRENT, NEXT, api)).rejects.toMatchObject({ name: 'ApiError', code: 'INVALID_TOKEN' });
    expect(calls).toEqual([]);
  });
});

describe('validatePasswordChange', () => {
  it('passes exactly the forms the server policy (as far as the page knows it) would accept', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 300 }), fc.boolean(), fc.string({ minLength: 3, maxLength: 12 }), (current, next, same, username) => {
        const confirm = same ? next : `${next}x`;
        const ok = Object.keys(validatePasswordChange({ current, next, confirm }, username)).length === 0;
        const policy =
          current !== '' && next.length >= 12 && next.length <= 256 && next.toLowerCase() !== username.toLowerCase() && new Set(next).size >= 4 && next !== current && confirm === next;
        expect(ok).toBe(policy);
      }),
    );
  });

  it('maps server detail paths to fields', () => {
    expect(fieldOfDetail('body.currentPassword')).toBe('current');
    expect(fieldOfDetail('body/newPassword')).toBe('next');
    expect(fieldOfDetail('body')).toBeNull();
  });
});
