/**
 * Launches the system Chromium (Debian `/usr/bin/chromium`) headless through
 * playwright-core, with the flags that keep it quiet and sandbox-free in CI
 * containers. Shared by the end-to-end tests (test/e2e), the smoke script in
 * this folder and the board benchmark. Playwright's own browser downloads are
 * never used: when the Debian package is missing it is installed with apt-get.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** Installs Debian's chromium when the executable is missing (root only; otherwise says what to run). */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (CHROMIUM_PATH !== '/usr/bin/chromium') throw new Error(`CHROMIUM_PATH=${CHROMIUM_PATH} does not exist`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('Chromium is not installed at /usr/bin/chromium: run `apt-get install -y chromium` (never `npx playwright install`)');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  if (!existsSync(CHROMIUM_PATH)) throw new Error('apt-get install chromium did not provide /usr/bin/chromium');
  return CHROMIUM_PATH;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), headless: true, args: CHROMIUM_ARGS });
}

/** A page that records console errors and failed requests, so a test can assert there were none. */
export async function openPage(
  browser: Browser,
  url: string,
  viewport = { width: 1440, height: 900 },
  { colorScheme = 'dark' }: { colorScheme?: 'dark' | 'light' } = {},
) {
  // A viewer far from the exchange: times on screen must still be exchange time.
  const context = await browser.newContext({ viewport, colorScheme, timezoneId: 'Europe/Paris' });
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
