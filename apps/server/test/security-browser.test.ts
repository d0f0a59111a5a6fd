/**
 * The SPA in a real Chromium against a server with accounts, the CSP and the
 * other security headers on: the sign-in page shows, an account is created
 * through the form, the app opens with live streams, a reload signs in again
 * silently with the HttpOnly refresh cookie (which scripts cannot read), and
 * signing out returns to the form — with no CSP violation, console error or
 * failed request along the way. Then the account page: a password change
 * keeps this session, ends the user's other one, and afterwards only the new
 * password signs in.
 */
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage } from '../../web/test/e2e/browser.ts';
import { ensureWebBuild, WEB_DIST } from '../../../test/helpers/server.ts';
import { PASSWORD, uniqueName } from './auth-fixture.ts';
import { startWsEnv, type WsEnv } from './auth-ws-helpers.ts';
import { makeQuote } from './ws-test-helpers.ts';

let e: WsEnv;
let browser: Browser;
let ticker: NodeJS.Timeout;
beforeAll(async () => {
  await ensureWebBuild();
  e = await startWsEnv({ WS_MAX_CONNECTIONS_PER_IP: '50' }, {}, { webDist: WEB_DIST, securityHeaders: true });
  // Some live data for the board.
  const pub = e.bus.publisher();
  let n = 0;
  ticker = setInterval(() => pub.publish('market', 'FPT', 'state', makeQuote('FPT', ++n)), 200);
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  clearInterval(ticker);
  await browser?.close();
  await e?.close();
});

it('sign up, use the app, reload signed in, sign out — with the CSP on and nothing refused', async () => {
  const base = e.url('/').replace('ws://', 'http://').replace(/\/$/, '');
  const { page, context, problems } = await openPage(browser, `${base}/`);
  const csp: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) csp.push(m.text());
  });
  try {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Create an account' }).click();
    const username = uniqueName('web');
    await page.getByLabel('User name').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();

    // Signed in: the app with its header, the user menu, and live data.
    await page.locator('.user-menu').getByText(username).waitFor({ timeout: 20_000 });
    await page.locator('.conn[data-state="live"]').waitFor({ timeout: 20_000 });
    const cookies = await context.cookies();
    const refresh = cookies.find((c) => c.name === '__Secure-st_refresh');
    expect(refresh).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/api/auth' });
    // Scripts see neither the refresh cookie nor a stored token.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).not.toMatch(/eyJ/);

    // A reload signs in again from the cookie, without the form.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.locator('.user-menu').getByText(username).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
    // The session is over on the server too: a reload stays signed out.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10_000 });

    expect(csp).toEqual([]);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
}, 120_000);

/** Registers through the sign-in page's form; resolves once the app shows the user. */
async function signUp(page: Page, username: string): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('.user-menu').getByText(username).waitFor({ timeout: 20_000 });
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

it('account page: change the password, other sessions end, only the new password signs in — CSP on, nothing else refused', async () => {
  const base = e.url('/').replace('ws://', 'http://').replace(/\/$/, '');
  const NEW_PASSWORD = 'another horse staple';
  const { page, context, problems } = await openPage(browser, `${base}/`);
  const csp: string[] = [];
  // Console errors with the resource they concern: the one refused sign-in (old password) is expected.
  const consoleErrors: { text: string; url: string }[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) csp.push(m.text());
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url });
  });
  const other = await openPage(browser, `${base}/`);
  try {
    const username = uniqueName('acct');
    await signUp(page, username);
    // A second session of the same user (another browser profile).
    await other.page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 20_000 });
    await signIn(other.page, username, PASSWORD);
    await other.page.locator('.user-menu').getByText(username).waitFor({ timeout: 20_000 });

    // The user name in the header leads to the account page (a lazily loaded chunk, allowed by the CSP).
    await page.locator('.user-menu').getByRole('link', { name: username }).click();
    await page.getByRole('heading', { name: 'Account' }).waitFor({ timeout: 20_000 });
    expect(new URL(page.url()).pathname).toBe('/account');
    await page.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Confirm new password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Password changed' }).waitFor({ timeout: 10_000 });

    // This session goes on: still signed in, and the board streams live with the same session.
    await page.getByRole('link', { name: 'Board' }).click();
    await page.locator('.conn[data-state="live"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('.user-menu').getByText(username).count()).toBe(1);
    // The other session is over on the server: its reload finds no session to resume.
    await other.page.reload({ waitUntil: 'domcontentloaded' });
    await other.page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10_000 });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
    await signIn(page, username, PASSWORD);
    await page.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('.user-menu').count()).toBe(0);
    await signIn(page, username, NEW_PASSWORD);
    await page.locator('.user-menu').getByText(username).waitFor({ timeout: 20_000 });

    expect(csp).toEqual([]);
    // Exactly one refusal, the old password's, and nothing else went wrong.
    const refused = consoleErrors.filter((c) => /status of 401/.test(c.text) && new URL(c.url).pathname === '/api/auth/login');
    expect(refused).toHaveLength(1);
    const unexpected = [...problems];
    const i = unexpected.indexOf(`console: ${refused[0]!.text}`);
    if (i >= 0) unexpected.splice(i, 1);
    expect(unexpected).toEqual([]);
  } finally {
    await other.context.close();
    await context.close();
  }
}, 120_000);
