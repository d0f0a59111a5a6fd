/**
 * Launches the system Chromium (Debian `/usr/bin/chromium`) headless through
 * playwright-core, with the flags that keep it quiet and sandbox-free in CI
 * containers. Shared by the end-to-end scripts in this folder.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** A page that records console errors and failed requests, so a test can assert there were none. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1440, height: 900 }) {
  const context = await browser.newContext({ viewport, colorScheme: 'dark', timezoneId: 'Europe/Paris' });
  const page: Page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // Aborts are deliberate: queries cancelled on unmount/navigation (and StrictMode's double mount in dev).
    if (!why.includes('ERR_ABORTED')) problems.push(`requestfailed: ${r.url()} ${why}`);
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return { page, context, problems };
}

/** Render counters the app exposes for the benchmark (see src/lib/render-counter.ts). */
export interface RenderStats {
  board: number;
  rows: number;
  bySymbol: Record<string, number>;
}
export const readRenders = (page: Page) =>
  page.evaluate(() => (window as unknown as { __stockTracker: { renders: RenderStats } }).__stockTracker.renders);
export const resetRenders = (page: Page) =>
  page.evaluate(() => (window as unknown as { __stockTracker: { resetRenders: () => void } }).__stockTracker.resetRenders());
