/**
 * Browser end to end: a real Chromium against the real server
 * (`stock-tracker all`: simulator feed, embedded PGlite, the built SPA).
 *
 * The simulated day length is chosen so that every exchange trades
 * continuously for the whole run (see simDayMsForContinuousSession), so
 * "cells change", "an alert fires" and "the board catches up after a restart"
 * test the app, not the simulated lunch break. Waits are on conditions;
 * timeouts are generous because the suite shares two cores with other files.
 * Light and dark screenshots go to test-artifacts/screenshots/
 * (`node scripts/update-screenshots.mjs` copies them to docs/screenshots/).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { AlertRule, BarsResponse, QuoteState, QuotesResponse } from '@stock-tracker/protocol';
import { launchBrowser, openPage } from '../../apps/web/test/e2e/browser.ts';
import { ensureWebBuild, REPO_ROOT, startServer, type ServerHandle } from '../helpers/server.ts';

const SHOTS = path.join(REPO_ROOT, 'test-artifacts/screenshots');
const ROWS = '.board tbody tr[data-symbol]';
/** `resumed` and `reset` are live too (reconnected, data current); see store/connection.ts. */
const LIVE = '.conn[data-state="live"], .conn[data-state="resumed"], .conn[data-state="reset"]';
const PREFERRED = ['FPT', 'VNM', 'HPG', 'VCB', 'MWG'];

let server: ServerHandle;
let browser: Browser;
/** A liquid symbol that has traded, used by the symbol, alert and screenshot tests. */
let SYM: string;

async function api<T>(p: string, init?: RequestInit): Promise<T> {
  const r = await fetch(`${server.url}/api${p}`, init);
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} /api${p}: ${r.status} ${await r.text()}`);
  return (r.status === 204 ? undefined : await r.json()) as T;
}

async function quotes(): Promise<QuoteState[]> {
  return (await api<QuotesResponse>('/quotes')).items;
}

/**
 * How many symbols the board lists. The board is virtualized: only the rows in
 * view (and a few more) are in the DOM; the table's aria-rowcount counts them
 * all, after its 2 header rows.
 */
const boardSymbolCount = (page: Page) =>
  page.evaluate(() => Number(document.querySelector('.board')?.getAttribute('aria-rowcount') ?? 2) - 2);

/** The board page, live and filled. */
async function openBoard(colorScheme: 'dark' | 'light' = 'dark') {
  const opened = await openPage(browser, `${server.url}/`, undefined, { colorScheme });
  await opened.page.waitForSelector(LIVE, { timeout: 30_000 });
  await opened.page.waitForFunction(
    (sel) => Number(document.querySelector('.board')?.getAttribute('aria-rowcount')) - 2 >= 40 && document.querySelectorAll(sel).length > 0,
    ROWS,
    { timeout: 30_000 },
  );
  await opened.page.evaluate(installBoardReader);
  return opened;
}

/** Text of every cell of every row except the symbol: what a viewer sees change. */
const rowTexts = (page: Page) =>
  page.$$eval(ROWS, (trs) => Object.fromEntries(trs.map((tr) => [(tr as HTMLElement).dataset.symbol!, [...tr.querySelectorAll('td')].map((td) => td.textContent).join('|')])));

beforeAll(async () => {
  await ensureWebBuild((m) => console.info(`[e2e] ${m}`));
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchBrowser();
  server = await startServer({ continuousForMs: 240_000 });
  // Wait for the feed to have produced trades for a preferred name (it catches up at start).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const qs = await quotes();
    const traded = qs.filter((q) => q.last !== null && q.totalVolume > 0);
    const pick = PREFERRED.find((s) => traded.some((q) => q.symbol === s)) ?? [...traded].sort((a, b) => b.totalVolume - a.totalVolume)[0]?.symbol;
    if (pick) {
      SYM = pick;
      break;
    }
    if (Date.now() > deadline) throw new Error(`no symbol has traded 30 s after start:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 180_000);

