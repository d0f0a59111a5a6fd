#!/usr/bin/env node
// `npm run bench [-- name-filter]`: runs every bench/*.bench.ts one after another
// (never in parallel: they compete for the same 2 cores), collects the JSON
// result lines they print (`{"bench": ...}`) and writes them to
// bench/results/latest.json. Figures are copied into docs/benchmarks.md with the
// command that produced them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';

const filter = process.argv[2];
const files = readdirSync('bench').filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter))).sort();
const results = [];
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  // maxBuffer: spawnSync kills a child whose stdout passes its 1 MiB default.
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${f}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
  process.stdout.write(r.stdout);
  if (r.status !== 0) failed++;
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{"bench"')) continue;
    try { results.push(JSON.parse(line)); } catch { /* not a result line */ }
  }
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', JSON.stringify({ node: process.version, at: new Date().toISOString(), results }, null, 2) + '\n');
console.log(`\n${results.length} results from ${files.length} benchmarks -> bench/results/latest.json`);
process.exit(failed ? 1 : 0);
