/**
 * The package graph of docs/architecture.md, enforced: every import in a
 * package's or app's source goes only where the diagram allows, and the pure
 * packages (the contract, the rules, the engine, the trading core) reach for
 * no I/O, no wall clock and no randomness. A relative import that climbs into
 * another package counts as an import of that package (that is how the web app
 * once reached into the engine's rules file).
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Which workspaces each workspace's `src` may import (itself always). Keep in step with docs/architecture.md. */
export const ALLOWED: Record<string, readonly string[]> = {
  protocol: [],
  rules: ['protocol'],
  engine: ['protocol', 'rules'],
  trading: ['protocol', 'rules', 'engine'],
  feeds: ['protocol', 'rules'],
  client: ['protocol'],
  server: ['protocol', 'rules', 'engine', 'trading', 'feeds', 'client'],
  web: ['protocol', 'rules', 'engine', 'trading', 'client'],
};

/** Edge folders inside a package that may import more than the package itself (brokers share the feeds' network plumbing: backoff, clocks, HTTP). */
const EDGE_ALLOWED: readonly { dir: string; extra: readonly string[] }[] = [{ dir: 'packages/trading/src/brokers/', extra: ['feeds'] }];

/** Pure code: events in, state out; network, disk, clock and randomness are injected at the edges. */
const PURE: readonly string[] = ['protocol', 'rules', 'engine', 'trading'];
/** Edges that live inside a pure package's folder but are not part of its pure core (a broker talks to the network). */
const PURE_EXEMPT = [/^packages\/trading\/src\/brokers\//];
const IMPURE_CALLS: readonly [RegExp, string][] = [
  [/\bDate\.now\s*\(/, 'Date.now()'],
  [/\bnew Date\(\s*\)/, 'new Date() without an argument'],
  [/\bMath\.random\s*\(/, 'Math.random()'],
  [/\bperformance\.now\s*\(/, 'performance.now()'],
  [/\b(setTimeout|setInterval|setImmediate)\s*\(/, 'timers'],
  [/\bprocess\.(env|hrtime|argv)\b/, 'process state'],
];

function workspaceDirs(): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(path.join(root, group))) {
      const pkg = path.join(root, group, name, 'package.json');
      if (existsSync(pkg)) dirs.set(name, path.join(group, name));
    }
  }
  return dirs;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      const full = path.join(d, entry);
      if (statSync(full).isDirectory()) {
        if (entry !== 'node_modules' && entry !== 'dist') walk(full);
      } else if (/\.(ts|tsx|mts)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(full);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Import specifiers of a source text, comments removed first (docs in comments name other packages freely). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs: string[] = [];
  for (const m of code.matchAll(IMPORT_RE)) specs.push((m[1] ?? m[2])!);
  return specs;
}

const dirs = workspaceDirs();
const byDir = [...dirs.entries()].map(([name, dir]) => ({ name, dir }));

/** The workspace an import lands in, or null for a third-party / builtin module. */
function targetOf(spec: string, fromFile: string): string | null {
  const scoped = /^@stock-tracker\/([^/]+)/.exec(spec);
  if (scoped) return scoped[1]!;
  if (!spec.startsWith('.')) return null;
  const rel = path.relative(root, path.resolve(path.dirname(fromFile), spec)).split(path.sep).join('/');
  return byDir.find((w) => rel === w.dir || rel.startsWith(w.dir + '/'))?.name ?? null;
}

describe('package import directions (docs/architecture.md)', () => {
  it('knows every workspace', () => {
    expect([...dirs.keys()].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('parses the import forms we use', () => {
    const text = [
      "import { a } from '@stock-tracker/engine';",
      "import type { B } from '../../packages/rules/src/rules.ts';",
      "export * from './x.ts';",
      "const m = await import('@stock-tracker/server');",
      "// import { c } from '@stock-tracker/feeds';",
      "/* import '@stock-tracker/web' */",
      "import 'side-effect';",
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(['../../packages/rules/src/rules.ts', './x.ts', '@stock-tracker/engine', '@stock-tracker/server', 'side-effect']);
  });

  for (const [name, dir] of dirs) {
    it(`${name} imports only ${ALLOWED[name]?.join(', ') || 'nothing of ours'}`, () => {
      const allowed = new Set([name, ...(ALLOWED[name] ?? [])]);
      const bad: string[] = [];
      for (const file of sourceFiles(path.join(root, dir, 'src'))) {
        const rel = path.relative(root, file).split(path.sep).join('/');
        const extra = new Set(EDGE_ALLOWED.filter((e) => rel.startsWith(e.dir)).flatMap((e) => e.extra));
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          const target = targetOf(spec, file);
          if (target && !allowed.has(target) && !extra.has(target)) bad.push(`${path.relative(root, file)} imports ${spec} (${target})`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  for (const name of PURE) {
    it(`${name} is pure: no Node I/O modules, no clock, no randomness`, () => {
      const bad: string[] = [];
      for (const file of sourceFiles(path.join(root, dirs.get(name) ?? `packages/${name}`, 'src'))) {
        const rel = path.relative(root, file).split(path.sep).join('/');
        if (PURE_EXEMPT.some((re) => re.test(rel))) continue;
        const text = readFileSync(file, 'utf8');
        for (const spec of importsOf(text)) {
          if (/^(node:|fs$|net$|http$|https$|child_process$|ws$|pg$|ioredis$)/.test(spec)) bad.push(`${rel} imports ${spec}`);
          if (/\/brokers\//.test(spec)) bad.push(`${rel} imports the broker edge ${spec}`);
        }
        const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
        for (const [re, what] of IMPURE_CALLS) if (re.test(code)) bad.push(`${rel} uses ${what}`);
      }
      expect(bad).toEqual([]);
    });
  }
});
