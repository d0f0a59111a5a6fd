#!/usr/bin/env node
// Run on `npm ci`/`npm install` (postinstall): creates an empty PGlite data
// directory once and saves it as a tarball, so the embedded server's first start
// on a new DATA_DIR unpacks it (~0.5 s) instead of running initdb in WebAssembly
// (2-5 s). Keyed by the PGlite version; apps/server/src/storage/pglite-seed.ts
// reads it. Failure here is harmless: the server then initialises from scratch.
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// The package exports no ./package.json: walk up from its entry point.
function findPackageJson(from) {
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p) && JSON.parse(readFileSync(p, 'utf8')).name === '@electric-sql/pglite') return p;
  }
  throw new Error('@electric-sql/pglite package.json not found');
}
try {
  const pkgJson = findPackageJson(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  const version = JSON.parse(readFileSync(pkgJson, 'utf8')).version;
  const target = join(dirname(pkgJson), '..', '..', '.cache', 'stock-tracker', `pglite-seed-${version}.tgz`);
  if (!existsSync(target)) {
    const { PGlite } = await import('@electric-sql/pglite');
    const dir = mkdtempSync(join(tmpdir(), 'st-pglite-seed-'));
    const db = await PGlite.create({ dataDir: dir });
    const blob = await db.dumpDataDir('gzip');
    await db.close();
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(`${target}.tmp`, Buffer.from(await blob.arrayBuffer()));
    renameSync(`${target}.tmp`, target);
    rmSync(dir, { recursive: true, force: true });
    console.log(`stock-tracker: embedded database seed ready (${target})`);
  }
} catch (err) {
  console.warn(`stock-tracker: no embedded database seed (${err instanceof Error ? err.message : err}); first start will be slower`);
}
