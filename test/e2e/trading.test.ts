/**
 * Trading in a real Chromium against the real server (`stock-tracker all`:
 * simulator feed in its continuous session, embedded PGlite, the built SPA,
 * AUTH_MODE=none so every request acts for the local user): open a paper
 * account, create an `sma-cross` strategy with short windows in the UI, start
 * it and see its orders, fills, positions and the P&L move live; place a
 * manual order from the ticket (after the ticket refused a bad lot on the
 * client) and see it filled and marked on the symbol chart; run a backtest
 * over a server-side tape from the UI and read its report. Screenshots of the
 * trading page and the report go to test-artifacts/screenshots/ (copied to
 * docs/screenshots/trading-*.png). Waits are bounded and fail with a message.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Fill, QuotesResponse, TradingAccountsResponse, TradingBacktest } from '@stock-tracker/protocol';
import { launchBrowser, openPage } from '../../apps/web/test/e2e/browser.ts';
import { run as record } from '../../apps/server/src/cli/record.ts';
import { ensureWebBuild, REPO_ROOT, startServer, type ServerHandle } from '../helpers/server.ts';

const SHOTS = path.join(REPO_ROOT, 'test-artifacts/screenshots');
const DOCS_SHOTS = path.join(REPO_ROOT, 'docs/screenshots');
const TAPE = 'sim-3days.tape';

let server: ServerHandle;
let browser: Browser;
let tapes: string;

async function api<T>(p: string): Promise<T> {
  const r = await fetch(`${server.url}/api${p}`);
  if (!r.ok) throw new Error(`GET /api${p}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** Waits for `fn` in the page to return something truthy; fails with `what` (and the server's last words). */
async function until(page: Page, what: string, fn: (arg: string) => unknown, arg: string, timeout = 30_000): Promise<unknown> {
  try {
    return await (await page.waitForFunction(fn, arg, { timeout, polling: 250 })).jsonValue();
  } catch (err) {
    throw new Error(`${what}: not seen within ${timeout} ms (${(err as Error).message.split('\n')[0]})\nserver:\n${server.output().split('\n').slice(-15).join('\n')}`);
  }
}

async function shoot(page: Page, name: string): Promise<void> {
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file, animations: 'disabled', fullPage: false });
  const png = readFileSync(file);
  expect(png.subarray(1, 4).toString('latin1'), `${name} is a PNG`).toBe('PNG');
  expect(png.length, `${name} is not blank`).toBeGreaterThan(10_000);
  copyFileSync(file, path.join(DOCS_SHOTS, name));
}

beforeAll(async () => {
  await ensureWebBuild((m) => console.info(`[e2e] ${m}`));
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(DOCS_SHOTS, { recursive: true });
  // A server-side tape for the backtest: three simulated days (T+2 lets the strategy sell on the third) of two names.
  tapes = mkdtempSync(path.join(os.tmpdir(), 'st-e2e-tapes-'));
  const code = await record([path.join(tapes, TAPE), '--seed', '7', '--symbols', 'FPT,ACB', '--days', '3', '--day-ms', '1800000', '--intensity', '2', '--no-bursts']);
  expect(code, 'record the backtest tape').toBe(0);
  [browser, server] = await Promise.all([launchBrowser(), startServer({ continuousForMs: 150_000, env: { TRADING_TAPES_DIR: tapes } })]);
}, 180_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail' && server) console.error(`[e2e] server ${server.running() ? 'running' : 'NOT running'}; last output:\n${server.output().split('\n').slice(-40).join('\n')}`);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tapes) rmSync(tapes, { recursive: true, force: true });
});

