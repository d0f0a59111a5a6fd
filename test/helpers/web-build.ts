/**
 * Builds the web app (`npm run build -w apps/web`) when `apps/web/dist` is
 * missing or older than its sources, for the end-to-end tests and the board
 * benchmark. Kept apart from server.ts so the benchmark does not load the
 * server's dependencies.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { webBuildPlan } from '../../scripts/lib/web-build.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEB_DIR = path.join(REPO_ROOT, 'apps/web');
export const WEB_DIST = path.join(WEB_DIR, 'dist');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the web app when `apps/web/dist` is missing or older than its sources.
 * Test files run in parallel workers, so the build runs under a lock (a
 * directory, created atomically) and a file that waited re-checks and finds
 * the build fresh: one build per run at most.
 */
export async function ensureWebBuild(log: (msg: string) => void = () => {}): Promise<'fresh' | 'built'> {
  const lock = path.join(os.tmpdir(), `stock-tracker-web-build-${createHash('sha1').update(WEB_DIR).digest('hex').slice(0, 10)}.lock`);
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a crashed run would block every later one.
      const age = Date.now() - (statSafe(lock) ?? Date.now());
      if (age > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`web build lock ${lock} held for too long`);
      await sleep(250);
    }
  }
  try {
    const plan = webBuildPlan(WEB_DIR);
    if (plan.action === 'skip') throw new Error(plan.reason);
    if (plan.action === 'fresh') return 'fresh';
    log(`building the web app (${plan.reason})`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['run', 'build', '-w', 'apps/web'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
    if (r.status !== 0) throw new Error(`web build failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    return 'built';
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function statSafe(p: string): number | undefined {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

