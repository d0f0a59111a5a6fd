/**
 * The SPA in a real Chromium against a server with accounts, the CSP and the
 * other security headers on: the sign-in page shows, an account is created
 * through the form, the app opens with live streams, a reload signs in again
 * silently with the HttpOnly refresh cookie (which scripts cannot read), and
 * signing out returns to the form — with no CSP violation, console error or
 * failed request along the way.
 */
import type { Browser } from 'playwright-core';
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
