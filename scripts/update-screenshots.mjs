#!/usr/bin/env node
// Copies the screenshots taken by the browser end-to-end test
// (test/e2e/web.test.ts writes test-artifacts/screenshots/*.png) to
// docs/screenshots/, which docs/web.md shows. Run the test first:
//   npx vitest run test/e2e/web.test.ts && node scripts/update-screenshots.mjs
// Exits non-zero when an expected screenshot is missing or is not a PNG, so a
// stale or partial set is never copied silently.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(root, 'test-artifacts/screenshots');
const to = path.join(root, 'docs/screenshots');
const EXPECTED = ['board', 'symbol', 'foreign'].flatMap((page) => ['light', 'dark'].map((theme) => `${page}-${theme}.png`));
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const problems = [];
for (const name of EXPECTED) {
  const file = path.join(from, name);
  if (!existsSync(file)) problems.push(`${name}: missing`);
  else if (!readFileSync(file).subarray(0, 8).equals(PNG_MAGIC)) problems.push(`${name}: not a PNG`);
}
if (problems.length > 0) {
  console.error(`update-screenshots: nothing copied (${from}):\n  ${problems.join('\n  ')}\nRun: npx vitest run test/e2e/web.test.ts`);
  process.exit(1);
}
mkdirSync(to, { recursive: true });
for (const name of EXPECTED) {
  copyFileSync(path.join(from, name), path.join(to, name));
  console.log(`docs/screenshots/${name}  ${(statSync(path.join(to, name)).size / 1024).toFixed(0)} KB`);
}
