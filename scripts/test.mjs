#!/usr/bin/env node
// The one test command (`npm test`, also run by .ci/run): type-check, then the
// whole Vitest suite (unit, integration with real PostgreSQL/Redis, browser
// end-to-end). Services are checked/started by test/global-setup.ts.
// Prints a plain closing line `tests: N passed, N failed` for CI.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';

const args = process.argv.slice(2);
const run = (cmd, argv) => spawnSync(cmd, argv, { stdio: 'inherit', env: process.env }).status ?? 1;

if (!args.includes('--no-typecheck')) {
  console.log('> type-check');
  if (run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0) {
    console.log('tests: 0 passed, 1 failed (type-check)');
    process.exit(1);
  }
}
mkdirSync('test-artifacts', { recursive: true });
const report = 'test-artifacts/vitest-report.json';
const passthrough = args.filter((a) => a !== '--no-typecheck');
const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...passthrough]);
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  // A file that fails to load has no failed test of its own: count it once.
  const failed = r.numFailedTests + (r.numFailedTests === 0 && status !== 0 ? 1 : 0);
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ''));
} else {
  console.log('tests: 0 passed, 1 failed (no report)');
}
process.exit(status);