describe('Trading in Chromium against the real server', () => {
  it('strategy + manual order trade live on the simulator; a backtest runs from the UI and shows its report', async () => {
    const started = Date.now();
    // The most active names now: the strategy trades them, the manual order buys the first.
    const deadline = Date.now() + 30_000;
    let active: string[] = [];
    while (active.length < 4) {
      const qs = (await api<QuotesResponse>('/quotes')).items;
      active = qs.filter((q) => q.market === 'VN' && q.last !== null && q.totalVolume > 0 && !q.halted).sort((a, b) => b.totalVolume - a.totalVolume).map((q) => q.symbol).slice(0, 4);
      if (active.length >= 4) break;
      if (Date.now() > deadline) throw new Error(`fewer than 4 symbols traded 30 s after start:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const [manual] = active as [string];

    const { page, context, problems } = await openPage(browser, `${server.url}/`);
    try {
      await page.click('nav >> text=Trading');
      await page.waitForURL((u) => u.pathname === '/trading', { timeout: 15_000 });
      // A new user has no paper account: open one from the page.
      await page.getByRole('button', { name: 'Open a paper account' }).click();
      await until(page, 'the account summary', () => document.querySelector('.stat-equity dd')?.textContent?.trim(), '');
      await until(page, '/ws/trading live', () => document.querySelector('.trading-live')?.getAttribute('data-state') === 'live', '', 15_000);

      // The ticket checks the VN lot on the client: 150 shares are refused before anything is sent.
      const ticket = page.getByRole('form', { name: 'Order ticket' });
      let submits = 0;
      page.on('request', (r) => {
        if (r.method() === 'POST' && /\/api\/trading\/accounts\/[^/]+\/orders$/.test(new URL(r.url()).pathname)) submits++;
      });
      await ticket.getByLabel('Symbol', { exact: true }).fill(manual);
      await ticket.getByLabel('Type').selectOption('market');
      await ticket.getByLabel('Quantity').fill('150');
      await ticket.getByRole('button', { name: 'Place buy order' }).click();
      await ticket.getByText('Must be a multiple of the lot (100): 100 or 200.').waitFor({ timeout: 5_000 });
      expect(submits, 'no request for a ticket the rules refuse').toBe(0);
      // …then a valid market buy goes through and is filled (it walks the book at once, or takes the next trades).
      await ticket.getByLabel('Quantity').fill('100');
      await ticket.getByRole('button', { name: 'Place buy order' }).click();
      await until(page, `the manual order's fill of ${manual}`, (s) => [...document.querySelectorAll('table.fills tbody tr')].some((tr) => tr.children[1]?.textContent === s && tr.children[7]?.textContent !== 'strategy'), manual);
      expect(submits).toBe(1);
      await until(page, `the position in ${manual}`, (s) => !!document.querySelector(`table.positions tr[data-symbol="${s}"]`), manual, 15_000);

      // A strategy made in the UI: sma-cross with 2/3-bar windows, a fifth of the buying power per entry, on the active names.
      const form = page.getByRole('form', { name: 'New strategy' });
      await form.getByLabel('Built-in strategy').selectOption('sma-cross');
      await form.getByLabel('fast').fill('2');
      await form.getByLabel('slow').fill('3');
      await form.getByLabel('allocation').fill('20');
      await form.getByLabel('Symbols').fill(active.join(', '));
      await form.getByRole('button', { name: 'Create strategy' }).click();
      const row = page.locator('table.strategies tr[data-strategy]').first();
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('td').first().textContent()).toBe('fast=2 · slow=3 · allocation=20');
      const equityBefore = await page.locator('.stat-equity dd').textContent();
      await row.getByRole('button', { name: 'Start sma-cross' }).click();
      await until(page, 'the strategy running', () => document.querySelector('table.strategies tr[data-strategy]')?.getAttribute('data-state') === 'running', '', 10_000);

      // Live, without a reload: the strategy's order, its fill, its position, and the P&L moving.
      await until(page, 'an order placed by the strategy', () => !!document.querySelector('table.orders tr[data-source="strategy"]'), '', 45_000);
      await until(page, "the strategy's signal (its decision and reason)", () => !!document.querySelector('table.signals tbody tr[data-action="enter"]'), '', 10_000);
      await until(page, "the strategy's fill", () => [...document.querySelectorAll('table.fills tbody tr')].some((tr) => tr.children[7]?.textContent === 'strategy'), '', 20_000);
      const stratFill = await page.evaluate(() => [...document.querySelectorAll('table.fills tbody tr')].find((tr) => tr.children[7]?.textContent === 'strategy')!.children[1]!.textContent!);
      await until(page, `the strategy's position in ${stratFill}`, (s) => !!document.querySelector(`table.positions tr[data-symbol="${s}"]`), stratFill, 15_000);
      await until(page, 'the equity figure to move', (before) => document.querySelector('.stat-equity dd')?.textContent !== before, equityBefore ?? '', 30_000);
      await until(page, 'the equity curve to have points', () => Number(document.querySelector('.trading-chart')?.getAttribute('data-points')) >= 1, '', 15_000);
      // What the page shows is what the server stored.
      const { items: accounts } = await api<TradingAccountsResponse>('/trading/accounts');
      const fills = (await api<{ items: Fill[] }>(`/trading/accounts/${accounts[0]!.id}/fills?limit=1000`)).items;
      expect(fills.some((f) => f.strategyId !== null && f.side === 'buy'), 'a strategy fill stored').toBe(true);
      expect(fills.some((f) => f.strategyId === null && f.symbol === manual && f.side === 'buy'), 'the manual fill stored').toBe(true);
      await page.evaluate(() => window.scrollTo(0, 0));
      await shoot(page, 'trading-page.png');

      // The manual fill is marked on the symbol's chart.
      await page.goto(`${server.url}/s/${manual}`, { waitUntil: 'domcontentloaded' });
      await until(page, `a fill marker on the ${manual} chart`, () => Number(document.querySelector('.chart-box[data-fill-markers]')?.getAttribute('data-fill-markers')) >= 1, '', 20_000);

      // Backtest from the UI over the server-side tape, then its report.
      await page.goto(`${server.url}/trading/backtests`, { waitUntil: 'domcontentloaded' });
      const bt = page.getByRole('form', { name: 'Run a backtest' });
      await bt.getByLabel('Tape').selectOption(TAPE);
      await bt.getByLabel('Built-in strategy').selectOption('sma-cross');
      await bt.getByLabel('fast').fill('2');
      await bt.getByLabel('slow').fill('3');
      await bt.getByRole('button', { name: 'Run backtest' }).click();
      await page.waitForURL((u) => /^\/trading\/backtests\/[^/]+$/.test(u.pathname), { timeout: 15_000 });
      const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
      await until(page, 'the backtest summary', () => document.querySelector('.stat-return dd')?.textContent?.trim(), '', 30_000);
      const stored = await api<TradingBacktest>(`/trading/backtests/${encodeURIComponent(id)}`);
      expect(stored.status).toBe('done');
      expect(stored.summary!.fills).toBeGreaterThan(0);
      expect(await page.locator('.stat-trades dd').textContent()).toBe(String(stored.summary!.trades));
      expect(await page.locator('.stat-fills dd').textContent()).toBe(String(stored.summary!.fills));
      await until(page, 'fills marked on the candles', () => Number(document.querySelector('.backtest-report .chart-box[data-markers]')?.getAttribute('data-markers')) >= 1, '', 10_000);
      await until(page, 'equity and drawdown curves', () => [...document.querySelectorAll('.backtest-report .trading-chart')].filter((c) => Number(c.getAttribute('data-points')) > 1 && c.querySelector('canvas')).length === 2, '', 10_000);
      await shoot(page, 'trading-backtest.png');
      expect(problems).toEqual([]);
      console.info(`[e2e] trading: ${((Date.now() - started) / 1000).toFixed(1)} s from the first quote check to the report`);
    } finally {
      await context.close();
    }
  }, 150_000);
});