afterEach((ctx) => {
  // The server's own words are the first thing to read when a browser check fails.
  if (ctx.task.result?.state === 'fail' && server) {
    console.error(`[e2e] server ${server.running() ? 'running' : 'NOT running'}; last output:\n${server.output().split('\n').slice(-40).join('\n')}`);
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('web app in Chromium against the real server', () => {
  it('board: at least 40 rows, live, and cells change within 5 s', async () => {
    const { page, context, problems } = await openBoard();
    try {
      const rows = await boardSymbolCount(page);
      const serverSymbols = (await quotes()).length;
      expect(rows).toBeGreaterThanOrEqual(40);
      expect(rows).toBe(serverSymbols); // tab "All" lists every symbol the server has
      // …and every one of them can be reached by scrolling the board.
      expect(Object.keys(await page.evaluate(() => window.__readBoard())).sort()).toEqual((await quotes()).map((q) => q.symbol).sort());
      // Rows in the DOM sit where their aria-rowindex says, one fixed height apart: nothing shifts.
      const geometry = await page.$$eval(ROWS, (trs) => trs.map((tr) => [Number(tr.getAttribute('aria-rowindex')), (tr as HTMLElement).offsetTop, (tr as HTMLElement).offsetHeight]));
      expect(geometry.length).toBeGreaterThan(0);
      const [i0, top0, h] = geometry[0]!;
      for (const [i, top, height] of geometry) {
        expect(height).toBe(h);
        expect(top - top0).toBe((i - i0) * h);
      }
      expect(await page.locator('.board-scroll.stale').count()).toBe(0);
      expect(await page.locator('.index-card').count()).toBeGreaterThanOrEqual(1);

      const before = await rowTexts(page);
      const started = Date.now();
      // Several rows, not one, must move: the board as a whole is live.
      const changed = await page
        .waitForFunction(
          ({ sel, before }) => {
            const out: string[] = [];
            for (const tr of document.querySelectorAll(sel)) {
              const sym = (tr as HTMLElement).dataset.symbol!;
              const now = [...tr.querySelectorAll('td')].map((td) => td.textContent).join('|');
              if (before[sym] !== undefined && before[sym] !== now) out.push(sym);
            }
            return out.length >= 3 ? out : false;
          },
          { sel: ROWS, before },
          { timeout: 5_000, polling: 'raf' },
        )
        .then((h) => h.jsonValue() as Promise<string[]>)
        .catch(() => [] as string[]);
      console.info(`[e2e] ${changed.length} rows changed ${Date.now() - started} ms after the snapshot`);
      expect(changed.length, 'at least 3 rows changed within 5 s').toBeGreaterThanOrEqual(3);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('clicking a symbol opens its page, whose chart has candles from /api/bars', async () => {
    const { page, context, problems } = await openBoard();
    try {
      const barsResponse = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/bars/${SYM}` && r.request().method() === 'GET', { timeout: 30_000 });
      await page.evaluate((sym) => window.__showRow(sym), SYM); // it may be below the rows in view
      await page.click(`${ROWS.replace('[data-symbol]', `[data-symbol="${SYM}"]`)} th a`);
      await page.waitForURL((u) => u.pathname === `/s/${SYM}`, { timeout: 15_000 });
      expect(await page.locator('#sym-h').textContent()).toBe(SYM);

      const res = await barsResponse;
      expect(res.status()).toBe(200);
      const bars = ((await res.json()) as BarsResponse).items;
      expect(bars.length).toBeGreaterThanOrEqual(1);
      for (const b of bars) expect(b.low).toBeLessThanOrEqual(b.high);

      const canvas = page.locator('.chart-box canvas').first();
      await canvas.waitFor({ state: 'visible', timeout: 30_000 });
      const box = await canvas.boundingBox();
      expect(box!.width).toBeGreaterThan(100);
      expect(box!.height).toBeGreaterThan(100);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('an alert created in the UI just below the current price fires and pops up a toast', async () => {
    const { page, context, problems } = await openBoard();
    let ruleId: string | undefined;
    try {
      await page.click('nav >> text=Alerts');
      const form = page.locator('form[aria-label="New alert"]');
      await form.waitFor({ timeout: 15_000 });

      const q = await api<QuoteState>(`/quotes/${SYM}`);
      // 2 % below the last price: satisfied by the next quote unless the price falls 2 % within seconds.
      const threshold = Math.floor((q.last! * 0.98) / 100) * 100;
      await form.getByLabel('Symbol', { exact: true }).fill(SYM);
      await form.getByLabel('Condition').selectOption('price_above');
      await form.getByLabel(/^Price/).fill(String(threshold));
      const created = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/alerts/rules' && r.request().method() === 'POST', { timeout: 15_000 });
      await form.getByRole('button', { name: 'Add alert' }).click();
      const res = await created;
      expect(res.status()).toBeLessThan(300);
      const rule = (await res.json()) as AlertRule;
      ruleId = rule.id;
      expect(rule).toMatchObject({ symbol: SYM, kind: 'price_above', threshold, enabled: true });

      const toast = page.locator('.toasts .toast', { hasText: SYM }).first();
      await toast.waitFor({ state: 'visible', timeout: 30_000 });
      const text = (await toast.textContent()) ?? '';
      expect(text).toContain('crossed above');
      expect(text).toContain(threshold.toLocaleString('en-US'));
      // The fired alert also reaches the server's history (written by the batched storage writer).
      const deadline = Date.now() + 15_000;
      let stored = false;
      while (!stored && Date.now() < deadline) {
        const events = await api<{ items: { ruleId: string }[] }>(`/alerts/events?symbol=${SYM}`);
        stored = events.items.some((e) => e.ruleId === rule.id);
        if (!stored) await new Promise((r) => setTimeout(r, 200));
      }
      expect(stored, 'fired alert listed by /api/alerts/events').toBe(true);
      expect(problems).toEqual([]);
    } finally {
      // Later pages (screenshots) must not be covered by this rule's toasts.
      if (ruleId) await api(`/alerts/rules/${ruleId}`, { method: 'DELETE' }).catch(() => {});
      await context.close();
    }
  }, 90_000);

  it('takes light and dark screenshots of the board, a symbol page and the foreign page', async () => {
    const background: Record<string, number> = {};
    for (const theme of ['dark', 'light'] as const) {
      const { page, context, problems } = await openBoard(theme);
      try {
        expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme);
        await page.waitForSelector('.index-card', { timeout: 15_000 });
        background[theme] = await page.evaluate(() => {
          const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+(\.\d+)?/g)!.map(Number);
          return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
        });
        await shoot(page, `board-${theme}.png`);

        const bars = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/bars/${SYM}`, { timeout: 30_000 });
        await page.goto(`${server.url}/s/${SYM}`, { waitUntil: 'domcontentloaded' });
        expect(((await (await bars).json()) as BarsResponse).items.length).toBeGreaterThanOrEqual(1);
        await page.locator('.chart-box canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
        await page.waitForSelector(LIVE, { timeout: 30_000 });
        await shoot(page, `symbol-${theme}.png`);

        await page.click('nav >> text=Foreign flows');
        await page.waitForSelector('text=Top net buy', { timeout: 15_000 });
        await page.locator('.chart-box canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
        await shoot(page, `foreign-${theme}.png`);
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    }
    expect(background.dark!).toBeLessThan(background.light!);
  }, 120_000);

  it('the row check used below catches a board that stopped updating', async () => {
    const { page, context } = await openBoard();
    try {
      // A busy symbol can move between the board read and the REST read several rounds running on a loaded machine: allow many rounds.
      expect((await page.evaluate(boardMatchesServer, { timeoutMs: 30_000 })).unmatched).toEqual([]);
      // Freeze the board (close its streams), then wait until the market has moved on for several symbols.
      await page.evaluate(() => (window as unknown as { __stockTracker: { hub: { stop(): void } } }).__stockTracker.hub.stop());
      const frozen = Object.fromEntries(
        Object.entries(await page.evaluate(() => window.__readBoard())).map(([sym, r]) => [sym, r.totalVol.replace(/[^\d]/g, '')]),
      );
      const moved = async () => (await quotes()).filter((q) => String(q.totalVolume) !== frozen[q.symbol]).map((q) => q.symbol);
      const deadline = Date.now() + 30_000;
      let changed = await moved();
      while (changed.length < 5 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        changed = await moved();
      }
      expect(changed.length).toBeGreaterThanOrEqual(5);
      const report = await page.evaluate(boardMatchesServer, { timeoutMs: 2_000 });
      // Total volume only grows during a day, so a frozen row can never match again.
      expect(report.unmatched.map((u) => u.symbol)).toEqual(expect.arrayContaining(changed));
    } finally {
      await context.close();
    }
  }, 90_000);

  it('after the server is killed and restarted the board shows Reconnecting, goes live again and no row is stuck', async () => {
    const { page, context, problems } = await openBoard();
    try {
      await server.stop('SIGKILL');
      await page.waitForSelector('.conn[data-state="reconnecting"]', { timeout: 20_000 });
      expect(await page.locator('.conn').textContent()).toContain('Reconnecting');
      // While not live the board says so and is dimmed: old numbers are never presented as live.
      await page.locator('.stale-notice').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('.board-scroll.stale').count()).toBe(1);

      await server.restart();
      // The client's backoff may be several seconds into its schedule by now.
      await page.waitForSelector(LIVE, { timeout: 60_000 });
      await page.locator('.stale-notice').waitFor({ state: 'detached', timeout: 10_000 });
      expect(await page.locator('.board-scroll.stale').count()).toBe(0);

      const report = await page.evaluate(boardMatchesServer, { timeoutMs: 30_000 });
      console.info(`[e2e] after restart: ${report.rows} rows matched the server in ${report.rounds} rounds`);
      expect(report.missingRows).toEqual([]);
      expect(report.extraRows).toEqual([]);
      expect(report.unmatched, 'rows whose last price/total volume never matched /api/quotes').toEqual([]);
      // Failed sockets and aborted requests while the server was down are expected; exceptions are not.
      expect(problems.filter((p) => p.startsWith('pageerror'))).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});

async function shoot(page: Page, name: string): Promise<void> {
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file, animations: 'disabled' });
  const png = readFileSync(file);
  expect(png.subarray(1, 4).toString('latin1'), `${name} is a PNG`).toBe('PNG');
  expect(png.length, `${name} is not blank`).toBeGreaterThan(10_000);
}

declare global {
  interface Window {
    /** Every board row's last price and total volume text, by symbol (installBoardReader). */
    __readBoard(): Promise<Record<string, { last: string; totalVol: string }>>;
    /** Scrolls the board until the symbol's row is rendered and in view. */
    __showRow(symbol: string): Promise<void>;
  }
}

/**
 * Runs in the page (after each load): helpers that reach every row of the
 * virtualized board, where only the rows in view are in the DOM. They scroll
 * its box from the top, a little less than a viewport at a time, and read the
 * rows rendered at each step (two frames after the scroll, as the board
 * re-renders on scroll events), then put the scroll position back.
 */
function installBoardReader(): void {
  const frame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));
  const box = () => document.querySelector<HTMLElement>('.board-scroll')!;
  const rows = () => document.querySelectorAll<HTMLElement>('.board tbody tr[data-symbol]');
  const sweep = async (visit: () => boolean) => {
    const b = box();
    const keep = b.scrollTop;
    let found = false;
    for (let top = 0; ; top += Math.max(1, b.clientHeight - 80)) {
      b.scrollTop = top;
      await frame();
      await frame();
      if ((found = visit())) break;
      if (top + b.clientHeight >= b.scrollHeight) break;
    }
    if (!found) b.scrollTop = keep;
    await frame();
    return found;
  };
  window.__readBoard = async () => {
    const out: Record<string, { last: string; totalVol: string }> = {};
    await sweep(() => {
      for (const tr of rows()) {
        out[tr.dataset.symbol!] = { last: tr.querySelector('td.col-last')?.textContent ?? '', totalVol: tr.querySelector('td.col-totalVol')?.textContent ?? '' };
      }
      return false;
    });
    return out;
  };
  window.__showRow = async (symbol) => {
    const find = () => document.querySelector<HTMLElement>(`.board tbody tr[data-symbol="${symbol}"]`);
    if (!(await sweep(() => find() !== null))) throw new Error(`no board row for ${symbol}`);
    find()!.scrollIntoView({ block: 'center' });
    await frame();
    await frame();
  };
}

interface BoardCheck {
  rows: number;
  rounds: number;
  missingRows: string[];
  extraRows: string[];
  unmatched: { symbol: string; board: string; server: string }[];
}

/**
 * Runs in the page: compares every row's last price and total volume with
 * /api/quotes until each row has matched once. Prices move while this runs,
 * so a round reads the board, fetches the server state, lets two frames
 * apply queued updates and reads the board again; a row matches when either
 * reading equals the server. A stuck row never does.
 */
async function boardMatchesServer({ timeoutMs }: { timeoutMs: number }): Promise<BoardCheck> {
  const digits = (s: string | null | undefined) => (s ?? '').replace(/[^\d]/g, '');
  const read = async () => {
    const m = new Map<string, string>();
    for (const [sym, r] of Object.entries(await window.__readBoard())) m.set(sym, `${digits(r.last)}/${digits(r.totalVol)}`);
    return m;
  };
  const frame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));
  const deadline = performance.now() + timeoutMs;
  let pending: Set<string> | null = null;
  let last: { symbol: string; board: string; server: string }[] = [];
  let rounds = 0;
  let missingRows: string[] = [];
  let extraRows: string[] = [];
  let rows = 0;
  while (pending === null || (pending.size > 0 && performance.now() < deadline)) {
    rounds++;
    const before = await read();
    const items = ((await (await fetch('/api/quotes')).json()) as { items: { symbol: string; last: number | null; totalVolume: number }[] }).items;
    await frame();
    await frame();
    const after = await read();
    if (pending === null) {
      pending = new Set(items.map((q) => q.symbol));
      missingRows = items.map((q) => q.symbol).filter((s) => !after.has(s));
      extraRows = [...after.keys()].filter((s) => !pending!.has(s));
      rows = after.size;
    }
    last = [];
    for (const q of items) {
      if (!pending.has(q.symbol)) continue;
      const want = `${q.last === null ? '' : String(q.last)}/${q.totalVolume > 0 ? String(q.totalVolume) : ''}`;
      if (before.get(q.symbol) === want || after.get(q.symbol) === want) pending.delete(q.symbol);
      else last.push({ symbol: q.symbol, board: after.get(q.symbol) ?? '(no row)', server: want });
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
  }
  return { rows, rounds, missingRows, extraRows, unmatched: last.filter((u) => pending!.has(u.symbol)) };
}
