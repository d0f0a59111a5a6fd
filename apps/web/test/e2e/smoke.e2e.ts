/**
 * Browser smoke run against a running server (not part of `npm test` until
 * the lead wires it): `BASE_URL=http://127.0.0.1:8080 npx tsx apps/web/test/e2e/smoke.e2e.ts`.
 * Checks the board fills and goes live, the index strip shows, a symbol page
 * draws its chart, the phone layout scrolls with a sticky symbol column, and
 * that a second of live updates re-renders rows, never the whole board.
 * Exits non-zero on the first failed check.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launchBrowser, openPage, readRenders, resetRenders } from './browser.ts';

const BASE = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
const OUT = process.env.E2E_ARTIFACTS ?? 'test-artifacts/e2e';
mkdirSync(OUT, { recursive: true });

const browser = await launchBrowser();
try {
  const { page, problems } = await openPage(browser, `${BASE}/`);
  await page.waitForSelector('.board tbody tr[data-symbol]', { timeout: 15_000 });
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 15_000 });
  const rows = await page.locator('.board tbody tr[data-symbol]').count();
  assert.ok(rows > 10, `board has rows (${rows})`);
  assert.ok((await page.locator('.index-card').count()) >= 1, 'index strip shows');
  assert.equal(await page.locator('.board-scroll.stale').count(), 0, 'board not stale while live');

  // Live updates re-render rows, never the board (the simulated day has quiet phases: wait for activity).
  await resetRenders(page);
  const started = Date.now();
  let r = await readRenders(page);
  while (r.rows === 0 && Date.now() - started < 20_000) {
    await page.waitForTimeout(500);
    r = await readRenders(page);
  }
  await page.waitForTimeout(2_000);
  r = await readRenders(page);
  console.log(JSON.stringify({ check: 'renders', board: r.board, rows: r.rows, symbols: Object.keys(r.bySymbol).length, boardRows: rows }));
  assert.ok(r.rows > 0, 'live updates re-render rows');
  assert.equal(r.board, 0, 'live updates never re-render the whole board (default sort)');

  await page.screenshot({ path: `${OUT}/board-dark.png` });
  await page.keyboard.press('/');
  await page.keyboard.type('FPT');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.pathname === '/s/FPT', undefined, { timeout: 10_000 });
  await page.waitForSelector('.chart-box canvas', { timeout: 15_000 });
  await page.screenshot({ path: `${OUT}/symbol.png` });

  await page.click('nav >> text=Foreign flows');
  await page.waitForSelector('text=Top net buy', { timeout: 10_000 });
  await page.waitForSelector('.chart-box canvas', { timeout: 15_000 });
  await page.screenshot({ path: `${OUT}/foreign.png` });
  await page.click('nav >> text=Alerts');
  await page.waitForSelector('form[aria-label="New alert"]', { timeout: 10_000 });
  await page.click('button.theme-toggle');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light', 'theme toggles');
  await page.screenshot({ path: `${OUT}/alerts-light.png` });

  const phone = await openPage(browser, `${BASE}/`, { width: 375, height: 740 });
  await phone.page.waitForSelector('.board tbody tr[data-symbol]', { timeout: 15_000 });
  const scroll = await phone.page.$eval('.board-scroll', (el) => ({ sw: el.scrollWidth, cw: el.clientWidth, body: document.documentElement.scrollWidth }));
  assert.ok(scroll.sw > scroll.cw, 'board scrolls horizontally on a phone');
  assert.ok(scroll.body <= 375 + 1, `page itself does not overflow (${scroll.body})`);
  await phone.page.$eval('.board-scroll', (el) => (el.scrollLeft = 400));
  const stickyLeft = await phone.page.$eval('.board tbody th.col-symbol', (el) => el.getBoundingClientRect().left);
  assert.ok(stickyLeft < 20, `symbol column stays visible (${stickyLeft})`);
  await phone.page.screenshot({ path: `${OUT}/board-phone.png` });

  const all = [...problems, ...phone.problems];
  assert.deepEqual(all, [], 'no console errors or failed requests');
  console.log('e2e smoke: ok');
} finally {
  await browser.close();
}
